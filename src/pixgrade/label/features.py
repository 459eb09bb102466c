"""The base model's features of every labelling image, computed once and cached in the catalogue.

What the heads read is the standardised mean/std statistics of the backbone's stages (``QualityNet.pool``,
``feature_dim`` numbers); with them cached, the score head can be fine-tuned, cross-validated and asked for its
uncertainty in milliseconds, without running the CNN again. The embedding (for diversity and for pairing similar
photos) and the base score come with them. Features are keyed by the model's weights (SHA-256 of the file).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixgrade.catalog.judgements import JudgementStore
from pixgrade.errors import ConfigError, PixgradeError
from pixgrade.io.files import sha256_file

if TYPE_CHECKING:
    from pixgrade.model.net import QualityNet

__all__ = [
    "FeatureTable",
    "compute_features",
    "ensure_features",
    "features_of_rgb",
    "load_base_model",
    "model_reference",
]

log = logging.getLogger(__name__)


def model_reference(model: str | Path) -> Path:
    """The checkpoint file of a model name, interpreted by :func:`pixgrade.model.reference.resolve_model` (the one
    reading of ``default`` / a path shared by every command).

    Raises:
        ConfigError: no model (``none``), the checkpoint does not exist, or it is not a safetensors checkpoint
            (labelling and adaptation read the PyTorch weights, not an ONNX export).
    """
    from pixgrade.model.reference import resolve_model

    path = resolve_model(model).path
    if path is None:
        raise ConfigError("labelling and adaptation need a model: give --model default or a .safetensors checkpoint")
    if path.suffix != ".safetensors":
        raise ConfigError(f"{path}: labelling and adaptation need a .safetensors checkpoint (not {path.suffix})")
    return path


def load_base_model(model: str | Path) -> tuple[QualityNet, dict[str, Any], str]:
    """``(QualityNet, metadata, key)`` of a checkpoint; the key (SHA-256 prefix of the file) names its features."""
    from pixgrade.model.checkpoint import CheckpointError, load_checkpoint

    path = model_reference(model)
    try:
        net, metadata = load_checkpoint(path)
    except CheckpointError as exc:
        raise ConfigError(str(exc)) from exc
    return net, metadata, sha256_file(path)[:16]


def compute_features(
    model: QualityNet, paths: Iterable[str]
) -> Iterable[tuple[int, np.ndarray, np.ndarray, float] | None]:
    """For each image: ``(index, pooled, embedding, score)``, or None when it cannot be decoded."""
    from pixgrade.io import load_image

    model.eval()
    config = model.config
    for index, path in enumerate(paths):
        try:
            rgb = load_image(path, max_side=max(config.max_side, 512)).rgb
        except (PixgradeError, OSError) as exc:
            log.warning("%s: skipped (%s)", path, exc)
            yield None
            continue
        yield (index, *features_of_rgb(model, rgb))


def features_of_rgb(model: QualityNet, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``(pooled, embedding, score)`` of one RGB uint8 image (resized per the model's input policy)."""
    import torch

    from pixgrade.model.torch_backend import prepare_input

    with torch.inference_mode():
        x = prepare_input(rgb, model.config.max_side, model.config.min_side)
        stages = model.forward_features(x)
        pooled = model.pool(stages)
        out = model.heads(pooled, stages[-1])
    return pooled[0].numpy(), out["embedding"][0].numpy(), float(out["score"][0])


@dataclass
class FeatureTable:
    """Cached features of the labelling images, in one order (rows of the arrays)."""

    sha256: list[str]
    pooled: np.ndarray
    """``(N, feature_dim)`` standardised pooled statistics (the heads' input)."""
    embedding: np.ndarray
    """``(N, E)`` L2-normalised embeddings."""
    score: np.ndarray
    """``(N,)`` the base model's scores (0–5, unclipped)."""

    def index(self) -> dict[str, int]:
        return {sha: i for i, sha in enumerate(self.sha256)}


def ensure_features(
    store: JudgementStore,
    net: QualityNet,
    key: str,
    only: Sequence[str] | None = None,
    batch: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> FeatureTable:
    """Compute the features of the registered images that lack them under ``key`` (stored in batches, so an
    interrupted run resumes), then return all of them (``only``: just these SHA-256)."""
    cached = store.features(key)
    wanted = [(sha, path) for sha, path in store.images() if only is None or sha in set(only)]
    todo = [(sha, path) for sha, path in wanted if sha not in cached]
    rows: list[tuple[str, np.ndarray, np.ndarray, float]] = []
    for done, item in enumerate(compute_features(net, [path for _, path in todo]), start=1):
        if item is not None:
            index, pooled, embedding, score = item
            rows.append((todo[index][0], pooled, embedding, score))
        if len(rows) >= batch:
            store.save_features(key, rows)
            rows = []
        if progress is not None:
            progress(done, len(todo))
    if rows:
        store.save_features(key, rows)
    if todo:
        cached = store.features(key)
    shas = [sha for sha, _ in wanted if sha in cached]
    if not shas:
        empty = np.zeros((0, net.feature_dim), np.float32)
        return FeatureTable([], empty, np.zeros((0, 0), np.float32), np.zeros(0, np.float32))
    return FeatureTable(
        shas,
        np.stack([cached[s][0] for s in shas]),
        np.stack([cached[s][1] for s in shas]),
        np.array([cached[s][2] for s in shas], dtype=np.float32),
    )
