"""Run a trained :class:`QualityNet` on RGB images: resizing per the model's input policy, batching, outputs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch

from pixgrade.model.checkpoint import load_checkpoint
from pixgrade.model.net import IMAGENET_MEAN, IMAGENET_STD, QualityNet

if TYPE_CHECKING:
    from pixgrade.model.onnx_predictor import OnnxPredictor

__all__ = ["DEFAULT_MODEL_PATH", "ModelOutput", "Predictor", "PredictorBase", "load_predictor", "prepare_input"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).parent / "weights" / "pixgrade_mnv2.safetensors"


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
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 array of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    scale = max(scale, min_side / min(height, width))
    if scale == 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interpolation)


def prepare_input(rgb: np.ndarray, max_side: int, min_side: int = 64) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` → ImageNet-normalised float tensor ``(1, 3, H', W')`` per the input policy."""
    resized = resize_for_model(rgb, max_side, min_side)
    if not resized.flags.writeable:
        resized = resized.copy()
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class PredictorBase:
    """What every backend shares: ``predict`` and ``embed`` over a per-image ``_run`` that returns the raw
    ``score``, ``severities`` and ``embedding`` arrays of one image."""

    backend = "none"
    input_max_side: int
    min_side: int
    severity_names: tuple[str, ...]

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


class Predictor(PredictorBase):
    """Scores RGB images with a :class:`QualityNet` (PyTorch backend)."""

    backend = "torch"

    def __init__(self, model: QualityNet, metadata: dict | None = None) -> None:
        self.model = model.eval()
        self.metadata = metadata or {}
        self.input_max_side = model.config.max_side
        self.min_side = model.config.min_side
        self.severity_names = model.config.severity_names

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            out = self.model(prepare_input(rgb, self.input_max_side, self.min_side))
        return {k: v[0].numpy() for k, v in out.items()}


def load_predictor(
    model: str | Path = "default", backend: str = "auto", num_threads: int | None = None
) -> Predictor | OnnxPredictor:
    """Load a predictor: ``"default"`` is the model shipped inside the package, else a checkpoint path
    (safetensors) or an ONNX file written by ``pixgrade export``.

    ``backend``:

    - ``"torch"``: PyTorch (needs a safetensors checkpoint);
    - ``"onnx"``: ONNX Runtime; a checkpoint is exported to ONNX on first use and cached (next to the
      checkpoint when writable, else in ``~/.cache/pixgrade``; keyed by the checkpoint's SHA-256);
    - ``"auto"``: ONNX Runtime when ``onnx`` and ``onnxruntime`` are installed (about 3–4x faster on CPU, see
      docs/performance.md), falling back to torch with a warning if the export fails; torch otherwise.

    ``num_threads`` sets ONNX Runtime's intra-op threads (default: ``PIXGRADE_NUM_THREADS``, ``OMP_NUM_THREADS``
    or all CPUs of the process); the torch backend ignores it.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        ValueError: unknown backend, or an ONNX file with ``backend="torch"``.
        ImportError: ``backend="onnx"`` without onnxruntime installed.
    """
    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"unknown backend {backend!r}; choose torch, onnx or auto")
    path = DEFAULT_MODEL_PATH if str(model) == "default" else Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model checkpoint not found")
    if path.suffix.lower() == ".onnx":
        if backend == "torch":
            raise ValueError(f"{path}: an ONNX model needs backend 'onnx' or 'auto', not 'torch'")
        from pixgrade.model.onnx_predictor import OnnxPredictor

        return OnnxPredictor(path, num_threads=num_threads)
    if backend in ("auto", "onnx"):
        from pixgrade.model.onnx_predictor import load_onnx_predictor, onnx_available

        if backend == "onnx":
            if not onnx_available():
                raise ImportError("backend 'onnx' needs onnx and onnxruntime: pip install 'pixgrade[onnx]'")
            return load_onnx_predictor(path, num_threads=num_threads)
        if onnx_available():
            try:
                return load_onnx_predictor(path, num_threads=num_threads)
            except Exception as exc:  # any export/ORT failure: torch still works, so fall back loudly
                logger.warning("%s: ONNX Runtime backend unavailable (%s); using torch", path, exc)
    net, metadata = load_checkpoint(path)
    return Predictor(net, metadata)
