"""Training samples: human-rated images and synthetic degradations, with the frozen stem cached once.

Fine-tuning a whole CNN at native resolution is too slow on a CPU, so the first ``trainable_from`` backbone
layers keep their ImageNet weights; their output for every training image (and its mirror image) is computed
once and kept in memory as float16. Training then runs only the upper layers and heads, on random crops of
the cached maps.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from pixgrade.errors import ConfigError
from pixgrade.model.net import QualityNet
from pixgrade.model.torch_backend import prepare_input
from pixgrade.train.config import TrainConfig

__all__ = [
    "CachedSample",
    "HumanItem",
    "SyntheticItem",
    "cache_samples",
    "read_human_items",
    "split_sources",
    "synthetic_items",
    "synthetic_targets",
    "training_items",
    "validation_items",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HumanItem:
    """An image with a human quality score on 0–5."""

    path: str
    score: float
    group: str


@dataclass(frozen=True)
class SyntheticItem:
    """A clean photo and the degradation to apply (level 0 = the clean photo itself)."""

    path: str
    group: str
    degradation: str
    level: int
    seed: int


@dataclass
class CachedSample:
    """Cached stem output of one training image (``views`` holds the plain and the mirrored view); ``score`` is
    the human score of a rated image and the grading standard's target of a synthetic one (set by
    :meth:`pixgrade.train.trainer.Trainer.prepare`, NaN in the stem cache)."""

    views: list[torch.Tensor]
    stem_stats: list[torch.Tensor]
    score: float
    group: int
    level: int = -1
    severity: torch.Tensor | None = None


def read_human_items(source: str | Path) -> list[HumanItem]:
    """Rated images from a manifest CSV (``image,score[,group]``, scores 0–5; :func:`pixgrade.data.load_manifest`)
    or a LIVE-C-style folder (``labels.csv`` with ``image,mos``, MOS 0–100 mapped to 0–5 as ``mos / 20``;
    :func:`pixgrade.data.from_livec`). Rows whose image is missing are an error naming them."""
    from pixgrade.data.importers import from_livec
    from pixgrade.data.manifest import load_manifest

    source = Path(source)
    if source.is_dir():
        if not (source / "labels.csv").is_file():
            raise ConfigError(f"{source}: folder has no labels.csv (LIVE-C layout: image,mos,mos_std)")
        manifest = from_livec(source / "labels.csv")
    else:
        manifest = load_manifest(source)
    scores = manifest.frame["score"].astype(float).tolist()
    groups = manifest.groups().tolist()
    return [
        HumanItem(str(path), score, str(group))
        for path, score, group in zip(manifest.paths(), scores, groups, strict=True)
    ]


def synthetic_items(
    folder: str | Path, n_sources: int, variants: int, holdout_mod: int, seed: int, heldout: bool = False
) -> list[SyntheticItem]:
    """Clean photos from ``folder/products.csv`` and random degradations of them.

    Photos whose ``product_id % holdout_mod == 0`` are the held-out set (``heldout=True`` returns them, else
    they are excluded). Each photo yields its clean version plus ``variants`` copies, each of a different
    random type at a random level 1–5.
    """
    from pixgrade.degrade import list_degradations

    folder = Path(folder)
    table = pd.read_csv(folder / "products.csv").sort_values("product_id")
    held = table["product_id"] % holdout_mod == 0
    table = table[held] if heldout else table[~held]
    rng = np.random.default_rng(seed)
    chosen = table.iloc[rng.permutation(len(table))[:n_sources]]
    names = list_degradations()
    items = []
    for row in chosen.itertuples(index=False):
        path, group = str(folder / str(row.image)), f"product:{row.product_id}"
        items.append(SyntheticItem(path, group, "none", 0, 0))
        for name in rng.choice(names, size=variants, replace=False):
            items.append(SyntheticItem(path, group, str(name), int(rng.integers(1, 6)), int(rng.integers(1 << 30))))
    return items


def split_sources(config: TrainConfig) -> tuple[list[str], list[str]]:
    """The (training, validation) sources of ``config``: a folder in ``manifests`` that holds ``train.csv`` (what
    ``pixgrade dataset split`` writes) contributes its ``train.csv`` to training and its ``val.csv``, when present,
    to validation; ``val_manifests`` are validation sources too.

    Raises:
        ConfigError: no training source, or a source that does not exist (named, with the working folder).
    """
    if not config.manifests:
        raise ConfigError(
            "no training data: pass --manifests MANIFEST.csv|FOLDER ... (or --config configs/default.yaml, the shipped "
            "recipe, which reads ../shared/data)"
        )
    train_sources: list[str] = []
    val_sources: list[str] = []
    for source in config.manifests:
        path = Path(source)
        if path.is_dir() and (path / "train.csv").is_file():
            train_sources.append(str(path / "train.csv"))
            if (path / "val.csv").is_file():
                val_sources.append(str(path / "val.csv"))
        else:
            train_sources.append(source)
    val_sources.extend(config.val_manifests)
    for source in train_sources + val_sources:
        if not Path(source).exists():
            raise ConfigError(f"{source}: training data not found (paths are relative to {Path.cwd()})")
    return train_sources, val_sources


def training_items(config: TrainConfig, seed: int | None = None) -> tuple[list[HumanItem], list[SyntheticItem]]:
    """The rated items of every training source of ``config`` (:func:`split_sources`) and the synthetic items it
    asks for (chosen with ``seed``, default ``config.seed``; cross-validation keeps one seed for all folds so that
    they share one cache).

    Raises:
        ConfigError: a source or the synthetic folder is missing (named, with how to go without it).
    """
    human: list[HumanItem] = []
    for source in split_sources(config)[0]:
        human.extend(read_human_items(source))
    synthetic: list[SyntheticItem] = []
    if config.synthetic_dir:
        if not (Path(config.synthetic_dir) / "products.csv").is_file():
            raise ConfigError(
                f"{config.synthetic_dir}: no products.csv for synthetic degradations (paths are relative to "
                f"{Path.cwd()}); pass --synthetic-dir FOLDER, or --synthetic-dir '' to train on the manifests alone"
            )
        synthetic = synthetic_items(
            config.synthetic_dir,
            config.synthetic_sources,
            config.synthetic_variants,
            config.synthetic_holdout_mod,
            config.seed if seed is None else seed,
        )
    return human, synthetic


def validation_items(config: TrainConfig) -> list[HumanItem]:
    """The rated items of the validation sources of ``config`` (:func:`split_sources`); empty = split at random."""
    items: list[HumanItem] = []
    for source in split_sources(config)[1]:
        items.extend(read_human_items(source))
    return items


def synthetic_targets(items: Sequence[SyntheticItem]) -> list[float]:
    """The grading standard's absolute score target of each synthetic item
    (:func:`pixgrade.degrade.effective_target`; only desaturated items need their clean photo read)."""
    from pixgrade.degrade import effective_target, synthetic_target

    return [
        effective_target(_load_rgb(item.path), item.degradation, item.level)
        if item.degradation == "desaturation" and item.level > 0
        else synthetic_target(item.degradation, item.level)
        for item in items
    ]


def _load_rgb(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@torch.no_grad()
def cache_samples(
    model: QualityNet,
    items: Sequence[HumanItem | SyntheticItem],
    stop: int,
    mirror: bool = True,
    progress: bool = True,
    desc: str = "caching",
) -> list[CachedSample]:
    """Run the frozen stem (backbone layers ``[0, stop)``) once per image (and mirror) and keep the outputs."""
    from pixgrade.degrade import degrade, get_degradation
    from pixgrade.model.net import SEVERITY_NAMES

    model.eval()
    device = next(model.parameters()).device
    groups: dict[str, int] = {}
    samples = []
    for item in tqdm(items, desc=desc, disable=not progress, leave=False):
        rgb = _load_rgb(item.path)
        severity = None
        level = -1
        if isinstance(item, SyntheticItem):
            level = item.level
            severity = torch.zeros(len(SEVERITY_NAMES))
            if item.level > 0:
                rgb = degrade(rgb, item.degradation, item.level, seed=item.seed)
                channel = SEVERITY_NAMES.index(get_degradation(item.degradation).severity)
                severity[channel] = item.level / 5.0
        x = prepare_input(rgb, model.config.max_side, model.config.min_side)
        xs = (torch.cat([x, x.flip(3)]) if mirror else x).to(device)
        hidden, stats = model.forward_stem(xs, stop)
        hidden, stats = hidden.cpu(), stats.cpu()
        score = float("nan")
        if isinstance(item, HumanItem):
            score = item.score
        samples.append(
            CachedSample(
                views=[h.half() for h in hidden],
                stem_stats=[s for s in stats],
                score=score,
                group=groups.setdefault(item.group, len(groups)),
                level=level,
                severity=severity,
            )
        )
    return samples


def cache_key(model: QualityNet, items: Sequence[HumanItem | SyntheticItem], stop: int, mirror: bool) -> str:
    """A digest of everything the cached stems depend on (model config, split point, the items)."""
    import hashlib
    import json

    payload = json.dumps([model.config.to_dict(), stop, mirror, [repr(item) for item in items]], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def load_or_cache_samples(
    model: QualityNet,
    items: Sequence[HumanItem | SyntheticItem],
    stop: int,
    mirror: bool,
    cache_file: str | Path | None,
    progress: bool = True,
    desc: str = "caching",
) -> list[CachedSample]:
    """:func:`cache_samples`, kept in ``cache_file`` and reused when the same items and model come again.

    The file is this run's own (written by ``torch.save``); a file with another key is replaced."""
    if not items:
        return []
    key = cache_key(model, items, stop, mirror)
    path = Path(cache_file) if cache_file else None
    if path is not None and path.is_file():
        stored = torch.load(path, weights_only=False)
        if stored.get("key") == key:
            log.info("reusing cached stems from %s", path)
            samples: list[CachedSample] = stored["samples"]
            return samples
    samples = cache_samples(model, items, stop, mirror, progress, desc)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save({"key": key, "samples": samples}, tmp)
        tmp.replace(path)
    return samples


def random_crop_batch(
    samples: Sequence[CachedSample], crop: float, rng: np.random.Generator, train: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack one view of each sample, randomly cropped to a common size (``crop`` of the smallest side)."""
    views = [s.views[int(rng.integers(len(s.views)))] if train else s.views[0] for s in samples]
    stats = torch.stack([s.stem_stats[0] for s in samples])
    height = min(v.shape[1] for v in views)
    width = min(v.shape[2] for v in views)
    if train:
        height, width = max(2, math.ceil(height * crop)), max(2, math.ceil(width * crop))
    out = []
    for v in views:
        top = int(rng.integers(v.shape[1] - height + 1)) if train else (v.shape[1] - height) // 2
        left = int(rng.integers(v.shape[2] - width + 1)) if train else (v.shape[2] - width) // 2
        out.append(v[:, top : top + height, left : left + width])
    return torch.stack(out).float(), stats
