"""The Ray engine: the same scoring as the local engine, spread over a Ray cluster with Ray Data.

Modules by concern: :mod:`~pixgrade.engines.ray.session` (start or join Ray, the job's Ray Data settings),
:mod:`~pixgrade.engines.ray.actor` (:class:`ScoreBatch`, the schema of its rows),
:mod:`~pixgrade.engines.ray.recovery` (re-scoring the rows a dead worker lost), :mod:`~pixgrade.engines.ray.sink`
(output checks, the folder's lock, the Parquet datasink) and :mod:`~pixgrade.engines.ray.engine` (the public
functions and :class:`RayEngine`, all re-exported here). Importing this package does not import Ray.

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
re-scores them in one extra actor (:class:`~pixgrade.engines.ray.recovery.Recovery`): the lost batch again,
then, if the actor dies on it, its files one at a time. A file that kills the actor alone becomes a row with
:data:`~pixgrade.pipeline.parallel.CRASH_MESSAGE` in ``error``, exactly what the local engine records, and
every other file of the batch is scored normally. The
engine gives up with a :class:`~pixgrade.errors.PixgradeError` after :data:`MAX_CONSECUTIVE_CRASHES` deaths in a
row without one successful call (workers that cannot score anything at all).
"""

from __future__ import annotations

from pixgrade.engines.ray.actor import ScoreBatch, parquet_schema
from pixgrade.engines.ray.engine import (
    RayEngine,
    RayRunSummary,
    filter_with_ray,
    score_with_ray,
    write_parquet_with_ray,
)
from pixgrade.engines.ray.recovery import MAX_CONSECUTIVE_CRASHES
from pixgrade.engines.ray.session import ray_available
from pixgrade.engines.ray.sink import RECOVERED_SUFFIX

__all__ = [
    "MAX_CONSECUTIVE_CRASHES",
    "RECOVERED_SUFFIX",
    "RayEngine",
    "RayRunSummary",
    "ScoreBatch",
    "filter_with_ray",
    "parquet_schema",
    "ray_available",
    "score_with_ray",
    "write_parquet_with_ray",
]
