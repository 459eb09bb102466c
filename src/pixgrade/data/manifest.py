"""Dataset manifests: a CSV listing images and their quality scores.

Columns (header names exact, order free; other columns are kept as they are):

- ``image`` (required): path of the image, relative to the manifest's folder or absolute;
- ``score`` (required): quality on 0–5 (float, higher is better);
- ``score_std``: spread of the ratings on the same 0–5 scale (>= 0);
- ``group``: rows sharing a group always land on the same side of a split (default: each image alone);
- ``degradation``: synthetic degradation type (empty for a clean image);
- ``level``: synthetic degradation level 0–5 (0 = clean).

Rows keep the line number they had in their CSV file as the frame's index, so every later message
(``line 12: ...``) points back into the file.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from pixgrade.errors import PixgradeError
from pixgrade.io.files import temp_file_beside

__all__ = [
    "MANIFEST_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SCORE_RANGE",
    "Manifest",
    "ManifestError",
    "handle_missing",
    "load_manifest",
    "read_table",
    "relative_path",
]

log = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("image", "score")
OPTIONAL_COLUMNS: tuple[str, ...] = ("score_std", "group", "degradation", "level")
MANIFEST_COLUMNS: tuple[str, ...] = ("image", "score", "score_std", "group", "degradation", "level")
SCORE_RANGE: tuple[float, float] = (0.0, 5.0)
_MAX_LISTED = 20

OnMissing = Literal["error", "drop", "keep"]


class ManifestError(PixgradeError, ValueError):
    """A manifest or labels file is invalid. ``problems`` lists ``(line, cause)``; ``str()`` names the file."""

    def __init__(self, path: str | Path | None, problems: Sequence[tuple[int | None, str]]) -> None:
        self.path = str(path) if path is not None else "<manifest>"
        self.problems = list(problems)
        lines = [f"line {line}: {cause}" if line is not None else cause for line, cause in self.problems]
        shown = lines[:_MAX_LISTED]
        if len(lines) > _MAX_LISTED:
            shown.append(f"... and {len(lines) - _MAX_LISTED} more")
        if len(shown) == 1:
            message = f"{self.path}: {shown[0]}"
        else:
            message = f"{self.path}: {len(lines)} problems:\n  " + "\n  ".join(shown)
        super().__init__(message)


def read_table(path: str | Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Read a CSV file into ``(header, [(line_number, row_dict), ...])``, skipping blank lines.

    Line numbers count from 1 (the header) and refer to the line where the record starts.

    Raises:
        ManifestError: the file is missing, unreadable, not UTF-8, empty, or a row has more fields than the header.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(path, [(None, "file not found")]) from None
    except IsADirectoryError:
        raise ManifestError(path, [(None, "is a folder, expected a CSV file")]) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(path, [(None, f"not a UTF-8 text file ({exc.reason} at byte {exc.start})")]) from None
    except OSError as exc:
        raise ManifestError(path, [(None, f"cannot read: {exc.strerror or exc}")]) from None
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    problems: list[tuple[int | None, str]] = []
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or all(not cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip() for cell in record]
                dupes = sorted({h for h in header if header.count(h) > 1})
                if dupes:
                    problems.append((line, f"duplicate column name(s): {', '.join(dupes)}"))
                continue
            if len(record) > len(header):
                problems.append((line, f"{len(record)} fields but the header has {len(header)}"))
                continue
            rows.append((line, {h: (record[i].strip() if i < len(record) else "") for i, h in enumerate(header)}))
    except csv.Error as exc:
        problems.append((reader.line_num, f"CSV syntax error: {exc}"))
    if header is None:
        raise ManifestError(path, [(None, "empty file: no header line")])
    if problems:
        raise ManifestError(path, problems)
    return header, rows


@dataclass
class Manifest:
    """Images with scores, plus the folder relative image paths resolve against.

    Attributes:
        frame: one row per image; columns ``image`` (str, as written), ``score`` (float 0–5) and any of
            ``score_std``, ``group``, ``degradation``, ``level`` and extra columns. Index: CSV line numbers.
        root: folder that relative ``image`` paths are relative to.
        source: the CSV file the rows came from (for messages), if any.
        validate: check and normalise ``frame`` (skip only for a frame taken from a validated manifest).
    """

    frame: pd.DataFrame
    root: Path
    source: Path | None = field(default=None)
    validate: InitVar[bool] = True

    def __len__(self) -> int:
        return len(self.frame)

    def __post_init__(self, validate: bool) -> None:
        self.root = Path(self.root)
        if validate:
            self.frame = _validate_frame(self.frame, self.source)

    @property
    def has_degradations(self) -> bool:
        """Whether rows carry synthetic degradation labels (``degradation`` and ``level`` columns)."""
        return "degradation" in self.frame.columns and "level" in self.frame.columns

    def _absolute(self, images: Iterable[str]) -> list[str]:
        root = os.path.abspath(self.root)
        return [os.path.normpath(i if os.path.isabs(i) else os.path.join(root, i)) for i in images]

    def paths(self) -> list[Path]:
        """Absolute path of every image (relative entries joined to :attr:`root`)."""
        return [Path(p) for p in self._absolute(self.frame["image"])]

    def resolve(self, image: str) -> Path:
        """Absolute path of one ``image`` entry."""
        return Path(self._absolute([str(image)])[0])

    def groups(self) -> pd.Series:
        """The ``group`` of each row; rows without one form their own group, named by their absolute path."""
        if "group" in self.frame.columns:
            given = _text(self.frame["group"])
        else:
            given = pd.Series("", index=self.frame.index, dtype=object)
        missing = (given == "").to_numpy()
        if missing.any():
            given = given.copy()
            given.iloc[np.flatnonzero(missing)] = self._absolute(self.frame["image"].iloc[np.flatnonzero(missing)])
        return given.astype(str)

    def exists(self) -> np.ndarray:
        """Boolean array: whether each row's image file exists."""
        return np.array([path.is_file() for path in self.paths()], dtype=bool)

    def missing_files(self) -> list[tuple[int | None, str, Path]]:
        """``(line, image, absolute_path)`` of every row whose file does not exist."""
        exists = self.exists()
        return [
            (_line(line), str(image), path)
            for ok, line, image, path in zip(exists, self.frame.index, self.frame["image"], self.paths(), strict=True)
            if not ok
        ]

    def subset(self, rows: Iterable[int] | np.ndarray) -> Manifest:
        """A new manifest with the rows at these positions (or where a boolean mask is True), same root and source."""
        positions = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows)
        if positions.dtype == bool:
            if len(positions) != len(self):
                raise ValueError(f"boolean mask has {len(positions)} entries for {len(self)} rows")
            positions = np.flatnonzero(positions)
        return Manifest(self.frame.iloc[positions.astype(int)].copy(), self.root, self.source, validate=False)

    def rebased_frame(self, folder: str | Path) -> pd.DataFrame:
        """The frame with relative image paths rewritten relative to ``folder``.

        Absolute entries stay absolute; a relative entry becomes absolute when it and ``folder`` share no
        folder but the file-system root (a path like ``../../../x`` would break as soon as either moves).
        """
        folder = Path(os.path.normpath(Path(folder).absolute()))
        out = self.frame.copy()
        out["image"] = [
            str(image) if Path(image).is_absolute() else relative_path(self.resolve(image), folder)
            for image in out["image"]
        ]
        return out

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the manifest CSV at ``path`` with image paths relative to its folder; returns the path.

        The file is written to a temporary name and renamed, so an interruption leaves no half-written file.

        Raises:
            FileExistsError: ``path`` exists and ``overwrite`` is False.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path}: already exists (not overwritten)")
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = self.rebased_frame(path.parent)
        ordered = [c for c in MANIFEST_COLUMNS if c in frame.columns] + [
            c for c in frame.columns if c not in MANIFEST_COLUMNS
        ]
        fd, tmp = temp_file_beside(path)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                frame[ordered].to_csv(handle, index=False, lineterminator="\n", float_format="%.10g")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def summary(self) -> dict[str, object]:
        """Counts and score statistics, for printing."""
        scores = self.frame["score"]
        info: dict[str, object] = {
            "rows": len(self),
            "groups": int(self.groups().nunique()),
            "score_min": float(scores.min()) if len(self) else None,
            "score_mean": float(scores.mean()) if len(self) else None,
            "score_max": float(scores.max()) if len(self) else None,
        }
        if self.has_degradations:
            labels = self.frame["degradation"].fillna("").astype(str)
            info["degradations"] = {k or "(clean)": int(v) for k, v in labels.value_counts().sort_index().items()}
        return info


