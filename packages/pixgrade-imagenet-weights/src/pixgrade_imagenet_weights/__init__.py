"""torchvision's ImageNet weights of MobileNetV2 (BSD-3-Clause), the initial weights of ``pixgrade train``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SHA256", "weights_path"]

__version__ = "1.0.0"

_FILES = {"mobilenet_v2": "mobilenet_v2-b0353104.pth"}

SHA256 = {"mobilenet_v2": "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"}
"""SHA-256 of each shipped file (torchvision's own file, unchanged)."""


def weights_path(name: str = "mobilenet_v2") -> Path:
    """Path of the shipped weights of backbone ``name`` (a torch ``state_dict`` saved by torchvision)."""
    try:
        return Path(__file__).resolve().parent / _FILES[name]
    except KeyError:
        raise KeyError(f"no ImageNet weights for {name!r} here; available: {', '.join(_FILES)}") from None
