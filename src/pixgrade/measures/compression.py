"""JPEG compression artefacts."""

from __future__ import annotations

import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, prepare

__all__ = ["BLOCKINESS_ANCHORS", "BLOCKINESS_FLAG_ABOVE", "JPEG_QUALITY_FLAG_BELOW", "blockiness", "blockiness_ratio"]

BLOCKINESS_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((1.2, 1.8), (1.0, 0.0))
BLOCKINESS_FLAG_ABOVE = 1.5
#: Header signal: a JPEG whose quantisation table matches IJG quality below this is heavily compressed.
JPEG_QUALITY_FLAG_BELOW = 30
JPEG_QUALITY_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((15.0, 50.0), (0.0, 1.0))
_MAX_CROP = 1024
_EPS = 1.0  # grey levels added to both sides: steps far below one level are invisible, so flat images read ~1


def _phase_ratio(diffs: np.ndarray, block: int) -> float:
    """Step at the strongest of the ``block`` grid phases over the mean step of the other phases (+1 level each)."""
    n = diffs.shape[0] // block * block
    if n < 2 * block:
        return 1.0
    # median over blocks: a few strong content edges (a product outline) cannot fake a grid
    phase = np.median(diffs[:n].reshape(-1, block), axis=0)
    k = int(np.argmax(phase))
    others = float(np.delete(phase, k).mean())
    return float((phase[k] + _EPS) / (others + _EPS))


def blockiness_ratio(gray: np.ndarray, block: int = 8) -> float:
    """Block-boundary gradient ratio: how much stronger luma steps are on the ``block``-pixel grid than inside.

    For each direction, the mean absolute luma difference between neighbouring columns (rows) is computed, and its
    median over blocks is taken per grid phase (column index mod 8); the ratio ``(strongest phase + 1) / (mean of
    the other seven + 1)`` (grey levels) is taken, and the horizontal and vertical ratios are averaged. Searching
    the phase keeps it valid after crops and rotations.
    This is the boundary-difference term of Wang, Sheikh & Bovik, "No-reference perceptual quality assessment of
    JPEG compressed images", ICIP 2002, expressed as a ratio to the within-block difference. Measured on a central
    crop of at most 1024x1024 native pixels.

    Shape:
        ``gray``: ``(H, W)`` uint8 at the file's own resolution (resampling destroys the grid).

    Returns:
        Ratio >= about 1.0: ~1.0 no visible grid, 1.3+ visible 8x8 blocks; lower is better.
    """
    h, w = gray.shape[:2]
    y0 = max(0, (h - _MAX_CROP) // 2) // block * block
    x0 = max(0, (w - _MAX_CROP) // 2) // block * block
    g = gray[y0 : y0 + _MAX_CROP, x0 : x0 + _MAX_CROP].astype(np.int16)  # no-op when already cropped
    if min(g.shape) < 2 * block + 1:
        return 1.0
    col = np.abs(np.diff(g, axis=1)).mean(axis=0)  # difference between column j and j+1
    row = np.abs(np.diff(g, axis=0)).mean(axis=1)
    return 0.5 * (_phase_ratio(col, block) + _phase_ratio(row, block))


@register_factor(
    "blockiness",
    description="8x8 block-boundary gradient ratio on native pixels, plus the JPEG header's quality estimate",
    unit="ratio, >= about 1",
    direction="lower is better",
    threshold=(
        f"flag above {BLOCKINESS_FLAG_ABOVE:g}, or when the JPEG quantisation tables match quality "
        f"< {JPEG_QUALITY_FLAG_BELOW}"
    ),
)
def blockiness(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """JPEG blocking artefacts.

    The ratio (:func:`blockiness_ratio`) needs the native pixel grid: when the image was decoded at reduced size
    (``load_image(max_side=...)``) it is still computed but reads about 1.0, and only the header's JPEG quality
    estimate (``LoadedImage.jpeg_quality``) can flag heavy compression.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha (unused).

    Returns:
        Factor ``blockiness``: value = ratio; score = min(ratio curve 1.2 -> 1, 1.8 -> 0; JPEG quality curve
        15 -> 0, 50 -> 1 when known); flagged above 1.5 or for JPEG quality < 30.
    """
    prep = prepare(image, alpha)
    value = blockiness_ratio(prep.native_gray(_MAX_CROP))
    score = piecewise(value, *BLOCKINESS_ANCHORS)
    reasons = []
    if value > BLOCKINESS_FLAG_ABOVE:
        reasons.append(f"compression artefacts: visible 8x8 blocks (blockiness {value:.2f})")
    quality = prep.jpeg_quality
    if quality is not None:
        score = min(score, piecewise(float(quality), *JPEG_QUALITY_ANCHORS))
        if quality < JPEG_QUALITY_FLAG_BELOW:
            reasons.append(f"heavily compressed JPEG (estimated quality {quality})")
    return make_factor("blockiness", value, score, "; ".join(reasons) or None)
