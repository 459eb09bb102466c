"""The two backdrop definitions and their documented relation (docs/factors.md, "Two backdrops").

The ``background`` factor (measures) asks "is the backdrop photographic white?"; the ``white_background`` fact
(facts, read by marketplace policies) asks "is it the pure white a marketplace demands?". Pure white is near-white,
not the other way round.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixgrade.facts.layout import background_stats, pure_white
from pixgrade.measures import measure_all
from pixgrade.measures.prepared import WHITE_MAX_CHROMA, WHITE_MIN, near_white


def _all_colours(step: int) -> np.ndarray:
    levels = np.unique(np.r_[np.arange(0, 256, step), 230:256])  # every level near white, a grid elsewhere
    r, g, b = np.meshgrid(levels, levels, levels, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], axis=1).astype(np.uint8)


def test_every_pure_white_colour_is_near_white_but_not_conversely() -> None:
    colours = _all_colours(5)
    for tolerance in (0, 8, 255 - WHITE_MIN):  # the fact's default is 8; up to 20 the subset relation holds
        pure = pure_white(colours, tolerance)
        near = near_white(colours.T.astype(np.int16))
        assert pure.any() and not (pure & ~near).any()
    near_only = near & ~pure_white(colours, 8)
    assert near_only.any()
    lo, hi = colours[near_only].min(axis=1), colours[near_only].max(axis=1)
    assert (lo >= WHITE_MIN).all() and (hi - lo <= WHITE_MAX_CHROMA).all() and (lo < 247).all()


def _product_on(backdrop: tuple[int, int, int]) -> np.ndarray:
    rgb = np.empty((200, 200, 3), np.uint8)
    rgb[:] = backdrop
    rgb[50:150, 60:140] = (40, 70, 160)  # a blue product in the middle, away from the edges
    return rgb


@pytest.mark.parametrize(
    ("backdrop", "factor", "fact"),
    [
        ((255, 255, 255), 1.0, 1.0),  # studio white: both white
        ((250, 252, 249), 1.0, 1.0),  # JPEG's 255: both white
        ((240, 240, 240), 1.0, 0.0),  # off-white: photographic white, not marketplace white
        ((250, 243, 236), 1.0, 0.0),  # warm cast within the factor's chroma limit
        ((255, 225, 225), 0.0, 0.0),  # pink: neither
        ((128, 128, 128), 0.0, 0.0),  # grey: neither
    ],
)
def test_the_factor_and_the_fact_on_plain_backdrops(backdrop: tuple[int, int, int], factor: float, fact: float) -> None:
    rgb = _product_on(backdrop)
    assert measure_all(rgb)["background"].value == pytest.approx(factor)
    assert background_stats(rgb).white_fraction == pytest.approx(fact)
