"""Heatmaps: size and range with the real architecture (random weights), sign and orientation with a toy model whose
answer is known, the overlay and PNG writing, and localisation with the shipped model when it exists."""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixgrade.explain import EXPLAIN_METHODS, encode_png, explain_image, overlay_heatmap, write_png
from pixgrade.model import create_model
from pixgrade.model.predictor import DEFAULT_MODEL_PATH, TorchPredictor


@pytest.fixture(scope="module")
def predictor() -> TorchPredictor:
    torch.manual_seed(0)
    return TorchPredictor(create_model(pretrained_backbone=False))


def _textured(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, size=(max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


class ToyNet(nn.Module):
    """Score = 5 - 10 x mean local high-frequency energy: noisy regions lower it (a known answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(max_side=256, min_side=32, severity_names=("noise",))

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        detail = x - F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return [F.avg_pool2d(detail.abs().mean(1, keepdim=True), 8)]

    def pool(self, stages: list[torch.Tensor]) -> torch.Tensor:
        return stages[-1].mean(dim=(2, 3))

    def heads(self, pooled: torch.Tensor, last_stage: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"score": 5.0 - 10.0 * pooled[:, 0], "severities": torch.sigmoid(pooled)}


def _noisy_region(rgb: np.ndarray, region: tuple[slice, slice], sigma: float = 40.0, seed: int = 1) -> np.ndarray:
    out = rgb.astype(np.float32)
    noise = np.random.default_rng(seed).normal(0, sigma, size=out[region].shape)
    out[region] += noise
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("height", "width"), [(96, 128), (70, 150), (40, 33)])
def test_heatmap_has_the_image_size_and_range(predictor: TorchPredictor, height: int, width: int) -> None:
    rgb = _textured(height, width)
    explanation = explain_image(predictor, rgb)
    heat = explanation.heat
    assert heat.shape == (height, width)
    assert heat.dtype == np.float32
    assert np.isfinite(heat).all()
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert heat.max() == pytest.approx(1.0) or heat.max() == 0.0
    assert 0.0 <= explanation.score <= 5.0
    assert set(explanation.severities) == set(predictor.severity_names)
    assert explanation.grid[0] >= 1 and explanation.grid[1] >= 1


def test_explained_score_is_the_predictors_score(predictor: TorchPredictor) -> None:
    rgb = _textured(96, 128, seed=3)
    explanation = explain_image(predictor, rgb)
    (output,) = predictor.predict([rgb])
    assert explanation.score == pytest.approx(output.score, abs=1e-4)
    for name, value in output.severities.items():
        assert explanation.severities[name] == pytest.approx(value, abs=1e-4)


def test_every_method_and_an_earlier_stage_work(predictor: TorchPredictor) -> None:
    rgb = _textured(64, 64, seed=5)
    for method in EXPLAIN_METHODS:
        for stage in (-1, 2):
            heat = explain_image(predictor, rgb, method=method, stage=stage).heat
            assert heat.shape == (64, 64) and 0.0 <= heat.min() <= heat.max() <= 1.0


@pytest.mark.parametrize(
    ("region", "hot_half"),
    [
        ((slice(None), slice(0, 80)), "left"),
        ((slice(None), slice(80, 160)), "right"),
        ((slice(0, 60), slice(None)), "top"),
        ((slice(60, 120), slice(None)), "bottom"),
    ],
)
def test_heat_lands_where_the_score_was_lowered(region: tuple[slice, slice], hot_half: str) -> None:
    """With a model whose score drops with local noise, the noisy half must get most of the heat (this also
    catches flipped signs, mirrored axes and transposed maps)."""
    rgb = _noisy_region(np.full((120, 160, 3), 128, np.uint8), region)
    heat = explain_image(ToyNet(), rgb).heat
    halves = {
        "left": heat[:, :80].sum(),
        "right": heat[:, 80:].sum(),
        "top": heat[:60].sum(),
        "bottom": heat[60:].sum(),
    }
    opposite = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}[hot_half]
    assert halves[hot_half] > 3 * halves[opposite]


def test_no_heat_when_nothing_lowers_the_score() -> None:
    heat = explain_image(ToyNet(), np.full((64, 64, 3), 200, np.uint8)).heat
    assert heat.shape == (64, 64) and not heat.any()


def test_bad_inputs_are_refused_with_clear_messages(predictor: TorchPredictor) -> None:
    with pytest.raises(ValueError, match=r"RGB uint8 array of shape \(H, W, 3\)"):
        explain_image(predictor, np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        explain_image(predictor, np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="unknown explanation method"):
        explain_image(predictor, np.zeros((32, 32, 3), np.uint8), method="magic")
    with pytest.raises(TypeError, match="PyTorch model"):
        explain_image(object(), np.zeros((32, 32, 3), np.uint8))


def test_overlay_keeps_cold_regions_and_colours_hot_ones() -> None:
    rgb = np.full((20, 30, 3), 200, np.uint8)
    heat = np.zeros((20, 30), np.float32)
    heat[:, 15:] = 1.0
    out = overlay_heatmap(rgb, heat)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.all(out[:, :15] == 170)  # cold: the image, slightly dimmed
    assert np.abs(out[:, 20:].astype(int) - 170).max() > 40  # hot: visibly coloured
    resized = overlay_heatmap(rgb, np.ones((5, 5), np.float32))  # heat of another size is resized
    assert resized.shape == rgb.shape


def test_png_encoding_and_safe_writing(tmp_path: Path) -> None:
    rgb = _textured(50, 80)
    small = Image.open(io.BytesIO(encode_png(rgb, max_side=40)))
    assert small.size == (40, 25)
    target = tmp_path / "heat.png"
    write_png(target, rgb)
    first = target.read_bytes()
    with pytest.raises(FileExistsError, match="already exists"):
        write_png(target, np.zeros((10, 10, 3), np.uint8))
    assert target.read_bytes() == first  # untouched
    write_png(target, np.zeros((10, 10, 3), np.uint8), overwrite=True)
    assert Image.open(target).size == (10, 10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heat.png"]  # no temporary files left


def _data_dir() -> Path:
    return Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


@pytest.mark.data
@pytest.mark.slow
def test_shipped_model_heat_concentrates_on_the_degraded_half() -> None:
    """With the trained default model: blur or noise the left half of product photos; the heat mass should fall
    mostly on the left more often than not."""
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"default model weights are not installed ({DEFAULT_MODEL_PATH})")
    folder = _data_dir() / "products-fashion" / "images"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    from pixgrade.model.predictor import load_predictor

    predictor = load_predictor("default", backend="torch")
    files = sorted(folder.iterdir())[:12]
    hits = 0
    trials = 0
    for i, path in enumerate(files):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        half = rgb.shape[1] // 2
        blurred = rgb.copy()
        blurred[:, :half] = cv2.GaussianBlur(rgb, (0, 0), 3.0)[:, :half]
        noisy = _noisy_region(rgb, (slice(None), slice(0, half)), sigma=25.0, seed=i)
        for degraded in (blurred, noisy):
            left, right = explain_image(predictor, degraded).left_right_mass()
            hits += left > right
            trials += 1
    assert hits / trials > 0.5, f"heat on the degraded half in only {hits}/{trials} images"
