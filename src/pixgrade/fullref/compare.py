"""``compare``: full-reference measures of distorted copies against their reference, with the learned grade of
both (through :class:`~pixgrade.pipeline.Scorer`, the one way to a grade)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from pixgrade.errors import ImageLoadError
from pixgrade.fullref.images import open_srgb
from pixgrade.fullref.metrics import FullReference, full_reference

__all__ = ["CompareRow", "SizeMismatchError", "compare", "compare_columns", "compare_pair"]


class SizeMismatchError(ValueError):
    """The two images have different sizes (and resizing was not asked for)."""


@dataclass
class CompareRow:
    """One distorted image against its reference. ``path`` is the distorted file; sizes are after EXIF
    orientation; ``score_diff`` is ``score - reference_score`` (negative: the copy grades worse). Measures and
    grades are ``None`` when ``error`` says why the pair could not be compared or graded."""

    reference: str
    path: str
    width: int | None = None
    height: int | None = None
    resized: bool = False
    mse_y: float | None = None
    psnr_y: float | None = None
    ssim_y: float | None = None
    ms_ssim_y: float | None = None
    mse_rgb: float | None = None
    psnr_rgb: float | None = None
    ssim_rgb: float | None = None
    ms_ssim_rgb: float | None = None
    reference_score: float | None = None
    score: float | None = None
    score_diff: float | None = None
    reference_grade: int | None = None
    grade: int | None = None
    error: str | None = None

    def to_row(self, *, json_safe: bool = False) -> dict[str, Any]:
        """The table row; ``json_safe`` turns the infinite PSNR of identical images into ``None`` (JSON has no
        infinity)."""
        row = dataclasses.asdict(self)
        if json_safe:
            row = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        return row


def compare_columns() -> list[str]:
    """Column order of the comparison table."""
    return [f.name for f in dataclasses.fields(CompareRow)]


def compare_pair(
    reference: Image.Image, distorted: Image.Image, *, resize: bool = False, names: tuple[str, str] = ("", "")
) -> tuple[FullReference, bool]:
    """Measures of two decoded sRGB images; ``resize`` scales the distorted one to the reference's size
    (Lanczos). Returns the measures and whether it was resized.

    Raises:
        SizeMismatchError: the sizes differ and ``resize`` is False (the message names both files and sizes).
    """
    resized = False
    if distorted.size != reference.size:
        if not resize:
            raise SizeMismatchError(
                f"sizes differ: {names[0] or 'reference'} is {reference.width}x{reference.height}, "
                f"{names[1] or 'distorted'} is {distorted.width}x{distorted.height} (use --resize / resize=True "
                "to scale the distorted image to the reference's size)"
            )
        distorted = distorted.resize(reference.size, Image.Resampling.LANCZOS)
        resized = True
    return full_reference(np.asarray(reference), np.asarray(distorted)), resized


def _grades(scorer: Any, paths: list[str]) -> list[tuple[float | None, int | None, str | None]]:
    from pixgrade.pipeline.analysis import analyse

    results = scorer.score_batch([analyse(p, scorer.settings) for p in paths])
    return [(r.score, r.grade, r.error) for r in results]


def compare(
    reference: str | Path,
    distorted: Iterable[str | Path],
    *,
    resize: bool = False,
    scorer: Any = None,
    max_pixels: int = 100_000_000,
) -> Iterator[CompareRow]:
    """Compare each distorted file with ``reference``, one :class:`CompareRow` each, in order.

    Args:
        reference: the reference image file.
        distorted: the files to compare with it.
        resize: scale a distorted image of another size to the reference's size instead of failing.
        scorer: a :class:`~pixgrade.pipeline.Scorer` for the learned grades (``None``: no grades).
        max_pixels: decompression-bomb guard for every file.

    A distorted file that cannot be read or has another size gets a row with ``error`` (the batch goes on).

    Raises:
        ImageLoadError: the reference cannot be read.
    """
    ref_name = str(reference)
    ref_image = open_srgb(reference, max_pixels)
    ref_grade: tuple[float | None, int | None, str | None] = (None, None, None)
    if scorer is not None:
        ref_grade = _grades(scorer, [ref_name])[0]
    for item in distorted:
        name = str(item)
        row = CompareRow(reference=ref_name, path=name, reference_score=ref_grade[0], reference_grade=ref_grade[1])
        try:
            image = open_srgb(item, max_pixels)
            row.width, row.height = image.size
            measures, row.resized = compare_pair(ref_image, image, resize=resize, names=(ref_name, name))
        except ImageLoadError as exc:
            row.error = exc.cause
            yield row
            continue
        except ValueError as exc:  # sizes differ, or too small for an SSIM window
            row.error = str(exc)
            yield row
            continue
        for key, value in dataclasses.asdict(measures).items():
            setattr(row, key, value)
        if scorer is not None:
            row.score, row.grade, error = _grades(scorer, [name])[0]
            if error is not None:
                row.error = f"not graded: {error}"
            elif row.score is not None and row.reference_score is not None:
                row.score_diff = row.score - row.reference_score
        yield row
