"""The model score of a small image is capped by its resolution (the model cannot see the file's size)."""

from __future__ import annotations

from pixgrade.measures import Factor
from pixgrade.pipeline.scorer import resolution_cap


def _factors(score: float) -> dict[str, Factor]:
    return {"resolution": Factor("resolution", 0.0, score, score < 0.5, None)}


def test_cap_rises_from_one_at_200_px_to_five_at_500_px() -> None:
    assert resolution_cap(_factors(0.0)) == 1.0
    assert resolution_cap(_factors(0.25)) == 3.0
    assert resolution_cap(_factors(0.5)) == 5.0
    assert resolution_cap(_factors(1.0)) == 5.0
    assert resolution_cap({}) == 5.0
