"""Background whiteness, product fill and border detection on pictures with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from fact_images import product_on_white
from PIL import Image, ImageDraw, ImageOps

from pixgrade.facts import background_mask, background_stats, detect_border, product_mask


def test_white_background_is_white() -> None:
    clean_product = product_on_white()
    stats = background_stats(clean_product)
    assert stats.white_fraction > 0.95
    assert stats.edge_colour == (255, 255, 255)


def test_grey_background_is_not_white() -> None:
    rgb = product_on_white()
    rgb[(rgb == 255).all(axis=2)] = 236
    stats = background_stats(rgb)
    assert stats.white_fraction < 0.05
    assert stats.edge_colour == (236, 236, 236)


@pytest.mark.parametrize("fill", [0.5, 0.7, 0.9])
def test_product_fill_matches_drawn_size(fill: float) -> None:
    stats = background_stats(product_on_white(fill=fill))
    assert stats.product_fill == pytest.approx(fill, abs=0.02)


def test_caption_does_not_stretch_product_fill() -> None:
    from fact_images import add_caption

    rgb = add_caption(product_on_white(fill=0.6), xy=(5, 360))
    assert background_stats(rgb).product_fill == pytest.approx(0.6, abs=0.03)


def test_product_mask_fills_holes_and_drops_islands() -> None:
    bg = np.ones((100, 100), bool)
    bg[20:80, 20:80] = False
    bg[40:60, 40:60] = True  # a hole inside the product
    bg[2:5, 2:5] = False  # a speck
    mask = product_mask(bg)
    assert mask[50, 50] and mask[21, 21]
    assert not mask[3, 3]


def test_background_mask_shape_and_content() -> None:
    clean_product = product_on_white()
    mask = background_mask(clean_product)
    assert mask.shape == clean_product.shape[:2]
    assert mask[0, 0] and not mask[200, 200]


@pytest.mark.parametrize("colour", [(0, 0, 0), (200, 30, 30), (128, 128, 128)])
def test_added_border_is_found(colour: tuple[int, int, int]) -> None:
    photo = Image.fromarray(product_on_white(360))
    framed = np.asarray(ImageOps.expand(photo, border=12, fill=colour))
    found = detect_border(framed)
    assert found.found
    assert found.max_thickness == 12
    assert found.colour is not None and max(abs(a - b) for a, b in zip(found.colour, colour, strict=True)) < 10


def test_inset_frame_line_is_found() -> None:
    image = Image.fromarray(product_on_white(400, fill=0.7))
    ImageDraw.Draw(image).rectangle([8, 8, 391, 391], outline=(20, 20, 20), width=3)
    assert detect_border(np.asarray(image)).found


def test_no_border_on_plain_product_photo() -> None:
    assert not detect_border(product_on_white()).found


def test_dark_backdrop_is_not_a_border() -> None:
    rgb = product_on_white(400, fill=0.5)
    rgb[(rgb == 255).all(axis=2)] = 15  # product on a black backdrop, far from the edges
    assert not detect_border(rgb).found


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        background_stats(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="too small"):
        detect_border(np.zeros((2, 2, 3), np.uint8))


def test_a_sliver_gets_a_backdrop_mask() -> None:
    """A 4 x 5000 strip: the small copy keeps one row (it asked OpenCV for 0 rows before io.arrays)."""
    from pixgrade.facts.layout import background_mask

    mask = background_mask(np.full((4, 5000, 3), 255, np.uint8))
    assert mask.shape == (4, 5000) and mask.all()
