"""Fixtures for the ONNX export tests: a small random model, its checkpoint and export, generated pictures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from pixgrade.model import QualityNet, create_model
from pixgrade.model.checkpoint import save_checkpoint
from pixgrade.model.onnx_predictor import export_onnx


def product_photo(height: int, width: int, seed: int) -> np.ndarray:
    """A product-like picture: light background, a textured coloured object, a little noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.full((height, width, 3), 235, np.float32) + 10 * (yy / height)[..., None]
    cy, cx = height * rng.uniform(0.35, 0.65), width * rng.uniform(0.35, 0.65)
    ry, rx = height * rng.uniform(0.15, 0.35), width * rng.uniform(0.15, 0.35)
    inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    colour = rng.uniform(20, 200, 3)
    stripes = 30 * np.sin(xx / rng.uniform(2, 8))[..., None]
    image[inside] = (colour + stripes)[inside]
    image += rng.normal(0, rng.uniform(1, 12), image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def make_photo() -> Callable[[int, int, int], np.ndarray]:
    """:func:`product_photo` as a fixture (test modules cannot import conftest reliably)."""
    return product_photo


@pytest.fixture(scope="session")
def sample_images() -> list[np.ndarray]:
    """Pictures of several sizes: within the model's max side, above it (downscaled), and thin (upscaled)."""
    sizes = [(96, 128), (200, 150), (40, 300), (128, 128), (300, 220), (75, 90)]
    return [product_photo(h, w, seed) for seed, (h, w) in enumerate(sizes)]


@pytest.fixture(scope="session")
def small_net(sample_images: list[np.ndarray]) -> QualityNet:
    """A randomly initialised model capped at 128 px (fast); its pooled-feature standardisation is fitted to the
    sample images so the random heads see unit-scale inputs and their outputs differ between images."""
    torch.manual_seed(0)
    net = create_model(pretrained_backbone=False, max_side=128, hidden=32).eval()
    from pixgrade.model.predictor import prepare_input

    with torch.no_grad():
        pooled = torch.cat([net.pool(net.forward_features(prepare_input(im, 128))) for im in sample_images])
        net.set_feature_normalisation(pooled.mean(0), pooled.std(0))
    return net


@pytest.fixture(scope="session")
def checkpoint(small_net: QualityNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    return save_checkpoint(path, small_net, {"note": "test model"})


@pytest.fixture(scope="session")
def fp32_onnx(small_net: QualityNet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(small_net, tmp_path_factory.mktemp("onnx") / "small.onnx", {"note": "test model"})
