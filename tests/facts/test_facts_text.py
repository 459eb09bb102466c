"""Overlaid-text detection on generated pictures (both detectors)."""

from __future__ import annotations

import numpy as np
import pytest
from fact_images import add_caption, product_on_white
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pixgrade.facts import available_text_detectors, detect_text, measure_facts


def test_classical_is_always_available() -> None:
    assert "classical" in available_text_detectors()


@pytest.mark.parametrize("detector", available_text_detectors())
def test_caption_on_white_is_overlay(detector: str) -> None:
    rgb = add_caption(product_on_white(fill=0.7), text="FREE SHIPPING", size=30, xy=(20, 12))
    facts = measure_facts(rgb, text_detector=detector)
    assert facts.overlay_text_regions >= 1
    assert facts.text_area > 0


@pytest.mark.parametrize("detector", available_text_detectors())
def test_plain_product_has_no_overlay_text(detector: str) -> None:
    facts = measure_facts(product_on_white(fill=0.7), text_detector=detector)
    assert facts.overlay_text_regions == 0
    assert facts.text_area == 0


@pytest.mark.skipif("db" not in available_text_detectors(), reason="onnxruntime not installed")
def test_print_inside_product_is_not_overlay() -> None:
    image = Image.fromarray(product_on_white(fill=0.9, colour=(30, 30, 30)))
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 40) if _has_dejavu() else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((110, 180), "MAKE IT", fill=(250, 250, 250), font=font)
    facts = measure_facts(np.asarray(image), text_detector="db")
    assert facts.text_regions >= 1  # the print is text ...
    assert facts.overlay_text_regions == 0  # ... but printed on the product, not added


def _has_dejavu() -> bool:
    try:
        ImageFont.truetype("DejaVuSans-Bold.ttf", 10)
    except OSError:
        return False
    return True


def test_unknown_detector_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown text detector"):
        detect_text(product_on_white(), detector="ocr")  # type: ignore[arg-type]


def test_the_pp_ocr_model_ships_inside_pixgrade_unchanged() -> None:
    from pixgrade.facts.text import DB_MODEL_FILE, DB_MODEL_SHA256, db_model_path
    from pixgrade.io import sha256_file

    assert db_model_path() == DB_MODEL_FILE
    assert sha256_file(DB_MODEL_FILE) == DB_MODEL_SHA256
    assert "Apache License" in (DB_MODEL_FILE.parent / "LICENSE-PaddleOCR.txt").read_text()[:100]


def test_rendered_badge_scores_high_and_a_shaded_print_low() -> None:
    from pixgrade.facts.text import TextBox, rendered_text_score

    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 28) if _has_dejavu() else ImageFont.load_default(size=28)
    badge = Image.new("RGB", (200, 50), (220, 30, 40))
    ImageDraw.Draw(badge).text((10, 8), "SALE 50%", fill=(255, 255, 255), font=font)
    box = TextBox(0, 0, 200, 50, 1.0)
    assert rendered_text_score(np.asarray(badge), box) == 1.0
    # The same letters photographed on a package: lit unevenly and noisy.
    rng = np.random.default_rng(0)
    shade = np.linspace(0.55, 1.0, 200)[None, :, None]
    printed = np.asarray(badge).astype(np.float32) * shade + rng.normal(0, 9, (50, 200, 3))
    assert rendered_text_score(np.clip(printed, 0, 255).astype(np.uint8), box) == 0.0


def test_repeated_lines_of_one_size_across_the_image_are_a_tiled_watermark() -> None:
    from pixgrade.facts.text import TextBox, repeated_lines

    tiles = [TextBox(x, y, 80, 20, 0.9) for x in (10, 150, 290) for y in (20, 200)]
    label = [TextBox(100, 100, 60, 14, 0.9), TextBox(100, 130, 120, 14, 0.9)]
    assert repeated_lines(tiles + label, (400, 300)) == set(range(6))
    assert repeated_lines(label + tiles[:2], (400, 300)) == set()  # two alike lines, not spread out


