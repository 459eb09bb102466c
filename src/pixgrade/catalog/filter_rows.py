"""The decision rows of ``pixgrade filter``: one row per image (decisions.csv, and the images of decisions.json)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pixgrade.catalog.filtering import ImageRecord
from pixgrade.io.files import path_text

__all__ = ["CSV_COLUMNS", "CSV_SIGNATURE", "decision_row", "decision_rows", "utf8"]

CSV_COLUMNS = [
    "path",
    "product",
    "decision",
    "main",
    "rank",
    "score",
    "grade",
    "duplicate_of",
    "reasons",
    "warnings",
    "destination",
    "width",
    "height",
    "format",
    "sha256",
    "error",
    "presentation",
    "main_score",
    "presentation_reasons",
    "cluster",
    "notes",
]
"""The columns of a decision row, in decisions.csv order."""

CSV_SIGNATURE = ",".join(CSV_COLUMNS[:8])
"""The first columns, which every version's decisions.csv starts with (recognises our own older files)."""


def utf8(text: str) -> str:
    """``text`` with any undecodable file-name byte written as an escape (so the UTF-8 outputs can hold it)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def decision_row(record: ImageRecord, destination: str | None = None) -> dict[str, Any]:
    """The row of one decided image (keys :data:`CSV_COLUMNS`): paths as :func:`~pixgrade.io.files.path_text`,
    scores rounded to 3 decimals, reasons, warnings and notes joined with ``"; "``; ``destination`` is where the
    file was placed (None when it was not)."""
    d = record.decision
    assert d is not None, f"{record.path}: no decision yet"
    r = record.result
    return {
        "path": path_text(record.path),
        "product": path_text(d.product),
        "decision": d.decision,
        "main": d.main,
        "rank": d.rank,
        "score": _rounded(r.score),
        "grade": r.grade,
        "duplicate_of": None if d.duplicate_of is None else path_text(d.duplicate_of),
        "reasons": utf8("; ".join(d.reasons)),
        "warnings": utf8("; ".join(d.warnings)),
        "destination": None if destination is None else path_text(destination),
        "width": r.width,
        "height": r.height,
        "format": r.format,
        "sha256": r.sha256,
        "error": None if r.error is None else utf8(r.error),
        "presentation": _rounded(r.presentation),
        "main_score": _rounded(r.main_score),
        "presentation_reasons": "; ".join(r.presentation_reasons),
        "cluster": d.cluster,
        "notes": "; ".join(d.notes),
    }


def decision_rows(records: Iterable[ImageRecord], destinations: Mapping[str, str]) -> list[dict[str, Any]]:
    """:func:`decision_row` of each record, in order; ``destinations`` maps a record's path to where it was
    placed."""
    return [decision_row(record, destinations.get(record.path)) for record in records]
