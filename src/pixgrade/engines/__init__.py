"""pixgrade.engines: where the scoring pipeline runs, behind one interface (:class:`~pixgrade.engines.base.Engine`).

- ``local`` (:class:`pixgrade.engines.local.LocalEngine`): worker processes on this machine;
- ``ray`` (:class:`pixgrade.engines.ray.RayEngine`, package :mod:`pixgrade.engines.ray`): a Ray cluster through
  Ray Data (optional extra ``pixgrade[ray]``), streaming results back or writing partitioned Parquet from the
  workers (:class:`~pixgrade.engines.base.ParquetFolderEngine`).

Both read local paths and URIs (:mod:`pixgrade.io.sources`) and produce the same
:class:`~pixgrade.pipeline.ImageResult` rows for the same images. :func:`create_engine` is the only place where
one is chosen by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pixgrade.engines.base import ENGINES, Engine, ParquetFolderEngine
from pixgrade.errors import ConfigError

__all__ = ["ENGINES", "Engine", "ParquetFolderEngine", "create_engine"]


def create_engine(
    name: str,
    scorer_kwargs: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    batch_size: int = 16,
    address: str | None = None,
    num_cpus: int | None = None,
) -> Engine:
    """The engine called ``name`` (one of :data:`ENGINES`), scoring with ``Scorer(**scorer_kwargs)``.

    Args:
        name: ``local`` or ``ray``.
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer` (for Ray they travel to the
            actors, so they must be picklable: the model as a :class:`~pixgrade.model.reference.ModelRef`, a path,
            ``"default"`` or ``None``).
        workers: local: worker processes (``0``: in this process; ``None``: one per CPU); Ray: scoring actors
            (``None`` or ``0``: one per CPU of the cluster).
        batch_size: images per model batch (Ray: per actor call).
        address: Ray only: the cluster to join (``None``: start a local instance).
        num_cpus: Ray only: CPUs of a local instance it starts.

    Raises:
        ConfigError: an unknown name, or ``ray`` without Ray Data installed.
    """
    if name == "local":
        from pixgrade.engines.local import LocalEngine

        return LocalEngine(scorer_kwargs, workers=workers, batch_size=batch_size)
    if name == "ray":
        from pixgrade.engines.ray import RayEngine

        return RayEngine(
            scorer_kwargs, address=address, batch_size=batch_size, num_actors=workers or None, num_cpus=num_cpus
        )
    raise ConfigError(f"unknown engine {name!r}; known: {', '.join(ENGINES)}")
