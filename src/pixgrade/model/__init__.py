"""The deep model: backbones, :class:`QualityNet`, checkpoints and the predictor.

The names below are imported on first access, so that ``pixgrade.model.predictor`` and
``pixgrade.model.onnx_predictor`` (ONNX Runtime inference) can be used without importing PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixgrade.model.backbones import create_backbone, list_backbones
    from pixgrade.model.net import SEVERITY_NAMES, ModelConfig, QualityNet, create_model, list_models

__all__ = [
    "SEVERITY_NAMES",
    "ModelConfig",
    "QualityNet",
    "create_backbone",
    "create_model",
    "list_backbones",
    "list_models",
]

_HOMES = {
    "create_backbone": "pixgrade.model.backbones",
    "list_backbones": "pixgrade.model.backbones",
    "SEVERITY_NAMES": "pixgrade.model.net",
    "ModelConfig": "pixgrade.model.net",
    "QualityNet": "pixgrade.model.net",
    "create_model": "pixgrade.model.net",
    "list_models": "pixgrade.model.net",
}


def __getattr__(name: str) -> Any:
    """Import the PyTorch parts of the model package on first use (PEP 562)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
