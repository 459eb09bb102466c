"""Scorer: one image, streams of files, workers, the model path (with a fake or random-weight model)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from pipeline_helpers import FakePredictor, blurred, darkened, make_folder, product_photo, save

from pixgrade.errors import ConfigError
from pixgrade.measures import FACTOR_NAMES
from pixgrade.pipeline import Scorer


@pytest.fixture(scope="module")
def measures_only() -> Scorer:
    return Scorer(model=None)


def test_scores_a_good_image_with_every_factor(tmp_path: Path, measures_only: Scorer) -> None:
    path = save(product_photo(), tmp_path / "shoe.jpg", quality=92)
    result = measures_only.score_image(path)
    assert result.error is None
    assert result.score is not None and 0.0 <= result.score <= 5.0
    assert result.grade == int(np.floor(result.score + 0.5))
    assert set(result.factors) == set(FACTOR_NAMES)
    assert (result.width, result.height, result.format) == (320, 240, "JPEG")
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result.severities == {} and result.embedding is None
    assert result.reasons == [f.reason for f in sorted(result.factors.values(), key=lambda f: f.score) if f.flag]


def test_bytes_give_the_same_result_as_the_file(tmp_path: Path, measures_only: Scorer) -> None:
    path = save(product_photo(seed=3), tmp_path / "a.png")
    from_file = measures_only.score_image(path)
    from_bytes = measures_only.score_image(path.read_bytes())
    assert from_bytes.path == "<bytes>"
    assert from_bytes.score == from_file.score and from_bytes.sha256 == from_file.sha256


@pytest.mark.parametrize(
    ("name", "cause"), [("empty", "empty file"), ("text", "not an image"), ("truncated", "truncated or damaged")]
)
def test_bad_files_give_a_result_naming_the_cause(tmp_path: Path, measures_only: Scorer, name: str, cause: str) -> None:
    path = make_folder(tmp_path, n_good=0)[name]
    result = measures_only.score_image(path)
    assert result.error is not None and cause in result.error
    assert result.score is None and result.grade is None and result.reasons == []
    assert result.path == str(path)
    assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_file_is_an_error_result(tmp_path: Path, measures_only: Scorer) -> None:
    result = measures_only.score_image(tmp_path / "gone.jpg")
    assert result.error is not None and "no such file" in result.error


def test_measures_only_score_drops_when_blurred_or_darkened(tmp_path: Path, measures_only: Scorer) -> None:
    photo = product_photo(seed=5)
    scores = {}
    for label, rgb in (("sharp", photo), ("blurred", blurred(photo)), ("dark", darkened(photo))):
        scores[label] = measures_only.score_image(save(rgb, tmp_path / f"{label}.png")).score
    assert scores["blurred"] < scores["sharp"] - 1.0
    assert scores["dark"] < scores["sharp"] - 1.0


def test_large_image_is_measured_at_reduced_size_but_reports_its_own_size(tmp_path: Path) -> None:
    fake = FakePredictor()
    scorer = Scorer(model=fake)
    assert scorer.measure_max_side == 512  # max(measures working size 512, model 128)
    path = save(np.kron(product_photo(), np.ones((8, 8, 1), np.uint8)), tmp_path / "big.jpg", quality=90)  # 2560x1920
    result = scorer.score_image(path)
    assert (result.width, result.height) == (2560, 1920)
    assert max(fake.shapes[0][:2]) == 128  # the model got its own input size, not the full picture
    assert result.factors["resolution"].value >= 2560 or not result.factors["resolution"].flag


def test_model_score_severities_reasons_and_embedding(tmp_path: Path) -> None:
    scorer = Scorer(model=FakePredictor(blur=0.9))
    photo = (product_photo() * 0.6).astype(np.uint8)  # the fake scores brightness: below 4, so reasons show
    result = scorer.score_image(save(photo, tmp_path / "a.png"))
    assert result.error is None
    mean = np.asarray(photo, np.float64).mean() / 255 * 5
    # the model's prediction is the score, for small images too (no resolution cap)
    assert result.score == pytest.approx(mean, abs=0.05)
    assert result.grade == int(np.floor(result.score + 0.5))
    assert result.severities["blur"] == 0.9
    assert result.reasons[0] == "blurry (model)"
    assert result.embedding is not None and result.embedding.shape == (4,)
    assert set(result.factors) == set(FACTOR_NAMES)  # factors stay as diagnostics


def test_model_batches_and_order(tmp_path: Path) -> None:
    fake = FakePredictor()
    paths = [save(product_photo(seed=i), tmp_path / f"{i:02d}.png") for i in range(7)]
    (tmp_path / "bad.png").write_bytes(b"nope")
    inputs = [*paths[:3], tmp_path / "bad.png", *paths[3:]]
    results = list(Scorer(model=fake).score_paths(inputs, workers=0, batch_size=3))
    assert [r.path for r in results] == [str(p) for p in inputs]
    assert fake.batches == [3, 2, 2]  # the unreadable file takes a batch slot but is not sent to the model
    assert results[3].error is not None and all(r.error is None for i, r in enumerate(results) if i != 3)


def test_a_model_failure_only_fails_that_image(tmp_path: Path) -> None:
    photo = product_photo()
    paths = [
        save(photo, tmp_path / "a.png"),
        save(darkened(photo, 0.05), tmp_path / "b.png"),
        save(photo, tmp_path / "c.png"),
    ]
    results = list(Scorer(model=FakePredictor(fail_on_dark=True)).score_paths(paths, workers=0, batch_size=8))
    assert [r.error is None for r in results] == [True, False, True]
    assert results[1].error is not None and results[1].error.startswith("model failed: RuntimeError")


def test_workers_give_the_same_results_in_order(tmp_path: Path, measures_only: Scorer) -> None:
    files = sorted(make_folder(tmp_path, n_good=5).values())
    serial = list(measures_only.score_paths(files, workers=0))
    parallel = list(measures_only.score_paths(iter(files), workers=2))
    assert [r.path for r in parallel] == [str(p) for p in files]
    assert [r.to_row() for r in parallel] == [r.to_row() for r in serial]
    assert sum(r.error is not None for r in parallel) == 3


def test_model_in_workers_gives_the_same_results(tmp_path: Path) -> None:
    files = sorted(make_folder(tmp_path, n_good=3).values())
    in_main = list(Scorer(model=FakePredictor(light=True)).score_paths(files, workers=0))
    in_workers = list(Scorer(model=FakePredictor(light=True), model_in_workers=True).score_paths(files, workers=1))
    assert [r.to_row() for r in in_workers] == [r.to_row() for r in in_main]
    assert sum(r.score is not None for r in in_workers) == 3
    assert all(r.embedding is not None for r in in_workers if r.error is None)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown factor"):
        Scorer(model=None, factors=["sharpness", "sparkle"])
    with pytest.raises(ConfigError, match="batch_size"):
        list(Scorer(model=None).score_paths([], batch_size=0))
    with pytest.raises(FileNotFoundError):
        Scorer(model="/nonexistent/model.safetensors")


def test_factor_subset(tmp_path: Path) -> None:
    result = Scorer(model=None, factors=["sharpness", "exposure"]).score_image(
        save(product_photo(), tmp_path / "a.png")
    )
    assert set(result.factors) == {"sharpness", "exposure"}
    assert result.to_row()["noise_score"] is None


def test_random_weight_model_end_to_end(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from pixgrade.model import create_model
    from pixgrade.model.predictor import TorchPredictor

    torch.manual_seed(0)
    predictor = TorchPredictor(create_model(pretrained_backbone=False))
    paths = [save(product_photo(96, 128, seed=i), tmp_path / f"{i}.jpg", quality=90) for i in range(2)]
    results = list(Scorer(model=predictor).score_paths(paths, workers=0, batch_size=2))
    for result in results:
        assert result.error is None and result.score is not None and 0 <= result.score <= 5
        assert set(result.severities) == set(predictor.severity_names)
        assert result.embedding is not None and np.isclose(np.linalg.norm(result.embedding), 1.0, atol=1e-4)
