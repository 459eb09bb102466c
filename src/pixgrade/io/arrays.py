"""Image-array primitives shared by every layer: the input checks and the "fit the longest side" resizes.

Checks say what was expected and what was given (``rgb: expected dtype uint8 (0-255), got float32``): a
wrong type or dtype is a :class:`TypeError`, a wrong shape a :class:`ValueError`.

Resizes: :func:`fit_longest_side` area-averages an array down until its longest side is at most ``max_side``
and never upscales (the measures' working copy, the facts' and the model's input copies, the text and backdrop
detectors' small copies); :func:`resize_longest_side` brings the longest side to exactly ``side`` (area down,
bilinear up) for features that need one fixed size. Both round each side to the nearest pixel, at least 1.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

__all__ = ["check_alpha", "check_rgb", "fit_longest_side", "resize_longest_side", "scaled_size"]


def _describe(obj: Any) -> str:
    if isinstance(obj, np.ndarray):
        return f"an array of shape {tuple(obj.shape)} and dtype {obj.dtype}"
    return f"a {type(obj).__name__}"


def check_rgb(rgb: Any, name: str = "rgb") -> np.ndarray:
    """Check that ``rgb`` is an RGB image and return it.

    Shape:
        ``(H, W, 3)`` with ``H, W >= 1``, dtype uint8.

    Raises:
        TypeError: not a NumPy array or not uint8.
        ValueError: wrong shape.
    """
    if not isinstance(rgb, np.ndarray):
        raise TypeError(
            f"{name}: expected a NumPy array (numpy.ndarray) of shape (H, W, 3) and dtype uint8, got {_describe(rgb)}"
        )
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(
            f"{name}: expected shape (H, W, 3) with H, W >= 1 (an RGB uint8 array), got shape {tuple(rgb.shape)}"
        )
    if rgb.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8 (0-255), got {rgb.dtype}; convert with skimage/np first")
    return rgb


def check_alpha(alpha: Any, hw: tuple[int, int], name: str = "alpha") -> np.ndarray | None:
    """Check an optional alpha channel against the image height and width and return it.

    Shape:
        ``(H, W)``, dtype uint8 (0 = transparent, 255 = opaque), or ``None``.

    Raises:
        TypeError: not a NumPy array or not uint8.
        ValueError: shape different from ``hw``.
    """
    if alpha is None:
        return None
    if not isinstance(alpha, np.ndarray):
        raise TypeError(f"{name}: expected None or a NumPy array of shape {hw} and dtype uint8, got {_describe(alpha)}")
    if alpha.shape != tuple(hw):
        raise ValueError(f"{name}: expected shape {tuple(hw)} to match the image, got {tuple(alpha.shape)}")
    if alpha.dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8 (0-255), got {alpha.dtype}")
    return alpha


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """``(width, height)`` times ``scale``, each rounded to the nearest pixel and at least 1 (OpenCV's order)."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def fit_longest_side(arr: np.ndarray, max_side: int) -> np.ndarray:
    """``arr`` area-averaged down so its longest side is at most ``max_side``; returned unchanged (the same
    object) when it already fits. Never upscales.

    Shape:
        - arr: ``(H, W)`` or ``(H, W, C)`` (C <= 4 for OpenCV), any dtype OpenCV resizes.
        - output: ``(h, w[, C])`` with ``max(h, w) == min(max(H, W), max_side)``.
    """
    height, width = arr.shape[:2]
    if max(height, width) <= max_side:
        return arr
    size = scaled_size(width, height, max_side / max(height, width))
    return cv2.resize(np.ascontiguousarray(arr), size, interpolation=cv2.INTER_AREA)


def resize_longest_side(arr: np.ndarray, side: int) -> np.ndarray:
    """``arr`` resized so its longest side is exactly ``side``: area-averaged down, bilinear up (a copy).

    Shape:
        - arr: ``(H, W)`` or ``(H, W, C)``.
        - output: ``(h, w[, C])`` with ``max(h, w) == side``.
    """
    height, width = arr.shape[:2]
    scale = side / max(height, width)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(arr), scaled_size(width, height, scale), interpolation=interpolation)
