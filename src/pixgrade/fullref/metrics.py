"""Full-reference measures: MSE, PSNR, SSIM and MS-SSIM of a distorted image against its reference.

All values come from scikit-image (:mod:`skimage.metrics`); MS-SSIM, which scikit-image lacks, is the standard
multi-scale combination of Wang, Simoncelli & Bovik (2003) built on the same SSIM components (Gaussian window
σ = 1.5, K1 = 0.01, K2 = 0.03, population covariances, as in :func:`skimage.metrics.structural_similarity` with
``gaussian_weights=True, use_sample_covariance=False``).

Two readings of every image:

- **luminance** (``*_y``): the BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` of the sRGB values, 0–255 — the
  usual way SSIM is reported, and what rendition targets use;
- **colour** (``*_rgb``): SSIM and MS-SSIM are the mean of the R, G and B channels' values; MSE and PSNR are over
  all three channels' pixels together.

Identical images give MSE 0, SSIM 1, MS-SSIM 1 and PSNR ``inf`` (a float infinity, not an error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MS_SSIM_WEIGHTS",
    "FullReference",
    "full_reference",
    "luminance",
    "ms_ssim",
    "psnr",
    "ssim",
]

DATA_RANGE = 255.0
SIGMA = 1.5
TRUNCATE = 3.5  # scikit-image's default: an 11-pixel Gaussian window at σ = 1.5
WIN_SIZE = 2 * int(TRUNCATE * SIGMA + 0.5) + 1
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Wang et al. (2003) exponents of the five scales, finest first."""


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an ``(H, W, 3)`` RGB array, float64 in 0–255."""
    arr = np.asarray(rgb, dtype=np.float64)
    if arr.ndim == 2:
        return arr
    return arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114


def _check(reference: np.ndarray, distorted: np.ndarray) -> None:
    if reference.shape != distorted.shape:
        raise ValueError(f"shapes differ: reference {reference.shape}, distorted {distorted.shape}")
    if min(reference.shape[:2]) < WIN_SIZE:
        raise ValueError(f"images must be at least {WIN_SIZE}x{WIN_SIZE} pixels, got {reference.shape[:2]}")


def psnr(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); ``inf`` for identical images."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

    ref, dist = np.asarray(reference, np.float64), np.asarray(distorted, np.float64)
    if mean_squared_error(ref, dist) == 0.0:
        return math.inf
    return float(peak_signal_noise_ratio(ref, dist, data_range=DATA_RANGE))


def ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """SSIM of 2-D arrays, or the mean over channels of ``(H, W, C)`` arrays (scikit-image, Gaussian window)."""
    from skimage.metrics import structural_similarity

    ref, dist = np.asarray(reference, np.float64), np.asarray(distorted, np.float64)
    _check(ref, dist)
    return float(
        structural_similarity(
            ref,
            dist,
            data_range=DATA_RANGE,
            gaussian_weights=True,
            sigma=SIGMA,
            use_sample_covariance=False,
            channel_axis=-1 if ref.ndim == 3 else None,
        )
    )


def _components(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """SSIM (the mean of the luminance × contrast-structure map) and the mean contrast-structure term over the
    valid (uncropped) area, computed as :func:`skimage.metrics.structural_similarity` does."""
    from skimage.filters import gaussian

    def blur(a: np.ndarray) -> np.ndarray:
        return np.asarray(gaussian(a, sigma=SIGMA, truncate=TRUNCATE, mode="reflect", preserve_range=True))

    ux, uy = blur(x), blur(y)
    vx = blur(x * x) - ux * ux
    vy = blur(y * y) - uy * uy
    vxy = blur(x * y) - ux * uy
    c1 = (0.01 * DATA_RANGE) ** 2
    c2 = (0.03 * DATA_RANGE) ** 2
    lum = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    cs = (2 * vxy + c2) / (vx + vy + c2)
    pad = (WIN_SIZE - 1) // 2
    crop = (slice(pad, -pad), slice(pad, -pad))
    return float((lum * cs)[crop].mean()), float(cs[crop].mean())


def _halve(a: np.ndarray) -> np.ndarray:
    """2×2 mean downsampling (odd last row/column dropped)."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    a = a[:h, :w]
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) / 4.0


def _ms_ssim_2d(x: np.ndarray, y: np.ndarray) -> float:
    # as many of the five scales as the image allows (the coarsest must still hold an 11-px window);
    # the exponents of the scales used are renormalised to sum to 1
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and min(x.shape) // (2**scales) >= WIN_SIZE + 2:
        scales += 1
    weights = np.asarray(MS_SSIM_WEIGHTS[:scales])
    weights = weights / weights.sum()
    value = 1.0
    for level in range(scales):
        full, cs = _components(x, y)
        if level == scales - 1:
            value *= max(full, 0.0) ** weights[level]
        else:
            value *= max(cs, 0.0) ** weights[level]
            x, y = _halve(x), _halve(y)
    return float(value)


def ms_ssim(reference: np.ndarray, distorted: np.ndarray) -> float:
    """Multi-scale SSIM (Wang et al. 2003): contrast-structure at each finer scale, the full SSIM at the
    coarsest, five
    scales of 2×2 mean downsampling (fewer for images under 208 px, exponents renormalised); negative terms are
    clipped to 0. ``(H, W, C)`` arrays: the mean over channels."""
    ref, dist = np.asarray(reference, np.float64), np.asarray(distorted, np.float64)
    _check(ref, dist)
    if ref.ndim == 2:
        return _ms_ssim_2d(ref, dist)
    return float(np.mean([_ms_ssim_2d(ref[..., c], dist[..., c]) for c in range(ref.shape[2])]))


@dataclass(frozen=True)
class FullReference:
    """Every full-reference measure of one pair (see the module docstring for the two readings)."""

    mse_y: float
    psnr_y: float
    ssim_y: float
    ms_ssim_y: float
    mse_rgb: float
    psnr_rgb: float
    ssim_rgb: float
    ms_ssim_rgb: float


def full_reference(reference_rgb: np.ndarray, distorted_rgb: np.ndarray) -> FullReference:
    """All measures of ``distorted_rgb`` against ``reference_rgb`` (same-shaped ``(H, W, 3)`` arrays)."""
    from skimage.metrics import mean_squared_error

    ref = np.asarray(reference_rgb, np.float64)
    dist = np.asarray(distorted_rgb, np.float64)
    _check(ref, dist)
    ref_y, dist_y = luminance(ref), luminance(dist)
    return FullReference(
        mse_y=float(mean_squared_error(ref_y, dist_y)),
        psnr_y=psnr(ref_y, dist_y),
        ssim_y=ssim(ref_y, dist_y),
        ms_ssim_y=ms_ssim(ref_y, dist_y),
        mse_rgb=float(mean_squared_error(ref, dist)),
        psnr_rgb=psnr(ref, dist),
        ssim_rgb=ssim(ref, dist),
        ms_ssim_rgb=ms_ssim(ref, dist),
    )
