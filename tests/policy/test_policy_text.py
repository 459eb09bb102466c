"""Overlaid-text detection on generated pictures (both detectors)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from policy_images import add_caption, product_on_white

from pixgrade.policy import analyse_image, available_text_detectors, detect_text


def test_classical_is_always_available() -> None:
    assert "classical" in available_text_detectors()


@pytest.mark.parametrize("detector", available_text_detectors())
def test_caption_on_white_is_overlay(detector: str) -> None:
    rgb = add_caption(product_on_white(fill=0.7), text="FREE SHIPPING", size=30, xy=(20, 12))
    facts = analyse_image(rgb, text_detector=detector)
    assert facts.overlay_text_regions >= 1
    assert facts.text_area > 0


@pytest.mark.parametrize("detector", available_text_detectors())
def test_plain_product_has_no_overlay_text(detector: str) -> None:
    facts = analyse_image(product_on_white(fill=0.7), text_detector=detector)
    assert facts.overlay_text_regions == 0
    assert facts.text_area == 0


@pytest.mark.skipif("db" not in available_text_detectors(), reason="onnxruntime not installed")
def test_print_inside_product_is_not_overlay() -> None:
    image = Image.fromarray(product_on_white(fill=0.9, colour=(30, 30, 30)))
    font = ImageFont.truetype("DejaVuSans-Bold.ttf", 40) if _has_dejavu() else ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((110, 180), "MAKE IT", fill=(250, 250, 250), font=font)
    facts = analyse_image(np.asarray(image), text_detector="db")
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
    from pixgrade.io import sha256_file
    from pixgrade.policy.text import DB_MODEL_FILE, DB_MODEL_SHA256, db_model_path

    assert db_model_path() == DB_MODEL_FILE
    assert sha256_file(DB_MODEL_FILE) == DB_MODEL_SHA256
    assert "Apache License" in (DB_MODEL_FILE.parent / "LICENSE-PaddleOCR.txt").read_text()[:100]
