"""The Ray engine: the same scoring as the local engine, spread over a Ray cluster with Ray Data.

The driver lists the inputs and hands their paths to ``ray.data.from_items``; ``map_batches`` runs a callable
class (:class:`ScoreBatch`) in a pool of actors, each of which loads the :class:`~pixgrade.pipeline.Scorer` (and
its model: ONNX Runtime when available) once and scores batches of paths. Each batch becomes an Arrow table
with exactly the columns and types of the local engine's Parquet output
(:func:`pixgrade.pipeline.result_columns`); unreadable images are rows with ``error`` set, as locally.

Results either stream back to the driver (:func:`score_with_ray`, an iterator of :class:`ImageResult` in input
order; :func:`filter_with_ray`, the same with the marketplace facts and pHash ``pixgrade filter`` needs) or are
written by the workers as partitioned Parquet (:func:`write_parquet_with_ray`) to a local folder or to any
filesystem pyarrow knows (``s3://bucket/prefix``, ``gs://…``, ``hdfs://…``).

Inputs may be local paths (which every worker must see at the same place: a shared or network file system) or
URIs such as ``s3://bucket/photos/a.jpg``, read through :mod:`pyarrow.fs`.

Worker crashes. A file that kills its worker process (a crashing native decoder, the out-of-memory killer) must
not hang or fail the job. Ray Data's default for actor pools is to restart the actor and retry its task without
limit, which loops for ever on a file that crashes deterministically. Here the actors are restarted
(``max_restarts=-1``: the pool needs them) but a task is never retried (``max_task_retries=0``), each actor runs
one task (one batch) at a time so a death loses only that batch, and a failed task drops its block instead of
failing the job (``DataContext.max_errored_blocks=-1``). The driver notices the rows that never came back and
re-scores them in one extra actor: the lost batch again, then, if the actor dies on it, its files one at a time.
A file that kills the actor alone becomes a row with :data:`~pixgrade.pipeline.parallel.CRASH_MESSAGE` in
``error``, exactly what the local engine records, and every other file of the batch is scored normally. The
engine gives up with a :class:`~pixgrade.errors.PixgradeError` after :data:`MAX_CONSECUTIVE_CRASHES` deaths in a
row without one successful call (workers that cannot score anything at all).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixgrade.errors import ConfigError, PixgradeError
from pixgrade.io.files import path_from_text, path_text
from pixgrade.io.locks import OutputLock
from pixgrade.io.sources import is_uri
from pixgrade.io.sources import list_sources as list_inputs
from pixgrade.pipeline import ImageResult, column_types, result_columns
from pixgrade.pipeline.parallel import CRASH_MESSAGE
from pixgrade.pipeline.writers import PARQUET_METADATA_KEY

if TYPE_CHECKING:
    from pixgrade.catalog.filtering import FilterSettings

__all__ = [
    "MAX_CONSECUTIVE_CRASHES",
    "RECOVERED_SUFFIX",
    "RayRunSummary",
    "ScoreBatch",
    "filter_with_ray",
    "is_uri",
    "list_inputs",
    "parquet_schema",
    "ray_available",
    "score_with_ray",
    "write_parquet_with_ray",
]

logger = logging.getLogger(__name__)

_INDEX_COLUMN = "_pixgrade_index"
_RESULT_COLUMN = "_pixgrade_result"

MAX_CONSECUTIVE_CRASHES = 20
"""Worker deaths in a row (no successful call in between) after which re-scoring lost rows gives up: a crashing
file costs two deaths in a row (its batch, then itself), so 20 allows ten crashing files side by side, while a
worker that dies on every call (a broken environment) is reported instead of being restarted once per file."""

RECOVERED_SUFFIX = "_recovered.parquet"
"""Name ending of the Parquet file :func:`write_parquet_with_ray` adds for rows re-scored after a worker died."""


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


def parquet_schema(columns: Sequence[str] | None = None) -> Any:
    """The Arrow schema of result rows: same types as the local engine's Parquet writer."""
    import pyarrow as pa

    kinds = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
    return pa.schema([(c, kinds[t]) for c, t in column_types(list(columns or result_columns())).items()])


