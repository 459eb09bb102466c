"""How factors and model outputs become a score and reasons.

With a model, the model's prediction is the score. Without one (``--model none``), :func:`measures_score`
combines the *technical* factor scores with a weighted power mean of exponent −2, a soft minimum: one bad
factor pulls the score down much more than an average would. It is a hand-set heuristic, not learned and not
calibrated to human opinion scores; the formula is in ``docs/scoring.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pixgrade.measures import Factor

__all__ = [
    "EXCLUSIVE_SEVERITIES",
    "MEASURES_EXPONENT",
    "MEASURES_WEIGHTS",
    "MODEL_REASON_MAX_SCORE",
    "SEVERITY_REASONS",
    "SEVERITY_THRESHOLD",
    "build_reasons",
    "measures_score",
]

#: Weights of the technical factors in the measures-only score. Composition factors (aspect ratio, background,
#: fill, centring) are marketplace-style checks, not image quality: they stay diagnostics and reasons only.
MEASURES_WEIGHTS: dict[str, float] = {
    "sharpness": 2.0,
    "exposure": 1.5,
    "noise": 1.0,
    "contrast": 1.0,
    "blockiness": 1.0,
    "resolution": 1.0,
    "colourfulness": 0.5,
}
#: Exponent of the power mean: −2 makes it a soft minimum (−∞ would be the minimum, 1 the arithmetic mean).
MEASURES_EXPONENT = -2.0
#: Factor scores are floored at this before the power mean (a score of 0 would make the mean exactly 0).
_FLOOR = 0.01

#: A model severity above this becomes a reason.
SEVERITY_THRESHOLD = 0.5
#: A score at or above this (grade 4: at most a flaw only an expert sees, docs/grading.md) names no model defect:
#: the model's own score says there is nothing a shopper would notice.
MODEL_REASON_MAX_SCORE = 4.0
#: Severities that cannot both be true of one picture: only the larger of each pair can become a reason.
EXCLUSIVE_SEVERITIES: tuple[tuple[str, str], ...] = (("overexposure", "underexposure"),)
#: Plain words for each model severity.
SEVERITY_REASONS: dict[str, str] = {
    "blur": "blurry",
    "noise": "noisy",
    "overexposure": "overexposed",
    "underexposure": "underexposed",
    "low_contrast": "low contrast",
    "colour": "colour problem",
    "compression": "compression artefacts",
    "low_resolution": "low resolution",
}


def measures_score(
    factors: Mapping[str, Factor],
    weights: Mapping[str, float] = MEASURES_WEIGHTS,
    exponent: float = MEASURES_EXPONENT,
) -> float | None:
    """Measures-only quality score on 0–5 (higher is better), a heuristic.

    ``score = 5 · (Σ wᵢ·sᵢᵖ / Σ wᵢ)^(1/p)`` over the technical factors present, with ``sᵢ`` the factor score in
    [0, 1] floored at 0.01, ``wᵢ`` from :data:`MEASURES_WEIGHTS` and ``p`` = :data:`MEASURES_EXPONENT` (−2).
    All factors at 1 give 5; all at ``s`` give ``5s``; one factor at 0.1 with the others perfect gives 1.0
    (sharpness) to 1.9 (colourfulness), where a weighted average would give 3.9 to 4.7.

    Returns:
        The score, or ``None`` when none of the weighted factors was measured.
    """
    if exponent == 0:
        raise ValueError("exponent must be non-zero")
    total_weight = 0.0
    total = 0.0
    for name, weight in weights.items():
        factor = factors.get(name)
        if factor is None or weight <= 0:
            continue
        s = min(1.0, max(_FLOOR, float(factor.score)))
        total += weight * s**exponent
        total_weight += weight
    if total_weight == 0:
        return None
    return float(min(5.0, max(0.0, 5.0 * (total / total_weight) ** (1.0 / exponent))))


def build_reasons(
    factors: Mapping[str, Factor],
    severities: Mapping[str, float] | None = None,
    threshold: float = SEVERITY_THRESHOLD,
    score: float | None = None,
) -> list[str]:
    """Reasons, most important first: model severities above ``threshold`` (highest first, e.g.
    ``"blurry (model)"``), then the reasons of flagged factors (lowest factor score first).

    A model severity names a defect only when it is there: never when the ``score`` is at least
    :data:`MODEL_REASON_MAX_SCORE` (the model itself grades the picture free of noticeable defects), and of two
    contradictory severities (:data:`EXCLUSIVE_SEVERITIES`, e.g. over- and underexposed) only the larger."""
    values = dict(severities or {})
    if score is not None and score >= MODEL_REASON_MAX_SCORE:
        values = {}
    for first, second in EXCLUSIVE_SEVERITIES:
        if first in values and second in values:
            values.pop(second if values[first] >= values[second] else first)
    reasons = [
        f"{SEVERITY_REASONS.get(name, name.replace('_', ' '))} (model)"
        for name, value in sorted(values.items(), key=lambda item: -item[1])
        if value > threshold
    ]
    flagged = sorted((f for f in factors.values() if f.flag), key=lambda f: f.score)
    reasons += [f.reason or f"{f.name} flagged" for f in flagged]
    return reasons
