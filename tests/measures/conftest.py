"""Generated product-like pictures for the measure tests (no files from the shared data)."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest


def product_scene(
    size: int = 400,
    side: float = 0.5,
    centre: tuple[float, float] = (0.5, 0.5),
    background: tuple[int, int, int] = (255, 255, 255),
    seed: int = 0,
) -> np.ndarray:
    """A square textured "product" (``side`` x frame, centred at ``centre`` in frame fractions) on a plain background.

    The product has a shaded body, printed stripes and fine texture, so it has edges at several scales.
    """
    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = background
    s = round(side * size)
    x0 = round(centre[0] * size - s / 2)
    y0 = round(centre[1] * size - s / 2)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
    shade = 70 + 60 * (xx / max(1, s - 1)) + 15 * np.sin(yy / 7.0)
    stripes = ((xx // 9) % 2) * 40
    texture = rng.normal(0, 6, (s, s)).astype(np.float32)
    texture = np.asarray(cv2.GaussianBlur(texture, (0, 0), 0.7))
    body = shade + stripes + texture
    patch = np.stack([body * 1.1, body * 0.8, body * 0.6], axis=2)
    img[y0 : y0 + s, x0 : x0 + s] = np.clip(patch, 0, 255).astype(np.uint8)
    return img


SceneMaker = Callable[..., np.ndarray]


@pytest.fixture
def make_scene() -> SceneMaker:
    """The :func:`product_scene` drawing function (tests call it with their own sizes and positions)."""
    return product_scene


@pytest.fixture
def scene() -> np.ndarray:
    return product_scene()
