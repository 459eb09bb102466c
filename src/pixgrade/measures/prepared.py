"""Shared intermediate products of the measures, computed once per image and cached.

Measures of sharpness, noise, exposure, contrast, colour and the e-commerce layout run on a *working copy* whose
longest side is at most :data:`WORK_SIDE` pixels (area-averaged downscale; smaller images are used as they are), so
their values do not depend on the file's resolution and are the same whether or not the file was decoded at reduced
size. Blockiness and resolution use the full decoded pixels and the file's own size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from pixgrade.io import LoadedImage
from pixgrade.io.arrays import check_alpha, check_rgb, fit_longest_side

__all__ = ["WORK_SIDE", "Foreground", "PreparedImage", "near_white", "prepare"]

#: Longest side (pixels) of the working copy used by the size-sensitive measures.
WORK_SIDE = 512
#: Longest side (pixels) of the smaller copy on which the foreground (product) is found: the working copy
#: shrunk by the smallest integer factor that brings it to at most this (see :func:`_shrink_integer`).
LAYOUT_SIDE = 256
#: A pixel belongs to the foreground when a channel differs from the background colour by more than
#: ``FOREGROUND_MIN + 3 x`` the border's robust noise sigma (1.4826 x MAD of border luma), at most ``FOREGROUND_MAX``.
FOREGROUND_MIN = 12
FOREGROUND_MAX = 40
#: Border pixels within this of the border's median colour "match" it (for the uniformity test).
MATCH_THRESHOLD = 30
#: Border pixels whose smallest channel is at least this are "near-white" (and need low chroma, below).
WHITE_MIN = 235
WHITE_MAX_CHROMA = 20
#: The background counts as uniform when the border's robust brightness sigma is below this (0-255 scale)...
UNIFORM_SIGMA = 10.0
#: ...and at least this share of border pixels are close to the border's median colour.
UNIFORM_SHARE = 0.85


@dataclass(frozen=True)
class Foreground:
    """Where the product is, found against the background colour estimated on the image border.

    Found on the working copy shrunk by the smallest integer factor ``k`` that brings its longest side to at most
    :data:`LAYOUT_SIDE` pixels (``k x k`` block means; a 500-px copy gives 250 px).

    Attributes:
        mask: ``(h, w)`` bool on that copy, True = foreground (product, its shadow, any overlay).
        bbox: ``(x0, y0, x1, y1)`` of the foreground on that copy (exclusive ends), or None if empty.
        background_rgb: median colour of the border band.
        border_white_share: share of border-band pixels that are near-white or transparent.
        border_match_share: share of border-band pixels within the foreground threshold of the median colour.
        border_sigma: robust spread of border-band brightness, 1.4826 x median absolute deviation (0-255); a
            product touching the edge does not raise it, a busy scene does.
        uniform: the background is one plain colour (sigma and match share within their limits), so layout measures
            (fill, centring) and foreground-restricted measures are meaningful.
        threshold: the colour difference (0-255, largest channel) above which a pixel was taken as foreground.
    """

    mask: np.ndarray
    bbox: tuple[int, int, int, int] | None
    background_rgb: tuple[int, int, int]
    border_white_share: float
    border_match_share: float
    border_sigma: float
    uniform: bool
    threshold: float

    @property
    def white_backdrop(self) -> bool:
        """A plain background whose median colour is near-white (the usual product-photo backdrop)."""
        lo, hi = min(self.background_rgb), max(self.background_rgb)
        return self.uniform and lo >= WHITE_MIN and hi - lo <= WHITE_MAX_CHROMA

    @property
    def share(self) -> float:
        """Share of working-copy pixels in the foreground mask."""
        return float(self.mask.mean()) if self.mask.size else 0.0


class PreparedImage:
    """An image plus lazily computed, cached intermediates for the measures.

    Shape:
        ``rgb``: ``(H, W, 3)`` uint8; ``alpha``: ``(H, W)`` uint8 or None.
    """

    def __init__(
        self,
        rgb: np.ndarray,
        alpha: np.ndarray | None = None,
        *,
        original_size: tuple[int, int] | None = None,
        jpeg_quality: int | None = None,
    ) -> None:
        self.rgb = np.ascontiguousarray(check_rgb(rgb))
        checked = check_alpha(alpha, self.rgb.shape[:2])
        self.alpha = None if checked is None else np.ascontiguousarray(checked)
        h, w = self.rgb.shape[:2]
        self.original_size: tuple[int, int] = tuple(original_size) if original_size else (w, h)  # type: ignore[assignment]
        self.jpeg_quality = jpeg_quality

    @property
    def reduced(self) -> bool:
        """True when ``rgb`` is smaller than the file (decoded with ``max_side``): no native 8x8 JPEG grid."""
        h, w = self.rgb.shape[:2]
        return (w, h) != tuple(self.original_size) and max(w, h) < max(self.original_size)

    @cached_property
    def work_rgb(self) -> np.ndarray:
        """Working copy, longest side <= :data:`WORK_SIDE` (area-averaged)."""
        return fit_longest_side(self.rgb, WORK_SIDE)

    @cached_property
    def work_alpha(self) -> np.ndarray | None:
        """Alpha resized like :attr:`work_rgb`."""
        return _shrink_alpha(self.alpha, WORK_SIDE)

    @cached_property
    def work_gray(self) -> np.ndarray:
        """Working copy as 8-bit luma (ITU-R BT.601 weights, OpenCV)."""
        return cv2.cvtColor(self.work_rgb, cv2.COLOR_RGB2GRAY)

    def native_gray(self, max_side: int) -> np.ndarray:
        """Luma of a central crop of at most ``max_side`` x ``max_side`` native pixels, its corner on the 8x8 grid."""
        h, w = self.rgb.shape[:2]
        y0 = max(0, (h - max_side) // 2) // 8 * 8
        x0 = max(0, (w - max_side) // 2) // 8 * 8
        crop = np.ascontiguousarray(self.rgb[y0 : y0 + max_side, x0 : x0 + max_side])
        return np.asarray(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY))

    @cached_property
    def foreground(self) -> Foreground:
        """The product region against the border's background colour (or the alpha channel when present)."""
        alpha = None if self.work_alpha is None else _shrink_integer(self.work_alpha, LAYOUT_SIDE)
        return _find_foreground(_shrink_integer(self.work_rgb, LAYOUT_SIDE), alpha)

    @cached_property
    def foreground_mask(self) -> np.ndarray:
        """``foreground.mask`` resized to the working copy, uint8 0/1."""
        h, w = self.work_rgb.shape[:2]
        mask: np.ndarray = self.foreground.mask.view(np.uint8)
        if mask.shape != (h, w):
            mask = np.asarray(cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST))
        return mask


