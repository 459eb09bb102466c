"""Generated pictures and image statistics for the degradation tests."""

from __future__ import annotations

import cv2
import numpy as np


def make_product_photo(height: int = 256, width: int = 256, seed: int = 0) -> np.ndarray:
    """A synthetic product shot: light backdrop, a shaded textured object, sharp edges, text-like strokes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    img[...] = 235.0 - 20.0 * yy[..., None] / height  # soft studio backdrop
    cy, cx = height * 0.55, width * 0.45
    inside = ((yy - cy) / (height * 0.3)) ** 2 + ((xx - cx) / (width * 0.28)) ** 2 <= 1.0
    shade = 0.55 + 0.45 * (1.0 - (xx - cx + yy - cy) / (width + height))
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.2) * 40.0
    for c, base in enumerate((190.0, 70.0, 60.0)):
        img[..., c] = np.where(inside, base * shade + texture, img[..., c])
    img[int(height * 0.1) : int(height * 0.3), int(width * 0.65) : int(width * 0.9)] = (40.0, 90.0, 170.0)
    for i in range(5):  # text-like thin dark strokes
        y = int(height * (0.78 + 0.03 * i))
        img[y : y + 2, int(width * 0.6) : int(width * (0.7 + 0.05 * i))] = 30.0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)


def laplacian_variance(rgb: np.ndarray) -> float:
    return float(cv2.Laplacian(grey(rgb), cv2.CV_64F).var())


def noise_sigma(rgb: np.ndarray) -> float:
    """Immerkær's fast noise estimate (grey levels)."""
    g = grey(rgb)
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    conv = cv2.filter2D(g, -1, mask)[1:-1, 1:-1]
    h, w = g.shape
    return float(np.sqrt(np.pi / 2.0) * np.abs(conv).sum() / (6.0 * (w - 2) * (h - 2)))


def luma_mean(rgb: np.ndarray) -> float:
    return float(grey(rgb).mean())


def luma_std(rgb: np.ndarray) -> float:
    return float(grey(rgb).std())


def saturation(rgb: np.ndarray) -> float:
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float64).mean())


def channel_spread(rgb: np.ndarray) -> float:
    means = rgb.reshape(-1, 3).astype(np.float64).mean(axis=0)
    return float(means.max() - means.min())


def blockiness(rgb: np.ndarray) -> float:
    """Mean absolute step across 8×8 block borders divided by the mean step inside blocks (1 = no blocks)."""
    g = grey(rgb)
    dx = np.abs(np.diff(g, axis=1))
    dy = np.abs(np.diff(g, axis=0))
    border_x = dx[:, 7::8].mean()
    border_y = dy[7::8, :].mean()
    inner_x = np.delete(dx, np.s_[7::8], axis=1).mean()
    inner_y = np.delete(dy, np.s_[7::8], axis=0).mean()
    return float((border_x + border_y) / (inner_x + inner_y + 1e-9))


def high_frequency_energy(rgb: np.ndarray) -> float:
    """Fraction of spectral energy (DC removed) above a quarter of the Nyquist frequency."""
    g = grey(rgb)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    fy = (np.arange(h) - h // 2)[:, None] / h
    fx = (np.arange(w) - w // 2)[None, :] / w
    radius = np.hypot(fy, fx)
    return float(spec[radius > 0.125].sum() / spec.sum())


def flat_neighbour_fraction(rgb: np.ndarray) -> float:
    """Fraction of horizontally adjacent pixel pairs with identical values (pixelation makes runs)."""
    return float((np.abs(np.diff(rgb.astype(np.int16), axis=1)).sum(axis=2) == 0).mean())
