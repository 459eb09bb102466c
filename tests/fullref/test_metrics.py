"""Full-reference measures agree with scikit-image's reference functions; MS-SSIM behaves as Wang et al.'s."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from pixgrade.fullref.metrics import full_reference, luminance, ms_ssim, psnr, ssim


def _pair(seed: int, shape: tuple[int, int] = (240, 260), noise: float = 12.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = gaussian_filter(rng.uniform(0, 255, (*shape, 3)), (3, 3, 0))
    ref = ((ref - ref.min()) / (ref.max() - ref.min()) * 255).round().astype(np.uint8)
    dist = np.clip(ref + rng.normal(0, noise, ref.shape), 0, 255).round().astype(np.uint8)
    return ref, dist


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_psnr_and_ssim_agree_with_scikit_image(seed: int) -> None:
    ref, dist = _pair(seed)
    got = full_reference(ref, dist)
    ref_y, dist_y = luminance(ref), luminance(dist)
    assert got.psnr_rgb == pytest.approx(peak_signal_noise_ratio(ref, dist, data_range=255), rel=1e-9)
    assert got.psnr_y == pytest.approx(peak_signal_noise_ratio(ref_y, dist_y, data_range=255), rel=1e-9)
    assert got.mse_rgb == pytest.approx(mean_squared_error(ref, dist), rel=1e-9)
    kwargs = {"data_range": 255, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
    assert got.ssim_y == pytest.approx(structural_similarity(ref_y, dist_y, **kwargs), rel=1e-9)
    assert got.ssim_rgb == pytest.approx(structural_similarity(ref, dist, channel_axis=-1, **kwargs), rel=1e-9)


def test_luminance_is_bt601() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    assert luminance(rgb).ravel().tolist() == pytest.approx([0.299 * 255, 0.587 * 255, 0.114 * 255])


def test_identical_images_give_ssim_one_and_psnr_inf() -> None:
    ref, _ = _pair(3)
    got = full_reference(ref, ref.copy())
    assert got.ssim_y == 1.0 and got.ssim_rgb == 1.0
    assert got.ms_ssim_y == pytest.approx(1.0) and got.ms_ssim_rgb == pytest.approx(1.0)
    assert math.isinf(got.psnr_y) and math.isinf(got.psnr_rgb)
    assert got.mse_y == 0.0


def test_single_scale_ms_ssim_is_ssim() -> None:
    # an image too small for a second scale: MS-SSIM reduces to SSIM (the components are skimage's)
    ref, dist = _pair(4, shape=(24, 30))
    y_ref, y_dist = luminance(ref), luminance(dist)
    assert ms_ssim(y_ref, y_dist) == pytest.approx(ssim(y_ref, y_dist), rel=1e-9)


def test_ms_ssim_falls_with_the_distortion_and_stays_in_range() -> None:
    values = []
    for noise in (2.0, 10.0, 40.0):
        ref, dist = _pair(5, noise=noise)
        values.append(ms_ssim(luminance(ref), luminance(dist)))
    assert values == sorted(values, reverse=True)
    assert all(0.0 <= v <= 1.0 for v in values)


def test_psnr_of_a_known_error() -> None:
    ref = np.full((32, 32), 100.0)
    assert psnr(ref, ref + 5.0) == pytest.approx(10 * math.log10(255**2 / 25.0))


def test_shapes_must_match() -> None:
    ref, dist = _pair(6)
    with pytest.raises(ValueError, match="shapes differ"):
        full_reference(ref, dist[:-1])
