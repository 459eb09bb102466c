"""No resolution cap: the score judges the picture as it is; size is reported by the resolution factor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.model.predictor import ModelOutput
from pixgrade.pipeline import Scorer


class _Brightness:
    """A stand-in model whose score is the mean brightness on 0-5 (so different pictures score differently)."""

    input_max_side = 128
    backend = "fake"

    def predict(self, images: list[np.ndarray]) -> list[ModelOutput]:
        return [ModelOutput(float(im.mean()) / 255 * 5, {}, np.ones(2, np.float32) / np.sqrt(2)) for im in images]


def _save(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def test_small_images_keep_the_model_score_and_stay_distinct(tmp_path: Path) -> None:
    scorer = Scorer(model=_Brightness())
    rng = np.random.default_rng(0)
    results = []
    for i, level in enumerate((90, 150, 210)):
        rgb = np.clip(rng.normal(level, 20, (120, 90, 3)), 0, 255).astype(np.uint8)  # 90x120 px thumbnails
        results.append(scorer.score_image(_save(rgb, tmp_path / f"{i}.png")))
    scores = [r.score for r in results]
    assert scores == sorted(scores) and len(set(scores)) == 3  # ranked, not flattened to one capped value
    assert scores[-1] > 3.5  # a small bright picture is not pulled down for its size
    for result in results:
        assert result.factors["resolution"].flag  # the size is reported by the factor
        assert any("small" in reason for reason in result.reasons)
