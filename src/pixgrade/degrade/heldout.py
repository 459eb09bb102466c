"""Degradations used only to *evaluate* the model: never registered, never trained on.

They check that the score's judgement generalises to defects outside :data:`pixgrade.degrade.DEGRADATIONS`
(``benchmarks/synthetic_levels.py --heldout-types``). Same signature and level convention as the registry
(``fn(rgb, strength, rng) -> rgb``, five strengths from mild to severe, spatial strengths for a 512-px side).
"""

from __future__ import annotations

import numpy as np

from pixgrade.degrade.ops import _scale, _to_uint8
from pixgrade.degrade.registry import DegradationFn, DegradationSpec, check_rgb

__all__ = ["HELDOUT_DEGRADATIONS", "degrade_heldout", "list_heldout_degradations"]


def vignetting(rgb: np.ndarray, darkening: float, rng: np.random.Generator) -> np.ndarray:
    """Corners darkened to ``1 - darkening`` of their brightness (cos⁴-like radial fall-off)."""
    h, w = rgb.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - (w - 1) / 2) / (w / 2), (yy - (h - 1) / 2) / (h / 2)) / np.sqrt(2.0)
    gain = 1.0 - darkening * r**2.5
    return _to_uint8(rgb.astype(np.float32) * gain[..., None])


def posterisation(rgb: np.ndarray, levels: float, rng: np.random.Generator) -> np.ndarray:
    """Each channel quantised to ``levels`` values: banding in smooth gradients, flat patches."""
    n = max(2, round(levels))
    step = 255.0 / (n - 1)
    return _to_uint8(np.rint(rgb.astype(np.float32) / step) * step)


def chromatic_aberration(rgb: np.ndarray, shift: float, rng: np.random.Generator) -> np.ndarray:
    """Lateral chromatic aberration: red scaled outwards and blue inwards by ``shift`` pixels at the corners."""
    import cv2

    h, w = rgb.shape[:2]
    s = shift * _scale(rgb)
    half_diag = float(np.hypot(w / 2, h / 2))
    out = rgb.copy()
    for channel, sign in ((0, 1.0), (2, -1.0)):
        zoom = 1.0 + sign * s / half_diag
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), 0.0, zoom)
        out[..., channel] = cv2.warpAffine(
            rgb[..., channel], matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
        )
    return out


def oversharpening(rgb: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Unsharp mask of ``amount`` (radius 2 px at 512): bright and dark halos along every edge."""
    import cv2

    sigma = max(1.0, 2.0 * _scale(rgb))
    x = rgb.astype(np.float32)
    soft = cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return _to_uint8(x + amount * (x - soft))


def _spec(name: str, fn: DegradationFn, levels: tuple[float, ...], unit: str, description: str) -> DegradationSpec:
    return DegradationSpec(name, fn, "blur", levels, unit, description)  # severity channel unused


HELDOUT_DEGRADATIONS: dict[str, DegradationSpec] = {
    spec.name: spec
    for spec in (
        _spec("vignetting", vignetting, (0.2, 0.35, 0.5, 0.65, 0.8), "corner darkening", "dark corners"),
        _spec("posterisation", posterisation, (24, 12, 7, 5, 3), "values per channel", "colour banding"),
        _spec(
            "chromatic_aberration",
            chromatic_aberration,
            (1.0, 2.0, 3.5, 5.0, 7.0),
            "red/blue misregistration at the corners, pixels at 512 px",
            "colour fringes at edges",
        ),
        _spec("oversharpening", oversharpening, (0.8, 1.5, 2.5, 4.0, 6.0), "unsharp-mask amount", "edge halos"),
    )
}
"""Evaluation-only degradation types (not in :data:`pixgrade.degrade.DEGRADATIONS`)."""


def list_heldout_degradations() -> list[str]:
    """Names of the evaluation-only degradation types."""
    return list(HELDOUT_DEGRADATIONS)


def degrade_heldout(rgb: np.ndarray, name: str, level: int, seed: int | None = None) -> np.ndarray:
    """Apply evaluation-only degradation ``name`` at ``level`` (0 = identity, 1 mild … 5 severe)."""
    check_rgb(rgb)
    if name not in HELDOUT_DEGRADATIONS:
        raise KeyError(f"unknown held-out degradation {name!r}; known: {', '.join(HELDOUT_DEGRADATIONS)}")
    if not 0 <= level <= 5:
        raise ValueError(f"level must be in 0..5, got {level}")
    if level == 0:
        return rgb.copy()
    spec = HELDOUT_DEGRADATIONS[name]
    return spec.fn(np.ascontiguousarray(rgb), spec.strength(level), np.random.default_rng(seed))
