"""The model interface every backend implements, with no backend behind it: :class:`Predictor` (a protocol),
:class:`ModelOutput`, the input-size policy (:func:`resize_for_model`) and :class:`PredictorBase`, which the torch
backend (:mod:`pixgrade.model.torch_backend`) and the ONNX Runtime backend (:mod:`pixgrade.model.onnx_predictor`)
share. Imports neither PyTorch nor ONNX Runtime; the backends import this module, never each other, and
:mod:`pixgrade.model.loader` chooses among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from pixgrade.errors import PixgradeError
from pixgrade.io.arrays import check_rgb, fit_longest_side, scaled_size

__all__ = ["BackendUnavailableError", "ModelOutput", "Predictor", "PredictorBase", "resize_for_model"]


class BackendUnavailableError(PixgradeError, ImportError):
    """The requested backend needs a package that is not installed (onnxruntime)."""


@dataclass
class ModelOutput:
    """What the model says about one image."""

    score: float
    """Overall quality on 0–5, higher is better."""
    severities: dict[str, float]
    """Per-factor severity in [0, 1], 1 = severe."""
    embedding: np.ndarray | None = None
    """L2-normalised image embedding (for near-duplicate search)."""


def resize_for_model(rgb: np.ndarray, max_side: int, min_side: int = 64) -> np.ndarray:
    """Resize so the longest side is at most ``max_side`` (area interpolation) and the shortest at least
    ``min_side``; images already within bounds are returned unchanged (never upscaled needlessly)."""
    height, width = check_rgb(rgb).shape[:2]
    fit, scale = min(1.0, max_side / max(height, width)), min_side / min(height, width)
    if scale <= fit:  # the shortest side stays long enough: fit the longest one
        return fit_longest_side(rgb, max_side)
    if scale == 1.0:
        return rgb
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, scaled_size(width, height, scale), interpolation=interpolation)


@runtime_checkable
class Predictor(Protocol):
    """What scoring needs from a model, whatever runs it (PyTorch, ONNX Runtime fp32 or INT8, a test double)."""

    backend: str
    """``"torch"``, ``"onnx"``, ``"int8"``…"""
    input_max_side: int
    """Longest side of the model's input (the input policy; larger images are area-downscaled to it)."""

    @property
    def description(self) -> str:
        """What runs the model, in words."""
        ...

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """One :class:`ModelOutput` per RGB uint8 ``(H, W, 3)`` image."""
        ...


class PredictorBase:
    """What every backend shares: ``predict`` and ``embed`` over a per-image ``_run`` that returns the raw
    ``score``, ``severities`` and ``embedding`` arrays of one image."""

    backend = "none"
    input_max_side: int
    min_side: int
    severity_names: tuple[str, ...]

    @property
    def description(self) -> str:
        """What runs the model, in words (for logs and messages), e.g. ``"int8 (ONNX Runtime, ...)"``."""
        return self.backend

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Score each RGB uint8 ``(H, W, 3)`` image of any size.

        Images are run one at a time at their own (policy-capped) resolution: on CPU a batch of one is as
        fast per image as larger batches, and no padding or cropping distorts the statistics.
        """
        results = []
        for rgb in images:
            out = self._run(rgb)
            results.append(
                ModelOutput(
                    score=float(np.clip(out["score"], 0.0, 5.0)),
                    severities={n: float(s) for n, s in zip(self.severity_names, out["severities"], strict=True)},
                    embedding=out["embedding"].astype(np.float32),
                )
            )
        return results

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, E)`` L2-normalised embeddings."""
        return np.stack([self._run(rgb)["embedding"] for rgb in images]).astype(np.float32)
