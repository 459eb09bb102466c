"""``ImageResult``: everything pixgrade says about one image, and its flat table row.

The row has the same columns for every image, whatever was measured or failed (cleanvision-style uniform
output): ``path, score, grade, presentation, main_score``, then ``<factor>_score, <factor>_flag,
<factor>_value`` for every factor in :data:`pixgrade.measures.FACTOR_NAMES`, then ``severity_<name>`` for every
name in :data:`SEVERITY_NAMES`, then ``reasons, presentation_reasons, error, width, height, format, sha256``.
Cells that do not apply are empty (``None``). The ``path`` cell is :func:`pixgrade.io.files.path_text` of the file
name: the name itself unless it holds bytes that are not UTF-8, control characters (newline, tab) or a backslash,
which are written as escapes that :func:`~pixgrade.io.files.path_from_text` reverses.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixgrade.degrade.registry import SEVERITY_CHANNELS
from pixgrade.facts import ImageFacts
from pixgrade.io.files import path_text
from pixgrade.measures import FACTOR_NAMES, Factor

__all__ = [
    "SEVERITY_NAMES",
    "ImageResult",
    "column_types",
    "grade_from_score",
    "result_columns",
]

#: The model's severity outputs, in column order (defined with the degradations, which import no torch, so
#: the measures-only path and the worker processes never import it).
SEVERITY_NAMES: tuple[str, ...] = SEVERITY_CHANNELS

_LEADING = ("path", "score", "grade", "presentation", "main_score")
_TRAILING = ("reasons", "presentation_reasons", "error", "width", "height", "format", "sha256")


def result_columns(
    factor_names: Sequence[str] = FACTOR_NAMES, severity_names: Sequence[str] = SEVERITY_NAMES
) -> list[str]:
    """The columns of :meth:`ImageResult.to_row`, in order."""
    columns = list(_LEADING)
    for name in factor_names:
        columns += [f"{name}_score", f"{name}_flag", f"{name}_value"]
    columns += [f"severity_{name}" for name in severity_names]
    columns += list(_TRAILING)
    return columns


def column_types(columns: Sequence[str]) -> dict[str, type]:
    """Python type of each column (``str``, ``float``, ``int`` or ``bool``); every cell may also be ``None``."""
    types: dict[str, type] = {}
    for column in columns:
        if column in ("grade", "width", "height"):
            types[column] = int
        elif (
            column in ("score", "presentation", "main_score")
            or column.endswith(("_score", "_value"))
            or column.startswith("severity_")
        ):
            types[column] = float
        elif column.endswith("_flag"):
            types[column] = bool
        else:
            types[column] = str
    return types


def grade_from_score(score: float | None) -> int | None:
    """Whole grade 0–5 from a 0–5 score: rounded to the nearest integer, halves up (2.5 → 3), clipped to 0–5."""
    if score is None or not math.isfinite(score):
        return None
    return int(min(5, max(0, math.floor(score + 0.5))))


def _clean_text(text: str) -> str:
    """One line of text (rows are one line each in CSV/JSONL, which is what makes resume safe)."""
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def _round(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


@dataclass
class ImageResult:
    """The verdict on one image.

    Attributes:
        path: the file as it was given (or ``"<bytes>"``).
        score: overall quality on 0–5 (higher is better): the model's prediction when a model is loaded, else the
            measures-only heuristic (:func:`pixgrade.pipeline.combine.measures_score`); ``None`` on error.
        grade: ``score`` rounded to a whole 0–5 grade (:func:`grade_from_score`); ``None`` on error.
        factors: measured factors (diagnostics; always filled for readable images).
        severities: model severities in [0, 1] (1 = severe); empty without a model.
        reasons: plain-language findings, most important first.
        error: why the image could not be scored (the cause; the path is in ``path``), else ``None``.
        width, height: size of the picture in the file (after EXIF orientation), not of any reduced decode.
        format: Pillow format name decided from the content.
        sha256: hex digest of the file's bytes (also for unreadable images, when the bytes could be read).
        embedding: L2-normalised model embedding (not part of the table row).
        error_kind: machine-readable kind of ``error`` (one of :data:`pixgrade.pipeline.analysis.ERROR_KINDS`).
        facts: marketplace facts, in the file's pixels, when they were asked for (not part of the table row).
        phash: perceptual hash, when it was asked for (not part of the table row).
        content_embedding: the near-duplicate content embedding (:mod:`pixgrade.pipeline.content`), when it was
            asked for (not part of the table row).
        presentation: catalogue-shot judgement in [0, 1] (1 = plain background, product centred and filling the
            frame; 0 = a casual photo), :mod:`pixgrade.model.presentation`; ``None`` on error.
        presentation_reasons: plain words for ``presentation``, the judgement first.
        main_score: how good the image is as a product's main image, in [0, 1]: grade and presentation combined
            (:func:`pixgrade.model.presentation.main_score`); the filter's ranking also puts the policy first.
    """

    path: str
    score: float | None = None
    grade: int | None = None
    factors: dict[str, Factor] = field(default_factory=dict)
    severities: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None
    embedding: np.ndarray | None = field(default=None, repr=False)
    presentation: float | None = None
    presentation_reasons: list[str] = field(default_factory=list)
    main_score: float | None = None
    error_kind: str | None = None
    facts: ImageFacts | None = None
    phash: str | None = None
    content_embedding: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the image was scored (no error)."""
        return self.error is None

    def to_row(
        self, factor_names: Sequence[str] = FACTOR_NAMES, severity_names: Sequence[str] = SEVERITY_NAMES
    ) -> dict[str, Any]:
        """The flat table row (columns of :func:`result_columns`); floats rounded for readability."""
        row: dict[str, Any] = {
            "path": path_text(self.path),
            "score": _round(self.score, 3),
            "grade": self.grade,
            "presentation": _round(self.presentation, 3),
            "main_score": _round(self.main_score, 3),
        }
        for name in factor_names:
            factor = self.factors.get(name)
            row[f"{name}_score"] = _round(factor.score, 4) if factor else None
            row[f"{name}_flag"] = bool(factor.flag) if factor else None
            row[f"{name}_value"] = float(f"{factor.value:.6g}") if factor and math.isfinite(factor.value) else None
        for name in severity_names:
            row[f"severity_{name}"] = _round(self.severities.get(name), 4)
        # "; " separates reasons, so a ";" inside one is written as "," to keep the column splittable
        row["reasons"] = _clean_text("; ".join(r.replace(";", ",") for r in self.reasons)) if self.reasons else None
        row["presentation_reasons"] = (
            _clean_text("; ".join(r.replace(";", ",") for r in self.presentation_reasons))
            if self.presentation_reasons
            else None
        )
        row["error"] = _clean_text(self.error) if self.error else None
        row["width"] = self.width
        row["height"] = self.height
        row["format"] = self.format
        row["sha256"] = self.sha256
        return row


def coerce_row(raw: Mapping[str, Any], types: Mapping[str, type]) -> dict[str, Any]:
    """Convert a row read back from a file (strings in CSV) to typed values; empty cells become ``None``."""
    row: dict[str, Any] = {}
    for column, kind in types.items():
        value = raw.get(column)
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value) and kind is not float):
            row[column] = None
        elif kind is bool:
            row[column] = value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")
        elif kind is int:
            row[column] = int(float(value))
        elif kind is float:
            number = float(value)
            row[column] = number if math.isfinite(number) else None
        else:
            row[column] = str(value)
    return row
