"""Background, product extent and added borders: the geometric facts marketplace rules ask about.

Each function takes an RGB uint8 array and returns plain numbers with a stated range and direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pixgrade.io.arrays import check_rgb, fit_longest_side

__all__ = [
    "BackgroundStats",
    "BorderDetection",
    "background_mask",
    "background_stats",
    "detect_border",
    "product_mask",
    "pure_white",
]


def _check_rgb(rgb: np.ndarray) -> None:
    check_rgb(rgb)
    if rgb.shape[0] < 4 or rgb.shape[1] < 4:
        raise ValueError(f"image too small to analyse: {rgb.shape[1]}x{rgb.shape[0]} (need at least 4x4)")


def pure_white(pixels: np.ndarray, tolerance: int = 8) -> np.ndarray:
    """The ``white_background`` fact's white: every channel >= ``255 - tolerance`` (marketplaces ask for RGB 255,
    255, 255; JPEG turns it into 250-255). Stricter than the ``background`` factor's
    :func:`pixgrade.measures.prepared.near_white`: every pure-white pixel is near-white there (for a tolerance
    up to 20), not the other way round (an off-white RGB 240 backdrop); see docs/factors.md, "Two backdrops".

    Shape:
        - pixels: ``(N, 3)`` uint8.
        - output: ``(N,)`` bool.
    """
    return pixels.min(axis=1) >= 255 - tolerance


def _edge_band(rgb: np.ndarray, fraction: float) -> np.ndarray:
    """Pixels within ``fraction`` of the image size from any edge, as an ``(N, 3)`` array."""
    height, width = rgb.shape[:2]
    band = max(2, round(fraction * min(height, width)))
    mask = np.zeros((height, width), bool)
    mask[:band] = mask[-band:] = True
    mask[:, :band] = mask[:, -band:] = True
    return rgb[mask]


def background_mask(rgb: np.ndarray, tolerance: int = 24, max_side: int = 512) -> np.ndarray:
    """Pixels of the backdrop: connected to the image border and within ``tolerance`` of its dominant colour.

    The dominant colour is the per-channel median of a thin band along the edges. The mask is computed at
    most ``max_side`` pixels on the longest side and resized back (nearest).

    Returns:
        bool array, True = background.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - output: ``(H, W)`` bool.
    """
    _check_rgb(rgb)
    height, width = rgb.shape[:2]
    small = fit_longest_side(rgb, max_side)
    colour = np.median(_edge_band(small, 0.02), axis=0)
    close = (np.abs(small.astype(np.int16) - colour.astype(np.int16)).max(axis=2) <= tolerance).astype(np.uint8)
    _n, labels = cv2.connectedComponents(close, connectivity=4)
    border_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    border_labels = border_labels[border_labels > 0]
    mask = np.isin(labels, border_labels) & (close > 0)
    if small is not rgb:
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
    return mask


def product_mask(
    background: np.ndarray, min_share_of_largest: float = 0.2, min_image_share: float = 0.02
) -> np.ndarray:
    """The product's silhouette: the large connected non-background regions, holes filled.

    Small islands on the backdrop (added captions, badges, specks) are left out: a region is kept when its area is
    at least ``min_share_of_largest`` of the largest region and ``min_image_share`` of the image.

    Shape:
        - background: ``(H, W)`` bool from :func:`background_mask`.
        - output: ``(H, W)`` bool.
    """
    if background.ndim != 2:
        raise ValueError(f"expected a 2-D background mask, got shape {background.shape}")
    foreground = (~background).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(foreground, connectivity=8)
    if n <= 1:
        return np.zeros(background.shape, bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = (
        np.flatnonzero((areas >= min_share_of_largest * areas.max()) & (areas >= min_image_share * background.size)) + 1
    )
    mask = np.isin(labels, keep).astype(np.uint8)
    # Fill holes: everything not reachable from the border through non-product pixels is product.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


@dataclass(frozen=True)
class BackgroundStats:
    """Facts about the backdrop and the product's extent."""

    white_fraction: float
    """Share of the pixels along the image edges (outer 3%) that are pure white within the tolerance, in [0, 1];
    higher = whiter. Amazon asks for RGB 255,255,255."""
    edge_colour: tuple[int, int, int]
    """Median RGB colour of the edge band."""
    background_fraction: float
    """Share of the image that is backdrop (see :func:`background_mask`), in [0, 1]."""
    product_fill: float
    """How much of the frame the product spans: max(product bbox width / image width, bbox height / height),
    in [0, 1]; 1 = touches both opposite edges along one axis. The product is :func:`product_mask` (small islands
    such as added captions do not count). Meaningful on plain backdrops."""
    product_bbox: tuple[int, int, int, int]
    """(x, y, width, height) of the product (non-background pixels); the whole image when there is none."""


