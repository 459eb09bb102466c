"""The result record of a measure, score curves, and the factor registry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from pixgrade.errors import ConfigError

if TYPE_CHECKING:
    from pixgrade.measures.prepared import PreparedImage

__all__ = ["FACTOR_NAMES", "Factor", "FactorSpec", "get_factor", "list_factors", "piecewise", "register_factor"]

#: The built-in factors, in the order of output columns (factors registered by users come after them).
FACTOR_NAMES: tuple[str, ...] = (
    "sharpness",
    "noise",
    "exposure",
    "contrast",
    "colourfulness",
    "blockiness",
    "resolution",
    "aspect_ratio",
    "background",
    "fill",
    "centring",
)

Direction = Literal["higher is better", "lower is better", "target range"]
FactorFn = TypeVar("FactorFn", bound=Callable[..., Any])


@dataclass(frozen=True)
class Factor:
    """One measured quality factor of one image.

    Attributes:
        name: factor name (see :data:`pixgrade.measures.FACTOR_NAMES`).
        value: raw measured value; its unit and range are in the measuring function's docstring.
        score: normalised score in [0, 1], 1 = good, through the documented piecewise-linear curve.
        flag: True when the value passes the documented problem threshold.
        reason: plain-language finding when flagged, else None.
    """

    name: str
    value: float
    score: float
    flag: bool
    reason: str | None = None


@dataclass(frozen=True)
class FactorSpec:
    """A registered factor: how to compute it and how to read it."""

    name: str
    fn: Callable[[PreparedImage], Factor]
    description: str
    unit: str
    direction: Direction
    threshold: str


_REGISTRY: dict[str, FactorSpec] = {}


def register_factor(
    name: str, *, description: str, unit: str, direction: Direction, threshold: str
) -> Callable[[FactorFn], FactorFn]:
    """Decorator adding a factor function to the registry under ``name``.

    The function must accept a :class:`~pixgrade.measures.prepared.PreparedImage` as its only required argument
    (built-in factors also accept an RGB array or a ``LoadedImage`` plus an optional alpha) and return a
    :class:`Factor`.
    """

    def wrap(fn: FactorFn) -> FactorFn:
        if name in _REGISTRY:
            raise ValueError(f"factor {name!r} is already registered")
        _REGISTRY[name] = FactorSpec(name, fn, description, unit, direction, threshold)
        return fn

    return wrap


def _rank(name: str) -> int:
    return FACTOR_NAMES.index(name) if name in FACTOR_NAMES else len(FACTOR_NAMES)


def list_factors() -> list[FactorSpec]:
    """Every registered factor: the built-in ones in :data:`FACTOR_NAMES` order, then others in registration order."""
    return sorted(_REGISTRY.values(), key=lambda spec: _rank(spec.name))


def get_factor(name: str) -> FactorSpec:
    """The spec of one factor.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(spec.name for spec in list_factors())
        raise ConfigError(f"unknown factor {name!r}; known factors: {known}") from None


def piecewise(x: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    """Piecewise-linear map through the anchors ``(xs[i], ys[i])``, constant beyond the ends, clipped to [0, 1]."""
    if not np.isfinite(x):
        return 0.0
    return float(np.clip(np.interp(x, xs, ys), 0.0, 1.0))


def make_factor(name: str, value: float, score: float, reason: str | None) -> Factor:
    """A :class:`Factor` whose flag is ``reason is not None``; value and score as plain floats."""
    return Factor(
        name=name, value=float(value), score=float(np.clip(score, 0.0, 1.0)), flag=reason is not None, reason=reason
    )
