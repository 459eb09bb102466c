"""The top-level Python API: pixgrade.score / filter / load_model on every input type, and the datasets helper."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import pixgrade
from pixgrade.errors import PixgradeError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((120, 160, 3), 250, np.uint8)
    image[30:90, 40:120] = rng.integers(40, 200, 3, dtype=np.uint8)
    return image


def _jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def test_import_pixgrade_stays_light() -> None:
    code = (
        "import sys, pixgrade; print(sorted(m for m in ('numpy', 'pixgrade.api', 'onnxruntime') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_input_type_scores_the_same_pixels_alike(tmp_path: Path) -> None:
    array = _photo()
    png = tmp_path / "photo.png"
    Image.fromarray(array).save(png)
    inputs = [png, str(png), png.read_bytes(), Image.fromarray(array), array]
    results = pixgrade.score(inputs, model="none")
    assert len(results) == 5
    assert all(r.ok for r in results), results.errors
    scores = {round(r.score, 6) for r in results}
    assert len(scores) == 1  # lossless in-memory encoding: the same pixels, the same score
    assert [r.path for r in results][2:] == ["<bytes 2>", "<PIL image 3>", "<array 4>"]


def test_a_folder_expands_to_its_images_in_order(tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(_photo(i)).save(tmp_path / f"p{i}.jpg")
    results = pixgrade.score(tmp_path, model="none")
    assert [Path(r.path).name for r in results] == ["p0.jpg", "p1.jpg", "p2.jpg"]


def test_to_pandas_has_the_cli_columns() -> None:
    frame = pixgrade.score([_photo(1), _photo(2)], model="none").to_pandas()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 2
    assert {"path", "score", "grade", "reasons", "error", "sharpness_score", "width", "sha256"} <= set(frame.columns)


@pytest.mark.parametrize("bad", [42, 3.5, {"a": 1}, object()])
def test_an_unsupported_type_raises_a_clear_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match=r"input 1: unsupported type .*give a path, a folder, bytes"):
        pixgrade.score([_photo(), bad], model="none")


def test_a_malformed_array_raises_type_error() -> None:
    with pytest.raises(TypeError, match="uint8"):
        pixgrade.score(np.zeros((10, 10, 3), np.float32), model="none")


def test_an_unreadable_input_is_a_result_with_its_error_or_raises_on_request(tmp_path: Path) -> None:
    results = pixgrade.score([b"not an image", tmp_path / "missing.jpg"], model="none")
    assert [r.ok for r in results] == [False, False]
    assert results[0].score is None and results[0].error
    assert set(results.errors) == {"<bytes 0>", str(tmp_path / "missing.jpg")}
    with pytest.raises(PixgradeError, match="<bytes 0>"):
        pixgrade.score(b"not an image", model="none", errors="raise")


def test_load_model_once_and_reuse_it_with_the_shipped_model() -> None:
    model = pixgrade.load_model()
    results = pixgrade.score([EXAMPLES / "mug_good.jpg", _jpeg_bytes(_photo())], model=model)
    assert all(r.ok for r in results), results.errors
    assert all(0.0 <= (r.score or -1) <= 5.0 for r in results)
    assert results[0].severities  # the model ran (measures-only results have none)
    again = pixgrade.score(EXAMPLES / "mug_good.jpg", model=model)
    assert again[0].score == results[0].score


def test_filter_matches_the_command_line_decisions(tmp_path: Path) -> None:
    from pixgrade.cli.main import main

    names = ["mug_good.jpg", "bottle_low_resolution.jpg", "handbag_noisy.jpg"]
    for name in names:
        (tmp_path / name).write_bytes((EXAMPLES / name).read_bytes())
    decisions = pixgrade.filter(tmp_path, policy="amazon-main")
    assert main(
        [
            "filter",
            str(tmp_path),
            "--policy",
            "amazon-main",
            "-o",
            str(tmp_path / "out"),
            "--group-by",
            "none",
            "--duplicates",
            "off",
        ]
    ) in (0, 1)
    cli = pd.read_csv(tmp_path / "out" / "decisions.csv", keep_default_na=False)
    by_name = {Path(p).name: d for p, d in zip(cli["path"], cli["decision"], strict=True)}
    ours = {Path(d.path).name: d.decision for d in decisions}
    # the command line also picks a main image per product; here every image is judged on its own
    assert {n: ("accept" if v == "main" else v) for n, v in by_name.items()} == ours
    frame = decisions.to_pandas()
    assert list(frame["decision"]) == [ours[n] for n in sorted(names)]


def test_filter_of_an_unreadable_input_has_no_decision() -> None:
    decisions = pixgrade.filter([b"nope"], model="none")
    assert decisions[0].decision is None
    assert decisions[0].result.error


def test_datasets_helper_adds_columns_to_a_local_image_dataset(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    paths = []
    for i in range(3):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(_photo(i)).save(path)
        paths.append(str(path))
    dataset = datasets.Dataset.from_dict({"image": paths, "id": [0, 1, 2]}).cast_column("image", datasets.Image())
    out = pixgrade.add_columns(dataset, model="none", factors=True)
    assert out.num_rows == 3
    assert {
        "pixgrade_score",
        "pixgrade_grade",
        "pixgrade_reasons",
        "pixgrade_error",
        "pixgrade_sharpness_score",
    } <= set(out.column_names)
    expected = pixgrade.score(paths, model="none")
    assert out["pixgrade_score"] == pytest.approx([r.score for r in expected])
    with pytest.raises(PixgradeError, match="no column 'picture'"):
        pixgrade.add_columns(dataset, image_column="picture", model="none")


@pytest.fixture
def brightness_factor():  # type: ignore[no-untyped-def]
    """A custom factor registered for one test (the registry is global: removed afterwards)."""
    from pixgrade.measures import Factor, register_factor
    from pixgrade.measures.base import _REGISTRY

    @register_factor(
        "mean_brightness", description="mean grey level", unit="0-255", direction="target range", threshold="< 40"
    )
    def mean_brightness(prep):  # type: ignore[no-untyped-def]
        value = float(prep.rgb.mean())
        return Factor("mean_brightness", value, min(1.0, value / 128), value < 40, "too dark" if value < 40 else None)

    yield "mean_brightness"
    _REGISTRY.pop("mean_brightness", None)


def test_a_registered_factor_is_accepted_by_the_scorer_and_policies(tmp_path: Path, brightness_factor: str) -> None:
    from pixgrade.measures import FACTOR_NAMES
    from pixgrade.policy import load_policy

    names = (*FACTOR_NAMES, brightness_factor)
    dark, light = np.full((64, 64, 3), 10, np.uint8), np.full((64, 64, 3), 230, np.uint8)
    results = pixgrade.score([dark, light], model="none", factors=names)
    frame = results.to_pandas()
    assert list(frame["mean_brightness_value"]) == pytest.approx([10.0, 230.0])
    assert list(frame["mean_brightness_flag"]) == [True, False]
    policy = tmp_path / "bright.yaml"
    policy.write_text(
        "name: bright\nrules:\n  - id: bright\n    metric: factor.mean_brightness.flag\n    op: '=='\n"
        "    value: false\n    action: reject\n    message: too dark\n"
    )
    assert load_policy(policy).metrics == {"factor.mean_brightness.flag"}
    decisions = pixgrade.filter([dark, light], policy=policy, model="none", factors=names)
    assert [d.decision for d in decisions] == ["reject", "accept"]
    with pytest.raises(PixgradeError, match="unknown factor"):
        pixgrade.score(dark, model="none", factors=["no_such_factor"])
