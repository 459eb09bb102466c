"""The layout copy on which the foreground is found: an integer-factor block-mean shrink of the working copy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from pixgrade.measures import PreparedImage, centring, fill
from pixgrade.measures.prepared import LAYOUT_SIDE, _shrink_integer

SceneMaker = Callable[..., np.ndarray]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((500, 500), (250, 250)), ((320, 512), (160, 256)), ((501, 333), (250, 166)), ((200, 120), (200, 120))],
)
def test_layout_copy_is_an_integer_block_mean(shape: tuple[int, int], expected: tuple[int, int]) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    small = _shrink_integer(rgb, LAYOUT_SIDE)
    assert small.shape[:2] == expected and max(small.shape[:2]) <= LAYOUT_SIDE
    k = shape[0] // expected[0]
    h, w = expected
    blocks = rgb[: h * k, : w * k].reshape(h, k, w, k, 3).astype(np.float64).mean(axis=(1, 3))
    assert np.abs(small - blocks).max() <= 0.5  # block means, rounded to uint8


def test_sliver_thinner_than_the_factor_falls_back() -> None:
    rgb = np.zeros((1, 900, 3), np.uint8)
    small = _shrink_integer(rgb, LAYOUT_SIDE)
    assert small.shape[1] <= LAYOUT_SIDE and small.shape[0] >= 1


@pytest.mark.parametrize("size", [500, 501, 384])
def test_fill_and_centring_do_not_depend_on_the_shrink_factor(size: int, make_scene: SceneMaker) -> None:
    img = make_scene(size=size, side=0.5, centre=(0.6, 0.5))
    prep = PreparedImage(img)
    assert max(prep.foreground.mask.shape) <= LAYOUT_SIDE
    assert fill(prep).value == pytest.approx(0.5, abs=0.015)
    assert centring(prep).value == pytest.approx(0.1, abs=0.015)
