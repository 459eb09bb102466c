"""Helpers of the evaluation tests: a fake predictor and a small labelled picture set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class FakeOutput:
    score: float


class BrightnessPredictor:
    """Scores a picture by its mean brightness (0–255 → 0–5): a stand-in for the model."""

    input_max_side = 32

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.shapes: list[tuple[int, ...]] = []

    def predict(self, images: Sequence[np.ndarray]) -> list[FakeOutput]:
        self.calls.append(len(images))
        self.shapes += [image.shape for image in images]
        return [FakeOutput(float(image.mean()) / 51.0) for image in images]


def write_labelled_set(folder: Path, n: int = 12, size: int = 48) -> Path:
    """Flat grey pictures whose true score is their brightness plus a little disagreement; a manifest CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["image,score,group,degradation,level"]
    for i in range(n):
        value = int(20 + i * 200 / max(n - 1, 1))
        Image.fromarray(np.full((size, size + 8, 3), value, np.uint8)).save(folder / f"p{i}.png")
        score = float(np.clip(value / 51.0 + rng.normal(0, 0.3), 0, 5))
        kind, level = ("", 0) if i % 3 == 0 else ("underexposure", 5 - i * 4 // n)
        lines.append(f"p{i}.png,{score:.3f},g{i // 3},{kind},{level}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest
