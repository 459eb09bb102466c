"""Input checks shared by every measure, with messages that say what was expected and what was given."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_alpha", "check_rgb"]


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
        raise TypeError(f"{name}: expected a NumPy array of shape (H, W, 3) and dtype uint8, got {_describe(rgb)}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"{name}: expected shape (H, W, 3) with H, W >= 1 (RGB), got shape {tuple(rgb.shape)}")
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
