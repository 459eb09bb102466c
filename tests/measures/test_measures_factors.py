"""Known-answer tests of the quality factors on generated pictures."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from pixgrade.errors import ConfigError
from pixgrade.io import load_image
from pixgrade.measures import (
    FACTOR_NAMES,
    Factor,
    aspect_ratio,
    background,
    blockiness,
    centring,
    colourfulness,
    contrast,
    exposure,
    fill,
    hasler_susstrunk,
    laplacian_variance,
    list_factors,
    measure_all,
    noise,
    noise_sigma,
    resolution,
    sharpness,
)

SceneMaker = Callable[..., np.ndarray]  # the conftest fixture ``make_scene``: draws a product on a backdrop


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


# --- sharpness ------------------------------------------------------------------------------------------------------


def test_sharpness_falls_monotonically_with_blur(scene: np.ndarray) -> None:
    values = [sharpness(scene).value]
    for sigma in (0.7, 1.5, 3.0, 6.0):
        values.append(sharpness(cv2.GaussianBlur(scene, (0, 0), sigma)).value)
    assert all(a > b for a, b in itertools.pairwise(values)), values
    assert not sharpness(scene).flag
    blurred = sharpness(cv2.GaussianBlur(scene, (0, 0), 4.0))
    assert blurred.flag and blurred.reason is not None and blurred.reason.startswith("blurry")
    assert blurred.score < sharpness(scene).score


def test_sharpness_ignores_the_amount_of_white_background(make_scene: SceneMaker) -> None:
    product = make_scene(size=120, side=1.0)
    small = np.full((200, 200, 3), 255, np.uint8)
    small[40:160, 40:160] = product
    big = np.full((500, 500, 3), 255, np.uint8)
    big[190:310, 190:310] = product
    a, b = sharpness(small).value, sharpness(big).value
    assert abs(a - b) / a < 0.1, (a, b)
    # the plain whole-frame variance of the Laplacian would be diluted by the extra white
    whole_small = laplacian_variance(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    whole_big = laplacian_variance(cv2.cvtColor(big, cv2.COLOR_RGB2GRAY))
    assert whole_small / whole_big > 3


def test_sharpness_and_noise_same_with_reduced_decoding(make_scene: SceneMaker) -> None:
    large = make_scene(size=1024, seed=3)
    data = _png(large)
    full = measure_all(load_image(data), ["sharpness", "noise", "fill", "resolution"])
    reduced = measure_all(load_image(data, max_side=512), ["sharpness", "noise", "fill", "resolution"])
    assert abs(full["sharpness"].value - reduced["sharpness"].value) / full["sharpness"].value < 0.15
    assert abs(full["noise"].value - reduced["noise"].value) < 0.5
    assert abs(full["fill"].value - reduced["fill"].value) < 0.02
    assert full["resolution"].value == reduced["resolution"].value == 1024


# --- noise ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["flat", "smooth"])
def test_noise_estimate_matches_true_sigma(base: str) -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float64)
    image = np.full((256, 256), 128.0) if base == "flat" else 60 + 120 * xx / 255 + 20 * np.sin(yy / 20)
    estimates = []
    for sigma in (1.0, 2.0, 5.0, 10.0, 20.0):
        gray = np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).round().astype(np.uint8)
        estimate = noise_sigma(gray)
        assert abs(estimate - sigma) <= 0.1 * sigma + 0.1, (sigma, estimate)
        estimates.append(estimate)
    assert estimates == sorted(estimates)


def test_noise_rises_with_added_noise_on_a_product_photo(scene: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    values = []
    for sigma in (0, 3, 6, 12, 24):
        grain = rng.normal(0, sigma, scene.shape[:2])[:, :, None]  # same grain in every channel: luma sigma = sigma
        noisy = np.clip(scene + grain, 0, 255).astype(np.uint8)
        values.append(noise(noisy))
    assert [f.value for f in values] == sorted(f.value for f in values)
    assert not values[0].flag and values[-1].flag
    assert values[-1].reason is not None and values[-1].reason.startswith("noisy")
    assert values[0].value < 2.0


def test_clipped_white_background_does_not_hide_noise(make_scene: SceneMaker) -> None:
    scene = make_scene(side=0.3)
    grain = np.random.default_rng(5).normal(0, 8, scene.shape[:2])[:, :, None]
    noisy = np.clip(scene.astype(np.float64) + grain, 0, 255).astype(np.uint8)  # the white stays clipped at 255
    assert noise(noisy).value > 6.0


# --- exposure and contrast ------------------------------------------------------------------------------------------


def test_underexposure_reports_the_crushed_share() -> None:
    img = np.full((200, 200, 3), 90, np.uint8)
    img[:76] = 5  # 38% of the rows crushed to black
    factor = exposure(img)
    assert factor.flag
    assert factor.reason == "underexposed: 38% of pixels crushed to black"
    assert factor.value == pytest.approx(0.38, abs=0.005)
    assert factor.score < 0.2


def test_overexposed_scene_and_white_backdrop_are_told_apart(scene: np.ndarray) -> None:
    natural = np.full((200, 200, 3), 140, np.uint8)
    natural[:, :100] = 255  # half the scene blown out, no plain backdrop around it
    natural[::7] = 60
    over = exposure(natural)
    assert over.flag and over.reason is not None and "overexposed" in over.reason
    product = exposure(scene)  # 75% of the frame is a 255 backdrop: intended, not overexposure
    assert not product.flag and product.score > 0.9


def test_dark_but_not_crushed_is_underexposed() -> None:
    factor = exposure(np.full((64, 64, 3), 40, np.uint8))
    assert factor.flag and factor.reason == "underexposed: mean brightness 40/255"


def test_contrast(scene: np.ndarray) -> None:
    assert not contrast(scene).flag
    flat = (scene.astype(np.float32) * 0.15 + 150).astype(np.uint8)
    low = contrast(flat)
    assert low.flag and low.value < contrast(scene).value
    assert low.reason is not None and low.reason.startswith("low contrast")


# --- colour ---------------------------------------------------------------------------------------------------------


def test_colourfulness_known_answer_and_flags(scene: np.ndarray) -> None:
    uniform = np.zeros((10, 10, 3), np.uint8)
    uniform[:] = (200, 100, 50)  # rg = 100, yb = 150 - 50 = 100, no spread
    assert hasler_susstrunk(uniform) == pytest.approx(0.3 * np.hypot(100, 100), rel=1e-5)
    grey = np.repeat(cv2.cvtColor(scene, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    g = colourfulness(grey)
    assert g.value == pytest.approx(0.0, abs=1e-6) and g.flag and "greyscale" in str(g.reason)
    assert not colourfulness(scene).flag and colourfulness(scene).value > 5
    vivid = np.zeros((64, 64, 3), np.uint8)
    vivid[:, ::2] = (255, 0, 0)
    vivid[:, 1::2] = (0, 255, 255)
    assert colourfulness(vivid).flag and "oversaturated" in str(colourfulness(vivid).reason)


# --- compression ----------------------------------------------------------------------------------------------------


def test_blockiness_orders_jpeg_qualities(scene: np.ndarray) -> None:
    values = {q: blockiness(load_image(_jpeg(scene, q))) for q in (10, 30, 60, 95)}
    assert values[10].value > values[30].value > values[95].value
    assert values[10].flag and not values[95].flag
    assert values[10].score < values[95].score
    lossless = blockiness(load_image(_png(scene)))
    assert lossless.value < 1.2 and not lossless.flag


def test_header_quality_flags_heavy_jpeg_after_reduced_decoding(make_scene: SceneMaker) -> None:
    big = cv2.resize(make_scene(size=400), (1600, 1600), interpolation=cv2.INTER_LINEAR)
    loaded = load_image(_jpeg(big, 12), max_side=400)
    assert loaded.reduced and loaded.jpeg_quality is not None and loaded.jpeg_quality <= 13
    factor = blockiness(loaded)
    assert factor.flag and "estimated quality" in str(factor.reason)


# --- geometry -------------------------------------------------------------------------------------------------------


def test_resolution_and_aspect_ratio() -> None:
    small = resolution(np.zeros((240, 320, 3), np.uint8))
    assert small.value == 320 and small.flag
    assert small.reason == "image too small: 320×240 px (0.08 MP; aim for >= 500 px)"
    assert resolution(np.zeros((1200, 1000, 3), np.uint8)).score == 1.0
    assert aspect_ratio(np.zeros((600, 800, 3), np.uint8)).score == 1.0
    tall = aspect_ratio(np.zeros((900, 300, 3), np.uint8))
    assert tall.value == pytest.approx(1 / 3) and tall.flag and "1:3.0" in str(tall.reason)


def test_geometry_uses_the_file_size_not_the_reduced_decode() -> None:
    loaded = load_image(_png(np.zeros((300, 1500, 3), np.uint8)), max_side=150)
    assert loaded.rgb.shape[:2] == (30, 150)
    assert resolution(loaded).value == 1500
    assert aspect_ratio(loaded).value == pytest.approx(5.0)


# --- background, fill, centring -------------------------------------------------------------------------------------


def test_white_grey_and_cluttered_backgrounds(make_scene: SceneMaker) -> None:
    white = background(make_scene())
    assert white.value > 0.99 and not white.flag and white.score > 0.95
    grey = background(make_scene(background=(170, 170, 170)))
    assert grey.value < 0.01 and grey.flag and str(grey.reason).startswith("background not white: plain RGB(170")
    rng = np.random.default_rng(4)
    clutter = cv2.resize(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8), (400, 400), interpolation=cv2.INTER_NEAREST)
    clutter[100:300, 100:300] = make_scene(size=200, side=1.0)
    cluttered = background(clutter)
    assert cluttered.flag and str(cluttered.reason).startswith("background cluttered")
    assert white.score > grey.score > cluttered.score


def test_colour_cast_background_is_not_white(make_scene: SceneMaker) -> None:
    cast = background(make_scene(background=(255, 240, 200)))
    assert cast.flag


def test_transparent_background_counts_as_white(make_scene: SceneMaker) -> None:
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[..., :3] = 30  # the hidden colour under the transparent part is dark
    rgba[60:140, 60:140, 3] = 255
    rgba[60:140, 60:140, :3] = make_scene(size=80, side=1.0)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    loaded = load_image(buf.getvalue())
    factors = measure_all(loaded, ["background", "fill", "centring"])
    assert not factors["background"].flag and factors["background"].value == 1.0
    assert factors["fill"].value == pytest.approx(0.4, abs=0.01)
    assert factors["centring"].value == pytest.approx(0.0, abs=0.01)


@pytest.mark.parametrize("side", [0.2, 0.5, 0.9])
def test_fill_of_a_centred_square(side: float, make_scene: SceneMaker) -> None:
    img = make_scene(size=400, side=side)
    f = fill(img)
    assert f.value == pytest.approx(side, abs=0.02)
    assert f.flag == (side < 0.6)
    if f.flag:
        assert f.reason == f"product too small in the frame: it spans only {side:.0%} of the frame (aim for about 85%)"
    c = centring(img)
    assert c.value == pytest.approx(0.0, abs=0.01) and not c.flag


def test_fill_of_a_tall_thin_product() -> None:
    img = np.full((400, 400, 3), 255, np.uint8)
    img[20:380, 170:230] = (40, 60, 90)  # a bottle: 90% of the height, 15% of the width
    assert fill(img).value == pytest.approx(0.9, abs=0.01)
    assert not fill(img).flag


def test_off_centre_product(make_scene: SceneMaker) -> None:
    img = make_scene(size=400, side=0.4, centre=(0.72, 0.5))
    c = centring(img)
    assert c.value == pytest.approx(0.22, abs=0.01)
    assert c.flag and c.reason == "product off-centre: shifted 22% of the frame to the right"
    assert c.score < centring(make_scene(size=400, side=0.4)).score


def test_blank_image_has_no_product() -> None:
    blank = np.full((300, 300, 3), 255, np.uint8)
    assert fill(blank).flag and str(fill(blank).reason).startswith("no product found")
    assert not centring(blank).flag


# --- registry, ranges, validation -----------------------------------------------------------------------------------


def _varied_images(make_scene: SceneMaker) -> list[np.ndarray]:
    rng = np.random.default_rng(6)
    return [
        np.zeros((1, 1, 3), np.uint8),
        np.full((2, 3, 3), 255, np.uint8),
        rng.integers(0, 256, (4, 4, 3), dtype=np.uint8),
        rng.integers(0, 256, (3, 3, 3), dtype=np.uint8),
        rng.integers(0, 256, (3, 100, 3), dtype=np.uint8),
        rng.integers(0, 256, (100, 1, 3), dtype=np.uint8),
        np.zeros((64, 64, 3), np.uint8),
        np.full((64, 64, 3), 255, np.uint8),
        rng.integers(0, 256, (300, 200, 3), dtype=np.uint8),
        make_scene(),
        cv2.GaussianBlur(make_scene(), (0, 0), 5),
        np.ascontiguousarray(make_scene()[::-1, ::2]),
        make_scene()[10:300, 20:390],  # a non-contiguous view
    ]


def test_every_score_is_in_unit_range_and_values_finite(make_scene: SceneMaker) -> None:
    for img in _varied_images(make_scene):
        factors = measure_all(img)
        assert list(factors) == list(FACTOR_NAMES)
        for name, f in factors.items():
            assert isinstance(f, Factor) and f.name == name
            assert 0.0 <= f.score <= 1.0, (name, f)
            assert np.isfinite(f.value), (name, f)
            assert f.flag == (f.reason is not None)


def test_measure_all_subset_order_and_unknown_name(scene: np.ndarray) -> None:
    subset = measure_all(scene, ["fill", "sharpness"])
    assert list(subset) == ["fill", "sharpness"]
    assert subset["sharpness"] == sharpness(scene)
    with pytest.raises(ConfigError, match=r"unknown factor 'glare'; known factors: sharpness, noise"):
        measure_all(scene, ["glare"])


def test_registry_describes_every_factor() -> None:
    specs = list_factors()
    assert [s.name for s in specs] == sorted([s.name for s in specs], key=FACTOR_NAMES.index)
    assert {s.name for s in specs} == set(FACTOR_NAMES)
    for spec in specs:
        assert spec.description and spec.unit and spec.threshold
        assert spec.direction in ("higher is better", "lower is better", "target range")
        assert spec.fn.__doc__ and "Returns" in spec.fn.__doc__


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.zeros((10, 10), np.uint8), ValueError, r"expected shape \(H, W, 3\).*got shape \(10, 10\)"),
        (np.zeros((10, 10, 4), np.uint8), ValueError, r"got shape \(10, 10, 4\)"),
        (np.zeros((10, 10, 3), np.float32), TypeError, "expected dtype uint8"),
        ([[1, 2, 3]], TypeError, "got a list"),
        (np.zeros((0, 10, 3), np.uint8), ValueError, "H, W >= 1"),
    ],
)
def test_input_validation_messages(bad: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        sharpness(bad)  # type: ignore[arg-type]


def test_alpha_validation(scene: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"alpha: expected shape \(400, 400\)"):
        fill(scene, np.zeros((10, 10), np.uint8))
    with pytest.raises(TypeError, match="alpha: expected dtype uint8"):
        fill(scene, np.zeros((400, 400), bool))
