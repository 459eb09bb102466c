"""Fixtures for the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised model capped at 96 px, saved as a checkpoint (fast to run everywhere)."""
    import torch

    from pixgrade.model import create_model
    from pixgrade.model.checkpoint import save_checkpoint

    torch.manual_seed(1)
    net = create_model(pretrained_backbone=False, max_side=96, hidden=16)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors", net, {"note": "engine test"})