class ScoreBatch:
    """Ray Data callable class: loads a :class:`~pixgrade.pipeline.Scorer` once per actor, then scores batches.

    Args:
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer` (``model`` must be ``"default"``,
            ``None`` or a path every worker can read; ``facts``/``phash`` for ``pixgrade filter``'s work).
        keep_results: return ``(input index, pickled result)`` columns for the driver (:func:`score_with_ray`,
            :func:`filter_with_ray`) instead of the rows of the Parquet output (plus the input index).
    """

    def __init__(self, scorer_kwargs: Mapping[str, Any], keep_results: bool = False) -> None:
        import cv2

        from pixgrade.pipeline import Scorer

        cv2.setNumThreads(1)  # one CPU per actor, as the local engine's worker processes
        self.scorer = Scorer(**dict(scorer_kwargs))
        self.keep_results = keep_results
        self.columns = result_columns()
        self.schema = parquet_schema(self.columns)

    def results(self, paths: Sequence[str]) -> list[ImageResult]:
        """Score ``paths`` (local paths or URIs) exactly as :meth:`Scorer.score_paths` does: the per-image stage,
        then one model batch."""
        from pixgrade.pipeline.analysis import analyse

        settings = self.scorer.settings
        return self.scorer.score_batch([analyse(path, settings) for path in paths])

    def __call__(self, batch: dict[str, np.ndarray]) -> Any:
        import pyarrow as pa

        paths = [path_from_text(str(p)) for p in batch["path"]]  # the names exactly, undecodable bytes included
        index = pa.array(np.asarray(batch["index"], dtype=np.int64))
        if not self.keep_results:  # the Parquet rows, plus the input index (dropped by the writer)
            table = pa.Table.from_pylist([r.to_row() for r in self.results(paths)], schema=self.schema)
            return table.append_column(_INDEX_COLUMN, index)
        blobs = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in self.results(paths)]
        return pa.table({_INDEX_COLUMN: index, _RESULT_COLUMN: pa.array(blobs, pa.binary())})


def _crashed(path: str) -> ImageResult:
    """The result of a file whose worker died: the local engine's crash row."""
    return ImageResult(path=path, error=CRASH_MESSAGE, error_kind="worker_crashed")


def _failed(path: str, message: str) -> ImageResult:
    return ImageResult(path=path, error=message, error_kind="measure_failed")


