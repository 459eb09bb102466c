"""Turn public IQA label files and annotators' grade sheets into :class:`~pixgrade.data.manifest.Manifest` s.

Score mappings onto pixgrade's 0–5 scale (higher is better):

- LIVE-C (``image,mos,mos_std``; MOS 0–100): ``score = mos / 20``, ``score_std = mos_std / 20``.
- KonIQ-10k (``image_name,MOS,SD,MOS_zscore``): the ACR ``MOS`` on 1–5 is mapped linearly so that
  1 ("bad") → 0 and 5 ("excellent") → 5: ``score = (MOS - 1) * 5 / 4``, ``score_std = SD * 5 / 4``.
  When the file has no ``MOS`` column, the rescaled ``MOS_zscore`` (0–100) is used: ``score = MOS_zscore / 20``
  (no ``score_std``: the z-score scale has no per-image spread in the file).
- Grades (``image,grade``; 0–5): used as they are. When an image has several rows (one per annotator),
  ``score`` is their mean, ``score_std`` their sample standard deviation and ``n_ratings`` their count.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pixgrade.data.manifest import Manifest, ManifestError, OnMissing, handle_missing, read_table, relative_path

__all__ = ["IMPORTERS", "from_grades", "from_koniq", "from_livec", "import_labels"]

_KONIQ_IMAGE_DIRS = ("", "1024x768", "512x384", "images")


def _number(
    text: str, line: int, column: str, low: float, high: float, problems: list[tuple[int | None, str]]
) -> float | None:
    try:
        value = float(text)
    except ValueError:
        problems.append((line, f"{column} {text!r} is not a number" if text else f"{column} is empty"))
        return None
    if not math.isfinite(value) or not low <= value <= high:
        problems.append((line, f"{column} {value:g} is outside {low:g}..{high:g}"))
        return None
    return value


def _require(path: Path, header: list[str], *alternatives: tuple[str, ...]) -> list[str]:
    """For each tuple of acceptable names, the first present in ``header``; ``ManifestError`` otherwise."""
    chosen = []
    for names in alternatives:
        hit = next((name for name in names if name in header), None)
        if hit is None:
            wanted = " or ".join(repr(n) for n in names)
            raise ManifestError(path, [(1, f"missing column {wanted} (found: {', '.join(header) or 'none'})")])
        chosen.append(hit)
    return chosen


def _finish(
    records: list[dict[str, object]], lines: list[int], root: Path, source: Path, on_missing: OnMissing
) -> Manifest:
    frame = pd.DataFrame(records, index=lines)
    if frame.empty:
        frame = pd.DataFrame(columns=["image", "score"])
    return handle_missing(Manifest(frame, root, source), on_missing)


def from_livec(labels_csv: str | Path, *, on_missing: OnMissing = "error") -> Manifest:
    """Import a LIVE-C style ``image,mos,mos_std`` CSV (MOS on 0–100); image paths relative to its folder.

    ``score = mos / 20``, ``score_std = mos_std / 20``; the original ``mos`` and ``mos_std`` are kept as columns.

    Raises:
        ManifestError: missing columns, values outside 0–100 (each with its line), missing images.
    """
    path = Path(labels_csv)
    header, rows = read_table(path)
    image_col, mos_col = _require(path, header, ("image",), ("mos",))
    std_col = "mos_std" if "mos_std" in header else None
    problems: list[tuple[int | None, str]] = []
    records: list[dict[str, object]] = []
    lines = []
    for line, row in rows:
        mos = _number(row[mos_col], line, mos_col, 0.0, 100.0, problems)
        record: dict[str, object] = {"image": row[image_col], "score": None if mos is None else mos / 20.0}
        if std_col is not None:
            std = _number(row[std_col], line, std_col, 0.0, 100.0, problems) if row[std_col] else None
            record["score_std"] = None if std is None else std / 20.0
            record["mos_std"] = std
        record["mos"] = mos
        records.append(record)
        lines.append(line)
    if problems:
        raise ManifestError(path, problems)
    return _finish(records, lines, path.parent, path, on_missing)


def _koniq_image_dir(csv_dir: Path, names: list[str]) -> Path:
    """The first of the usual KonIQ image folders that holds the first listed image (default: the CSV's folder)."""
    if names:
        for sub in _KONIQ_IMAGE_DIRS:
            if (csv_dir / sub / names[0]).is_file():
                return csv_dir / sub
    return csv_dir


def from_koniq(
    scores_csv: str | Path, *, image_dir: str | Path | None = None, on_missing: OnMissing = "error"
) -> Manifest:
    """Import a KonIQ-10k style scores CSV (``image_name`` plus ``MOS`` on 1–5 and/or ``MOS_zscore`` on 0–100).

    Args:
        scores_csv: e.g. ``koniq10k_scores_and_distributions.csv``.
        image_dir: folder of the images; default: the first of ``<csv folder>``, ``1024x768/``, ``512x384/``,
            ``images/`` that holds the first listed image.

    Mapping: ``score = (MOS - 1) * 5 / 4`` and ``score_std = SD * 5 / 4``; without ``MOS``,
    ``score = MOS_zscore / 20``. The source values are kept in columns ``mos`` / ``mos_zscore``.
    """
    path = Path(scores_csv)
    header, rows = read_table(path)
    (image_col,) = _require(path, header, ("image_name", "image"))
    if "MOS" not in header and "MOS_zscore" not in header:
        raise ManifestError(path, [(1, f"needs a 'MOS' or 'MOS_zscore' column (found: {', '.join(header)})")])
    folder = (
        Path(image_dir) if image_dir is not None else _koniq_image_dir(path.parent, [r[image_col] for _, r in rows])
    )
    problems: list[tuple[int | None, str]] = []
    records: list[dict[str, object]] = []
    lines = []
    for line, row in rows:
        record: dict[str, object] = {
            "image": relative_path(folder / row[image_col], path.parent) if row[image_col] else ""
        }
        if "MOS" in header:
            mos = _number(row["MOS"], line, "MOS", 1.0, 5.0, problems)
            record["score"] = None if mos is None else (mos - 1.0) * 5.0 / 4.0
            record["mos"] = mos
            if "SD" in header and row["SD"]:
                sd = _number(row["SD"], line, "SD", 0.0, 4.0, problems)
                record["score_std"] = None if sd is None else sd * 5.0 / 4.0
        if "MOS_zscore" in header:
            z = _number(row["MOS_zscore"], line, "MOS_zscore", 0.0, 100.0, problems) if row["MOS_zscore"] else None
            record["mos_zscore"] = z
            if "MOS" not in header:
                record["score"] = None if z is None else z / 20.0
        records.append(record)
        lines.append(line)
    if problems:
        raise ManifestError(path, problems)
    return _finish(records, lines, path.parent, path, on_missing)


def from_grades(grades_csv: str | Path, *, on_missing: OnMissing = "error") -> Manifest:
    """Import annotators' grades: a CSV with ``image`` and ``grade`` (or ``score``), integer or float on 0–5.

    Optional ``group`` is kept (it must agree across an image's rows). Several rows for one image are
    averaged: ``score`` = mean, ``score_std`` = sample standard deviation (0 for a single rating),
    ``n_ratings`` = count. Image paths are relative to the CSV's folder (or absolute).
    """
    path = Path(grades_csv)
    header, rows = read_table(path)
    image_col, grade_col = _require(path, header, ("image",), ("grade", "score"))
    problems: list[tuple[int | None, str]] = []
    ratings: dict[str, list[float]] = {}
    first_line: dict[str, int] = {}
    groups: dict[str, str] = {}
    for line, row in rows:
        image = row[image_col]
        if not image:
            problems.append((line, "empty image path"))
            continue
        grade = _number(row[grade_col], line, grade_col, 0.0, 5.0, problems)
        if grade is None:
            continue
        ratings.setdefault(image, []).append(grade)
        first_line.setdefault(image, line)
        if "group" in header:
            group = row["group"]
            if groups.setdefault(image, group) != group:
                problems.append((line, f"image {image!r} has group {group!r} here but {groups[image]!r} earlier"))
    if problems:
        raise ManifestError(path, problems)
    records: list[dict[str, object]] = []
    for image, values in ratings.items():
        series = pd.Series(values, dtype=float)
        record: dict[str, object] = {
            "image": image,
            "score": float(series.mean()),
            "score_std": float(series.std(ddof=1)) if len(series) > 1 else 0.0,
            "n_ratings": len(series),
        }
        if "group" in header:
            record["group"] = groups[image]
        records.append(record)
    return _finish(records, [first_line[image] for image in ratings], path.parent, path, on_missing)


IMPORTERS: dict[str, Callable[..., Manifest]] = {"livec": from_livec, "koniq": from_koniq, "grades": from_grades}
"""Importers by the name used on the command line (``pixgrade dataset import --format NAME``)."""


def import_labels(fmt: str, source: str | Path, **kwargs: object) -> Manifest:
    """Run the importer registered as ``fmt`` (``livec``, ``koniq`` or ``grades``)."""
    try:
        importer = IMPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown label format {fmt!r}; known: {', '.join(IMPORTERS)}") from None
    return importer(source, **kwargs)
