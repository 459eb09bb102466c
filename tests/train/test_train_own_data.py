"""``pixgrade train`` on one's own data: --init from a checkpoint, split folders, no synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pixgrade.cli.main import main
from pixgrade.errors import ConfigError
from pixgrade.model.checkpoint import load_checkpoint, save_checkpoint
from pixgrade.model.net import create_model
from pixgrade.train.config import TrainConfig
from pixgrade.train.data import split_sources, training_items


def _images(folder: Path, names: list[str]) -> None:
    rng = np.random.default_rng(1)
    for i, name in enumerate(names):
        image = rng.integers(0, 256, size=(80, 80, 3), dtype=np.uint8)
        if i % 3:
            image = cv2.GaussianBlur(image, (0, 0), i % 3 + 1)
        cv2.imwrite(str(folder / name), image)


def _split_folder(root: Path, n_train: int = 12, n_val: int = 6) -> Path:
    data = root / "photos"
    data.mkdir()
    names = [f"p{i}.png" for i in range(n_train + n_val)]
    _images(data, names)
    split = root / "splits"
    split.mkdir()
    for part, chosen in (("train", names[:n_train]), ("val", names[n_train:])):
        rows = ["image,score"] + [f"../photos/{n},{(i * 7) % 6 * 0.9:.2f}" for i, n in enumerate(chosen)]
        (split / f"{part}.csv").write_text("\n".join(rows) + "\n")
    return split


def test_a_split_folder_trains_on_train_csv_and_validates_on_val_csv(tmp_path: Path) -> None:
    split = _split_folder(tmp_path)
    config = TrainConfig(manifests=[str(split)], synthetic_dir="")
    assert split_sources(config) == ([str(split / "train.csv")], [str(split / "val.csv")])
    human, synthetic = training_items(config)
    assert len(human) == 12 and synthetic == []


def test_missing_data_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no training data"):
        training_items(TrainConfig(manifests=[]))
    with pytest.raises(ConfigError, match=r"nowhere\.csv: training data not found"):
        training_items(TrainConfig(manifests=[str(tmp_path / "nowhere.csv")]))
    split = _split_folder(tmp_path)
    with pytest.raises(ConfigError, match=r"no products\.csv.*--synthetic-dir ''"):
        training_items(TrainConfig(manifests=[str(split)], synthetic_dir=str(tmp_path / "absent")))


@pytest.mark.slow
def test_train_from_a_checkpoint_in_another_folder_keeps_its_severities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    base = create_model("pixgrade_mnv2")
    with torch.no_grad():  # a base whose severity head says something definite
        base.severity_head[-1].bias.copy_(torch.linspace(-2, 2, len(base.config.severity_names)))
    base_path = save_checkpoint(tmp_path / "base.safetensors", base)
    _split_folder(tmp_path)
    monkeypatch.chdir(tmp_path)  # no ../shared/data from here: --manifests alone must be enough
    code = main(
        [
            *("train", "--init", str(base_path), "--manifests", "splits", "--trainable-from", "14", "--epochs", "2"),
            *("--batch-size", "4", "--out-dir", "run", "--no-progress"),
        ]
    )
    assert code == 0
    trained, meta = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert meta["training_data"]["validation"] == [str(Path("splits") / "val.csv")]
    assert meta["training_data"]["init"] == str(base_path)
    # the severity head is the base's, and the base's feature standardisation is kept
    for key in ("severity_head.3.weight", "severity_head.3.bias", "feature_mean", "feature_std"):
        assert torch.equal(trained.state_dict()[key], base.state_dict()[key]), key
    assert json.loads((tmp_path / "run" / "history.json").read_text())[-1]["train_severity"] >= 0.0


@pytest.mark.slow
def test_without_synthetic_data_or_init_the_model_reports_no_severities(tmp_path: Path) -> None:
    from pixgrade.train.trainer import train

    split = _split_folder(tmp_path)
    config = TrainConfig(
        manifests=[str(split)],
        synthetic_dir="",
        trainable_from=14,
        epochs=1,
        batch_size=4,
        out_dir=str(tmp_path / "run"),
        progress=False,
    )
    result = train(config)
    net, _ = load_checkpoint(result.best_path)
    with torch.no_grad():
        out = net(torch.randn(2, 3, 96, 96))
    assert float(out["severities"].max()) < 1e-3
