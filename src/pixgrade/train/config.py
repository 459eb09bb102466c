"""Training configuration: a dataclass loaded from YAML or TOML, every option also a command-line flag."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from pixgrade.errors import ConfigError

__all__ = ["TrainConfig", "load_config"]


@dataclass
class TrainConfig:
    """Everything a training run needs. Paths are resolved relative to the working directory.

    Data:
        manifests: CSV manifests with human scores (``image,score[,group,score_std]``, scores 0–5), or folders
            in LIVE-C layout (``labels.csv`` with ``image,mos,mos_std``, MOS 0–100 mapped linearly to 0–5).
        synthetic_dir: folder of clean product photos (``products.csv`` + images) degraded on the fly into
            ranking pairs and severity labels; empty string disables synthetic data.
        synthetic_sources: how many clean photos to use (the held-out ones are never used, see
            ``synthetic_holdout_mod``).
        synthetic_variants: degraded copies per clean photo (each of one random type and level).
        synthetic_holdout_mod: photos whose product id is divisible by this are held out for evaluation.
        val_manifests: manifests (or LIVE-C folders) used as the validation set instead of a random
            ``val_fraction`` of ``manifests`` (e.g. the ``val.csv`` that ``pixgrade dataset split`` writes). A folder
            in ``manifests`` that holds ``train.csv`` is read as such a split: its ``train.csv`` trains and its
            ``val.csv`` validates.
        init: start from a trained pixgrade checkpoint instead of ImageNet weights: ``default`` (the shipped
            model) or a ``.safetensors`` path; its architecture replaces ``model``, and its feature
            standardisation is kept (its heads read the features it was trained on). Empty = ImageNet backbone.
    Run:
        cache_dir: folder where the cached stems are kept and reused by later runs on the same data ("" = none).
        device: ``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``. On CUDA the cached
            samples are kept on the GPU.
        mixed_precision: on CUDA, run forward and backward passes in bfloat16 autocast (ignored on the CPU).
    Model and optimisation:
        model: registered model name (``pixgrade.model.list_models()``).
        trainable_from: backbone layers before this index stay frozen (ImageNet weights) and their outputs are
            cached once; later layers and the heads are fine-tuned. 0 fine-tunes everything (slow on CPU).
        crop: random crops of this fraction of the side (of the cached feature maps) for augmentation.
        synthetic_weight: weight of the within-photo ranking loss on synthetic degradations (score falls as the
            level rises) against the human-score loss.
        ema_decay: when > 0, validate and save an exponential moving average of the weights (decay per step,
            e.g. 0.99) instead of the raw weights: smoother than any single step on a small dataset.
        detach_synthetic: the synthetic losses (ranking and severities) train the heads only; the backbone
            learns from the human scores alone.
        severity_weight: weight of the severity loss; ``detach_severity`` keeps it from changing the shared
            features (the severity head then reads the features that the score uses).
        synthetic_target_weight: weight of a smooth-L1 regression of each synthetic sample's score to the
            grading standard's absolute target for its type and level (:func:`pixgrade.degrade.effective_target`;
            clean studio photos :data:`pixgrade.degrade.CLEAN_TARGET`); 0 = ranking only.
        synthetic_batch_size: synthetic samples per step (0 = ``batch_size``); product photos are small, so
            more of them cost little.
        train_backbone: False keeps every backbone layer as it is (ImageNet, or the ``init`` checkpoint's
            fine-tuned layers): the pooled features of each sample are computed once and only the two heads learn,
            minutes instead of hours on a CPU (``heads_epochs`` passes over the rated images).
        clean_severity_min_score: rated images scored at least this (0–5) also train every severity towards 0
            (a well-rated consumer photo has no severe defect), so severities do not fire on ordinary photos;
            0 = off.
    """

    # data
    manifests: list[str] = field(default_factory=lambda: ["../shared/data/livec-train"])
    synthetic_dir: str = "../shared/data/products-fashion"
    synthetic_sources: int = 1500
    synthetic_variants: int = 2
    synthetic_holdout_mod: int = 6
    val_fraction: float = 0.1
    val_manifests: list[str] = field(default_factory=list)
    # model
    model: str = "pixgrade_mnv2"
    init: str = ""
    trainable_from: int = 11
    crop: float = 0.8
    # optimisation
    epochs: int = 16
    batch_size: int = 16
    lr_backbone: float = 2e-4
    lr_head: float = 1e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 1
    patience: int = 5
    rank_weight: float = 1.0
    synthetic_weight: float = 0.5
    severity_weight: float = 1.0
    detach_severity: bool = True
    detach_synthetic: bool = False
    ema_decay: float = 0.0
    synthetic_target_weight: float = 0.0
    synthetic_batch_size: int = 0
    clean_severity_min_score: float = 0.0
    train_backbone: bool = True
    heads_epochs: int = 60
    # run
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    mixed_precision: bool = True
    out_dir: str = "runs/pixgrade_mnv2"
    cache_dir: str = ""
    resume: bool = False
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) training config."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
    try:
        if path.suffix == ".toml":
            values = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            values = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"{path}: config must be .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid config ({exc})") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: config must be a mapping of option: value")
    try:
        return TrainConfig.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
