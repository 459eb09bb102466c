"""A tiny training run on generated images: the loss goes down, checkpoints round-trip, resume works."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pixgrade.model.predictor import load_predictor
from pixgrade.train.config import TrainConfig
from pixgrade.train.trainer import train


def _make_dataset(folder: Path, n: int = 24) -> Path:
    """Random textures blurred by a known amount; the score falls with the blur."""
    rng = np.random.default_rng(0)
    rows = ["image,score"]
    for i in range(n):
        blur = i % 6
        image = rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8)
        image = cv2.resize(image, (96, 96), interpolation=cv2.INTER_NEAREST)
        if blur:
            image = cv2.GaussianBlur(image, (0, 0), blur)
        cv2.imwrite(str(folder / f"img{i}.png"), image)
        rows.append(f"img{i}.png,{5 - blur * 0.8:.2f}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def _tiny_config(folder: Path, manifest: Path, **overrides: object) -> TrainConfig:
    """A few epochs of the upper layers on the generated images, written to ``folder/run``."""
    values: dict[str, object] = {
        "manifests": [str(manifest)],
        "synthetic_dir": "",
        "trainable_from": 14,
        "lr_head": 3e-3,
        "val_fraction": 0.25,
        "out_dir": str(folder / "run"),
        "progress": False,
    }
    return TrainConfig.from_dict({**values, **overrides})


@pytest.mark.slow
def test_tiny_training_lowers_the_loss_and_saves_a_loadable_checkpoint(tmp_path: Path) -> None:
    manifest = _make_dataset(tmp_path)
    config = _tiny_config(tmp_path, manifest, epochs=6, batch_size=8, patience=10)
    result = train(config)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 6
    assert history[-1]["train_human"] < history[0]["train_human"]
    predictor = load_predictor(result.best_path)
    assert predictor.metadata["training"]["epochs"] == 6
    assert (tmp_path / "run" / "tensorboard").is_dir()

    # resume: a finished run continues from its last state and trains the extra epochs only
    more = TrainConfig(**{**config.to_dict(), "epochs": 7, "resume": True})
    train(more)
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 7


@pytest.mark.slow
def test_ema_run_saves_the_averaged_weights_not_the_raw_ones(tmp_path: Path) -> None:
    import torch

    from pixgrade.model.checkpoint import load_checkpoint

    manifest = _make_dataset(tmp_path, n=16)
    config = _tiny_config(tmp_path, manifest, epochs=1, batch_size=4, ema_decay=0.5)
    result = train(config)
    state = torch.load(tmp_path / "run" / "last_state.pt", weights_only=True)
    saved, _ = load_checkpoint(result.best_path)  # the only epoch is the best one
    key = "score_head.4.weight"
    assert torch.allclose(saved.state_dict()[key], state["ema"][f"module.{key}"], atol=1e-6)
    assert not torch.allclose(saved.state_dict()[key], state["model"][key], atol=1e-6)


@pytest.mark.slow
def test_tiny_run_with_absolute_synthetic_targets(tmp_path: Path) -> None:
    from PIL import Image

    manifest = _make_dataset(tmp_path, n=16)
    photos = tmp_path / "products"
    (photos / "images").mkdir(parents=True)
    rows = ["image,product_id"]
    rng = np.random.default_rng(1)
    for pid in range(1, 9):
        rgb = np.full((64, 64, 3), 240, np.uint8)
        rgb[16:48, 16:48] = rng.integers(0, 256, 3)
        Image.fromarray(rgb).save(photos / "images" / f"{pid}.png")
        rows.append(f"images/{pid}.png,{pid}")
    (photos / "products.csv").write_text("\n".join(rows) + "\n")
    config = _tiny_config(
        tmp_path,
        manifest,
        synthetic_dir=str(photos),
        synthetic_sources=8,
        synthetic_holdout_mod=100,
        synthetic_target_weight=1.0,
        synthetic_batch_size=6,
        clean_severity_min_score=4.0,
        epochs=2,
        batch_size=4,
    )
    train(config)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 2
    assert all(np.isfinite(h["train_synthetic"]) and np.isfinite(h["train_severity"]) for h in history)
    assert "val_synthetic_target_mae" in history[-1]

    # heads only, from that checkpoint: the backbone is left exactly as it was
    import torch

    from pixgrade.model.checkpoint import load_checkpoint

    first = tmp_path / "run" / "best.safetensors"
    heads = TrainConfig(
        **{
            **config.to_dict(),
            "init": str(first),
            "train_backbone": False,
            "heads_epochs": 3,
            "out_dir": str(tmp_path / "heads"),
        }
    )
    result = train(heads)
    before, _ = load_checkpoint(first)
    after, _ = load_checkpoint(result.best_path)
    for (name, a), b in zip(before.backbone.state_dict().items(), after.backbone.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(before.score_head[-1].weight, after.score_head[-1].weight)
    assert len(json.loads((tmp_path / "heads" / "history.json").read_text())) == 3
