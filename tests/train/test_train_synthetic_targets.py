"""Absolute grade targets of synthetic degradations (the grading standard) and their use in training."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixgrade.degrade import CLEAN_TARGET, effective_target, list_degradations, synthetic_target
from pixgrade.degrade.heldout import degrade_heldout, list_heldout_degradations
from pixgrade.train.data import SyntheticItem, synthetic_targets


def test_targets_fall_with_the_level_and_the_worst_level_is_below_2_5_for_every_type() -> None:
    for name in list_degradations():
        targets = [synthetic_target(name, level) for level in range(6)]
        assert targets[0] == CLEAN_TARGET >= 3.5
        assert all(a > b for a, b in itertools.pairwise(targets)), name
        assert targets[5] < 2.5


def test_desaturating_a_colourless_photo_costs_nothing_and_a_colourful_one_fully() -> None:
    grey = np.full((32, 32, 3), 200, np.uint8)
    grey[8:24, 8:24] = 60
    red = grey.copy()
    red[8:24, 8:24] = (200, 30, 30)
    assert effective_target(grey, "desaturation", 5) == pytest.approx(CLEAN_TARGET)
    assert effective_target(red, "desaturation", 5) == pytest.approx(synthetic_target("desaturation", 5))
    assert effective_target(grey, "gaussian_blur", 5) == synthetic_target("gaussian_blur", 5)


def test_synthetic_items_get_their_targets(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(path)
    items = [SyntheticItem(str(path), "g", "none", 0, 0), SyntheticItem(str(path), "g", "jpeg", 3, 1)]
    assert synthetic_targets(items) == [CLEAN_TARGET, synthetic_target("jpeg", 3)]


def test_heldout_types_are_not_registered_and_change_the_picture() -> None:
    assert not set(list_heldout_degradations()) & set(list_degradations())
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    for name in list_heldout_degradations():
        assert np.array_equal(degrade_heldout(rgb, name, 0), rgb)
        out = degrade_heldout(rgb, name, 5, seed=0)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - rgb).mean() > 1.0, name
