"""Build the service's app from its settings: in ``pixgrade serve``'s process, or in each worker process.

A multi-process server (``workers > 1``) is uvicorn's: it imports :func:`app_from_env` in every worker, which
reads the settings ``pixgrade serve`` resolved and put in the environment (``PIXGRADE_*``), loads its own model and
runs its own micro-batcher. Workers share the listening socket; the kernel spreads connections over them.
"""

from __future__ import annotations

import sys
from typing import Any

from pixgrade.errors import ConfigError
from pixgrade.serve.config import ServeConfig, load_config

__all__ = ["app_from_config", "app_from_env"]


def app_from_config(config: ServeConfig, announce: bool = False) -> Any:
    """The FastAPI app for ``config``: loads the model (raises :class:`ConfigError` when it cannot); ``announce``
    prints the model and backend that will run on stderr."""
    if config.torch_threads:  # applied when PyTorch loads (torch backend, heatmaps): INT8/ONNX never imports it
        from pixgrade.model.torch_backend import set_torch_threads

        set_torch_threads(config.torch_threads)
    from pixgrade.pipeline.scorer import Scorer
    from pixgrade.serve.app import create_app

    try:
        scorer = Scorer(
            model=config.model,
            backend=config.backend,
            max_image_bytes=config.max_image_memory * 1024 * 1024,
            plugins=config.plugins,  # before the policy is read: its rules may name the plugins' factors
        )
    except ConfigError:
        raise
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{exc}; pass --model CHECKPOINT for a trained checkpoint, or --model none for factor measures only"
        ) from None
    except (ValueError, ImportError) as exc:  # a backend that cannot run this model
        raise ConfigError(f"--backend {config.backend}: {exc}") from None
    if announce and scorer.predictor is not None:
        print(f"pixgrade serve: model {scorer.model_name} on {scorer.predictor.description}", file=sys.stderr)
    catalog_model = None
    if config.catalog and scorer.predictor is not None:
        from pixgrade.catalog.filtering import model_base_key

        catalog_model = model_base_key(config.model)
    return create_app(
        scorer,
        policy=config.policy,
        api_key=config.api_key,
        max_batch=config.max_batch,
        max_wait_ms=config.max_wait_ms,
        max_queue=config.max_queue,
        max_upload_bytes=int(config.max_upload_mb * 1024 * 1024),
        max_files=config.max_files,
        max_bytes_in_flight=int(config.max_inflight_mb * 1024 * 1024),
        decode_threads=config.threads,
        catalog=config.catalog,
        catalog_model=catalog_model,
    )


def app_from_env() -> Any:
    """The app of one worker process: settings from ``PIXGRADE_*`` (uvicorn calls this with ``factory=True``)."""
    from pixgrade.serve.protocol import TimedH11Protocol

    config = load_config()
    TimedH11Protocol.request_timeout = config.request_timeout  # the protocol class this worker's uvicorn uses
    return app_from_config(config)
