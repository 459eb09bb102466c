"""``--engine`` for the scoring commands: the options, the one choice of engine (:func:`engine_from_args`) and the
partitioned-Parquet output of an engine whose workers write it (Ray).

Not a command of its own (``pixgrade.cli.main`` dispatches only the modules it lists).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixgrade.errors import ConfigError
from pixgrade.io.sources import is_uri

__all__ = [
    "add_engine_options",
    "engine_from_args",
    "parquet_folder_output",
    "ray_provenance",
    "scorer_kwargs",
    "write_parquet_folder",
]


def add_engine_options(parser: argparse.ArgumentParser, address_note: str = "") -> None:
    """Declare ``--engine`` and ``--address`` (``address_note`` ends the latter's help)."""
    from pixgrade.engines import ENGINES

    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: worker processes on this machine (default); ray: a Ray cluster (pip install 'pixgrade[ray]')",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join with --engine ray ('auto', HOST:6379 or ray://HOST:10001); default: start a "
        f"local Ray instance (see docs/ray.md){address_note}",
    )


def scorer_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Scorer`` arguments of the command: a checked, picklable ``ModelRef`` (no loaded model, so they can
    travel to Ray actors), the pixel, decoding-memory and file-size limits and the plugins (``--plugin``, loaded
    here), the same for every engine.

    Raises:
        ConfigError: the model cannot be resolved (a missing checkpoint, an unknown name), or a plugin cannot be
            loaded.
    """
    from pixgrade.cli.options import load_plugin_args, memory_limits
    from pixgrade.model.reference import resolve_model

    max_image_bytes, max_file_bytes = memory_limits(args)
    plugins = load_plugin_args(args)  # a plugin that cannot be loaded is a usage error before any work
    return {
        "plugins": plugins,
        "model": resolve_model(args.model, args.backend),
        "max_pixels": args.max_pixels,
        "max_image_bytes": max_image_bytes,
        "max_file_bytes": max_file_bytes,
    }


def engine_from_args(args: argparse.Namespace, options: dict[str, Any] | None = None) -> Any:
    """The :class:`~pixgrade.engines.Engine` of ``--engine`` (the command's one choice of engine), scoring with
    ``Scorer(**options)`` on ``--workers`` worker processes or Ray actors, ``--batch-size`` images per batch and,
    for Ray, the cluster of ``--address``.

    Raises:
        ConfigError: ``--engine ray`` without Ray Data installed.
    """
    from pixgrade.engines import create_engine

    return create_engine(
        args.engine,
        options,
        workers=getattr(args, "workers", None),
        batch_size=getattr(args, "batch_size", 16),
        address=getattr(args, "address", None),
    )


def parquet_folder_output(args: argparse.Namespace, engine: Any) -> bool:
    """True when the engine's workers write the output as a folder of Parquet files: an engine that can
    (:class:`~pixgrade.engines.ParquetFolderEngine`, i.e. Ray) and ``-o`` ending in ``.parquet``."""
    from pixgrade.engines import ParquetFolderEngine

    output = getattr(args, "output", None)
    return isinstance(engine, ParquetFolderEngine) and bool(output) and str(output).lower().endswith(".parquet")


def write_parquet_folder(args: argparse.Namespace, engine: Any, files: Sequence[str]) -> int:
    """``-o OUT.parquet`` on an engine whose workers write it: a folder of Parquet files at OUT.parquet."""
    if args.resume:
        raise ConfigError(
            f"--resume is not supported with --engine {engine.name} and a Parquet folder; start a new folder"
        )
    if getattr(args, "html", None):
        raise ConfigError(f"--html is not supported with --engine {engine.name} and a Parquet folder")
    record = ray_provenance(engine.scorer_kwargs["model"])
    summary = engine.write_parquet(
        files, args.output, overwrite=args.overwrite, lock_wait=args.lock_wait, provenance=record
    )
    if not is_uri(str(args.output)):  # beside the folder, as score's OUT.provenance.json beside a table
        from pixgrade.provenance import write_sidecar

        write_sidecar(Path(args.output), record)
    message = f"scored {summary.n_images} images on Ray"
    if summary.n_failed:
        message += f", {summary.n_failed} failed: see the error column"
    if summary.n_recovered:
        message += f" ({summary.n_recovered} re-scored after a worker died)"
    print(f"{message}; results: {summary.output}/ ({len(summary.files)} Parquet files)", file=sys.stderr)
    return 1 if summary.n_failed else 0


def ray_provenance(model: Any) -> dict[str, Any]:
    """What produced a Ray run's output (:func:`pixgrade.provenance.provenance`), known on the driver: the model
    and its weights' SHA-256 from the checked reference (every worker reads the same file); the backend is the one
    requested, since each worker resolves ``auto`` itself (the driver loads no model)."""
    from pixgrade.provenance import provenance

    backend = getattr(model, "backend", "auto")
    return provenance(model, backend=f"{backend} (requested; resolved on each Ray worker)")
