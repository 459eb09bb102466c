"""Absolute grade targets of synthetic degradations, as defined by the grading standard (docs/grading.md).

A clean studio photo is grade :data:`CLEAN_TARGET`; each registered degradation type at level 1 … 5 gets the
grade the standard gives to that amount of the defect, whatever the product is (a shoe, a shirt, a carton of
milk): level 1 a flaw only an expert sees (about 4), level 2 a visible flaw acceptable on a secondary image
(about 3.3), level 3 a defect a shopper notices (2.5), level 4 a clear defect (1.8), level 5 unusable (1.1).

The only content-dependent correction is for desaturation: taking the colour out of a product that has none
(a white shirt on white) changes nothing, so its target moves towards the clean grade in proportion to how
colourful the clean photo was (:func:`effective_target`).
"""

from __future__ import annotations

import numpy as np

from pixgrade.degrade.registry import DEGRADATIONS, LEVELS

__all__ = [
    "CLEAN_TARGET",
    "DEFAULT_LEVEL_TARGETS",
    "DESATURATION_FULL_M",
    "LEVEL_TARGETS",
    "effective_target",
    "picture_colourfulness",
    "synthetic_target",
]

CLEAN_TARGET = 4.5
"""Grade target of a clean studio photo (between 4 "good" and 5 "publishable main image")."""

DEFAULT_LEVEL_TARGETS: tuple[float, ...] = (3.9, 3.2, 2.5, 1.8, 1.1)
"""Grade targets of levels 1 … 5 for every type without its own row in :data:`LEVEL_TARGETS`."""

LEVEL_TARGETS: dict[str, tuple[float, ...]] = {
    # JPEG quality 60 is hard to see on a product photo: an expert's flaw, not a shopper's.
    "jpeg": (4.2, 3.3, 2.5, 1.8, 1.1),
    # sigma 3 grey levels of noise is invisible at normal viewing distance.
    "gaussian_noise": (4.1, 3.3, 2.5, 1.8, 1.1),
    "shot_noise": (4.1, 3.3, 2.5, 1.8, 1.1),
}
"""Per-type grade targets of levels 1 … 5 where the standard departs from :data:`DEFAULT_LEVEL_TARGETS`."""

DESATURATION_FULL_M = 20.0
"""Hasler-Süsstrunk colourfulness of the whole clean photo at or above which desaturation counts fully."""


def synthetic_target(name: str, level: int) -> float:
    """The standard's grade for degradation ``name`` at ``level`` (0 = clean) on a clean studio photo."""
    if level == 0:
        return CLEAN_TARGET
    if name not in DEGRADATIONS:
        raise KeyError(f"unknown degradation {name!r}; known: {', '.join(DEGRADATIONS)}")
    if level not in LEVELS:
        raise ValueError(f"level must be in 0..{LEVELS[-1]}, got {level}")
    return LEVEL_TARGETS.get(name, DEFAULT_LEVEL_TARGETS)[level - 1]


def picture_colourfulness(rgb: np.ndarray) -> float:
    """Hasler-Süsstrunk M of the whole picture (same formula as :mod:`pixgrade.measures.colour`)."""
    x = rgb.astype(np.float32)
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def effective_target(clean_rgb: np.ndarray, name: str, level: int) -> float:
    """:func:`synthetic_target`, with desaturation counted in proportion to the colour there was to lose."""
    target = synthetic_target(name, level)
    if name == "desaturation" and level > 0:
        share = min(1.0, picture_colourfulness(clean_rgb) / DESATURATION_FULL_M)
        target = CLEAN_TARGET - (CLEAN_TARGET - target) * share
    return round(target, 4)
