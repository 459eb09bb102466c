"""Helpers of the service tests: generated images and a fake predictor."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import numpy as np
from PIL import Image

from pixgrade.model.predictor import ModelOutput


def make_rgb(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A product-like picture: white backdrop, a textured coloured object in the middle."""
    rng = np.random.default_rng(seed)
    rgb = np.full((height, width, 3), 250, np.uint8)
    y0, y1, x0, x1 = height // 5, 4 * height // 5, width // 4, 3 * width // 4
    base = rng.integers(40, 200, size=3)
    texture = rng.normal(0, 25, size=(y1 - y0, x1 - x0, 1))
    rgb[y0:y1, x0:x1] = np.clip(base + texture, 0, 255).astype(np.uint8)
    return rgb


def encode(rgb: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    options = {"quality": 90} if fmt == "JPEG" else {}
    Image.fromarray(rgb).save(buf, format=fmt, **options)
    return buf.getvalue()


class FakePredictor:
    """Fast stand-in for the model: score from mean brightness; can block until released; records batches."""

    input_max_side = 256

    def __init__(self, gate: threading.Event | None = None, fail_on: int | None = None) -> None:
        self.gate = gate
        self.fail_on = fail_on
        self.batches: list[int] = []
        self.entered = threading.Event()

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(30)
        self.batches.append(len(images))
        outputs = []
        for rgb in images:
            if self.fail_on is not None and rgb.shape[1] == self.fail_on:
                raise RuntimeError("fake model failure")
            outputs.append(ModelOutput(score=float(rgb.mean() / 255.0 * 5.0), severities={"blur": 0.1}))
        return outputs


def product_photo(kind: str = "sharp", seed: int = 0, size: tuple[int, int] = (480, 360)) -> np.ndarray:
    """A synthetic product shot (a shaded, printed box on a white backdrop), optionally degraded.

    ``kind``: ``sharp``, ``blurred``, ``dark``, ``noisy`` or ``small``.
    """
    import cv2

    width, height = size
    rng = np.random.default_rng(seed)
    rgb = np.full((height, width, 3), 252, np.uint8)
    colour = np.array(rng.integers(40, 200, size=3), dtype=np.float32)
    x0, x1, y0, y1 = width // 4, 3 * width // 4, height // 5, 4 * height // 5
    shade = np.linspace(1.15, 0.75, x1 - x0, dtype=np.float32)[None, :, None]
    rgb[y0:y1, x0:x1] = np.clip(colour * shade, 0, 255).astype(np.uint8)
    cv2.ellipse(rgb, ((x0 + x1) // 2, y0), ((x1 - x0) // 4, height // 8), 0, 180, 360, (60, 60, 60), 6)
    for i in range(6):  # printed stripes and text-like detail
        y = y0 + 20 + i * (y1 - y0 - 40) // 6
        cv2.line(rgb, (x0 + 15, y), (x1 - 15, y), (245, 245, 245), 2)
        cv2.putText(rgb, "PIXGRADE", (x0 + 25, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (250, 250, 250), 1)
    if kind == "blurred":
        rgb = cv2.GaussianBlur(rgb, (0, 0), 4.0)
    elif kind == "dark":
        rgb = (rgb.astype(np.float32) * 0.25).astype(np.uint8)
    elif kind == "noisy":
        rgb = np.clip(rgb + rng.normal(0, 30, rgb.shape), 0, 255).astype(np.uint8)
    elif kind == "small":
        rgb = cv2.resize(rgb, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    elif kind != "sharp":
        raise ValueError(f"unknown kind {kind!r}")
    return rgb
