"""Fixtures of the labelling tests: generated photos and a tiny base checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def make_photos(folder: Path, n: int, seed: int = 0, side: int = 64) -> list[tuple[Path, float]]:
    """Textured squares tinted from grey to red; returns (path, redness 0-5)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        redness = float(rng.uniform(0, 5))
        base = rng.integers(60, 200, size=(side, side, 1)).astype(np.float32).repeat(3, axis=2)
        base[..., 0] += redness * 10
        base[..., 1:] -= redness * 10
        path = folder / f"photo{i:02d}.png"
        Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).save(path)
        out.append((path, redness))
    return out


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weights QualityNet whose feature standardisation is set on generated photos (a usable base)."""
    from pixgrade.label.features import features_of_rgb
    from pixgrade.model.checkpoint import save_checkpoint
    from pixgrade.model.net import create_model

    torch.manual_seed(0)
    net = create_model("pixgrade_mnv2", hidden=32).eval()
    folder = tmp_path_factory.mktemp("norm")
    pooled = []
    for path, _ in make_photos(folder, 12, seed=99):
        pooled.append(features_of_rgb(net, np.asarray(Image.open(path).convert("RGB")))[0])
    stack = torch.as_tensor(np.stack(pooled))
    net.set_feature_normalisation(stack.mean(0), stack.std(0))
    return save_checkpoint(folder / "base.safetensors", net)