def _busy_photo(width: int = 400, height: int = 300, seed: int = 0) -> np.ndarray:
    """A stand-in for a photographic background: smooth blobs of colour plus sensor noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(30, 225, size=(6, 8, 3)).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)).astype(np.float32)
    return np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype("DejaVuSans-Bold.ttf", size) if _has_dejavu() else ImageFont.load_default(size=size)


def test_plain_backdrop_tells_studio_shots_from_photos() -> None:
    from pixgrade.facts.text import plain_backdrop

    assert plain_backdrop(product_on_white(fill=0.7))
    assert not plain_backdrop(_busy_photo())


def test_a_banner_strip_is_a_backing_patch_and_a_tilted_label_is_not() -> None:
    from pixgrade.facts.text import TextBox, backing_patch

    image = Image.fromarray(_busy_photo())
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 260, 399, 299], fill=(220, 30, 40))
    draw.text((120, 266), "SALE -50%", fill=(255, 255, 255), font=_font(26))
    patch = backing_patch(np.asarray(image), TextBox(110, 262, 170, 34, 0.9))
    assert patch is not None and patch[1] >= 255 and patch[2] == 400
    # The same red label photographed at an angle in the middle of the scene.
    label = Image.new("RGBA", (180, 40), (220, 30, 40, 255))
    ImageDraw.Draw(label).text((10, 6), "SALE -50%", fill=(255, 255, 255, 255), font=_font(26))
    scene = Image.fromarray(_busy_photo())
    scene.paste(label.rotate(8, expand=True), (110, 120), label.rotate(8, expand=True))
    assert backing_patch(np.asarray(scene), TextBox(115, 125, 170, 50, 0.9)) is None


def test_drawn_glyphs_are_flat_and_photographed_ones_are_not() -> None:
    from pixgrade.facts.text import TextBox, flat_glyphs

    image = Image.fromarray(_busy_photo())
    ImageDraw.Draw(image).text((40, 120), "BEST PRICE", fill=(250, 250, 250), font=_font(40))
    drawn = np.asarray(image)
    box = TextBox(30, 112, 300, 60, 0.9)
    assert flat_glyphs(drawn, box) >= 3
    # The same picture taken by a camera: lit unevenly, slightly blurred and noisy.
    rng = np.random.default_rng(1)
    shade = np.linspace(0.7, 1.0, drawn.shape[1])[None, :, None]
    photographed = np.asarray(Image.fromarray(drawn).filter(ImageFilter.GaussianBlur(0.8))).astype(np.float32)
    photographed = np.clip(photographed * shade + rng.normal(0, 7, drawn.shape), 0, 255).astype(np.uint8)
    assert flat_glyphs(photographed, box) == 0


def test_shelf_rows_are_not_a_tiled_watermark() -> None:
    from pixgrade.facts.text import TextBox, repeated_lines

    shelf = [TextBox(x, 20, 60, 16, 0.9) for x in (10, 110, 210, 310)]  # one row of one product's labels
    assert repeated_lines(shelf, (400, 300)) == set(range(4))
    assert repeated_lines(shelf, (400, 300), both_axes=True) == set()
    tiles = [TextBox(x, y, 60, 16, 0.9) for x in (10, 160, 310) for y in (20, 140, 260)]
    assert repeated_lines(tiles, (400, 300), both_axes=True) == set(range(9))


@pytest.mark.skipif("db" not in available_text_detectors(), reason="onnxruntime not installed")
def test_banner_on_a_photo_is_overlay_and_the_bare_photo_is_not() -> None:
    photo = _busy_photo()
    image = Image.fromarray(photo)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 399, 40], fill=(250, 190, 0))
    draw.text((110, 6), "FREE SHIPPING", fill=(20, 20, 20), font=_font(26))
    assert measure_facts(np.asarray(image), text_detector="db").overlay_text_regions >= 1
    assert measure_facts(photo, text_detector="db").overlay_text_regions == 0
