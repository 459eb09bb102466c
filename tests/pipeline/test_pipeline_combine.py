"""The measures-only score and the reasons."""

from __future__ import annotations

import pytest

from pixgrade.measures import Factor
from pixgrade.pipeline import build_reasons, measures_score
from pixgrade.pipeline.combine import MEASURES_WEIGHTS


def factors(**scores: float) -> dict[str, Factor]:
    return {name: Factor(name, 0.0, s, s < 0.5, f"{name} is poor" if s < 0.5 else None) for name, s in scores.items()}


def all_technical(value: float) -> dict[str, Factor]:
    return factors(**dict.fromkeys(MEASURES_WEIGHTS, value))


def test_perfect_and_uniform_factors() -> None:
    assert measures_score(all_technical(1.0)) == pytest.approx(5.0)
    assert measures_score(all_technical(0.6)) == pytest.approx(3.0)
    assert measures_score(all_technical(0.0)) == pytest.approx(0.05)  # floored at 0.01


def test_one_bad_factor_pulls_the_score_down_more_than_an_average() -> None:
    scores = dict.fromkeys(MEASURES_WEIGHTS, 1.0)
    scores["sharpness"] = 0.1
    score = measures_score(factors(**scores))
    weighted_mean = 5 * sum(MEASURES_WEIGHTS[n] * s for n, s in scores.items()) / sum(MEASURES_WEIGHTS.values())
    assert score is not None
    assert score < 1.5 < weighted_mean


def test_monotonic_in_each_factor() -> None:
    base = dict.fromkeys(MEASURES_WEIGHTS, 0.8)
    for name in MEASURES_WEIGHTS:
        lower = dict(base, **{name: 0.3})
        assert measures_score(factors(**lower)) < measures_score(factors(**base))  # type: ignore[operator]


def test_composition_factors_do_not_change_the_score() -> None:
    technical = all_technical(0.9)
    with_layout = {**technical, **factors(background=0.0, fill=0.0, centring=0.0, aspect_ratio=0.0)}
    assert measures_score(with_layout) == measures_score(technical)


def test_no_technical_factor_gives_no_score() -> None:
    assert measures_score(factors(background=0.2)) is None


def test_reasons_order_model_first_then_worst_factor() -> None:
    fs = factors(sharpness=0.4, exposure=0.1, noise=0.9)
    reasons = build_reasons(fs, {"blur": 0.7, "noise": 0.95, "colour": 0.2})
    assert reasons == ["noisy (model)", "blurry (model)", "exposure is poor", "sharpness is poor"]
    assert build_reasons(factors(noise=0.9)) == []


def test_contradictory_severities_name_only_the_larger() -> None:
    reasons = build_reasons({}, {"overexposure": 0.7, "underexposure": 0.8, "blur": 0.6})
    assert reasons == ["underexposed (model)", "blurry (model)"]
    assert build_reasons({}, {"overexposure": 0.9, "underexposure": 0.3}) == ["overexposed (model)"]


def test_a_good_model_score_names_no_model_defect_but_keeps_factor_reasons() -> None:
    fs = factors(sharpness=0.4)
    assert build_reasons(fs, {"blur": 0.7}, score=4.3) == ["sharpness is poor"]
    assert build_reasons(fs, {"blur": 0.7}, score=2.1) == ["blurry (model)", "sharpness is poor"]
