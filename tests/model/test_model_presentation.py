"""The presentation judgement: the shipped arrays match the shipped weights; studio-like beats casual-like."""

from __future__ import annotations

import numpy as np
import pytest

from pixgrade.io import sha256_file
from pixgrade.measures import measure_all
from pixgrade.model.predictor import DEFAULT_MODEL_PATH
from pixgrade.model.presentation import FACTOR_FEATURES, PRESENTATION_PATH, PresentationModel
from pixgrade.pipeline import Scorer
from pixgrade.pipeline.presentation import attach_presentation


def _on_white(size: int = 320, fill: float = 0.85) -> np.ndarray:
    rgb = np.full((size, size, 3), 255, np.uint8)
    m = round(size * (1 - fill) / 2)
    rng = np.random.default_rng(0)
    rgb[m : size - m, m : size - m] = rng.integers(30, 120, (size - 2 * m, size - 2 * m, 3), dtype=np.uint8)
    return rgb


def _cluttered(size: int = 320) -> np.ndarray:
    rng = np.random.default_rng(1)
    blocks = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    rgb = np.kron(blocks, np.ones((size // 8, size // 8, 1), np.uint8))
    rgb[size // 2 :, : size // 3] = rng.integers(0, 255, (size - size // 2, size // 3, 3), dtype=np.uint8)
    return rgb


@pytest.fixture(scope="module")
def shipped() -> PresentationModel:
    return PresentationModel.load(PRESENTATION_PATH)


def test_shipped_presentation_file_matches_the_shipped_weights(shipped: PresentationModel) -> None:
    # Fails when the weights were retrained without re-running tools/fit_presentation.py.
    assert shipped.weights_sha256 == sha256_file(DEFAULT_MODEL_PATH)
    assert shipped.factors_only.coef.shape == (len(FACTOR_FEATURES),)
    assert shipped.full.coef.shape == (shipped.info["embedding_dim"] + len(FACTOR_FEATURES),)
    with np.load(PRESENTATION_PATH, allow_pickle=False) as data:  # plain arrays only
        assert all(data[k].dtype != object for k in data.files)


def test_factor_fallback_prefers_a_product_on_white_to_clutter(shipped: PresentationModel) -> None:
    studio = shipped.judge(measure_all(_on_white()))
    casual = shipped.judge(measure_all(_cluttered()))
    assert studio is not None and casual is not None
    assert studio.source == casual.source == "factors"
    assert studio.score > 0.6 > 0.4 > casual.score
    assert "catalogue shot" in studio.reasons[0]
    assert casual.reasons[0].startswith("casual photo") and any("background" in r for r in casual.reasons)


def test_embedding_is_used_only_for_the_weights_it_was_fitted_on(shipped: PresentationModel) -> None:
    factors = measure_all(_on_white())
    embedding = np.zeros(shipped.info["embedding_dim"], np.float32)
    embedding[0] = 1.0
    assert shipped.judge(factors, embedding, shipped.weights_sha256).source == "model"  # type: ignore[union-attr]
    assert shipped.judge(factors, embedding, "0" * 64).source == "factors"  # type: ignore[union-attr]
    assert shipped.judge({}) is None


def test_scorer_rows_carry_presentation_and_main_score() -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(_on_white()).save(buffer, format="PNG")
    result = Scorer(model=None).score_image(buffer.getvalue())
    assert result.presentation is not None and result.main_score is not None
    row = result.to_row()
    assert row["presentation"] == round(result.presentation, 3) and row["main_score"] == round(result.main_score, 3)
    assert row["presentation_reasons"] and "catalogue" in row["presentation_reasons"]
    again = attach_presentation(result, None)
    assert again.presentation == row["presentation"] or abs(again.presentation - row["presentation"]) < 1e-3  # type: ignore[operator]
    broken = Scorer(model=None).score_image(b"not an image")
    assert broken.presentation is None and broken.main_score is None and broken.to_row()["presentation"] is None
