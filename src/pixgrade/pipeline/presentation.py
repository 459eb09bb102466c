"""Attach the presentation judgement and the main-image score to an :class:`ImageResult`.

One function for every path that makes or reuses a result (the scorer, the filter's stored scores, the API), so
the same file gets the same presentation and main score everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixgrade.model.presentation import PRESENTATION_PATH, PresentationModel, load_cached, main_score
from pixgrade.pipeline.result import ImageResult

__all__ = ["attach_presentation", "weights_sha256_of"]


def weights_sha256_of(model: Any) -> str | None:
    """SHA-256 of the weights file behind a model spec (``"default"``, a path), else None (no model, or an
    object of unknown origin: its embedding is then not used for the presentation judgement)."""
    if model is None or not isinstance(model, str | Path) or str(model).lower() == "none":
        return None
    from pixgrade.io import sha256_file

    path = Path(model)
    if str(model) == "default":
        from pixgrade.model.loader import DEFAULT_MODEL_PATH

        path = DEFAULT_MODEL_PATH
    return sha256_file(path) if path.is_file() else None


def attach_presentation(
    result: ImageResult, weights_sha256: str | None, model: PresentationModel | None = None
) -> ImageResult:
    """Set ``presentation``, ``presentation_reasons`` and ``main_score`` of ``result`` (in place; returned).

    ``weights_sha256`` names the weights that made ``result.embedding``; the embedding is used only when the
    presentation model was fitted on those weights, else the factor-only fallback judges. Unreadable images and
    a missing presentation file leave the presentation empty (``main_score`` is then ``score / 5``).
    """
    if result.error is not None:
        result.presentation, result.presentation_reasons, result.main_score = None, [], None
        return result
    judge = model if model is not None else load_cached(str(PRESENTATION_PATH))
    verdict = judge.judge(result.factors, result.embedding, weights_sha256) if judge is not None else None
    result.presentation = None if verdict is None else verdict.score
    result.presentation_reasons = [] if verdict is None else list(verdict.reasons)
    result.main_score = main_score(result.score, result.presentation)
    return result
