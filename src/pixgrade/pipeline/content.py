"""The content embedding near-duplicate search compares: the quality model's embedding of a copy at a fixed size.

The model's own embedding is computed at the image's resolution (it judges sharpness and resolution), so a
half-size copy of a photo lands far from the original; at a fixed size (:data:`CONTENT_SIDE`) copies, crops and
re-framings of one photo stay close (measured in ``benchmarks/duplicates.py``). It is computed in the per-image
stage when the settings ask for it (``AnalysisSettings.content``, what ``pixgrade filter`` does with duplicates
on), from the one decode of the image, and by :func:`pixgrade.catalog.duplicates.content_embeddings_for` for
images stored without one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pixgrade.io.arrays import check_rgb, fit_longest_side, resize_longest_side

__all__ = ["CONTENT_SIDE", "PIXEL_SIDE", "content_embedding", "content_input", "normalised"]

CONTENT_SIDE = 224
"""Longest side, in pixels, of the copy the content embedding is computed on."""

PIXEL_SIDE = 2 * CONTENT_SIDE
"""Longest side the image is first brought down to (area averaging), as a reduced decode at this size would."""


def content_input(rgb: np.ndarray) -> np.ndarray:
    """The copy of ``rgb`` the content embedding is computed on: area-averaged to at most :data:`PIXEL_SIDE`,
    then resized to exactly :data:`CONTENT_SIDE` on its longest side.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - output: ``(h, w, 3)`` uint8 with ``max(h, w) == CONTENT_SIDE``.
    """
    check_rgb(rgb)
    return resize_longest_side(fit_longest_side(rgb, PIXEL_SIDE), CONTENT_SIDE)


def normalised(vector: Any) -> np.ndarray:
    """``vector`` as float32, divided by its L2 norm (unchanged when the norm is 0)."""
    out = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(out))
    return out / norm if norm > 0 else out


def content_embedding(rgb: np.ndarray, predictor: Any) -> np.ndarray:
    """L2-normalised embedding of ``rgb`` resized to :data:`CONTENT_SIDE` (longest side) by ``predictor.embed``.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
        - output: ``(E,)`` float32.
    """
    check_rgb(rgb)
    return normalised(predictor.embed([resize_longest_side(rgb, CONTENT_SIDE)])[0])
