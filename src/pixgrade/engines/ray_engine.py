"""The Ray engine: the same scoring as the local engine, spread over a Ray cluster with Ray Data.

The driver lists the inputs and hands their paths to ``ray.data.from_items``; ``map_batches`` runs a callable
class (:class:`ScoreBatch`) in a pool of actors, each of which loads the :class:`~pixgrade.pipeline.Scorer` (and
its model: ONNX Runtime when available) once and scores batches of paths. Each batch becomes an Arrow table
with exactly the columns and types of the local engine's Parquet output
(:func:`pixgrade.pipeline.result_columns`); unreadable images are rows with ``error`` set, as locally.

Results either stream back to the driver (:func:`score_with_ray`, an iterator of :class:`ImageResult` in input
order) or are written by the workers as partitioned Parquet (:func:`write_parquet_with_ray`) to a local folder
or to any filesystem pyarrow knows (``s3://bucket/prefix``, ``gs://…``, ``hdfs://…``).

Inputs may be local paths (which every worker must see at the same place: a shared or network file system) or
URIs such as ``s3://bucket/photos/a.jpg``, read through :mod:`pyarrow.fs`.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.errors import ConfigError, PixgradeError
from pixgrade.pipeline import ImageResult, column_types, result_columns

__all__ = [
    "RayRunSummary",
    "ScoreBatch",
    "is_uri",
    "list_inputs",
    "parquet_schema",
    "ray_available",
    "score_with_ray",
    "write_parquet_with_ray",
]

logger = logging.getLogger(__name__)

_RESULT_COLUMN = "_pixgrade_result"


def ray_available() -> bool:
    """True when ``ray[data]`` can be imported."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def _require_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError("the ray engine needs Ray Data: pip install 'pixgrade[ray]'") from exc
    return ray


def is_uri(path: str) -> bool:
    """True for ``scheme://…`` strings (``s3://``, ``gs://``, ``file://``…), False for plain local paths."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.isidentifier() and len(scheme) > 1


def list_inputs(paths: Iterable[str | Path]) -> list[str]:
    """Expand files and folders into the sorted list of files to score.

    Local paths use :func:`pixgrade.io.iter_image_files` (recursive, hidden files skipped); URIs are listed
    with :mod:`pyarrow.fs` (a URI naming a file is kept as it is; a prefix/folder is listed recursively).
    """
    from pixgrade.io import iter_image_files

    local: list[str] = []
    found: list[str] = []
    for path in paths:
        text = str(path)
        if not is_uri(text):
            local.append(text)
            continue
        import pyarrow.fs as pafs

        filesystem, root = pafs.FileSystem.from_uri(text)
        scheme = text.split("://", 1)[0]
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.File:
            found.append(text)
        elif info.type == pafs.FileType.Directory:
            selector = pafs.FileSelector(root, recursive=True)
            for entry in sorted(filesystem.get_file_info(selector), key=lambda e: e.path):
                if entry.type == pafs.FileType.File and not entry.base_name.startswith("."):
                    found.append(f"{scheme}://{entry.path}" if scheme != "file" else f"file://{entry.path}")
        else:
            raise ConfigError(f"{text}: no such file or folder")
    if local:
        found.extend(str(p) for p in iter_image_files(local))
    return found


def parquet_schema(columns: Sequence[str] | None = None) -> Any:
    """The Arrow schema of result rows: same types as the local engine's Parquet writer."""
    import pyarrow as pa

    kinds = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
    return pa.schema([(c, kinds[t]) for c, t in column_types(list(columns or result_columns())).items()])


def _read_uri(uri: str) -> bytes:
    import pyarrow.fs as pafs

    filesystem, path = pafs.FileSystem.from_uri(uri)
    with filesystem.open_input_file(path) as handle:
        data: bytes = handle.read()
    return data


class ScoreBatch:
    """Ray Data callable class: loads a :class:`~pixgrade.pipeline.Scorer` once per actor, then scores batches.

    Args:
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer` (``model`` must be ``"default"``,
            ``None`` or a path every worker can read).
        keep_results: add a column holding the pickled :class:`ImageResult` (for :func:`score_with_ray`).
    """

    def __init__(self, scorer_kwargs: Mapping[str, Any], keep_results: bool = False) -> None:
        from pixgrade.pipeline import Scorer

        self.scorer = Scorer(**dict(scorer_kwargs))
        self.keep_results = keep_results
        self.columns = result_columns()
        self.schema = parquet_schema(self.columns)

    def _analyse(self, path: str) -> Any:
        from pixgrade.pipeline.analysis import Analysis, analyse

        if not is_uri(path):
            return analyse(path, self.scorer.settings)
        try:
            data = _read_uri(path)
        except (OSError, ValueError) as exc:  # pyarrow raises OSError subclasses for missing/denied objects
            return Analysis(path=path, error=f"cannot read: {exc}")
        return analyse(data, self.scorer.settings, label=path)

    def score(self, paths: Sequence[str]) -> list[ImageResult]:
        """Score ``paths`` exactly as :meth:`Scorer.score_paths` does (decode + measure, then one model batch)."""
        from pixgrade.pipeline.analysis import run_model

        analyses = [self._analyse(path) for path in paths]
        if self.scorer.predictor is not None:
            run_model(self.scorer.predictor, analyses)
        return [self.scorer.finish(analysis) for analysis in analyses]

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        import pyarrow as pa

        results = self.score([str(p) for p in batch["path"]])
        table = pa.Table.from_pylist([r.to_row() for r in results], schema=self.schema)
        if self.keep_results:
            blobs = pa.array([pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results], pa.binary())
            table = table.append_column(_RESULT_COLUMN, blobs)
        return table


