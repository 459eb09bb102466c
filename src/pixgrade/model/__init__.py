"""The deep model: backbones, :class:`QualityNet`, checkpoints and the predictor."""

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
