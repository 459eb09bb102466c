"""``pixgrade explain IMAGE -o heat.png``: writes an overlay of the image's size, never overwrites without
``--overwrite``, and names the file and cause on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pixgrade.cli.main import main
from pixgrade.model import create_model
from pixgrade.model.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "random.safetensors"
    save_checkpoint(path, create_model(pretrained_backbone=False), {"note": "random weights for tests"})
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rgb = np.full((90, 120, 3), 245, np.uint8)
    rgb[20:70, 30:90] = rng.integers(0, 255, size=(50, 60, 3), dtype=np.uint8)
    path = tmp_path / "shirt.jpg"
    Image.fromarray(rgb).save(path, quality=90)
    return path


def test_writes_an_overlay_png_of_the_image_size(
    checkpoint: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "heat.png"
    assert main(["explain", str(image), "-o", str(out), "--model", str(checkpoint)]) == 0
    overlay = Image.open(out)
    assert overlay.format == "PNG" and overlay.size == (120, 90) and overlay.mode == "RGB"
    text = capsys.readouterr().out
    assert "score" in text and "grade" in text and "sharpness" in text and str(out) in text


def test_json_output_has_factors_and_reasons(
    checkpoint: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "heat.png"
    assert main(["explain", str(image), "-o", str(out), "--model", str(checkpoint), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert 0 <= payload["score"] <= 5 and isinstance(payload["reasons"], list)
    assert "sharpness" in payload["factors"] and payload["heatmap"]["method"] == "gradcam"


def test_refuses_to_overwrite_without_the_flag(
    checkpoint: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "heat.png"
    out.write_bytes(b"precious")
    assert main(["explain", str(image), "-o", str(out), "--model", str(checkpoint)]) == 2
    assert out.read_bytes() == b"precious"
    assert "already exists" in capsys.readouterr().err
    assert main(["explain", str(image), "-o", str(out), "--model", str(checkpoint), "--overwrite"]) == 0
    assert Image.open(out).size == (120, 90)


def test_bad_image_names_the_file_and_cause(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "fake.jpg"
    bad.write_bytes(b"not an image at all")
    out = tmp_path / "heat.png"
    assert main(["explain", str(bad), "-o", str(out), "--model", str(checkpoint)]) == 2
    err = capsys.readouterr().err
    assert "fake.jpg" in err and "not an image" in err
    assert not out.exists()


def test_missing_model_gives_a_hint(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.safetensors"
    assert main(["explain", str(image), "-o", str(tmp_path / "h.png"), "--model", str(missing)]) == 2
    assert "nope.safetensors" in capsys.readouterr().err


def test_output_must_be_png(checkpoint: Path, image: Path, tmp_path: Path) -> None:
    assert main(["explain", str(image), "-o", str(tmp_path / "heat.jpg"), "--model", str(checkpoint)]) == 2


def test_explain_says_what_score_says(
    checkpoint: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "heat.png"
    assert main(["explain", str(image), "-o", str(out), "--model", str(checkpoint), "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    table = tmp_path / "scores.jsonl"
    assert main(["score", str(image), "--model", str(checkpoint), "-o", str(table), "--workers", "0"]) == 0
    (row,) = [json.loads(line) for line in table.read_text().splitlines()]
    assert explained["score"] == pytest.approx(row["score"], abs=1e-3)
    assert explained["presentation"] == pytest.approx(row["presentation"], abs=1e-3)
    assert explained["main_score"] == pytest.approx(row["main_score"], abs=1e-3)