@dataclass
class RayRunSummary:
    """What :func:`write_parquet_with_ray` did."""

    output: str
    n_images: int
    n_failed: int
    files: list[str]


class _RaySession:
    """Connect to ``address`` (or start a local instance); shut down on exit only what this call started."""

    def __init__(self, address: str | None, num_cpus: int | None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.started = False

    def __enter__(self) -> Any:
        ray = _require_ray()
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


def _dataset(
    ray: Any,
    paths: Sequence[str],
    scorer_kwargs: Mapping[str, Any],
    *,
    batch_size: int,
    num_actors: int | None,
    keep_results: bool,
) -> Any:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if num_actors is None:
        num_actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if num_actors < 1:
        raise ConfigError(f"num_actors must be >= 1, got {num_actors}")
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # rows come out (and are written) in input order
    context.enable_progress_bars = False
    n_blocks = max(1, min(len(paths), num_actors * 4, -(-len(paths) // batch_size)))
    items = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=n_blocks)
    # Ray Data restarts an actor that dies (e.g. killed for memory) and retries its batch.
    return items.map_batches(
        ScoreBatch,
        fn_constructor_kwargs={"scorer_kwargs": dict(scorer_kwargs), "keep_results": keep_results},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=num_actors),
        num_cpus=1,
    )


def score_with_ray(
    paths: Iterable[str | Path],
    scorer_kwargs: Mapping[str, Any] | None = None,
    address: str | None = None,
    batch_size: int = 16,
    num_actors: int | None = None,
    *,
    num_cpus: int | None = None,
) -> Iterator[ImageResult]:
    """Score files on Ray; yields one :class:`ImageResult` per input path, in input order.

    Args:
        paths: files (local paths or URIs); folders are not expanded here (see :func:`list_inputs`).
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer`.
        address: Ray cluster address (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); ``None`` starts a
            local Ray instance (``num_cpus`` CPUs, default: all of this process's) unless one is running.
        batch_size: paths per actor call (and per model batch).
        num_actors: scoring actors (default: one per CPU of the cluster).
        num_cpus: CPUs of the local instance when one is started.
    """
    todo = [str(p) for p in paths]
    if not todo:
        return
    with _RaySession(address, num_cpus) as ray:
        dataset = _dataset(
            ray, todo, scorer_kwargs or {}, batch_size=batch_size, num_actors=num_actors, keep_results=True
        )
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            for blob in batch.column(_RESULT_COLUMN).to_pylist():
                yield pickle.loads(blob)


def _check_output_dir(output: str, overwrite: bool) -> None:
    if is_uri(output):
        return  # object stores: Ray writes uniquely named files under the prefix
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise ConfigError(f"{output}: folder is not empty; choose a new one or pass --overwrite")
        stale = [p for p in path.iterdir() if p.suffix == ".parquet"]
        others = [p for p in path.iterdir() if p.suffix != ".parquet"]
        if others:
            raise ConfigError(f"{output}: holds files other than Parquet ({others[0].name}); not overwriting it")
        for item in stale:
            item.unlink()


def write_parquet_with_ray(
    paths: Iterable[str | Path],
    output: str | Path,
    scorer_kwargs: Mapping[str, Any] | None = None,
    address: str | None = None,
    batch_size: int = 16,
    num_actors: int | None = None,
    *,
    num_cpus: int | None = None,
    overwrite: bool = False,
    rows_per_file: int = 5000,
) -> RayRunSummary:
    """Score files on Ray and write the rows as partitioned Parquet under ``output`` (a folder or URI prefix).

    Every file has the local engine's columns and types (:func:`parquet_schema`); read them all back with
    ``pandas.read_parquet(output)`` or ``pyarrow.dataset.dataset(output)``. Arguments as :func:`score_with_ray`,
    plus ``rows_per_file``: each file holds at least this many rows (except the last), so a large run does not
    make one small file per batch.

    Raises:
        ConfigError: ``output`` is a file, or a non-empty folder without ``overwrite``; Ray is not installed.
    """
    todo = [str(p) for p in paths]
    output = str(output)
    _check_output_dir(output, overwrite)
    if not todo:
        raise ConfigError("no input files to score")
    with _RaySession(address, num_cpus) as ray:
        dataset = _dataset(
            ray, todo, scorer_kwargs or {}, batch_size=batch_size, num_actors=num_actors, keep_results=False
        )
        try:
            # Writing is light: 0 logical CPUs, so writes are not starved while the actors hold every CPU.
            dataset.write_parquet(
                output, min_rows_per_file=rows_per_file, ray_remote_args={"num_cpus": 0}, concurrency=2
            )
        except Exception as exc:  # Ray wraps worker failures in its own exception types
            raise PixgradeError(f"the Ray job failed: {type(exc).__name__}: {exc}") from exc
    import pyarrow.dataset as pads

    written = pads.dataset(output, format="parquet")
    errors = written.to_table(columns=["error"]).column("error")
    n_failed = len(errors) - errors.null_count
    return RayRunSummary(output=output, n_images=written.count_rows(), n_failed=n_failed, files=written.files)
