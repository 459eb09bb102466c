"""Judgements in and out of the catalogue: ``pixgrade label import`` and ``pixgrade label export``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from pixgrade.catalog.judgements import JudgementStore
from pixgrade.errors import ConfigError
from pixgrade.io.files import iter_image_files, sha256_file
from pixgrade.label.scale import fit_scale

__all__ = ["export_manifest", "import_grades", "register_images"]


def register_images(store: JudgementStore, paths: list[str | Path]) -> tuple[int, list[str]]:
    """Hash every image file under ``paths`` (files or folders) and register it for labelling (absolute paths).

    Returns ``(new images, unreadable files)``; an unreadable file is reported, not fatal."""
    known = {path for _, path in store.images()}
    rows, problems = [], []
    for path in iter_image_files(paths):
        absolute = str(Path(os.path.abspath(path)))
        if absolute in known:
            continue
        try:
            rows.append((sha256_file(absolute), absolute))
        except OSError as exc:
            problems.append(f"{path}: cannot read ({exc.strerror})")
    return store.add_images(rows), problems


def import_grades(store: JudgementStore, csv_path: str | Path, annotator: str | None = None) -> int:
    """Store the grades of a CSV with columns ``image,grade`` and optionally ``annotator`` (else ``annotator``).

    ``image`` is a path as registered in the catalogue, or a file relative to the CSV's folder (or absolute),
    which is then hashed and registered. Every row is checked before anything is stored.

    Raises:
        ConfigError: unreadable CSV, missing columns, or rows with a bad grade or an unknown image (all listed,
            with their line numbers); nothing is stored then.
    """
    csv_path = Path(csv_path)
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{csv_path}: cannot read ({exc})") from exc
    missing = [c for c in ("image", "grade") if c not in fields]
    if missing:
        raise ConfigError(f"{csv_path}: missing column(s) {', '.join(missing)} (found: {', '.join(fields) or 'none'})")
    if annotator is None and "annotator" not in fields:
        raise ConfigError(f"{csv_path}: no annotator column: pass --annotator NAME")
    by_path = {path: sha for sha, path in store.images()}
    problems: list[str] = []
    judgements: list[tuple[str, str, str, float | None, str | None]] = []
    new_images: list[tuple[str, str]] = []
    for line, row in enumerate(rows, start=2):
        image = (row.get("image") or "").strip()
        who = (row.get("annotator") or "").strip() or annotator or ""
        try:
            grade = float(row.get("grade") or "")
        except ValueError:
            problems.append(f"line {line}: grade {row.get('grade')!r} is not a number")
            continue
        if not 0.0 <= grade <= 5.0:
            problems.append(f"line {line}: grade {grade:g} outside 0-5")
            continue
        if not who:
            problems.append(f"line {line}: no annotator")
            continue
        sha = by_path.get(image)
        if sha is None:
            candidate = Path(image) if Path(image).is_absolute() else csv_path.parent / image
            absolute = str(Path(os.path.abspath(candidate)))
            sha = by_path.get(absolute)
            if sha is None and candidate.is_file():
                sha = sha256_file(candidate)
                by_path[absolute] = sha
                new_images.append((sha, absolute))
        if sha is None:
            problems.append(f"line {line}: image {image!r} is neither in the catalogue nor a file next to the CSV")
            continue
        judgements.append((who, "grade", sha, grade, None))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ConfigError(f"{csv_path}: nothing imported, {len(problems)} bad row(s): {shown}")
    store.add_images(new_images)
    return store.add_many(judgements)


def export_manifest(
    store: JudgementStore, output: str | Path, *, overwrite: bool = False, prior: dict[str, float] | None = None
) -> int:
    """Write a training manifest (``image,score,n_judgements,sha256``; paths relative to it) of the fitted scores
    of every judged image; returns the number of rows.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        ConfigError: no judgements yet.
    """
    from pixgrade.data.manifest import Manifest, relative_path

    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: already exists (pass --overwrite to replace it)")
    fit = fit_scale(store.judgements(), prior)
    if not fit.scores:
        raise ConfigError(f"{store.path}: no grades or comparisons to export")
    paths = dict(store.images())
    rows = [
        {
            "image": relative_path(Path(paths[sha]), output.parent),
            "score": round(score, 4),
            "n_judgements": fit.support[sha],
            "sha256": sha,
        }
        for sha, score in sorted(fit.scores.items(), key=lambda item: paths.get(item[0], ""))
        if sha in paths
    ]
    frame = pd.DataFrame(rows, index=range(2, len(rows) + 2))
    Manifest(frame, root=output.parent).save(output, overwrite=overwrite)
    return len(rows)
