"""The PyTorch backend: :class:`TorchPredictor` runs a :class:`QualityNet` (imports PyTorch when used)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from pixgrade.model.interface import PredictorBase, resize_for_model

if TYPE_CHECKING:
    import torch

    from pixgrade.model.net import QualityNet

__all__ = ["TorchPredictor", "prepare_input", "set_torch_threads"]


def prepare_input(rgb: np.ndarray, max_side: int, min_side: int = 64) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` → ImageNet-normalised float tensor ``(1, 3, H', W')`` per the input policy
    (the torch backend's input; imports torch)."""
    import torch

    from pixgrade.model.net import IMAGENET_MEAN, IMAGENET_STD

    resized = resize_for_model(rgb, max_side, min_side)
    if not resized.flags.writeable:
        resized = resized.copy()
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


_TORCH_THREADS: int | None = None


def set_torch_threads(num_threads: int) -> None:
    """PyTorch's intra-op threads for the torch backend (and Grad-CAM): applied at once when PyTorch is already
    imported, else when a :class:`TorchPredictor` is first created — so setting it never imports PyTorch itself."""
    global _TORCH_THREADS
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    _TORCH_THREADS = num_threads
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(num_threads)


class TorchPredictor(PredictorBase):
    """Scores RGB images with a :class:`QualityNet` (PyTorch backend)."""

    backend = "torch"

    @property
    def description(self) -> str:
        return "torch (PyTorch, fp32)"

    def __init__(self, model: QualityNet, metadata: dict | None = None) -> None:
        if _TORCH_THREADS is not None:
            import torch

            torch.set_num_threads(_TORCH_THREADS)
        self.model = model.eval()
        self.metadata = metadata or {}
        self.input_max_side = model.config.max_side
        self.min_side = model.config.min_side
        self.severity_names = model.config.severity_names

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.model(prepare_input(rgb, self.input_max_side, self.min_side))
        return {k: v[0].numpy() for k, v in out.items()}
