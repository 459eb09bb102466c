"""evaluate_manifest with a fake and with the real TorchPredictor, and `pixgrade evaluate` (outputs, resume, errors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from evaluate_testkit import BrightnessPredictor, write_labelled_set

import pixgrade.model.loader as loader_module
from pixgrade.cli.main import main
from pixgrade.data import load_manifest
from pixgrade.evaluate import PREDICTION_COLUMNS, evaluate_manifest


def test_evaluate_manifest_batches_and_uses_the_model_size(tmp_path: Path) -> None:
    manifest = load_manifest(write_labelled_set(tmp_path / "set", n=10))
    fake = BrightnessPredictor()
    seen = []
    table = evaluate_manifest(manifest, fake, batch_size=4, on_batch=lambda t: seen.append(len(t)))
    assert list(table.columns) == list(PREDICTION_COLUMNS)
    assert fake.calls == [4, 4, 2] and seen == [4, 4, 2]
    assert all(max(shape[:2]) == fake.input_max_side for shape in fake.shapes), "decoded at the model's size"
    assert table["line"].tolist() == list(range(2, 12))
    assert table["pred"].to_numpy() == pytest.approx(np.array([v for v in table["pred"]]))
    assert (table["error"] == "").all()
    assert table["degradation"].tolist()[:3] == ["", "underexposure", "underexposure"]


def test_bad_and_missing_images_are_recorded_and_the_rest_goes_on(tmp_path: Path) -> None:
    path = write_labelled_set(tmp_path / "set", n=6)
    (tmp_path / "set" / "p1.png").write_bytes(b"not a picture")
    (tmp_path / "set" / "p2.png").unlink()
    manifest = load_manifest(path, on_missing="keep")
    table = evaluate_manifest(manifest, BrightnessPredictor(), batch_size=4, skip_lines={7})
    assert table["line"].tolist() == [2, 3, 4, 5, 6]
    errors = dict(zip(table["line"], table["error"], strict=True))
    assert "not an image" in errors[3] and errors[4] == "no such file"
    assert table.loc[table["error"] != "", "pred"].isna().all()
    assert table.loc[table["error"] == "", "pred"].notna().all()


def test_with_the_real_predictor(tmp_path: Path) -> None:
    """The lead's TorchPredictor (untrained network, random init) fits the runner's expectations."""
    from pixgrade.model.net import create_model
    from pixgrade.model.predictor import TorchPredictor

    predictor = TorchPredictor(create_model(pretrained_backbone=False))
    manifest = load_manifest(write_labelled_set(tmp_path / "set", n=3, size=64))
    table = evaluate_manifest(manifest, predictor, batch_size=2)
    assert table["pred"].between(0, 5).all() and len(table) == 3


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> BrightnessPredictor:
    fake = BrightnessPredictor()

    def load(model: str = "default", backend: str = "auto") -> BrightnessPredictor:
        if model == "missing.safetensors":
            raise FileNotFoundError(f"{model}: model checkpoint not found")
        return fake

    monkeypatch.setattr(loader_module, "load_predictor", load)
    return fake


def test_cli_writes_outputs_and_prints_summary(
    tmp_path: Path, fake_model: BrightnessPredictor, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_labelled_set(tmp_path / "set", n=12)
    out = tmp_path / "eval"
    assert main(["evaluate", str(manifest), "--model", "m.safetensors", "-o", str(out), "--batch-size", "5"]) == 0
    printed = capsys.readouterr().out
    assert "12 scored, 0 failed | SRCC" in printed and "underexposure" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 12 and metrics["srcc"] > 0.9 and metrics["model"] == "m.safetensors"
    assert "underexposure" in metrics["per_degradation"]
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert len(pd.read_csv(out / "predictions.csv")) == 12
    # a second run neither overwrites nor runs without --resume / --force
    before = (out / "metrics.json").read_bytes()
    assert main(["evaluate", str(manifest), "-o", str(out)]) == 2
    assert "already exist" in capsys.readouterr().err
    assert (out / "metrics.json").read_bytes() == before


def test_cli_resume_scores_only_what_is_left(tmp_path: Path, fake_model: BrightnessPredictor) -> None:
    manifest = write_labelled_set(tmp_path / "set", n=9)
    out = tmp_path / "eval"
    assert main(["evaluate", str(manifest), "-o", str(out)]) == 0
    complete = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    # keep the header and 4 rows, plus half a row, as an interrupted run would
    lines = (out / "predictions.csv").read_text().splitlines(keepends=True)
    (out / "predictions.csv").write_text("".join(lines[:5]) + lines[5][:7])
    (out / "metrics.json").unlink()
    fake_model.calls.clear()
    assert main(["evaluate", str(manifest), "-o", str(out), "--resume", "--batch-size", "100"]) == 0
    assert fake_model.calls == [5]
    resumed = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(resumed.sort_values("line").reset_index(drop=True), complete)
    assert json.loads((out / "metrics.json").read_text())["n"] == 9
    assert main(["evaluate", str(manifest), "-o", str(out), "--force"]) == 0
    assert len(pd.read_csv(out / "predictions.csv")) == 9


def test_cli_reports_failures_with_exit_1(
    tmp_path: Path, fake_model: BrightnessPredictor, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_labelled_set(tmp_path / "set", n=6)
    (tmp_path / "set" / "p4.png").write_bytes(b"")
    assert main(["evaluate", str(manifest), "-o", str(tmp_path / "eval")]) == 1
    captured = capsys.readouterr()
    assert "p4.png: empty file" in captured.err and "5 scored, 1 failed" in captured.out


def test_cli_usage_errors(tmp_path: Path, fake_model: BrightnessPredictor, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_labelled_set(tmp_path / "set", n=3)
    assert main(["evaluate", str(manifest), "--model", "missing.safetensors", "-o", str(tmp_path / "e")]) == 2
    assert "model not found" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("image,score\nx.png,11\n")
    assert main(["evaluate", str(bad), "-o", str(tmp_path / "e2")]) == 2
    assert "bad.csv: line 2: score 11 is outside 0..5" in capsys.readouterr().err
    assert main(["evaluate", str(manifest), "--batch-size", "0", "-o", str(tmp_path / "e3")]) == 2
    assert not (tmp_path / "e2").exists() and not (tmp_path / "e3").exists()


def test_a_prediction_is_the_score_of_pixgrade_score(tmp_path: Path) -> None:
    """evaluate decodes and resizes as the pipeline does: a large JPEG gets exactly the score `score` gives it."""
    from PIL import Image

    from pixgrade.pipeline import Scorer

    rng = np.random.default_rng(3)
    folder = tmp_path / "set"
    folder.mkdir()
    yy, xx = np.mgrid[0:700, 0:1100]
    pixels = np.stack([xx % 255, yy % 255, (xx + yy) % 255], axis=-1) + rng.normal(0, 12, (700, 1100, 3))
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / "big.jpg", quality=90)
    (folder / "labels.csv").write_text("image,score\nbig.jpg,3.0\n")
    scorer = Scorer(model="default")  # the shipped model (an untrained network barely depends on its input)
    table = evaluate_manifest(load_manifest(folder / "labels.csv"), scorer.predictor)
    expected = scorer.score_image(folder / "big.jpg").score
    assert table["pred"].iloc[0] == pytest.approx(expected, abs=1e-6)