def background_stats(rgb: np.ndarray, white_tolerance: int = 8, mask: np.ndarray | None = None) -> BackgroundStats:
    """Measure how white the backdrop is and how much of the frame the product fills.

    Args:
        rgb: the image.
        white_tolerance: a pixel is "pure white" when every channel is >= 255 - white_tolerance (JPEG turns 255
            into 250-255).
        mask: a precomputed :func:`background_mask`.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    _check_rgb(rgb)
    height, width = rgb.shape[:2]
    edge = _edge_band(rgb, 0.03)
    white = pure_white(edge, white_tolerance)
    colour = np.median(edge, axis=0).round().astype(int)
    bg = background_mask(rgb) if mask is None else mask
    # The product's silhouette: large regions only, so added captions, badges and specks do not stretch it.
    product = product_mask(bg)
    ys, xs = np.nonzero(product)
    if len(xs) < 0.001 * height * width:
        bbox = (0, 0, width, height)
        fill = 0.0 if len(xs) == 0 else 1.0
    else:
        # Robust extent: 0.1st-99.9th percentile of product pixel coordinates.
        x0, x1 = np.percentile(xs, [0.1, 99.9])
        y0, y1 = np.percentile(ys, [0.1, 99.9])
        bbox = (int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1)
        fill = float(max(bbox[2] / width, bbox[3] / height))
    return BackgroundStats(
        white_fraction=float(white.mean()),
        edge_colour=(int(colour[0]), int(colour[1]), int(colour[2])),
        background_fraction=float(bg.mean()),
        product_fill=min(1.0, fill),
        product_bbox=bbox,
    )


@dataclass(frozen=True)
class BorderDetection:
    """An added border or frame: a uniform band of one colour along all four sides."""

    found: bool
    thickness: tuple[int, int, int, int]
    """Band thickness in pixels per side (top, right, bottom, left); 0 where none."""
    colour: tuple[int, int, int] | None
    """Median RGB of the band, None when none was found."""

    @property
    def max_thickness(self) -> int:
        """Thickest side in pixels."""
        return max(self.thickness)


def _lines(rgb: np.ndarray, side: str, depth: int) -> np.ndarray:
    """The first ``depth`` lines from one side, each as an ``(L, 3)`` pixel row, ordered from the edge inward."""
    if side == "top":
        return rgb[:depth]
    if side == "bottom":
        return rgb[::-1][:depth]
    if side == "left":
        return rgb[:, :depth].transpose(1, 0, 2)
    return rgb[:, ::-1][:, :depth].transpose(1, 0, 2)


def _side_band(
    rgb: np.ndarray, side: str, max_depth_fraction: float, tolerance: int, white_level: int
) -> tuple[int, np.ndarray | None]:
    """Thickness and colour of a non-white uniform band on one side (0, None when absent)."""
    length = rgb.shape[1] if side in ("top", "bottom") else rgb.shape[0]
    depth = max(2, int(max_depth_fraction * (rgb.shape[0] if side in ("top", "bottom") else rgb.shape[1])))
    lines = _lines(rgb, side, depth + 1).astype(np.int16)
    margin = max(1, int(0.05 * length))  # ignore the line ends: an inset frame does not reach them
    core = lines[:, margin : length - margin]
    medians = np.median(core, axis=1)
    uniform = (np.abs(core - medians[:, None, :]).max(axis=2) <= tolerance).mean(axis=1) >= 0.97
    is_white = medians.min(axis=1) >= white_level
    i = 0
    while i < depth and uniform[i] and is_white[i]:  # a white margin before a frame line is allowed
        i += 1
    start = i
    if start >= depth or not uniform[start] or is_white[start]:
        return 0, None
    colour = medians[start]
    while i < depth and uniform[i] and np.abs(medians[i] - colour).max() <= tolerance:
        i += 1
    if i >= depth:  # the band never ends within the allowed depth: a backdrop, not a border
        return 0, None
    # The band must end in a clean step: most of the next line is not the band's colour.
    inner = core[i]
    if (np.abs(inner - colour).max(axis=1) > tolerance).mean() < 0.5:
        return 0, None
    return i, colour


def detect_border(
    rgb: np.ndarray, *, max_depth_fraction: float = 0.15, tolerance: int = 12, white_level: int = 235
) -> BorderDetection:
    """Find an added border or frame line: a uniform, non-white band on all four sides, of similar colour,
    at most ``max_depth_fraction`` of the image deep, ending in a sharp step (an inset frame line after a white
    margin counts). A white margin around a product on white cannot be told from a white border and is not
    reported.

    Returns:
        ``found`` True when every side has such a band.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    _check_rgb(rgb)
    results = [
        _side_band(rgb, side, max_depth_fraction, tolerance, white_level) for side in ("top", "right", "bottom", "left")
    ]
    colours = [c for _, c in results if c is not None]
    thickness = tuple(t for t, _ in results)
    if len(colours) == 4:
        stack = np.stack(colours)
        if np.abs(stack - stack.mean(axis=0)).max() <= 3 * tolerance:
            mean = stack.mean(axis=0).round().astype(int)
            return BorderDetection(True, thickness, (int(mean[0]), int(mean[1]), int(mean[2])))  # type: ignore[arg-type]
    return BorderDetection(False, (0, 0, 0, 0), None)
