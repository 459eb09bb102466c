"""Noise level."""

from __future__ import annotations

import cv2
import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.measures.base import Factor, make_factor, piecewise, register_factor
from pixgrade.measures.prepared import PreparedImage, prepare

__all__ = ["NOISE_ANCHORS", "NOISE_FLAG_ABOVE", "noise", "noise_sigma"]

NOISE_ANCHORS: tuple[tuple[float, ...], tuple[float, ...]] = ((2.0, 5.0, 12.0), (1.0, 0.5, 0.0))
NOISE_FLAG_ABOVE = 6.0

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
_SOBEL_NOISE_GAIN = float(np.sqrt(12.0))  # std of a Sobel derivative of unit white noise


def noise_sigma(gray: np.ndarray, iterations: int = 4) -> float:
    """Standard deviation of additive white noise, estimated from one grey image.

    Immerkær, "Fast noise variance estimation", CVIU 64(2), 1996: ``sigma = sqrt(pi/2) / 6 * mean|I * M|`` with
    ``M = [[1,-2,1],[-2,4,-2],[1,-2,1]]``, which cancels smooth image content. Two exclusions make it usable on
    photos: pixels next to clipped values (<= 2 or >= 253, where noise is cut off, e.g. a pure white backdrop) and
    edge pixels, i.e. those whose Sobel gradient ``|gx| + |gy|`` exceeds 3.5 noise standard deviations of the current
    estimate
    (re-estimated ``iterations`` times; the edge exclusion follows Tai & Yang, "A fast method for image noise
    estimation using Laplacian operator and adaptive edge detection", ISCCSP 2008).

    Shape:
        ``gray``: ``(H, W)`` uint8, H, W >= 3.

    Returns:
        Sigma in 0-255 grey levels, >= 0; lower is better. Close to the true sigma on flat or smooth images;
        fine texture can still read as a little noise.
    """
    if min(gray.shape[:2]) < 3:
        return 0.0
    inner = (slice(1, -1), slice(1, -1))  # the border rows and columns have no full 3x3 neighbourhood
    # (NumPy for element-wise steps: OpenCV reads arrays of <= 4 elements as scalars)
    residual = np.ascontiguousarray(np.abs(cv2.filter2D(gray, cv2.CV_16S, _IMMERKAER)[inner]))  # |I * M|
    kernel = np.ones((3, 3), np.uint8)
    valid = (cv2.erode(gray, kernel)[inner] > 2) & (cv2.dilate(gray, kernel)[inner] < 253)
    if np.count_nonzero(valid) < 64:
        return 0.0
    dx, dy = cv2.spatialGradient(gray)  # 3x3 Sobel, int16
    gradient = np.abs(dx[inner]) + np.abs(dy[inner])  # |gx| + |gy|, int16 (at most 2040)
    factor = float(np.sqrt(np.pi / 2.0) / 6.0)
    sigma = factor * float(cv2.mean(residual, mask=valid.view(np.uint8))[0])
    for _ in range(iterations):
        # |gx| + |gy| of pure noise has mean 2 * sqrt(2/pi) * sqrt(12) * sigma; 3.5 sigma-units keeps ~99% of it.
        limit = 3.5 * _SOBEL_NOISE_GAIN * sigma + 0.5
        smooth = valid & (gradient <= limit)
        if np.count_nonzero(smooth) < 64:
            break
        new = factor * float(cv2.mean(residual, mask=smooth.view(np.uint8))[0])
        converged = abs(new - sigma) < 1e-3
        sigma = new
        if converged:
            break
    return sigma


@register_factor(
    "noise",
    description="Immerkær noise sigma (clipped and edge pixels excluded) on the 512-px working copy",
    unit="grey levels (0-255), >= 0",
    direction="lower is better",
    threshold=f"flag 'noisy' above {NOISE_FLAG_ABOVE:g}",
)
def noise(image: np.ndarray | LoadedImage | PreparedImage, alpha: np.ndarray | None = None) -> Factor:
    """Noise level: :func:`noise_sigma` of the working copy's luma.

    Args:
        image: RGB uint8 ``(H, W, 3)``, a ``LoadedImage`` or a ``PreparedImage``.
        alpha: optional ``(H, W)`` uint8 alpha (unused; accepted for a uniform signature).

    Returns:
        Factor ``noise``: value = sigma in grey levels (lower = cleaner); score piecewise-linear 2 -> 1, 5 -> 0.5,
        12 -> 0; flagged "noisy" above 6.
    """
    prep = prepare(image, alpha)
    value = noise_sigma(prep.work_gray)
    score = piecewise(value, *NOISE_ANCHORS)
    reason = (
        f"noisy: noise level {value:.1f} grey levels (above {NOISE_FLAG_ABOVE:g})" if value > NOISE_FLAG_ABOVE else None
    )
    return make_factor("noise", value, score, reason)
