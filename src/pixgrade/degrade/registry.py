"""Registry of synthetic degradations: each type has five strengths (level 1 mild … level 5 severe).

A degradation function has the signature ``fn(rgb, strength, rng) -> rgb`` where ``strength`` is the
type's parameter for the requested level (see :attr:`DegradationSpec.levels`) and ``rng`` is a seeded
:class:`numpy.random.Generator`. Random choices (a motion direction, a cast hue) are drawn from ``rng``
before the strength is applied, so the same seed gives the same choice at every level and a sweep over
levels changes only the strength.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pixgrade.io.arrays import check_rgb

__all__ = [
    "DEGRADATIONS",
    "LEVELS",
    "LEVEL_SCORE_FRACTION",
    "REFERENCE_SIDE",
    "SEVERITY_CHANNELS",
    "DegradationFn",
    "DegradationSpec",
    "check_rgb",
    "degrade",
    "get_degradation",
    "level_score",
    "list_degradations",
    "random_degradation",
    "register_degradation",
]

DegradationFn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]

SEVERITY_CHANNELS: tuple[str, ...] = (
    "blur",
    "noise",
    "overexposure",
    "underexposure",
    "low_contrast",
    "colour",
    "compression",
    "low_resolution",
)
"""The model's severity channels (same order as ``pixgrade.model.SEVERITY_NAMES``)."""

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
"""Degradation levels; level 0 means "untouched" and is accepted by :func:`degrade` as the identity."""

REFERENCE_SIDE = 512
"""Spatial strengths (blur sigma, kernel length, block size) are given for an image whose longest side is
this many pixels and scaled in proportion to the actual longest side, so a level looks the same when the
picture is shown at the same display size."""

LEVEL_SCORE_FRACTION: tuple[float, ...] = (1.0, 0.9, 0.76, 0.58, 0.38, 0.18)
"""Default fraction of the clean image's score kept at level 0 … 5 (used by :func:`level_score`)."""


@dataclass(frozen=True)
class DegradationSpec:
    """One registered degradation type.

    Attributes:
        name: registry key, e.g. ``"gaussian_blur"``.
        fn: ``fn(rgb, strength, rng) -> rgb`` on uint8 ``(H, W, 3)`` arrays.
        severity: the model severity channel this type feeds (one of :data:`SEVERITY_CHANNELS`).
        levels: the strength passed to ``fn`` for levels 1 … 5 (monotone: later = worse).
        unit: what ``strength`` measures, for the docs.
        description: one line for humans.
    """

    name: str
    fn: DegradationFn
    severity: str
    levels: tuple[float, ...] = field(default=(1.0, 2.0, 3.0, 4.0, 5.0))
    unit: str = ""
    description: str = ""

    def strength(self, level: int) -> float:
        """The strength parameter of ``level`` (1 … 5)."""
        _check_level(level, allow_zero=False)
        return self.levels[level - 1]


DEGRADATIONS: dict[str, DegradationSpec] = {}
"""All registered degradation types by name (filled when :mod:`pixgrade.degrade` is imported)."""


def register_degradation(
    name: str, severity: str, levels: Sequence[float], unit: str = "", description: str = ""
) -> Callable[[DegradationFn], DegradationFn]:
    """Decorator that registers ``fn`` under ``name``; raises ``ValueError`` on a duplicate name or a bad spec."""
    if severity not in SEVERITY_CHANNELS:
        raise ValueError(
            f"degradation {name!r}: unknown severity channel {severity!r}; expected one of {SEVERITY_CHANNELS}"
        )
    if len(levels) != len(LEVELS):
        raise ValueError(f"degradation {name!r}: expected {len(LEVELS)} level strengths, got {len(levels)}")

    def decorator(fn: DegradationFn) -> DegradationFn:
        if name in DEGRADATIONS:
            raise ValueError(f"degradation {name!r} is already registered")
        DEGRADATIONS[name] = DegradationSpec(name, fn, severity, tuple(float(v) for v in levels), unit, description)
        return fn

    return decorator


def list_degradations(severity: str | None = None) -> list[str]:
    """Names of the registered degradation types (optionally only those feeding one severity channel)."""
    return [name for name, spec in DEGRADATIONS.items() if severity is None or spec.severity == severity]


def get_degradation(name: str) -> DegradationSpec:
    """The spec registered as ``name``; ``KeyError`` with the list of known names otherwise."""
    try:
        return DEGRADATIONS[name]
    except KeyError:
        raise KeyError(f"unknown degradation {name!r}; known: {', '.join(DEGRADATIONS)}") from None


def _check_level(level: object, allow_zero: bool = True) -> int:
    if isinstance(level, bool) or not isinstance(level, int | np.integer):
        raise TypeError(f"level must be an int, got {type(level).__name__}")
    low = 0 if allow_zero else 1
    if not low <= int(level) <= LEVELS[-1]:
        raise ValueError(f"level must be in {low}..{LEVELS[-1]}, got {level}")
    return int(level)


def degrade(rgb: np.ndarray, name: str, level: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Apply degradation ``name`` at ``level`` (0 = identity, 1 mild … 5 severe).

    The same ``(rgb, name, level, seed)`` always gives the same output; ``seed=None`` draws fresh entropy.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - output: ``(H, W, 3)`` uint8, a new array (the input is never modified).

    Example:
        >>> out = degrade(np.full((32, 32, 3), 128, np.uint8), "gaussian_noise", 3, seed=0)
        >>> out.shape, out.dtype
        ((32, 32, 3), dtype('uint8'))
    """
    check_rgb(rgb)
    spec = get_degradation(name)
    level = _check_level(level)
    if level == 0:
        return rgb.copy()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = spec.fn(np.ascontiguousarray(rgb), spec.strength(level), rng)
    if out.shape != rgb.shape or out.dtype != np.uint8:  # a broken registered function, not a user error
        raise RuntimeError(f"degradation {name!r} returned {out.dtype} {out.shape} for input {rgb.shape}")
    return out


def random_degradation(
    rng: np.random.Generator, names: Sequence[str] | None = None, levels: Sequence[int] = LEVELS
) -> tuple[str, int]:
    """Draw ``(name, level)`` uniformly from ``names`` (default: all registered) × ``levels``."""
    pool = list(names) if names is not None else list_degradations()
    if not pool or not levels:
        raise ValueError("random_degradation needs at least one name and one level")
    for name in pool:
        get_degradation(name)
    return pool[int(rng.integers(len(pool)))], _check_level(levels[int(rng.integers(len(levels)))])


def level_score(level: int, clean_score: float = 4.5) -> float:
    """Default training target for a synthetic image: ``clean_score`` × :data:`LEVEL_SCORE_FRACTION` [level].

    With the default clean score 4.5 this gives 4.5, 4.05, 3.42, 2.61, 1.71, 0.81 for levels 0 … 5. It is
    a prior, not a measurement: the same level of two types is not judged equally bad by people.
    """
    return round(float(clean_score) * LEVEL_SCORE_FRACTION[_check_level(level)], 4)
