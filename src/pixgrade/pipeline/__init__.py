"""pixgrade.pipeline: score images (measures + model) into :class:`ImageResult` rows, stream batches over worker
processes, and write CSV/JSONL/Parquet tables that survive interruptions.

Public API: :class:`ImageResult`, :class:`Scorer`, :func:`result_columns`, :func:`grade_from_score`,
:func:`measures_score`, :func:`build_reasons`, :func:`open_writer`, :func:`read_rows`, :func:`check_output`.
Nothing here imports torch unless a model is loaded.
"""

from pixgrade.pipeline.combine import build_reasons, measures_score
from pixgrade.pipeline.result import SEVERITY_NAMES, ImageResult, column_types, grade_from_score, result_columns
from pixgrade.pipeline.scorer import Scorer, default_workers
from pixgrade.pipeline.writers import check_output, open_writer, output_format, read_rows

__all__ = [
    "SEVERITY_NAMES",
    "ImageResult",
    "Scorer",
    "build_reasons",
    "check_output",
    "column_types",
    "default_workers",
    "grade_from_score",
    "measures_score",
    "open_writer",
    "output_format",
    "read_rows",
    "result_columns",
]
