"""Generated pictures with known answers for the policy tests (imported by them; not a test module)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def product_on_white(size: int = 400, fill: float = 0.9, colour: tuple[int, int, int] = (40, 90, 160)) -> np.ndarray:
    """A textured ellipse-and-box "product" spanning ``fill`` of the frame on pure white."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    span = int(fill * size)
    x0 = (size - span) // 2
    draw.rounded_rectangle([x0, x0, x0 + span - 1, x0 + span - 1], radius=span // 6, fill=colour)
    rng = np.random.default_rng(0)
    arr = np.asarray(image).astype(np.int16)
    inside = arr.sum(axis=2) < 700
    arr[inside] += rng.integers(-12, 12, size=(int(inside.sum()), 3), dtype=np.int16)
    return np.clip(arr, 0, 255).astype(np.uint8)


def add_caption(
    rgb: np.ndarray, text: str = "SALE 50% OFF", size: int = 28, xy: tuple[int, int] = (10, 8)
) -> np.ndarray:
    image = Image.fromarray(rgb.copy())
    font = ImageFont.load_default(size=size)
    ImageDraw.Draw(image).text(xy, text, fill=(200, 20, 20), font=font)
    return np.asarray(image)
