"""``QualityNet``: an ImageNet-initialised CNN that predicts overall quality (0–5) and per-factor severities.

The backbone's stage feature maps are summarised by their spatial mean and standard deviation (quality cues
such as blur, noise and exposure show in feature *statistics* at several scales), standardised, and fed to two
heads: one regresses the overall score, one predicts a severity in [0, 1] for each factor in
:data:`SEVERITY_NAMES`. Images are processed at native resolution up to ``ModelConfig.max_side`` — never
shrunk to 224 px — since quality cues live in fine detail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from pixgrade.degrade.registry import SEVERITY_CHANNELS
from pixgrade.model.backbones import IMAGENET_MEAN, IMAGENET_STD, create_backbone

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SEVERITY_NAMES",
    "ModelConfig",
    "QualityNet",
    "create_model",
    "list_models",
    "register_model",
]

SEVERITY_NAMES: tuple[str, ...] = SEVERITY_CHANNELS
"""The severity head's outputs, in order: the channels the synthetic degradations label."""


@dataclass
class ModelConfig:
    """Architecture and input policy of a :class:`QualityNet`.

    Attributes:
        name: registry name of this configuration.
        backbone: registered backbone (:func:`pixgrade.model.backbones.list_backbones`).
        pooled_stages: indices of the backbone stages whose mean/std statistics feed the heads.
        hidden: width of the heads' hidden layer.
        dropout: dropout before each head layer (training only).
        max_side: input policy — images are resized so the longest side is at most this (never upscaled).
        min_side: images smaller than this on their shortest side are upscaled to it (the network needs a few
            pixels per stride-32 cell).
        severity_names: the factors whose severity the second head predicts.
    """

    name: str = "pixgrade_mnv2"
    backbone: str = "mobilenet_v2"
    pooled_stages: tuple[int, ...] = (0, 1, 2, 3, 4)
    hidden: int = 256
    dropout: float = 0.25
    max_side: int = 512
    min_side: int = 64
    severity_names: tuple[str, ...] = field(default=SEVERITY_NAMES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        values = dict(values)
        for key in ("pooled_stages", "severity_names"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def _mean_std_pool(feature_map: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, 2C)``: spatial mean and standard deviation of each channel."""
    flat = feature_map.flatten(2)
    mean = flat.mean(dim=2)
    std = (flat - mean.unsqueeze(2)).pow(2).mean(dim=2).clamp_min(1e-8).sqrt()
    return torch.cat([mean, std], dim=1)


class QualityNet(nn.Module):
    """Backbone + statistics pooling + score and severity heads.

    Shape:
        - input: ``(B, 3, H, W)`` float, RGB scaled to [0, 1] then ImageNet-normalised; ``H, W >= 32``.
        - output: dict with ``score`` ``(B,)`` on the 0–5 scale (higher is better), ``severities`` ``(B, K)``
          in [0, 1] (1 = severe), ``embedding`` ``(B, E)`` L2-normalised (for near-duplicate search).
    """

    feature_mean: torch.Tensor
    feature_std: torch.Tensor

    def __init__(self, config: ModelConfig | None = None, pretrained_backbone: bool = False) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.backbone = create_backbone(self.config.backbone, pretrained=pretrained_backbone)
        channels = self.backbone.stage_channels
        dim = 2 * sum(channels[i] for i in self.config.pooled_stages)
        self.feature_dim = dim
        # Standardisation of the pooled statistics, set from training data (see set_feature_normalisation).
        self.register_buffer("feature_mean", torch.zeros(dim))
        self.register_buffer("feature_std", torch.ones(dim))
        hidden, drop = self.config.hidden, self.config.dropout
        self.score_head = nn.Sequential(
            nn.Dropout(drop), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(drop), nn.Linear(hidden, 1)
        )
        self.severity_head = nn.Sequential(
            nn.Dropout(drop), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, len(self.config.severity_names))
        )
        last = self.score_head[-1]
        assert isinstance(last, nn.Linear)
        with torch.no_grad():
            last.bias.fill_(2.5)  # the middle of the 0-5 scale

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Stage feature maps of the backbone; the last is the coarsest (used by Grad-CAM)."""
        return self.backbone(x)

    def pool(self, stages: list[torch.Tensor]) -> torch.Tensor:
        """Standardised mean/std statistics of the pooled stages, ``(B, feature_dim)``."""
        pooled = torch.cat([_mean_std_pool(stages[i]) for i in self.config.pooled_stages], dim=1)
        return (pooled - self.feature_mean) / self.feature_std

    def normalise(self, raw: torch.Tensor) -> torch.Tensor:
        """Standardise raw pooled statistics ``(B, feature_dim)`` with the training images' mean and std."""
        return (raw - self.feature_mean) / self.feature_std

    def heads_from_pooled(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        """Score and severities from standardised pooled statistics (training of the heads alone)."""
        return {
            "score": self.score_head(pooled).squeeze(1),
            "severities": torch.sigmoid(self.severity_head(pooled)),
        }

    def heads(
        self, pooled: torch.Tensor, last_stage: torch.Tensor, detach_severity: bool = False
    ) -> dict[str, torch.Tensor]:
        """Apply both heads to pooled statistics; ``last_stage`` gives the embedding. ``detach_severity`` stops
        the severity loss from changing the shared features (training)."""
        embedding = nn.functional.normalize(last_stage.mean(dim=(2, 3)), dim=1)
        severities = torch.sigmoid(self.severity_head(pooled.detach() if detach_severity else pooled))
        return {"score": self.score_head(pooled).squeeze(1), "severities": severities, "embedding": embedding}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"QualityNet expects (B, 3, H, W) input, got shape {tuple(x.shape)}")
        stages = self.forward_features(x)
        return self.heads(self.pool(stages), stages[-1])

    def forward_stem(self, x: torch.Tensor, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Run backbone layers ``[0, stop)``; returns their output and the raw (unstandardised) statistics of the
        pooled stages that end inside them. With :meth:`forward_from_stem` this equals :meth:`forward`; training
        caches the stem of frozen layers once per image."""
        hidden, stages = self.backbone.forward_range(x, 0, stop)
        stats = [_mean_std_pool(stages[i]) for i in self.config.pooled_stages if i in stages]
        empty = x.new_zeros((x.shape[0], 0))
        return hidden, torch.cat(stats, dim=1) if stats else empty

    def forward_from_stem(
        self,
        hidden: torch.Tensor,
        start: int,
        stem_stats: torch.Tensor,
        detach_severity: bool = False,
        detach_features: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Finish the forward pass from layer ``start`` given :meth:`forward_stem`'s outputs.

        ``detach_features`` runs the backbone without gradients: a loss on the outputs then trains the heads only."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not detach_features):
            _, stages = self.backbone.forward_range(hidden, start)
            stats = [stem_stats] + [_mean_std_pool(stages[i]) for i in self.config.pooled_stages if i in stages]
            pooled = (torch.cat(stats, dim=1) - self.feature_mean) / self.feature_std
        return self.heads(pooled, stages[max(stages)], detach_severity)

    @torch.no_grad()
    def set_feature_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Set the standardisation of pooled statistics (computed on training images)."""
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(std.clamp_min(1e-6))


_MODEL_REGISTRY: dict[str, Callable[[], ModelConfig]] = {}


def register_model(name: str) -> Callable[[Callable[[], ModelConfig]], Callable[[], ModelConfig]]:
    """Decorator registering a function that returns a :class:`ModelConfig` under ``name``."""

    def wrap(fn: Callable[[], ModelConfig]) -> Callable[[], ModelConfig]:
        _MODEL_REGISTRY[name] = fn
        return fn

    return wrap


@register_model("pixgrade_mnv2")
def _pixgrade_mnv2() -> ModelConfig:
    """MobileNetV2, statistics of all five stages, native resolution up to 512 px."""
    return ModelConfig(name="pixgrade_mnv2")


@register_model("pixgrade_mnv2_small")
def _pixgrade_mnv2_small() -> ModelConfig:
    """MobileNetV2 capped at 384 px: faster, for real-time checks on slow CPUs."""
    return ModelConfig(name="pixgrade_mnv2_small", max_side=384)


@register_model("pixgrade_effl0")
def _pixgrade_effl0() -> ModelConfig:
    """EfficientNet-Lite0, statistics of all five stages, native resolution up to 512 px."""
    return ModelConfig(name="pixgrade_effl0", backbone="efficientnet_lite0")


def list_models() -> list[str]:
    """Names of all registered model configurations."""
    return sorted(_MODEL_REGISTRY)


def create_model(name: str = "pixgrade_mnv2", pretrained_backbone: bool = False, **overrides: Any) -> QualityNet:
    """Build a registered :class:`QualityNet` (ImageNet backbone weights when ``pretrained_backbone``).

    Raises:
        KeyError: unknown name (the message lists the registered ones).
    """
    if name not in _MODEL_REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    config = _MODEL_REGISTRY[name]()
    if overrides:
        config = ModelConfig.from_dict({**config.to_dict(), **overrides})
    return QualityNet(config, pretrained_backbone=pretrained_backbone)
