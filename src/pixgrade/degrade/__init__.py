"""Synthetic degradations: a seeded registry of types × 5 levels (1 mild … 5 severe; 0 = identity).

>>> import numpy as np
>>> from pixgrade.degrade import degrade, list_degradations
>>> img = np.full((64, 64, 3), 200, np.uint8)
>>> degrade(img, "underexposure", 5, seed=0).mean() < img.mean()
True
"""

from pixgrade.degrade import ops as _ops  # noqa: F401  (registers the built-in types)
from pixgrade.degrade.registry import (
    DEGRADATIONS,
    LEVEL_SCORE_FRACTION,
    LEVELS,
    REFERENCE_SIDE,
    SEVERITY_CHANNELS,
    DegradationSpec,
    check_rgb,
    degrade,
    get_degradation,
    level_score,
    list_degradations,
    random_degradation,
    register_degradation,
)
from pixgrade.degrade.targets import CLEAN_TARGET, effective_target, synthetic_target

__all__ = [
    "CLEAN_TARGET",
    "DEGRADATIONS",
    "LEVELS",
    "LEVEL_SCORE_FRACTION",
    "REFERENCE_SIDE",
    "SEVERITY_CHANNELS",
    "DegradationSpec",
    "check_rgb",
    "degrade",
    "effective_target",
    "get_degradation",
    "level_score",
    "list_degradations",
    "random_degradation",
    "register_degradation",
    "synthetic_target",
]
