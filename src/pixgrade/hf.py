"""pixgrade's columns on a Hugging Face ``datasets`` image column (``pip install 'pixgrade[datasets]'``).

>>> import datasets, pixgrade
>>> from PIL import Image
>>> ds = datasets.Dataset.from_dict({"image": [Image.new("RGB", (64, 48), "white")]})
>>> pixgrade.add_columns(ds, model="none").column_names
['image', 'pixgrade_score', 'pixgrade_grade', 'pixgrade_reasons', 'pixgrade_error']
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixgrade import __version__
from pixgrade.errors import ConfigError

if TYPE_CHECKING:
    import datasets

    from pixgrade.pipeline import Scorer

__all__ = ["add_columns"]


def _to_input(value: Any) -> Any:
    """A decoded ``datasets.Image`` value (PIL image), or the undecoded ``{"bytes", "path"}`` form, as an input."""
    if isinstance(value, dict):
        if value.get("bytes"):
            return value["bytes"]
        if value.get("path"):
            return value["path"]
        raise ConfigError("an image cell has neither bytes nor a path")
    return value


def add_columns(
    dataset: datasets.Dataset,
    image_column: str = "image",
    model: str | Path | Scorer = "default",
    *,
    backend: str = "auto",
    factors: bool = False,
    prefix: str = "pixgrade_",
    batch_size: int = 16,
) -> datasets.Dataset:
    """A copy of ``dataset`` with pixgrade's columns for the images of ``image_column``.

    Adds ``{prefix}score`` (0–5, None when the image could not be scored), ``{prefix}grade``, ``{prefix}reasons``
    (``"; "``-separated) and ``{prefix}error``; with ``factors=True`` also ``{prefix}<factor>_score`` for every
    measured factor. The column may hold decoded images (``datasets.Image()``), paths, bytes or arrays.

    Raises:
        ConfigError: ``image_column`` is not a column of the dataset.
    """
    from pixgrade.api import _scorer, score

    if image_column not in dataset.column_names:
        raise ConfigError(f"no column {image_column!r}; the dataset has {', '.join(dataset.column_names)}")
    scorer = _scorer(model, backend)
    factor_names: Sequence[str] = scorer.factor_names if factors else ()

    def batch_columns(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        results = score([_to_input(v) for v in batch[image_column]], model=scorer)
        out: dict[str, list[Any]] = {
            f"{prefix}score": [r.score for r in results],
            f"{prefix}grade": [r.grade for r in results],
            f"{prefix}reasons": ["; ".join(r.reasons) if r.reasons else None for r in results],
            f"{prefix}error": [r.error for r in results],
        }
        for name in factor_names:
            out[f"{prefix}{name}_score"] = [r.factors[name].score if name in r.factors else None for r in results]
        return out

    # The scorer holds an ONNX Runtime session that `datasets` cannot hash: name the result by what decides it.
    key = (
        f"{dataset._fingerprint}|{image_column}|pixgrade {__version__}|{scorer.model_name}|{backend}|{factors}|{prefix}"
    )
    return dataset.map(
        batch_columns,
        batched=True,
        batch_size=batch_size,
        new_fingerprint=hashlib.sha256(key.encode()).hexdigest()[:16],
        desc="pixgrade",
    )