class _Recovery:
    """Re-scores files whose rows Ray lost (their worker died) in one extra actor, isolating the culprits.

    The lost files are sent in groups of ``batch_size`` (a group usually comes back: the death may have had
    another cause, such as the memory monitor); when the actor dies on a group, a new actor gets the group's files
    one at a time, and a file that kills it alone gets the crash row. Calls are never retried by Ray
    (``max_task_retries=0``): a crashing file costs two worker deaths, whatever the size of its group.
    """

    def __init__(
        self,
        ray: Any,
        constructor_kwargs: Mapping[str, Any],
        batch_size: int = 16,
        max_consecutive_crashes: int = MAX_CONSECUTIVE_CRASHES,
    ) -> None:
        self.ray = ray
        self.kwargs = dict(constructor_kwargs)
        self.batch_size = max(1, batch_size)
        self.max_consecutive_crashes = max_consecutive_crashes
        self.actor: Any = None
        self.crashes = 0
        self.recovered = 0
        self._in_a_row = 0

    def _actor(self) -> Any:
        if self.actor is None:
            # A new actor after each death (calls to a new actor wait until it is up; calls to one Ray is
            # restarting may fail at once). 0 logical CPUs: the scoring actors may hold every CPU of the cluster.
            remote = self.ray.remote(ScoreBatch).options(num_cpus=0, max_restarts=0, max_task_retries=0)
            self.actor = remote.remote(**self.kwargs)
        return self.actor

    def _call(self, paths: Sequence[str]) -> list[Any] | None:
        """Results for ``paths``, or None when the actor died on them."""
        from ray.exceptions import RayActorError, RayTaskError

        try:
            got: list[Any] = self.ray.get(self._actor().results.remote(list(paths)))
        except RayActorError:  # the actor died (ActorDiedError) or dropped the call (ActorUnavailableError)
            self.close()
            self.crashes += 1
            self._in_a_row += 1
            if self._in_a_row > self.max_consecutive_crashes:
                raise PixgradeError(
                    f"Ray workers died {self._in_a_row} times in a row while re-scoring files whose worker had "
                    "died; they cannot score anything (see the worker logs: `ray logs` or /tmp/ray/session_latest)"
                ) from None
            return None
        except RayTaskError as exc:  # a Python exception escaped the scorer (it catches per-image errors)
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            message = f"internal error: {type(cause).__name__}: {cause}"
            got = [_failed(path, message) for path in paths]
        self._in_a_row = 0
        return got

    def __call__(self, paths: Sequence[str]) -> list[Any]:
        """One result per path, in order."""
        logger.warning(
            "%d file(s) came back from no Ray worker (a worker died); re-scoring them to isolate the cause",
            len(paths),
        )
        self.recovered += len(paths)
        out: list[Any] = []
        for start in range(0, len(paths), self.batch_size):
            group = paths[start : start + self.batch_size]
            got = self._call(group) if len(group) > 1 else None
            if got is None:
                got = []
                for path in group:
                    single = self._call([path])
                    if single is None:
                        logger.warning("%s: %s", path, CRASH_MESSAGE)
                        single = [_crashed(path)]
                    got.extend(single)
            out.extend(got)
        return out

    def close(self) -> None:
        """Stop the actor (if any)."""
        if self.actor is not None:
            with contextlib.suppress(Exception):  # already dead
                self.ray.kill(self.actor, no_restart=True)
            self.actor = None


@dataclass
class RayRunSummary:
    """What :func:`write_parquet_with_ray` did."""

    output: str
    n_images: int
    n_failed: int
    files: list[str]
    n_recovered: int = 0
    """Files re-scored after their worker died (their rows are in the ``*_recovered.parquet`` file)."""


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


@contextlib.contextmanager
def _data_context(ray: Any) -> Iterator[None]:
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


