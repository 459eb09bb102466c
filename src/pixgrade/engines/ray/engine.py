"""The Ray engine's public functions: stream results back (:func:`score_with_ray`, :func:`filter_with_ray`),
write partitioned Parquet from the workers (:func:`write_parquet_with_ray`), and :class:`RayEngine`, the
:class:`~pixgrade.engines.base.Engine` over them. How the job is set up is told in :mod:`pixgrade.engines.ray`."""

from __future__ import annotations

import json
import pickle
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixgrade.engines.ray.actor import INDEX_COLUMN, RESULT_COLUMN, ScoreBatch
from pixgrade.engines.ray.recovery import Recovery
from pixgrade.engines.ray.session import RaySession, data_context, ray_available
from pixgrade.engines.ray.sink import check_output_dir, datasink, output_lock, rows_table, write_table
from pixgrade.errors import ConfigError, PixgradeError
from pixgrade.io.files import path_text
from pixgrade.pipeline import ImageResult, result_columns
from pixgrade.pipeline.scorer import scorer_factor_names
from pixgrade.pipeline.writers import PARQUET_METADATA_KEY

if TYPE_CHECKING:
    from pixgrade.catalog.filtering import FileEngine, FilterSettings
    from pixgrade.pipeline import Scorer

__all__ = ["RayEngine", "RayRunSummary", "filter_with_ray", "score_with_ray", "write_parquet_with_ray"]


