"""Heatmaps of the regions that lowered an image's quality score (gradient-weighted class activation maps).

The score of :class:`~pixgrade.model.QualityNet` is computed from spatial *statistics* (mean and standard deviation)
of the backbone's stage feature maps, so a region matters when its features deviate from the image's own average in a
direction the score head penalises. Two gradient methods are offered, both on one backbone stage (the last by
default, stride 32):

``"gradcam"`` (default) — element-wise Grad-CAM, as LayerCAM (Jiang et al., IEEE TIP 2021) does it:
    ``heat[i, j] = ReLU(-sum_c dS/dA[c, i, j] * (A[c, i, j] - mean_ij A[c]))``.
    Each location's features are weighted by *their own* gradient of the score ``S``, not the channel average of
    classic Grad-CAM: with statistics pooling the channel-averaged gradient ignores the standard-deviation pathway
    entirely, while the element-wise product is the first-order change of ``S`` if that location looked like the
    image's average. The sign is flipped so that the map shows where the score was *lowered*.

``"gradcam_classic"`` — Selvaraju et al. (ICCV 2017) with the sign flipped:
    ``heat = ReLU(-sum_c alpha_c * A[c])``, ``alpha_c = mean_ij dS/dA[c, i, j]``.

The map (one value per feature-map cell) is upsampled bilinearly to the image's size and divided by its maximum, so
values lie in [0, 1]; 1 marks the region that lowered the score most, an all-zero map means no region pulled the
score down. The heatmap explains the *model's* score; the factor measures and reasons are computed separately.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from PIL import Image

from pixgrade.io.files import temp_file_beside
from pixgrade.model.torch_backend import prepare_input

__all__ = [
    "EXPLAIN_METHODS",
    "Explanation",
    "encode_png",
    "explain_image",
    "heat_to_rgba",
    "overlay_heatmap",
    "write_png",
]


class _ExplainableModel(Protocol):
    """What the explainer needs from a model (a :class:`~pixgrade.model.QualityNet` or a look-alike)."""

    config: object

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]: ...

    def pool(self, stages: list[torch.Tensor]) -> torch.Tensor: ...

    def heads(self, pooled: torch.Tensor, last_stage: torch.Tensor) -> dict[str, torch.Tensor]: ...


@dataclass(frozen=True)
class Explanation:
    """A heatmap of one image together with the model output it explains.

    Attributes:
        heat: ``(H, W)`` float32 in [0, 1], the size of the explained image; 1 = the region that lowered the score
            most, 0 = no contribution to a lower score.
        score: the model's score on 0–5 (from the same forward pass).
        severities: per-factor severity in [0, 1] (1 = severe), from the same forward pass.
        method: name of the method in :data:`EXPLAIN_METHODS`.
        stage: index of the backbone stage the map was computed on.
        grid: ``(rows, cols)`` of the feature map, i.e. the map's native resolution before upsampling.
    """

    heat: np.ndarray
    score: float
    severities: dict[str, float] = field(default_factory=dict)
    method: str = "gradcam"
    stage: int = -1
    grid: tuple[int, int] = (0, 0)

    def left_right_mass(self) -> tuple[float, float]:
        """Share of the heat mass in the left and right halves of the image (sums to 1; (0.5, 0.5) if empty)."""
        width = self.heat.shape[1]
        left = float(self.heat[:, : width // 2].sum())
        right = float(self.heat[:, width - width // 2 :].sum())
        total = left + right
        return (0.5, 0.5) if total <= 0 else (left / total, right / total)


def _elementwise(grad: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    centred = act - act.mean(dim=(2, 3), keepdim=True)
    return torch.relu(-(grad * centred).sum(dim=1))


def _classic(grad: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    alpha = grad.mean(dim=(2, 3), keepdim=True)
    return torch.relu(-(alpha * act).sum(dim=1))


#: Registered methods: ``name -> fn(gradient, activation) -> (B, h, w) non-negative map``.
EXPLAIN_METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "gradcam": _elementwise,
    "gradcam_classic": _classic,
}


def _resolve_model(model: object) -> tuple[_ExplainableModel, int, int]:
    """Accept a QualityNet or a TorchPredictor wrapping one; return it with its input policy (max_side, min_side)."""
    net = getattr(model, "model", model)
    if not all(hasattr(net, name) for name in ("forward_features", "pool", "heads")):
        raise TypeError(
            f"heatmaps need the PyTorch model (a QualityNet or a TorchPredictor), got {type(model).__name__}"
        )
    config = getattr(net, "config", None)
    max_side = int(getattr(model, "input_max_side", getattr(config, "max_side", 512)))
    min_side = int(getattr(model, "min_side", getattr(config, "min_side", 64)))
    return net, max_side, min_side  # type: ignore[return-value]


def explain_image(model: object, rgb: np.ndarray, *, method: str = "gradcam", stage: int = -1) -> Explanation:
    """Heatmap of the regions of ``rgb`` that lowered the model's score.

    Args:
        model: a :class:`~pixgrade.model.QualityNet` or a :class:`~pixgrade.model.predictor.TorchPredictor` (torch
            backend) wrapping one; the image is resized by the model's input policy exactly as for scoring.
        rgb: the image.
        method: a name in :data:`EXPLAIN_METHODS`.
        stage: the backbone stage to explain (default: the last one).

    Returns:
        An :class:`Explanation` whose ``heat`` has the size of ``rgb``.

    Shape:
        - rgb: ``(H, W, 3)`` uint8 RGB, ``H, W >= 1``.
        - heat: ``(H, W)`` float32 in [0, 1].

    Raises:
        ValueError: ``rgb`` is not an RGB uint8 image, or ``method`` is unknown.
        TypeError: ``model`` is not a PyTorch model (an ONNX predictor cannot give gradients).
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        shape = getattr(rgb, "shape", None)
        raise ValueError(f"explain_image expects an RGB uint8 array of shape (H, W, 3), got {shape}")
    if rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise ValueError(f"explain_image got an empty image of shape {rgb.shape}")
    if method not in EXPLAIN_METHODS:
        raise ValueError(f"unknown explanation method {method!r}; choose one of {', '.join(EXPLAIN_METHODS)}")
    net, max_side, min_side = _resolve_model(model)
    # The input requires a gradient so the graph exists even for frozen or parameter-free models.
    x = prepare_input(rgb, max_side, min_side).requires_grad_(True)
    was_training = bool(getattr(net, "training", False))
    if hasattr(net, "eval"):
        net.eval()  # type: ignore[attr-defined]
    try:
        with torch.enable_grad(), torch.inference_mode(False):
            stages = net.forward_features(x)
            target = stages[stage]
            out = net.heads(net.pool(stages), stages[-1])
            (grad,) = torch.autograd.grad(out["score"].sum(), target)
        cam = EXPLAIN_METHODS[method](grad.detach(), target.detach())[0]
    finally:
        if was_training and hasattr(net, "train"):
            net.train()  # type: ignore[attr-defined]
    grid = (int(cam.shape[0]), int(cam.shape[1]))
    cam_np = cam.numpy().astype(np.float32)
    resized = cv2.resize(cam_np, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat: np.ndarray = np.clip(np.asarray(resized, dtype=np.float32), 0.0, None)
    top = float(heat.max())
    heat = heat / top if top > 0 and np.isfinite(top) else np.zeros_like(heat)
    names = tuple(getattr(getattr(net, "config", None), "severity_names", ()))
    sev = out["severities"].detach()[0].numpy() if "severities" in out else np.zeros(0)
    severities = {str(n): float(v) for n, v in zip(names, sev, strict=False)}
    score = float(np.clip(out["score"].detach()[0].item(), 0.0, 5.0))
    return Explanation(
        heat=heat.astype(np.float32),
        score=score,
        severities=severities,
        method=method,
        stage=stage,
        grid=grid,
    )


def heat_to_rgba(heat: np.ndarray, *, colormap: int = cv2.COLORMAP_INFERNO, max_alpha: float = 0.75) -> np.ndarray:
    """Colour a heatmap; alpha grows with the heat so cold regions stay transparent.

    Shape:
        - heat: ``(H, W)`` float in [0, 1].
        - output: ``(H, W, 4)`` uint8 RGBA.
    """
    if heat.ndim != 2:
        raise ValueError(f"heat must be (H, W), got shape {heat.shape}")
    if not 0.0 <= max_alpha <= 1.0:
        raise ValueError(f"max_alpha must be in [0, 1], got {max_alpha}")
    h = np.clip(np.nan_to_num(heat.astype(np.float32)), 0.0, 1.0)
    bgr = cv2.applyColorMap((h * 255).round().astype(np.uint8), colormap)
    alpha = (np.sqrt(h) * max_alpha * 255).round().astype(np.uint8)
    return np.dstack([bgr[:, :, ::-1], alpha])


def overlay_heatmap(
    rgb: np.ndarray, heat: np.ndarray, *, max_alpha: float = 0.6, colormap: int = cv2.COLORMAP_INFERNO
) -> np.ndarray:
    """Blend a coloured heatmap onto the image: hot (yellow/red) regions lowered the score, cold ones stay as is.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - heat: ``(H, W)`` float in [0, 1] (resized to the image if its size differs).
        - output: ``(H, W, 3)`` uint8 RGB.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 array, got {rgb.dtype} {rgb.shape}")
    if heat.shape != rgb.shape[:2]:
        heat = cv2.resize(heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    rgba = heat_to_rgba(heat, colormap=colormap, max_alpha=max_alpha)
    a = rgba[:, :, 3:4].astype(np.float32) / 255.0
    # Dim the image slightly so the colours read well on white product backgrounds.
    base = rgb.astype(np.float32) * 0.85
    out = base * (1.0 - a) + rgba[:, :, :3].astype(np.float32) * a
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def encode_png(rgb: np.ndarray, *, max_side: int | None = None) -> bytes:
    """PNG bytes of an RGB or RGBA uint8 image, optionally downscaled so its longest side is ``max_side``."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3|4) uint8 array, got {rgb.dtype} {rgb.shape}")
    img = Image.fromarray(rgb, "RGB" if rgb.shape[2] == 3 else "RGBA")
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def write_png(path: str | Path, rgb: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write a PNG without ever clobbering an existing file unless ``overwrite`` (then atomically replaced).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise FileExistsError(f"{path}: already exists (pass overwrite to replace it)")
    data = encode_png(rgb)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic and never clobbers: fails if the file appeared meanwhile
            except FileExistsError:
                raise FileExistsError(f"{path}: already exists (pass overwrite to replace it)") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
