"""Score the images of a manifest with a predictor and collect the predictions in a table."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pixgrade.data.manifest import Manifest
from pixgrade.errors import ImageLoadError

__all__ = ["PREDICTION_COLUMNS", "ScorePredictor", "evaluate_manifest"]

PREDICTION_COLUMNS: tuple[str, ...] = ("line", "image", "true", "pred", "degradation", "level", "group", "error")
"""Columns of the table :func:`evaluate_manifest` returns (``degradation``, ``level``, ``group`` may be empty)."""


class ScorePredictor(Protocol):
    """Anything with ``predict(list of RGB uint8 (H, W, 3) arrays) -> list of objects with a .score``."""

    def predict(self, images: Sequence[np.ndarray]) -> Sequence[Any]: ...


Loader = Callable[[Path], np.ndarray]


def _default_loader(predictor: object) -> Loader:
    """The model input :func:`pixgrade.pipeline.analysis.model_input` prepares with the settings a
    :class:`~pixgrade.pipeline.Scorer` of this predictor uses: the decode and resize of ``pixgrade score``, so a
    prediction here is the score ``score`` gives the file."""
    from pixgrade.measures import WORK_SIDE
    from pixgrade.pipeline.analysis import AnalysisSettings, model_input

    model_side = getattr(predictor, "input_max_side", None)
    if model_side is None:  # a predictor that takes any size: the image as the measures see it
        model_side = WORK_SIDE
    settings = AnalysisSettings(measure_max_side=max(WORK_SIDE, int(model_side)), model_max_side=int(model_side))

    def load(path: Path) -> np.ndarray:
        return model_input(path, settings)

    return load


def evaluate_manifest(
    manifest: Manifest,
    predictor: ScorePredictor,
    *,
    batch_size: int = 16,
    loader: Loader | None = None,
    skip_lines: Collection[int] = (),
    on_batch: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Predict a score for every row of ``manifest``.

    Images are read, decoded and resized as ``pixgrade score`` does
    (:func:`pixgrade.pipeline.analysis.model_input`) unless a ``loader`` is given. An image that cannot be read
    gets ``pred`` NaN and its cause in ``error``; the rest go on.

    Args:
        manifest: rows to score (``true`` is the manifest's ``score``).
        predictor: e.g. ``pixgrade.model.predictor.load_predictor("default")``.
        batch_size: images decoded and passed to ``predictor.predict`` at a time.
        loader: ``path -> RGB uint8 array``; raise :class:`~pixgrade.errors.ImageLoadError` for a bad file.
        skip_lines: manifest line numbers (the frame index) already scored, e.g. by an interrupted run.
        on_batch: called with each batch's rows as soon as they are scored (to write them out as you go).

    Returns:
        A frame with :data:`PREDICTION_COLUMNS`, one row per scored (not skipped) manifest row, in order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    load = loader or _default_loader(predictor)
    frame = manifest.frame
    paths = manifest.paths()
    groups = manifest.groups() if "group" in frame.columns else None
    skip = set(skip_lines)
    todo = [i for i, line in enumerate(frame.index) if line not in skip]
    tables = []
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        rows: list[dict[str, object]] = []
        images: list[np.ndarray] = []
        slots: list[int] = []
        for i in chunk:
            record = frame.iloc[i]
            row: dict[str, object] = {
                "line": frame.index[i],
                "image": record["image"],
                "true": float(record["score"]),
                "pred": np.nan,
                "degradation": record["degradation"] if "degradation" in frame.columns else "",
                "level": record["level"] if "level" in frame.columns else pd.NA,
                "group": groups.iloc[i] if groups is not None else "",
                "error": "",
            }
            try:
                images.append(load(paths[i]))
                slots.append(len(rows))
            except ImageLoadError as exc:
                row["error"] = exc.cause
            except OSError as exc:
                row["error"] = exc.strerror or str(exc)
            rows.append(row)
        if images:
            outputs = predictor.predict(images)
            if len(outputs) != len(images):
                raise RuntimeError(f"predictor returned {len(outputs)} results for {len(images)} images")
            for slot, output in zip(slots, outputs, strict=True):
                rows[slot]["pred"] = float(output.score)
        table = pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
        if on_batch is not None:
            on_batch(table)
        tables.append(table)
    if not tables:
        return pd.DataFrame(columns=list(PREDICTION_COLUMNS))
    return pd.concat(tables, ignore_index=True)