def _dataset(
    ray: Any,
    paths: Sequence[str],
    constructor_kwargs: Mapping[str, Any],
    *,
    batch_size: int,
    num_actors: int | None,
) -> Any:
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if num_actors is None:
        num_actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    if num_actors < 1:
        raise ConfigError(f"num_actors must be >= 1, got {num_actors}")
    # One batch per block, so one batch per actor task: a worker that dies loses one batch, not a big slice.
    n_blocks = max(1, -(-len(paths) // batch_size))
    # Names travel as path_text: valid UTF-8, so the column stays an Arrow string column whatever the names.
    rows = [{"index": i, "path": path_text(p)} for i, p in enumerate(paths)]
    items = ray.data.from_items(rows, override_num_blocks=n_blocks)
    with warnings.catch_warnings():
        # Ray 2.60 deprecates passing ray.remote options through map_batches (removal announced for Ray 2.64,
        # hence the upper bound of the ray extra) without a named replacement for these two yet.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
        return items.map_batches(
            ScoreBatch,
            fn_constructor_kwargs=dict(constructor_kwargs),
            batch_size=batch_size,
            batch_format="numpy",
            # One task at a time per actor: a task queued on an actor dies with it when a file crashes the actor.
            compute=ray.data.ActorPoolStrategy(size=num_actors, max_tasks_in_flight_per_actor=1),
            num_cpus=1,
            # Restart a dead actor (the pool needs it) but never retry its task: a file that crashes the decoder
            # would crash it again, for ever. The driver re-scores the lost files (see _Recovery).
            max_restarts=-1,
            max_task_retries=0,
        )


def _stream(
    paths: Sequence[str],
    constructor_kwargs: Mapping[str, Any],
    address: str | None,
    batch_size: int,
    num_actors: int | None,
    num_cpus: int | None,
) -> Iterator[Any]:
    """Results of ``ScoreBatch.results`` for every path, in input order, with lost rows re-scored."""
    if not paths:
        return
    kwargs = {**constructor_kwargs, "keep_results": True}
    with _RaySession(address, num_cpus) as ray, _data_context(ray):
        dataset = _dataset(ray, paths, kwargs, batch_size=batch_size, num_actors=num_actors)
        recovery = _Recovery(ray, kwargs, batch_size)
        expected = 0
        try:
            for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                indices = batch.column(_INDEX_COLUMN).to_pylist()
                for index, blob in zip(indices, batch.column(_RESULT_COLUMN).to_pylist(), strict=True):
                    if index < expected:  # a row already delivered (a task re-ran): keep the first
                        continue
                    if index > expected:  # rows Ray lost in between (preserve_order keeps the rest in order)
                        yield from recovery(paths[expected:index])
                    yield pickle.loads(blob)
                    expected = index + 1
            if expected < len(paths):
                yield from recovery(paths[expected:])
        finally:
            recovery.close()


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

    A file that kills its worker gets the local engine's crash row (see the module docstring).
    """
    todo = [str(p) for p in paths]
    yield from _stream(todo, {"scorer_kwargs": dict(scorer_kwargs or {})}, address, batch_size, num_actors, num_cpus)


def filter_with_ray(
    paths: Sequence[str],
    settings: FilterSettings,
    text_detector: str,
    *,
    address: str | None = None,
    batch_size: int = 16,
    num_actors: int | None = None,
    num_cpus: int | None = None,
) -> Iterator[ImageResult]:
    """The scoring part of ``pixgrade filter`` on Ray: a :data:`pixgrade.catalog.filtering.FileEngine`.

    Each actor loads ``Scorer(**scorer_options(settings, text_detector))`` once (facts and pHash on) and scores
    its batches exactly as the local engine does, each file read and decoded once. The policy, grouping,
    duplicates, main images and catalogue then run on the driver as usual, so decisions are the local engine's.
    Use it as ``FilterSettings(engine=functools.partial(filter_with_ray, address=…))``.
    """
    from pixgrade.catalog.filtering import scorer_options

    options = scorer_options(settings, text_detector)
    model = options["model"]
    if model is not None and not isinstance(model, str | Path):
        raise ConfigError("the ray engine needs the model as 'default', None or a checkpoint path, not an object")
    options["model"] = None if model is None else str(model)
    kwargs = {"scorer_kwargs": options}
    yield from _stream([str(p) for p in paths], kwargs, address, batch_size, num_actors, num_cpus)


def _filesystem(output: str) -> tuple[Any, str]:
    """``(pyarrow filesystem, folder path in it)`` of a local folder or URI prefix."""
    import pyarrow.fs as pafs

    if is_uri(output):
        filesystem, folder = pafs.FileSystem.from_uri(output)
        return filesystem, folder.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(output).resolve())


def _check_output_dir(output: str, overwrite: bool) -> None:
    """Refuse an output that holds anything, unless ``overwrite`` and it holds only Parquet files (removed); its
    lock file (:func:`_output_lock`) does not count."""
    import pyarrow.fs as pafs

    if not is_uri(output):
        path = Path(output)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
    try:
        filesystem, folder = _filesystem(output)
        info = filesystem.get_file_info(folder)
        if info.type == pafs.FileType.File:
            raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
        if info.type != pafs.FileType.Directory:
            return
        present = [
            e
            for e in filesystem.get_file_info(pafs.FileSelector(folder, recursive=True))
            if e.is_file and not (e.base_name == _LOCK_NAME and e.path == f"{folder}/{_LOCK_NAME}")
        ]
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{output}: cannot check the output location: {exc}") from None
    if not present:
        return
    if not overwrite:
        raise ConfigError(f"{output}: folder is not empty; choose a new one or pass --overwrite")
    others = [e for e in present if not e.base_name.endswith(".parquet")]
    if others:
        raise ConfigError(f"{output}: holds files other than Parquet ({others[0].base_name}); not overwriting it")
    for entry in present:
        filesystem.delete_file(entry.path)


_LOCK_NAME = ".pixgrade-lock"
"""The output folder's lock file (:func:`pixgrade.io.locks.lock_path` of a folder; readers skip hidden files)."""


def _output_lock(output: str, wait: float) -> contextlib.AbstractContextManager[Any]:
    """The :class:`~pixgrade.io.locks.OutputLock` of a local output folder (created first, so that every run
    locks the same ``FOLDER/.pixgrade-lock``); nothing for a URI prefix (object stores have no locks)."""
    if is_uri(output):
        return contextlib.nullcontext()
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{output}: exists and is not a folder (the ray engine writes a folder of Parquet files)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{output}: cannot create the output folder: {exc.strerror or exc}") from None
    return OutputLock(folder, what="output folder", wait=wait)


class _ParquetSink:
    """Ray Data datasink writing the rows as Parquet files named by run and first input index.

    Each write task gets at least ``rows_per_file`` rows (the last one fewer) and writes them, in input order and
    without the index column, to ``<run>_<first index, 12 digits>.parquet``: the names sort in input order. A write
    that fails is *returned* as an error, never raised, because the job ignores failed tasks (see the module
    docstring): :func:`write_parquet_with_ray` raises it once the job is over.
    """

    def __init__(self, output: str, rows_per_file: int, run: str, metadata: Mapping[str, str] | None = None) -> None:
        self.output = output
        self.rows_per_file = rows_per_file
        self.run = run
        self.metadata = metadata
        self.returns: list[dict[str, Any]] = []

    @property
    def min_rows_per_write(self) -> int:
        return self.rows_per_file

    def write(self, blocks: Iterable[Any], ctx: Any) -> dict[str, Any]:
        import pyarrow as pa
        from ray.data.block import BlockAccessor

        tables = [BlockAccessor.for_block(block).to_arrow() for block in blocks]
        tables = [t for t in tables if t.num_rows]
        if not tables:
            return {"indices": [], "file": None, "failed": 0, "error": None}
        table = pa.concat_tables(tables).sort_by(_INDEX_COLUMN)
        indices = table.column(_INDEX_COLUMN).to_pylist()
        rows = table.drop_columns([_INDEX_COLUMN])
        try:
            path = _write_table(rows, self.output, f"{self.run}_{indices[0]:012d}.parquet", self.metadata)
        except Exception as exc:  # reported to the driver, which stops the run with it
            return {"indices": [], "file": None, "failed": 0, "error": f"{type(exc).__name__}: {exc}"}
        failed = len(indices) - rows.column("error").null_count
        return {"indices": indices, "file": path, "failed": failed, "error": None}

    def on_write_complete(self, write_result: Any) -> None:
        self.returns = [r for r in write_result.write_returns if r is not None]


def _datasink(output: str, rows_per_file: int, run: str, metadata: Mapping[str, str] | None = None) -> Any:
    """A :class:`_ParquetSink` that is a ``ray.data.Datasink`` (imported only with Ray)."""
    from ray.data import Datasink

    sink_class = type("ParquetRowsDatasink", (_ParquetSink, Datasink), {})
    return sink_class(output, rows_per_file, run, metadata)


def _write_table(table: Any, output: str, name: str, metadata: Mapping[str, str] | None = None) -> str:
    """Write ``table`` as ``output/name`` (a local folder or URI prefix, created if needed), ``metadata`` added to
    its schema metadata; returns the path."""
    import pyarrow.parquet as pq

    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    filesystem, folder = _filesystem(output)
    filesystem.create_dir(folder, recursive=True)
    path = f"{folder}/{name}"
    pq.write_table(table, path, filesystem=filesystem)
    return path if not is_uri(output) else f"{output.split('://', 1)[0]}://{path}"


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
    lock_wait: float = 0.0,
    provenance: Mapping[str, Any] | None = None,
) -> RayRunSummary:
    """Score files on Ray and write the rows as partitioned Parquet under ``output`` (a folder or URI prefix).

    Every file has the local engine's columns and types (:func:`parquet_schema`); read them all back with
    ``pandas.read_parquet(output)`` or ``pyarrow.dataset.dataset(output)``. Arguments as :func:`score_with_ray`,
    plus ``rows_per_file``: each file holds at least this many rows (except the last), so a large run does not
    make one small file per batch. Files are named ``<run id>_<index of their first row>.parquet`` and hold
    their rows in input order, so reading the folder gives the input order; rows of files re-scored after their
    worker died (see the module docstring) are written by the driver to ``<run id>_<index>_recovered.parquet``.
    File names are written as :func:`pixgrade.io.files.path_text` (as the local writers do). A local folder is
    locked for the run (:class:`~pixgrade.io.locks.OutputLock` on ``FOLDER/.pixgrade-lock``, held by this
    process): a second run on it waits up to ``lock_wait`` seconds, then fails. ``provenance``
    (:func:`pixgrade.provenance.provenance`) goes, as JSON, into every file's schema metadata under the key
    :data:`~pixgrade.pipeline.writers.PARQUET_METADATA_KEY` (as the local Parquet writer's).

    Raises:
        ConfigError: ``output`` is a file, or a non-empty folder without ``overwrite`` (or holds other files than
            Parquet); Ray is not installed.
        OutputLockedError: another run holds the folder's lock after ``lock_wait`` seconds.
        PixgradeError: the job failed, or a worker could not write its file (mounts, credentials).
    """
    todo = [str(p) for p in paths]
    output = str(output)
    if not todo:
        raise ConfigError("no input files to score")
    with _output_lock(output, lock_wait):
        _check_output_dir(output, overwrite)
        metadata = None if provenance is None else {PARQUET_METADATA_KEY: json.dumps(dict(provenance), default=str)}
        return _write_parquet(
            todo, output, scorer_kwargs, address, batch_size, num_actors, num_cpus, rows_per_file, metadata
        )


def _write_parquet(
    todo: list[str],
    output: str,
    scorer_kwargs: Mapping[str, Any] | None,
    address: str | None,
    batch_size: int,
    num_actors: int | None,
    num_cpus: int | None,
    rows_per_file: int,
    metadata: Mapping[str, str] | None = None,
) -> RayRunSummary:
    """The body of :func:`write_parquet_with_ray` once the output is locked and checked."""
    kwargs = {"scorer_kwargs": dict(scorer_kwargs or {}), "keep_results": False}
    run = uuid.uuid4().hex[:12]
    sink = _datasink(output, rows_per_file, run, metadata)
    with _RaySession(address, num_cpus) as ray, _data_context(ray):
        dataset = _dataset(ray, todo, kwargs, batch_size=batch_size, num_actors=num_actors)
        try:
            # Writing is light: 0 logical CPUs, so writes are not starved while the actors hold every CPU.
            writers = 2 if len(todo) > rows_per_file else 1
            dataset.write_datasink(sink, ray_remote_args={"num_cpus": 0}, concurrency=writers)
        except Exception as exc:  # Ray wraps worker failures in its own exception types
            raise PixgradeError(f"the Ray job failed: {type(exc).__name__}: {exc}") from exc
        errors = [r["error"] for r in sink.returns if r["error"]]
        if errors:
            raise PixgradeError(
                f"the Ray workers could not write to {output} ({len(errors)} file(s)): {errors[0]}; check that every "
                "node can write there (mounts, credentials)"
            )
        files = [r["file"] for r in sink.returns if r["file"]]
        n_failed = sum(r["failed"] for r in sink.returns)
        done = {i for r in sink.returns for i in r["indices"]}
        missing = [i for i in range(len(todo)) if i not in done]
        if missing:
            recovery = _Recovery(ray, kwargs | {"keep_results": True}, batch_size)
            try:
                results = recovery([todo[i] for i in missing])
            finally:
                recovery.close()
            table = _rows_table([r.to_row() for r in results])
            files.append(_write_table(table, output, f"{run}_{missing[0]:012d}_recovered.parquet", metadata))
            n_failed += sum(r.error is not None for r in results)
    return RayRunSummary(
        output=output, n_images=len(todo), n_failed=n_failed, files=sorted(files), n_recovered=len(missing)
    )


def _rows_table(rows: list[dict[str, Any]]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=parquet_schema())
