"""pixgrade.engines: where the scoring pipeline runs.

- ``local`` (:func:`pixgrade.engines.local.score_local`): worker processes on this machine;
- ``ray`` (:mod:`pixgrade.engines.ray_engine`): a Ray cluster through Ray Data (optional extra ``pixgrade[ray]``),
  streaming results back (:func:`~pixgrade.engines.ray_engine.score_with_ray`) or writing partitioned Parquet
  from the workers (:func:`~pixgrade.engines.ray_engine.write_parquet_with_ray`).

Both produce the same :class:`~pixgrade.pipeline.ImageResult` rows for the same images.
"""

ENGINES: tuple[str, ...] = ("local", "ray")

__all__ = ["ENGINES"]
