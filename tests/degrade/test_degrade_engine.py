"""The degradation registry: contracts, determinism, input checks and monotone strength per level."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from degrade_testkit import (
    blockiness,
    channel_spread,
    flat_neighbour_fraction,
    high_frequency_energy,
    laplacian_variance,
    luma_mean,
    luma_std,
    make_product_photo,
    noise_sigma,
    saturation,
)

from pixgrade.degrade import (
    DEGRADATIONS,
    LEVELS,
    SEVERITY_CHANNELS,
    degrade,
    get_degradation,
    level_score,
    list_degradations,
    random_degradation,
    register_degradation,
)

REQUIRED = {
    "gaussian_blur",
    "motion_blur",
    "defocus_blur",
    "gaussian_noise",
    "shot_noise",
    "jpeg",
    "overexposure",
    "underexposure",
    "low_contrast",
    "desaturation",
    "colour_cast",
    "low_resolution",
}

# (statistic, +1 if it must rise with level, -1 if it must fall)
MONOTONE = {
    "gaussian_blur": (laplacian_variance, -1),
    "motion_blur": (laplacian_variance, -1),
    "defocus_blur": (laplacian_variance, -1),
    "gaussian_noise": (noise_sigma, +1),
    "shot_noise": (noise_sigma, +1),
    "jpeg": (blockiness, +1),
    "overexposure": (luma_mean, +1),
    "underexposure": (luma_mean, -1),
    "low_contrast": (luma_std, -1),
    "haze": (luma_std, -1),
    "desaturation": (saturation, -1),
    "low_resolution": (high_frequency_energy, -1),
    "pixelate": (flat_neighbour_fraction, +1),
}


def channel_shift(clean: np.ndarray, out: np.ndarray) -> float:
    """L1 distance between the per-channel means of two pictures."""
    return float(np.abs(out.reshape(-1, 3).mean(0) - clean.reshape(-1, 3).mean(0)).sum())


def test_registry_has_required_types_with_valid_specs() -> None:
    assert set(list_degradations()) >= REQUIRED
    for name, spec in DEGRADATIONS.items():
        assert spec.name == name
        assert spec.severity in SEVERITY_CHANNELS
        assert len(spec.levels) == len(LEVELS)
        assert spec.unit and spec.description
    assert set(MONOTONE) | {"colour_cast"} == set(list_degradations()), "every type needs a monotone test"


def test_list_by_severity() -> None:
    assert set(list_degradations("blur")) == {"gaussian_blur", "motion_blur", "defocus_blur"}
    assert list_degradations("compression") == ["jpeg"]


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_contract_shape_identity_determinism(name: str, product_photo: np.ndarray) -> None:
    img = product_photo[:96, :128]  # non-square
    before = img.copy()
    assert np.array_equal(degrade(img, name, 0), img)
    out = degrade(img, name, 3, seed=7)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(img, before), "the input must not be modified"
    assert np.array_equal(out, degrade(img, name, 3, seed=7)), "same seed, same output"
    assert not np.array_equal(degrade(img, name, 5, seed=7), img), "level 5 must change the picture"


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
@pytest.mark.parametrize("shape", [(1, 1, 3), (3, 5, 3), (40, 7, 3)])
def test_tiny_and_thin_images(name: str, shape: tuple[int, int, int]) -> None:
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = degrade(img, name, 5, seed=0)
    assert out.shape == shape
    if DEGRADATIONS[name].severity in ("blur", "low_resolution"):  # averaging keeps the overall level
        assert abs(float(out.mean()) - float(img.mean())) < 40


def test_seed_changes_random_types(product_photo: np.ndarray) -> None:
    for name in ("gaussian_noise", "shot_noise", "motion_blur", "colour_cast"):
        assert not np.array_equal(degrade(product_photo, name, 4, seed=1), degrade(product_photo, name, 4, seed=2))
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    same_a = degrade(product_photo, "gaussian_noise", 2, rng_a)
    assert np.array_equal(same_a, degrade(product_photo, "gaussian_noise", 2, rng_b))


@pytest.mark.parametrize("name", sorted(MONOTONE))
def test_strength_is_monotone_in_level(name: str, product_photo: np.ndarray) -> None:
    stat, direction = MONOTONE[name]
    values = [stat(degrade(product_photo, name, level, seed=3)) for level in range(6)]
    steps = direction * np.diff(values)
    assert (steps > 0).all(), f"{name}: {stat.__name__} by level 0..5 = {np.round(values, 4).tolist()}"


def test_colour_cast_is_monotone(product_photo: np.ndarray) -> None:
    neutral = np.full((64, 64, 3), 128, np.uint8)
    for seed in range(4):  # whatever hue the seed picks
        spreads = [channel_spread(degrade(neutral, "colour_cast", level, seed=seed)) for level in range(6)]
        assert (np.diff(spreads) > 0).all(), spreads
        shifts = [channel_shift(product_photo, degrade(product_photo, "colour_cast", lv, seed=seed)) for lv in range(6)]
        assert (np.diff(shifts) > 0).all(), shifts


def test_blur_strength_scales_with_image_size() -> None:
    """The same level removes about the same share of detail at 256 and 512 px (strengths scale with size)."""
    small = make_product_photo(256, 256)
    large = make_product_photo(512, 512)
    import cv2

    large_down = cv2.resize(degrade(large, "gaussian_blur", 4, seed=0), (256, 256), interpolation=cv2.INTER_AREA)
    small_blur = degrade(small, "gaussian_blur", 4, seed=0)
    ratio = laplacian_variance(large_down) / laplacian_variance(small_blur)
    assert 0.5 < ratio < 2.0


def test_input_validation() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        degrade(img.astype(np.float32), "jpeg", 1)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        degrade(np.zeros((8, 8), np.uint8), "jpeg", 1)
    with pytest.raises(TypeError, match="ndarray"):
        degrade([[0, 0, 0]], "jpeg", 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"level must be in 0\.\.5"):
        degrade(img, "jpeg", 6)
    with pytest.raises(TypeError, match="level must be an int"):
        degrade(img, "jpeg", 2.0)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match=r"known: .*gaussian_blur"):
        degrade(img, "no_such_type", 1)


def test_register_rejects_bad_specs() -> None:
    with pytest.raises(ValueError, match="severity"):
        register_degradation("x_bad", "sharpness", (1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="5 level strengths"):
        register_degradation("x_bad", "blur", (1, 2, 3))
    with pytest.raises(ValueError, match="already registered"):
        register_degradation("jpeg", "compression", (1, 2, 3, 4, 5))(lambda rgb, s, rng: rgb)
    assert "x_bad" not in DEGRADATIONS


def test_random_degradation_is_seeded_and_covers_the_grid() -> None:
    draws = [random_degradation(np.random.default_rng(0)) for _ in range(3)]
    assert len(set(draws)) == 1
    rng = np.random.default_rng(1)
    seen = {random_degradation(rng) for _ in range(2000)}
    assert {name for name, _ in seen} == set(list_degradations())
    assert {level for _, level in seen} == set(LEVELS)
    assert random_degradation(rng, names=["jpeg"], levels=[2]) == ("jpeg", 2)
    with pytest.raises(KeyError):
        random_degradation(rng, names=["nope"])


def test_level_score_decreases() -> None:
    scores = [level_score(level) for level in range(6)]
    assert scores[0] == 4.5 and (np.diff(scores) < 0).all() and scores[-1] > 0
    assert level_score(0, clean_score=5.0) == 5.0
    assert get_degradation("jpeg").strength(1) > get_degradation("jpeg").strength(5)  # quality falls


def _shared_data() -> Path:
    return Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


@pytest.mark.data
def test_monotone_on_real_product_photos() -> None:
    folder = _shared_data() / "products-fashion" / "images"
    if not folder.is_dir():
        pytest.skip(f"shared data not found at {folder}")
    from PIL import Image

    for path in sorted(folder.glob("*.jpg"))[:3]:
        img = np.asarray(Image.open(path).convert("RGB"))
        for name, (stat, direction) in MONOTONE.items():
            if name == "overexposure" and luma_mean(img) > 240:
                continue  # a white-background shot is already near the clip: the mean barely moves
            values = [stat(degrade(img, name, level, seed=3)) for level in range(6)]
            # the sources are JPEGs already: re-encoding at level 1 barely changes their block structure
            start = 1 if name == "jpeg" else 0
            assert (direction * np.diff(values[start:]) > 0).all(), f"{path.name} {name}: {values}"
