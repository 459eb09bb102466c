"""Colourfulness."""

from __future__ import annotations

import cv2
import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, masked_mean_std, measured_region, prepare

__all__ = ["COLOURFUL_MAX", "GREYSCALE_BELOW", "colourfulness", "hasler_susstrunk"]

#: Flag "no colour at all" below this, "oversaturated" above ``COLOURFUL_MAX`` (Hasler-Süsstrunk M).
GREYSCALE_BELOW = 2.0
COLOURFUL_MAX = 110.0


def hasler_susstrunk(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Colourfulness metric M of Hasler & Süsstrunk, "Measuring colourfulness in natural images", SPIE HVEI 2003.

    ``rg = R - G``, ``yb = (R + G) / 2 - B``; ``M = sqrt(std_rg² + std_yb²) + 0.3 sqrt(mean_rg² + mean_yb²)``.

    Shape:
        ``rgb``: ``(H, W, 3)`` uint8; ``mask``: ``(H, W)`` bool or uint8 (non-zero = use), or None.

    Returns:
        M >= 0 (about 0-180 in practice); the paper's categories: 0 not colourful, 15 slightly, 33 moderately,
        45 averagely, 59 quite, 82 highly, 109 extremely colourful.
    """
    r, g, b = cv2.split(rgb)
    rg = cv2.subtract(r, g, dtype=cv2.CV_16S)
    yb2 = cv2.subtract(cv2.add(r, g, dtype=cv2.CV_16S), cv2.add(b, b, dtype=cv2.CV_16S), dtype=cv2.CV_16S)  # 2 yb
    mean_rg, std_rg, count = masked_mean_std(rg, mask)
    mean_yb2, std_yb2, _ = masked_mean_std(yb2, mask)
    if count == 0:
        return 0.0
    return float(np.hypot(std_rg, std_yb2 / 2) + 0.3 * np.hypot(mean_rg, mean_yb2 / 2))


@register_factor(
    "colourfulness",
    description="Hasler-Süsstrunk colourfulness M of the product region (whole frame without a plain backdrop)",
    unit="M, >= 0 (about 0-180)",
    direction="target range",
    threshold=f"flag below {GREYSCALE_BELOW:g} (no colour at all) or above {COLOURFUL_MAX:g} (oversaturated)",
)
def colourfulness(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Colourfulness of the product (the foreground when the backdrop is plain, else the whole working copy).

    Grey, black and white products are legitimately low: the flag only fires for an image with no colour at all
    (M < 2, e.g. a greyscale conversion) or for an oversaturated one (M > 110, past "extremely colourful").

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``colourfulness``: value M; score piecewise-linear 0 -> 0.5, 15 -> 1, 100 -> 1, 150 -> 0.
    """
    prep = prepare(image, alpha)
    value = hasler_susstrunk(prep.work_rgb, measured_region(prep))
    score = piecewise(value, (0.0, 15.0, 100.0, 150.0), (0.5, 1.0, 1.0, 0.0))
    reason = None
    if value < GREYSCALE_BELOW:
        reason = f"no colour: the image is greyscale (colourfulness {value:.1f})"
    elif value > COLOURFUL_MAX:
        reason = f"oversaturated: colourfulness {value:.0f} (above {COLOURFUL_MAX:g})"
    return make_factor("colourfulness", value, score, reason)