@dataclass
class RayRunSummary:
    """What :func:`write_parquet_with_ray` did."""

    output: str
    n_images: int
    n_failed: int
    files: list[str]
    n_recovered: int = 0
    """Files re-scored after their worker died (their rows are in the ``*_recovered.parquet`` file)."""


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
            # would crash it again, for ever. The driver re-scores the lost files (see recovery.Recovery).
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
    with RaySession(address, num_cpus) as ray, data_context(ray):
        dataset = _dataset(ray, paths, kwargs, batch_size=batch_size, num_actors=num_actors)
        recovery = Recovery(ray, kwargs, batch_size)
        expected = 0
        try:
            for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
                indices = batch.column(INDEX_COLUMN).to_pylist()
                for index, blob in zip(indices, batch.column(RESULT_COLUMN).to_pylist(), strict=True):
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
        paths: files (local paths or URIs); folders are not expanded here (see
            :func:`pixgrade.io.sources.list_sources`).
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer`.
        address: Ray cluster address (``"auto"``, ``"ray://head:10001"``, ``"10.0.0.1:6379"``); ``None`` starts a
            local Ray instance (``num_cpus`` CPUs, default: all of this process's) unless one is running.
        batch_size: paths per actor call (and per model batch).
        num_actors: scoring actors (default: one per CPU of the cluster).
        num_cpus: CPUs of the local instance when one is started.

    A file that kills its worker gets the local engine's crash row (see :mod:`pixgrade.engines.ray`).
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
    duplicates, main images and catalogue then run on the driver as usual, so decisions are the local engine's
    (the actors send whole results, content embeddings for the duplicate step included).
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

    Every file has the local engine's columns and types (:func:`~pixgrade.engines.ray.actor.parquet_schema`);
    read them all back with ``pandas.read_parquet(output)`` or ``pyarrow.dataset.dataset(output)``. Arguments as
    :func:`score_with_ray`, plus ``rows_per_file``: each file holds at least this many rows (except the last), so
    a large run does not make one small file per batch. Files are named ``<run id>_<index of their first
    row>.parquet`` and hold their rows in input order, so reading the folder gives the input order; rows of files
    re-scored after their worker died (see :mod:`pixgrade.engines.ray`) are written by the driver to
    ``<run id>_<index>_recovered.parquet``.
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
    with output_lock(output, lock_wait):
        check_output_dir(output, overwrite)
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
    sink = datasink(output, rows_per_file, run, metadata)
    with RaySession(address, num_cpus) as ray, data_context(ray):
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
            recovery = Recovery(ray, kwargs | {"keep_results": True}, batch_size)
            try:
                results = recovery([todo[i] for i in missing])
            finally:
                recovery.close()
            options = dict(scorer_kwargs or {})  # the actors' columns: built-in factors, then the plugins'
            names = scorer_factor_names(options.get("factors"), options.get("plugins", ()))
            table = rows_table([r.to_row(names) for r in results], result_columns(names))
            files.append(write_table(table, output, f"{run}_{missing[0]:012d}_recovered.parquet", metadata))
            n_failed += sum(r.error is not None for r in results)
    return RayRunSummary(
        output=output, n_images=len(todo), n_failed=n_failed, files=sorted(files), n_recovered=len(missing)
    )


class RayEngine:
    """The :class:`~pixgrade.engines.base.Engine` on a Ray cluster (see :mod:`pixgrade.engines.ray`).

    Args:
        scorer_kwargs: keyword arguments of :class:`~pixgrade.pipeline.Scorer` for every actor (picklable: the
            model as ``"default"``, ``None``, a path or a :class:`~pixgrade.model.reference.ModelRef`).
        address: the cluster to join (see :func:`score_with_ray`); ``None`` starts a local Ray instance per job.
        batch_size: paths per actor call (and per model batch).
        num_actors: scoring actors (default: one per CPU of the cluster).
        num_cpus: CPUs of the local instance when one is started.

    Raises:
        ConfigError: Ray Data is not installed (``pip install 'pixgrade[ray]'``).
    """

    name = "ray"

    def __init__(
        self,
        scorer_kwargs: Mapping[str, Any] | None = None,
        *,
        address: str | None = None,
        batch_size: int = 16,
        num_actors: int | None = None,
        num_cpus: int | None = None,
    ) -> None:
        if not ray_available():
            raise ConfigError("the ray engine needs Ray Data: pip install 'pixgrade[ray]'")
        self.scorer_kwargs = dict(scorer_kwargs or {})
        self.address = address
        self.batch_size = batch_size
        self.num_actors = num_actors
        self.num_cpus = num_cpus
        self._scorer: Scorer | None = None

    @property
    def scorer(self) -> Scorer:
        """A Scorer with the actors' options loaded in this process (only when asked: the actors load their own)."""
        if self._scorer is None:
            from pixgrade.pipeline import Scorer

            self._scorer = Scorer(**self.scorer_kwargs)
        return self._scorer

    def score(self, sources: Sequence[str]) -> Iterator[ImageResult]:
        """:func:`score_with_ray` with the engine's options."""
        yield from score_with_ray(
            sources,
            self.scorer_kwargs,
            address=self.address,
            batch_size=self.batch_size,
            num_actors=self.num_actors,
            num_cpus=self.num_cpus,
        )

    def file_engine(self) -> FileEngine:
        """:func:`filter_with_ray` with the engine's cluster and actors (the Scorer options come from the filter
        settings)."""
        import functools

        return functools.partial(
            filter_with_ray,
            address=self.address,
            batch_size=self.batch_size,
            num_actors=self.num_actors,
            num_cpus=self.num_cpus,
        )

    def write_parquet(
        self,
        sources: Sequence[str],
        output: str | Path,
        *,
        overwrite: bool = False,
        lock_wait: float = 0.0,
        provenance: Mapping[str, Any] | None = None,
        rows_per_file: int = 5000,
    ) -> RayRunSummary:
        """:func:`write_parquet_with_ray` with the engine's options."""
        return write_parquet_with_ray(
            sources,
            output,
            self.scorer_kwargs,
            address=self.address,
            batch_size=self.batch_size,
            num_actors=self.num_actors,
            num_cpus=self.num_cpus,
            overwrite=overwrite,
            rows_per_file=rows_per_file,
            lock_wait=lock_wait,
            provenance=provenance,
        )