def _shrink_alpha(alpha: np.ndarray | None, side: int) -> np.ndarray | None:
    return None if alpha is None else fit_longest_side(alpha, side)


def _shrink_integer(arr: np.ndarray, side: int) -> np.ndarray:
    """Shrink by the smallest integer factor ``k`` that brings the longest side to at most ``side``: each output
    pixel is the mean of a ``k x k`` block (the last ``< k`` rows/columns are dropped when the size is not a
    multiple of ``k``). An integer factor is exact block averaging, which OpenCV does many times faster than area
    resampling to an arbitrary size (``benchmarks/layout_shrink_check.py``: the whole foreground step 2.5 -> 1.3
    ms per 500-px photo). Falls back to :func:`~pixgrade.io.arrays.fit_longest_side` for slivers thinner than ``k``."""
    h, w = arr.shape[:2]
    k = -(-max(h, w) // side)
    if k <= 1:
        return arr
    if min(h, w) < k:
        return fit_longest_side(arr, side)
    hk, wk = h // k, w // k
    return cv2.resize(arr[: hk * k, : wk * k], (wk, hk), interpolation=cv2.INTER_AREA)


def near_white(channels: np.ndarray) -> np.ndarray:
    """The ``background`` factor's white: smallest channel >= :data:`WHITE_MIN` (235) and channel spread <=
    :data:`WHITE_MAX_CHROMA` (20), so a soft grey or a colour cast is not white but photographic white is.

    The ``white_background`` fact's :func:`pixgrade.facts.layout.pure_white` is stricter (a subset of this one):
    see docs/factors.md, "Two backdrops".

    Shape:
        - channels: ``(3, N)`` (channel-first, any integer dtype).
        - output: ``(N,)`` bool.
    """
    lo = np.minimum.reduce([channels[0], channels[1], channels[2]])
    hi = np.maximum.reduce([channels[0], channels[1], channels[2]])
    return (lo >= WHITE_MIN) & (hi - lo <= WHITE_MAX_CHROMA)


def border_band(arr: np.ndarray) -> np.ndarray:
    """Pixels of the band along the four edges, ``max(2, 2%)`` of the short side wide, as ``(N, ...)``."""
    h, w = arr.shape[:2]
    b = max(2, round(0.02 * min(h, w)))
    b = min(b, max(1, min(h, w) // 2))
    parts = [arr[:b].reshape(-1, *arr.shape[2:]), arr[h - b :].reshape(-1, *arr.shape[2:])]
    if h > 2 * b:
        parts += [arr[b : h - b, :b].reshape(-1, *arr.shape[2:]), arr[b : h - b, w - b :].reshape(-1, *arr.shape[2:])]
    return np.concatenate(parts, axis=0)


def _find_foreground(rgb: np.ndarray, alpha: np.ndarray | None) -> Foreground:
    h, w = rgb.shape[:2]
    if min(h, w) >= 3:
        rgb = cv2.medianBlur(rgb, 3)  # speckle and grain would otherwise read as clutter and foreground
    band = np.ascontiguousarray(border_band(rgb).T, dtype=np.int16)  # (3, N): fast per-channel arithmetic
    band_alpha = border_band(alpha) if alpha is not None else None
    background = np.median(band, axis=1)
    band_diff = np.maximum.reduce([np.abs(band[c] - background[c]) for c in range(3)])
    match_share = float(np.count_nonzero(band_diff <= MATCH_THRESHOLD) / band_diff.size)
    luma = 0.299 * band[0] + 0.587 * band[1] + 0.114 * band[2]
    border_sigma = 1.4826 * float(np.median(np.abs(luma - np.median(luma))))
    threshold = float(min(FOREGROUND_MAX, FOREGROUND_MIN + 3.0 * border_sigma))
    white = near_white(band)
    if band_alpha is not None:
        white |= band_alpha < 128
    white_share = float(np.count_nonzero(white) / white.size)

    bbox: tuple[int, int, int, int] | None = None
    if alpha is not None:
        mask = (alpha >= 128).astype(np.uint8)
    else:
        scalar = np.array([*(float(round(v)) for v in background), 0.0])  # a 4-vector is an OpenCV Scalar
        channels = cv2.split(cv2.absdiff(rgb, scalar))
        diff = cv2.max(cv2.max(channels[0], channels[1]), channels[2])
        mask = (diff > threshold).astype(np.uint8)
    if cv2.countNonZero(mask):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        min_area = max(4, int(0.0005 * h * w))
        keep = stats[:, cv2.CC_STAT_AREA] >= min_area
        keep[0] = False
        if not keep[1:].all():
            mask = keep.astype(np.uint8)[labels]
        if keep.any():
            x0 = int(stats[keep, cv2.CC_STAT_LEFT].min())
            y0 = int(stats[keep, cv2.CC_STAT_TOP].min())
            x1 = int((stats[keep, cv2.CC_STAT_LEFT] + stats[keep, cv2.CC_STAT_WIDTH]).max())
            y1 = int((stats[keep, cv2.CC_STAT_TOP] + stats[keep, cv2.CC_STAT_HEIGHT]).max())
            bbox = (x0, y0, x1, y1)
    uniform = (border_sigma < UNIFORM_SIGMA and match_share >= UNIFORM_SHARE) or (
        band_alpha is not None and float((band_alpha < 128).mean()) >= UNIFORM_SHARE
    )
    bg = tuple(round(float(v)) for v in background[:3])
    return Foreground(
        mask=mask.astype(bool),
        bbox=bbox,
        background_rgb=(bg[0], bg[1], bg[2]),
        border_white_share=white_share,
        border_match_share=match_share,
        border_sigma=border_sigma,
        uniform=bool(uniform),
        threshold=threshold,
    )


def as_mask(mask: np.ndarray | None) -> np.ndarray | None:
    """A bool or 0/1 mask as a contiguous uint8 array for OpenCV's masked statistics (None stays None)."""
    if mask is None:
        return None
    if mask.dtype == bool:
        mask = mask.view(np.uint8)
    return np.ascontiguousarray(mask, dtype=np.uint8)


def masked_mean_std(values: np.ndarray, mask: np.ndarray | None) -> tuple[float, float, int]:
    """Mean, standard deviation and count of ``values`` (single channel) where ``mask`` is non-zero (all if None)."""
    m = as_mask(mask)
    count = int(values.size if m is None else cv2.countNonZero(m))
    if count == 0:
        return 0.0, 0.0, 0
    mean, std = cv2.meanStdDev(values, mask=m)
    return float(mean[0, 0]), float(std[0, 0]), count


def prepare(
    image: np.ndarray | LoadedImage | PreparedImage,
    alpha: np.ndarray | None = None,
) -> PreparedImage:
    """Wrap an RGB array (plus optional alpha) or a :class:`~pixgrade.io.LoadedImage` for the measures.

    A :class:`PreparedImage` is returned unchanged, so intermediates computed by one measure are reused by the next.
    """
    if isinstance(image, PreparedImage):
        return image
    if isinstance(image, LoadedImage):
        return PreparedImage(
            image.rgb,
            image.alpha if alpha is None else alpha,
            original_size=image.original_size,
            jpeg_quality=image.jpeg_quality,
        )
    return PreparedImage(image, alpha)


def measured_region(prep: PreparedImage, *, dilate: int = 0, min_share: float = 0.005) -> np.ndarray | None:
    """The product region for foreground-restricted measures, or None to use the whole working copy.

    The foreground is used only when the background is uniform and the product covers between ``min_share`` and
    95% of the frame; ``dilate`` grows it by that many pixels (to include the product's outline).

    Returns:
        ``(h, w)`` uint8 mask (1 = measure here) on the working copy, or None.
    """
    fg = prep.foreground
    if not fg.uniform or not (min_share <= fg.share <= 0.95):
        return None
    mask = prep.foreground_mask
    if dilate > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
        mask = cv2.dilate(mask, kernel)
    return mask
