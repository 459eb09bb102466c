"""Resolution and aspect ratio (from the file's own size, not the decoded size)."""

from __future__ import annotations

import math

import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, prepare

__all__ = ["ASPECT_FLAG_OUTSIDE", "MIN_LONG_SIDE", "aspect_ratio", "resolution"]

#: Flag "too small" below this longest side (pixels): the usual marketplace minimum (e.g. Amazon, eBay: 500 px).
MIN_LONG_SIDE = 500
RESOLUTION_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((200.0, 500.0, 1000.0), (0.0, 0.5, 1.0))
#: Flag aspect ratios (width / height) outside this range.
ASPECT_FLAG_OUTSIDE = (0.5, 2.0)


@register_factor(
    "resolution",
    description="longest side of the file in pixels",
    unit="pixels",
    direction="higher is better",
    threshold=f"flag 'too small' below {MIN_LONG_SIDE} px",
)
def resolution(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Resolution: the longest side of the original file (``LoadedImage.original_size``; the array size for arrays).

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha (unused).

    Returns:
        Factor ``resolution``: value = longest side in pixels; score piecewise-linear 200 -> 0, 500 -> 0.5,
        1000 -> 1 (zoom-ready); flagged below 500 px.
    """
    prep = prepare(image, alpha)
    width, height = prep.original_size
    value = float(max(width, height))
    score = piecewise(value, *RESOLUTION_ANCHORS)
    reason = None
    if value < MIN_LONG_SIDE:
        reason = f"image too small: {width}×{height} px ({width * height / 1e6:.2f} MP; aim for >= {MIN_LONG_SIDE} px)"
    return make_factor("resolution", value, score, reason)


@register_factor(
    "aspect_ratio",
    description="width / height of the file",
    unit="ratio",
    direction="target range",
    threshold=f"flag outside {ASPECT_FLAG_OUTSIDE[0]:g}-{ASPECT_FLAG_OUTSIDE[1]:g}",
)
def aspect_ratio(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Aspect ratio ``width / height`` of the original file (displayed orientation).

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha (unused).

    Returns:
        Factor ``aspect_ratio``: value = width / height (> 0); score 1 from 3:4 to 4:3, falling linearly in
        ``|ln ratio|`` to 0 at 1:2.5 / 2.5:1; flagged outside 1:2 - 2:1.
    """
    prep = prepare(image, alpha)
    width, height = prep.original_size
    value = width / height
    score = piecewise(abs(math.log(value)), (math.log(4 / 3), math.log(2.5)), (1.0, 0.0))
    reason = None
    low, high = ASPECT_FLAG_OUTSIDE
    if not low <= value <= high:
        shape = f"{value:.1f}:1" if value >= 1 else f"1:{1 / value:.1f}"
        reason = f"unusual aspect ratio {shape} ({width}×{height} px); marketplaces prefer square to 4:3"
    return make_factor("aspect_ratio", value, score, reason)
