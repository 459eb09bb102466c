"""Sharpness (the opposite of blur)."""

from __future__ import annotations

import cv2
import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, masked_mean_std, measured_region, prepare

__all__ = ["SHARPNESS_ANCHORS", "SHARPNESS_FLAG_BELOW", "laplacian_variance", "sharpness"]

#: Score curve anchors (variance of Laplacian on the working copy -> score).
SHARPNESS_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((20.0, 100.0, 400.0), (0.0, 0.5, 1.0))
#: Flagged "blurry" below this variance of Laplacian.
SHARPNESS_FLAG_BELOW = 60.0


def laplacian_variance(gray: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of a grey image, optionally over a mask.

    Pech-Pacheco, Cristóbal, Chamorro-Martínez & Fernández-Valdivia, "Diatom autofocusing in brightfield
    microscopy: a comparative study", ICPR 2000. 3x3 Laplacian ``[[0,1,0],[1,-4,1],[0,1,0]]`` on 0-255 values.

    Shape:
        ``gray``: ``(H, W)`` uint8; ``mask``: ``(H, W)`` bool or uint8 (non-zero = use), or None.

    Returns:
        Variance (0-255 units squared), >= 0, unbounded; higher = sharper (and also higher with noise and contrast).
    """
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
    _, std, _ = masked_mean_std(lap, mask)
    return std * std


@register_factor(
    "sharpness",
    description="variance of the Laplacian on the product (foreground and its outline) of the 512-px working copy",
    unit="0-255 units squared, >= 0",
    direction="higher is better",
    threshold=f"flag 'blurry' below {SHARPNESS_FLAG_BELOW:g}",
)
def sharpness(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Sharpness: variance of the Laplacian (Pech-Pacheco et al. 2000) on the working copy.

    Measured over the product region grown by 3 px (so its outline counts) when the background is a plain colour;
    over the whole working copy otherwise, so large flat white backgrounds do not dilute it.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha.

    Returns:
        Factor ``sharpness``: value >= 0 (higher = sharper); score piecewise-linear 20 -> 0, 100 -> 0.5, 400 -> 1;
        flagged "blurry" below 60.
    """
    prep = prepare(image, alpha)
    value = laplacian_variance(prep.work_gray, measured_region(prep, dilate=3))
    score = piecewise(value, *SHARPNESS_ANCHORS)
    reason = f"blurry: sharpness {value:.0f} (below {SHARPNESS_FLAG_BELOW:g})" if value < SHARPNESS_FLAG_BELOW else None
    return make_factor("sharpness", value, score, reason)
