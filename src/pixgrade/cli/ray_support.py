"""``--engine ray`` for the scoring commands: options and the Ray code paths (imported only when used).

Not a command of its own (``pixgrade.cli.main`` dispatches only the modules it lists).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pixgrade.errors import ConfigError
from pixgrade.io.sources import is_uri

__all__ = [
    "add_engine_options",
    "check_ray_model",
    "filter_engine",
    "list_ray_inputs",
    "ray_parquet_output",
    "ray_provenance",
    "ray_results",
    "run_ray_to_parquet",
    "scorer_kwargs",
]


def add_engine_options(parser: argparse.ArgumentParser, address_note: str = "") -> None:
    """Declare ``--engine`` and ``--address`` (``address_note`` ends the latter's help)."""
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: worker processes on this machine (default); ray: a Ray cluster (pip install 'pixgrade[ray]')",
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster to join with --engine ray ('auto', HOST:6379 or ray://HOST:10001); default: start a "
        f"local Ray instance (see docs/ray.md){address_note}",
    )


def _require_ray() -> None:
    from pixgrade.engines.ray_engine import ray_available

    if not ray_available():
        raise ConfigError("--engine ray needs Ray Data: pip install 'pixgrade[ray]'")


def list_ray_inputs(paths: Sequence[str], on_error: Any = None) -> list[str]:
    """The files to score with ``--engine ray``: local files and folders as the local engine lists them, plus URIs
    (``s3://bucket/photos/``, ``gs://…``, ``file:///…``) listed through pyarrow's filesystems. ``on_error`` gets
    each unreadable local folder or entry with its cause."""
    from pixgrade.engines.ray_engine import list_inputs

    return list_inputs(paths, on_error=on_error)


def filter_engine(args: argparse.Namespace) -> Any:
    """The :data:`pixgrade.catalog.filtering.FileEngine` of ``pixgrade filter --engine ray``."""
    import functools

    from pixgrade.engines.ray_engine import filter_with_ray

    _require_ray()
    return functools.partial(filter_with_ray, address=args.address, num_actors=_num_actors(args))


def scorer_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Scorer`` arguments the Ray actors need (they must be picklable: a checked ``ModelRef``, no loaded
    model), with the same pixel, decoding-memory and file-size limits as on this machine."""
    from pixgrade.cli.options import memory_limits
    from pixgrade.model.reference import resolve_model

    max_image_bytes, max_file_bytes = memory_limits(args)
    return {
        "model": resolve_model(args.model, args.backend),
        "max_pixels": args.max_pixels,
        "max_image_bytes": max_image_bytes,
        "max_file_bytes": max_file_bytes,
    }


def ray_parquet_output(args: argparse.Namespace) -> bool:
    """True when ``--engine ray`` writes partitioned Parquet (``-o`` ends in ``.parquet``)."""
    return args.engine == "ray" and bool(args.output) and str(args.output).lower().endswith(".parquet")


def _num_actors(args: argparse.Namespace) -> int | None:
    workers = getattr(args, "workers", None)
    return workers if workers else None


def run_ray_to_parquet(args: argparse.Namespace, files: Sequence[str]) -> int:
    """``-o OUT.parquet`` with ``--engine ray``: the workers write a folder of Parquet files at OUT.parquet."""
    from pixgrade.engines.ray_engine import write_parquet_with_ray

    _require_ray()
    if args.resume:
        raise ConfigError("--resume is not supported with --engine ray and a Parquet folder; start a new folder")
    if getattr(args, "html", None):
        raise ConfigError("--html is not supported with --engine ray and a Parquet folder")
    kwargs = scorer_kwargs(args)
    record = ray_provenance(kwargs["model"])
    summary = write_parquet_with_ray(
        files,
        args.output,
        kwargs,
        address=args.address,
        batch_size=args.batch_size,
        num_actors=_num_actors(args),
        overwrite=args.overwrite,
        lock_wait=args.lock_wait,
        provenance=record,
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


def ray_results(args: argparse.Namespace, files: Sequence[str]) -> Iterator[Any]:
    """Results streamed back from Ray, in input order (for table, CSV or JSONL output written locally)."""
    from pixgrade.engines.ray_engine import score_with_ray

    _require_ray()
    return score_with_ray(
        list(files), scorer_kwargs(args), address=args.address, batch_size=args.batch_size, num_actors=_num_actors(args)
    )


def check_ray_model(args: argparse.Namespace) -> None:
    """The model path must exist here (and, on a cluster, at the same place on every worker)."""
    from pixgrade.model.reference import resolve_model

    resolve_model(args.model, args.backend)
