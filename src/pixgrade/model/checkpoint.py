"""Safe checkpoints: weights in safetensors (no pickle), metadata as JSON in the file's header."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from pixgrade.errors import PixgradeError
from pixgrade.io.files import temp_file_beside
from pixgrade.model.net import ModelConfig, QualityNet

__all__ = ["CheckpointError", "load_checkpoint", "read_metadata", "save_checkpoint"]

_META_KEY = "pixgrade"


class CheckpointError(PixgradeError):
    """A checkpoint file is missing, unreadable or not a pixgrade checkpoint."""


def save_checkpoint(
    path: str | Path, model: QualityNet, metadata: dict[str, Any] | None = None, half: bool = False
) -> Path:
    """Write ``model`` and ``metadata`` atomically (temporary file then rename).

    The metadata always records the model config; pass training data, metrics, version, etc. in ``metadata``.
    ``half`` stores floating-point tensors as float16 (half the size; loaded back as float32).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    header = {"config": model.config.to_dict(), **(metadata or {})}
    fd, tmp = temp_file_beside(path)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={_META_KEY: json.dumps(header, default=str)})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata stored in a checkpoint, without loading its weights."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(_META_KEY)
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({exc})") from exc
    if raw is None:
        raise CheckpointError(f"{path}: safetensors file has no pixgrade metadata")
    result: dict[str, Any] = json.loads(raw)
    return result


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[QualityNet, dict[str, Any]]:
    """Rebuild the :class:`QualityNet` stored at ``path``; returns ``(model, metadata)`` (model in eval mode)."""
    metadata = read_metadata(path)
    model = QualityNet(ModelConfig.from_dict(metadata["config"]), pretrained_backbone=False)
    state = load_file(str(path), device=map_location)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the stored config ({exc})") from exc
    model.eval()
    return model, metadata
