"""Helpers for the pipeline tests: generated pictures, a fake predictor, and worker functions that misbehave.

A plain module (not a conftest) so that worker processes started with ``spawn`` can import these functions.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

SEVERITIES = (
    "blur",
    "noise",
    "overexposure",
    "underexposure",
    "low_contrast",
    "colour",
    "compression",
    "low_resolution",
)


def product_photo(height: int = 240, width: int = 320, seed: int = 0) -> np.ndarray:
    """A synthetic, sharp, well-exposed product shot on a white backdrop (RGB uint8)."""
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 250, np.uint8)
    cy, cx = height // 2, width // 2
    colour = tuple(int(v) for v in rng.integers(30, 200, 3))
    cv2.ellipse(img, (cx, cy), (int(width * 0.28), int(height * 0.32)), 0, 0, 360, colour, -1)
    texture = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.0) * 30
    mask = np.all(img == np.array(colour, np.uint8), axis=2)
    shaded = np.clip(img.astype(np.float32) + texture[..., None], 0, 255).astype(np.uint8)
    img[mask] = shaded[mask]
    cv2.rectangle(img, (cx - 30, cy - 10), (cx + 30, cy + 10), (20, 20, 20), 2)
    cv2.putText(img, "PIX", (cx - 25, cy + 45), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (250, 250, 250), 2)
    return img


def blurred(rgb: np.ndarray, sigma: float = 4.0) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def darkened(rgb: np.ndarray, factor: float = 0.12) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def save(rgb: np.ndarray, path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, **kwargs)
    return path


def make_folder(root: Path, n_good: int = 4, bad: bool = True) -> dict[str, Path]:
    """``n_good`` JPEG/PNG photos (one in a sub-folder) and, with ``bad``, a zero-byte file, a text file and a
    truncated JPEG; returns name -> path."""
    files: dict[str, Path] = {}
    for i in range(n_good):
        sub = root / "sub" if i == 0 else root
        ext = "png" if i % 2 else "jpg"
        files[f"good{i}"] = save(
            product_photo(seed=i), sub / f"good{i}.{ext}", **({"quality": 92} if ext == "jpg" else {})
        )
    if bad:
        (root / "empty.jpg").write_bytes(b"")
        files["empty"] = root / "empty.jpg"
        (root / "notes.jpg").write_text("this is not a picture\n")
        files["text"] = root / "notes.jpg"
        whole = save(product_photo(seed=99), root / "whole.jpg", quality=90).read_bytes()
        (root / "whole.jpg").unlink()
        (root / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
        files["truncated"] = root / "truncated.jpg"
    return files


@dataclass
class LightOutput:
    """Same fields as ``pixgrade.model.predictor.ModelOutput``."""

    score: float
    severities: dict[str, float]
    embedding: np.ndarray | None = None


class FakePredictor:
    """Stands in for ``pixgrade.model.predictor.TorchPredictor``: a score from mean brightness, fixed severities."""

    input_max_side = 128
    min_side = 32
    severity_names = SEVERITIES

    def __init__(self, blur: float = 0.9, fail_on_dark: bool = False, light: bool = False) -> None:
        self.blur = blur
        self.fail_on_dark = fail_on_dark
        self.light = light  # answer with LightOutput: worker processes then never import torch
        self.batches: list[int] = []
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, images: Sequence[np.ndarray]) -> list[Any]:
        if self.light:
            ModelOutput: Any = LightOutput
        else:
            from pixgrade.model.predictor import ModelOutput  # imported here, only when needed (torch is slow)

        self.batches.append(len(images))
        outputs = []
        for rgb in images:
            self.shapes.append(rgb.shape)
            if self.fail_on_dark and rgb.mean() < 40:
                raise RuntimeError("cannot handle dark images")
            severities = dict.fromkeys(SEVERITIES, 0.1)
            severities["blur"] = self.blur
            outputs.append(
                ModelOutput(
                    score=float(rgb.mean()) / 255 * 5, severities=severities, embedding=np.ones(4, np.float32) / 2
                )
            )
        return outputs


# --- functions run in worker processes by the ChunkMap tests ----------------------------------------------------


def double_chunk(items: list[int], offset: int) -> list[int]:
    return [2 * item + offset for item in items]


def crash_on_13(items: list[int], offset: int) -> list[int]:
    if 13 in items:
        os._exit(3)  # a worker dying abruptly, as a segfaulting decoder would
    return [2 * item + offset for item in items]


def raise_on_7(items: list[int], offset: int) -> list[int]:
    if 7 in items:
        raise RuntimeError("bug in the worker")
    return [2 * item + offset for item in items]


def failure(item: int, message: str) -> int:
    return -1 if "died" in message else -2


def broken_initializer() -> None:
    raise RuntimeError("this worker cannot start")
