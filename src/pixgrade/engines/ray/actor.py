"""The Ray Data callable class that scores batches of paths in each actor, and the Arrow schema of its rows."""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pixgrade.io.files import path_from_text
from pixgrade.pipeline import ImageResult, column_types, result_columns

__all__ = ["INDEX_COLUMN", "RESULT_COLUMN", "ScoreBatch", "parquet_schema"]

INDEX_COLUMN = "_pixgrade_index"
"""The input index of each row (Ray Data batches carry it; the Parquet writer drops it)."""
RESULT_COLUMN = "_pixgrade_result"
"""The pickled :class:`ImageResult` of each row when results stream back to the driver."""


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
        keep_results: return ``(input index, pickled result)`` columns for the driver
            (:func:`~pixgrade.engines.ray.score_with_ray`, :func:`~pixgrade.engines.ray.filter_with_ray`) instead
            of the rows of the Parquet output (plus the input index).
    """

    def __init__(self, scorer_kwargs: Mapping[str, Any], keep_results: bool = False) -> None:
        import cv2

        from pixgrade.pipeline import Scorer

        cv2.setNumThreads(1)  # one CPU per actor, as the local engine's worker processes
        self.scorer = Scorer(**dict(scorer_kwargs))
        self.keep_results = keep_results
        self.columns = result_columns(self.scorer.factor_names)  # with the plugins' factors, as locally
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
            rows = [r.to_row(self.scorer.factor_names) for r in self.results(paths)]
            table = pa.Table.from_pylist(rows, schema=self.schema)
            return table.append_column(INDEX_COLUMN, index)
        blobs = [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in self.results(paths)]
        return pa.table({INDEX_COLUMN: index, RESULT_COLUMN: pa.array(blobs, pa.binary())})
