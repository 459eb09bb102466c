"""Ray sessions: start a local Ray instance or join a cluster, and the Ray Data settings of a pixgrade job."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from pixgrade.errors import ConfigError

__all__ = ["RaySession", "data_context", "ray_available", "require_ray"]


def ray_available() -> bool:
    """True when ``ray[data]`` can be imported."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def require_ray() -> Any:
    """The ``ray`` module (with Ray Data).

    Raises:
        ConfigError: Ray Data is not installed.
    """
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError("the ray engine needs Ray Data: pip install 'pixgrade[ray]'") from exc
    return ray


class RaySession:
    """Connect to ``address`` (or start a local instance); shut down on exit only what this call started."""

    def __init__(self, address: str | None, num_cpus: int | None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.started = False

    def __enter__(self) -> Any:
        ray = require_ray()
        if ray.is_initialized():
            return ray
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            cpus = self.num_cpus or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None)
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        self.started = True
        return ray

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import ray

            ray.shutdown()


@contextlib.contextmanager
def data_context(ray: Any) -> Iterator[None]:
    """Ray Data settings of a pixgrade job, restored afterwards (the context is process-wide)."""
    context = ray.data.DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars, context.max_errored_blocks)
    context.execution_options.preserve_order = True  # rows come out (and are written) in input order
    context.enable_progress_bars = False
    context.max_errored_blocks = -1  # a task whose worker died drops its block; the driver re-scores its files
    try:
        yield
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars, context.max_errored_blocks = saved