def relative_path(target: Path, folder: Path) -> str:
    """``target`` relative to ``folder`` with POSIX separators, or ``target`` absolute when the two share no
    folder but the root (or lie on different Windows drives)."""
    target, folder = Path(os.path.normpath(target.absolute())), Path(os.path.normpath(folder.absolute()))
    try:
        common = Path(os.path.commonpath([target, folder]))
    except ValueError:
        return str(target)
    if common == Path(common.anchor):
        return str(target)
    return Path(os.path.relpath(target, folder)).as_posix()


def _text(series: pd.Series) -> pd.Series:
    """Stripped strings, with missing values (None, NaN) as ""."""
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _validate_frame(frame: pd.DataFrame, source: Path | None) -> pd.DataFrame:
    """Check types and ranges; returns a normalised copy. Raises :class:`ManifestError` listing every bad row."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns)) or "none"
        raise ManifestError(source, [(1, f"missing required column(s) {', '.join(missing)} (found: {found})")])
    problems: list[tuple[int | None, str]] = []
    out = frame.copy()
    low, high = SCORE_RANGE

    out["image"] = _text(out["image"])
    problems += [(_line(line), "empty image path") for line in out.index[(out["image"] == "").to_numpy()]]

    def numeric(column: str, lo: float, hi: float, required: bool) -> None:
        raw = out[column]
        if pd.api.types.is_numeric_dtype(raw):
            values = raw.astype(float)
            text = values.map(lambda v: "" if math.isnan(v) else repr(v))
        else:
            text = _text(raw)
            values = pd.to_numeric(text, errors="coerce").astype(float)
        empty = (text == "").to_numpy()
        finite = np.isfinite(values.to_numpy())
        inside = finite & (values.to_numpy() >= lo) & (values.to_numpy() <= hi)
        for i in np.flatnonzero(~inside):
            line = _line(out.index[int(i)])
            if empty[i]:
                if required:
                    problems.append((line, f"{column} is empty"))
            elif not finite[i]:
                problems.append((line, f"{column} {text.iloc[i]!r} is not a finite number"))
            else:
                problems.append((line, f"{column} {values.iloc[i]:g} is outside {lo:g}..{hi:g}"))
        out[column] = values.where(inside, np.nan)

    numeric("score", low, high, required=True)
    if "score_std" in out.columns:
        numeric("score_std", 0.0, high, required=False)
    if "level" in out.columns:
        numeric("level", 0.0, 5.0, required=False)
        levels = out["level"]
        fractional = levels.notna() & (levels != levels.round())
        problems += [
            (_line(line), f"level {value:g} is not a whole number") for line, value in levels[fractional].items()
        ]
        out["level"] = levels.round().astype("Int64")
    if "degradation" in out.columns:
        out["degradation"] = _text(out["degradation"])
    if "group" in out.columns:
        out["group"] = _text(out["group"])
    if problems:
        raise ManifestError(source, sorted(problems, key=lambda p: -1 if p[0] is None else p[0]))
    return out


def _line(index: object) -> int | None:
    return int(index) if isinstance(index, int | np.integer) else None


def load_manifest(path: str | Path, *, on_missing: OnMissing = "error") -> Manifest:
    """Read and validate a manifest CSV.

    Args:
        path: the CSV file; relative image paths are relative to its folder.
        on_missing: what to do with rows whose image file does not exist: ``"error"`` (raise, listing
            them), ``"drop"`` (leave them out, with a warning) or ``"keep"`` (the caller handles them).

    Raises:
        ManifestError: unreadable file, missing columns, bad values (each with its line), missing images.
    """
    path = Path(path)
    header, rows = read_table(path)
    frame = pd.DataFrame([row for _, row in rows], columns=header, index=[line for line, _ in rows], dtype=object)
    manifest = Manifest(frame, path.parent, path)
    return handle_missing(manifest, on_missing)


def handle_missing(manifest: Manifest, on_missing: OnMissing) -> Manifest:
    """Apply the ``on_missing`` policy of :func:`load_manifest` to a manifest."""
    if on_missing == "keep":
        return manifest
    if on_missing not in ("error", "drop"):
        raise ValueError(f"on_missing must be 'error', 'drop' or 'keep', got {on_missing!r}")
    exists = manifest.exists()
    if exists.all():
        return manifest
    if on_missing == "error":
        missing = manifest.missing_files()
        problems: list[tuple[int | None, str]] = [(None, f"{len(missing)} of {len(manifest)} image files not found")]
        problems += [(line, f"image {image!r} not found ({path})") for line, image, path in missing]
        raise ManifestError(manifest.source, problems)
    log.warning("%s: dropping %d rows whose image file is missing", manifest.source, int((~exists).sum()))
    return manifest.subset(exists)
