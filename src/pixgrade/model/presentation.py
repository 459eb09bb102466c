"""Presentation: is a photo a catalogue shot or a casual one? A judgement in [0, 1] with reasons, and the
main-image score that combines it with the quality grade.

A catalogue (studio) shot has a plain clean background, the product centred and filling the frame, and no
hands, shelves, price tags, clutter, added text or borders. The judgement is a logistic regression fitted by
``tools/fit_presentation.py`` (see docs/filtering.md, *Presentation*) on two kinds of input:

- the measured ``background``, ``fill`` and ``centring`` factors (value and score of each), and
- the quality model's pooled embedding (``ModelOutput.embedding``, 1280 numbers for MobileNetV2).

The fitted arrays are stored in ``weights/presentation.npz`` (plain arrays, read with ``allow_pickle=False``)
together with the SHA-256 of the model weights whose embedding they were fitted on. When the embedding comes
from other weights, or there is no model (``--model none``), the **factor-only** regression fitted in the same
run is used instead; it needs nothing but the three factors.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pixgrade.measures import Factor

__all__ = [
    "FACTOR_FEATURES",
    "PRESENTATION_PATH",
    "LinearHead",
    "Presentation",
    "PresentationModel",
    "factor_features",
    "main_score",
]

#: Where the fitted presentation arrays live (keyed to the shipped weights' SHA-256).
PRESENTATION_PATH = Path(__file__).parent / "weights" / "presentation.npz"

#: The factor inputs, in order: ``(factor name, "value" | "score")``.
FACTOR_FEATURES: tuple[tuple[str, Literal["value", "score"]], ...] = (
    ("background", "value"),
    ("background", "score"),
    ("fill", "value"),
    ("fill", "score"),
    ("centring", "value"),
    ("centring", "score"),
)

#: Below this the photo is called casual in the reasons; at or above :data:`CATALOGUE_AT`, a catalogue shot.
CASUAL_BELOW = 0.5
CATALOGUE_AT = 0.7


def factor_features(factors: Mapping[str, Factor]) -> np.ndarray | None:
    """The factor inputs as a float vector (:data:`FACTOR_FEATURES` order), or None when one is missing."""
    values = []
    for name, part in FACTOR_FEATURES:
        factor = factors.get(name)
        if factor is None:
            return None
        number = float(factor.value if part == "value" else factor.score)
        if not math.isfinite(number):
            return None
        values.append(number)
    return np.array(values, np.float64)


@dataclass(frozen=True)
class LinearHead:
    """A standardised logistic regression: ``p = σ(coef · (x − mean) / scale + intercept)``."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def terms(self, x: np.ndarray) -> np.ndarray:
        """Each input's contribution to the logit."""
        return np.asarray(self.coef * (x - self.mean) / self.scale, np.float64)

    def probability(self, x: np.ndarray) -> float:
        """The catalogue-shot probability of input ``x``."""
        logit = float(self.terms(x).sum() + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


@dataclass(frozen=True)
class Presentation:
    """The presentation judgement of one image."""

    score: float
    """In [0, 1]: 1 = a catalogue shot, 0 = a casual photo."""
    reasons: tuple[str, ...]
    source: Literal["model", "factors"]
    """``model``: embedding + factors; ``factors``: the factor-only fallback."""


@dataclass(frozen=True)
class PresentationModel:
    """The fitted presentation regressions (see the module docstring)."""

    weights_sha256: str
    """SHA-256 of the model weights whose embedding ``full`` was fitted on."""
    full: LinearHead
    """Inputs: the embedding, then :data:`FACTOR_FEATURES`."""
    factors_only: LinearHead
    """Inputs: :data:`FACTOR_FEATURES`."""
    info: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path = PRESENTATION_PATH) -> PresentationModel:
        """Read the arrays written by ``tools/fit_presentation.py``."""
        with np.load(path, allow_pickle=False) as data:

            def head(prefix: str) -> LinearHead:
                return LinearHead(
                    data[f"{prefix}_mean"], data[f"{prefix}_scale"], data[f"{prefix}_coef"], float(data[f"{prefix}_b"])
                )

            return cls(str(data["weights_sha256"]), head("full"), head("factors"), json.loads(str(data["info"])))

    def judge(
        self,
        factors: Mapping[str, Factor],
        embedding: np.ndarray | None = None,
        weights_sha256: str | None = None,
    ) -> Presentation | None:
        """Judge one image from its factors and, when it comes from the weights this model was fitted on, its
        embedding. None when the factors were not measured."""
        x_factors = factor_features(factors)
        if x_factors is None:
            return None
        use_model = (
            embedding is not None
            and weights_sha256 == self.weights_sha256
            and np.asarray(embedding).size + len(FACTOR_FEATURES) == self.full.coef.size
        )
        if use_model:
            x = np.concatenate([np.asarray(embedding, np.float64).ravel(), x_factors])
            score = self.full.probability(x)
            appearance = float(self.full.terms(x)[: -len(FACTOR_FEATURES)].sum())
        else:
            score = self.factors_only.probability(x_factors)
            appearance = 0.0
        return Presentation(score, _reasons(score, factors, appearance, use_model), "model" if use_model else "factors")


def _reasons(score: float, factors: Mapping[str, Factor], appearance: float, use_model: bool) -> tuple[str, ...]:
    """Plain words for the judgement: what makes it casual (measured factors first, then the model's view)."""
    reasons = []
    background, fill, centring = factors["background"], factors["fill"], factors["centring"]
    if background.value < 0.8:
        reasons.append(f"background not plain white ({background.value:.0%} of the border is)")
    if fill.value < 0.6:
        reasons.append(f"product spans only {fill.value:.0%} of the frame")
    if centring.value > 0.1:
        reasons.append(f"product off-centre by {centring.value:.0%} of the frame")
    if use_model and (appearance < -1.0 or (score < CATALOGUE_AT and not reasons)):
        reasons.append("looks like a casual photo: scene, hands, shelves or clutter around the product (model)")
    if score >= CATALOGUE_AT:
        head = "catalogue shot" if not reasons else "mostly a catalogue shot"
        return (f"{head} ({score:.2f})", *reasons)
    if score < CASUAL_BELOW:
        return (f"casual photo, not a catalogue shot ({score:.2f})", *reasons)
    return (f"between a catalogue shot and a casual photo ({score:.2f})", *reasons)


@functools.lru_cache(maxsize=4)
def load_cached(path: str = str(PRESENTATION_PATH)) -> PresentationModel | None:
    """:meth:`PresentationModel.load`, once per process; None when the file is not there."""
    if not Path(path).is_file():
        return None
    return PresentationModel.load(path)


def main_score(score: float | None, presentation: float | None) -> float | None:
    """How good an image is as a product's main image, in [0, 1]: the geometric mean of the grade's share
    (``score / 5``) and the presentation judgement, ``√(score/5 · presentation)``.

    Either one at zero makes it zero: an unreadable-quality studio shot is no main image, and neither is a sharp
    phone photo in a shop. Without a presentation (not measured) it is ``score / 5``; without a score, None.
    """
    if score is None or not math.isfinite(score):
        return None
    quality = min(1.0, max(0.0, score / 5.0))
    if presentation is None or not math.isfinite(presentation):
        return quality
    return math.sqrt(quality * min(1.0, max(0.0, presentation)))


def presentation_reasons_text(reasons: Sequence[str]) -> str:
    """The reasons as one ``; ``-separated line (for tables)."""
    return "; ".join(r.replace(";", ",") for r in reasons)
