"""The shared image-array primitives: input checks (expected/got messages) and the longest-side resizes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pixgrade.io.arrays import check_alpha, check_rgb, fit_longest_side, resize_longest_side, scaled_size


def _photo(height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(height * 7919 + width)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def test_fit_longest_side_area_averages_down_and_never_up() -> None:
    rgb = _photo(300, 1000)
    small = fit_longest_side(rgb, 512)
    assert small.shape == (154, 512, 3)  # 300 * 0.512 = 153.6 -> 154
    expected = cv2.resize(rgb, (512, 154), interpolation=cv2.INTER_AREA)
    assert np.array_equal(small, expected)
    assert fit_longest_side(rgb, 1000) is rgb
    assert fit_longest_side(rgb, 4000) is rgb
    mask = np.zeros((300, 1000), np.uint8)
    assert fit_longest_side(mask, 100).shape == (30, 100)


def test_a_sliver_keeps_at_least_one_pixel() -> None:
    """The copies of this rounding in facts and catalog asked OpenCV for a 0-pixel side (an error) here."""
    sliver = _photo(2, 3000)
    assert fit_longest_side(sliver, 640).shape == (1, 640, 3)
    assert resize_longest_side(sliver, 100).shape == (1, 100, 3)
    assert scaled_size(3000, 2, 640 / 3000) == (640, 1)


def test_resize_longest_side_goes_both_ways() -> None:
    rgb = _photo(40, 80)
    assert resize_longest_side(rgb, 160).shape == (80, 160, 3)
    assert resize_longest_side(rgb, 20).shape == (10, 20, 3)
    assert np.array_equal(resize_longest_side(rgb, 160), cv2.resize(rgb, (160, 80), interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.zeros((10, 10), np.uint8), ValueError, r"rgb: expected shape \(H, W, 3\).*got shape \(10, 10\)"),
        (np.zeros((10, 10, 4), np.uint8), ValueError, r"got shape \(10, 10, 4\)"),
        (np.zeros((0, 10, 3), np.uint8), ValueError, "H, W >= 1"),
        (np.zeros((10, 10, 3), np.float32), TypeError, "rgb: expected dtype uint8 .*got float32"),
        ([[1, 2, 3]], TypeError, "expected a NumPy array .*got a list"),
    ],
)
def test_check_rgb_says_what_was_expected_and_what_was_given(bad: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        check_rgb(bad)


def test_check_alpha() -> None:
    assert check_alpha(None, (4, 4)) is None
    alpha = np.zeros((4, 4), np.uint8)
    assert check_alpha(alpha, (4, 4)) is alpha
    with pytest.raises(ValueError, match=r"alpha: expected shape \(4, 5\) to match the image, got \(4, 4\)"):
        check_alpha(alpha, (4, 5))
    with pytest.raises(TypeError, match="alpha: expected dtype uint8"):
        check_alpha(alpha.astype(bool), (4, 4))
