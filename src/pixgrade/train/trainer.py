"""The training loop: AdamW, warm-up + cosine schedule, early stopping on validation SRCC, checkpoints,
resume, TensorBoard logs."""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats as scipy_stats
from torch.nn import functional as F
from tqdm import tqdm

from pixgrade import __version__
from pixgrade.model.checkpoint import save_checkpoint
from pixgrade.model.net import QualityNet, _mean_std_pool, create_model
from pixgrade.train.config import TrainConfig
from pixgrade.train.data import (
    CachedSample,
    HumanItem,
    SyntheticItem,
    load_or_cache_samples,
    random_crop_batch,
    split_sources,
    synthetic_targets,
    training_items,
    validation_items,
)
from pixgrade.train.losses import pairwise_rank_loss, score_loss, severity_loss

__all__ = ["TrainResult", "Trainer", "group_split", "initial_model", "train", "train_on_samples"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a finished run produced."""

    best_path: Path
    best_epoch: int
    best_val_srcc: float
    history: list[dict[str, float]] = field(default_factory=list)


def group_split(items: Sequence[HumanItem], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of (train, val) with ``fraction`` of the groups in val; a group never straddles both."""
    groups = sorted({item.group for item in items})
    rng = random.Random(seed)
    rng.shuffle(groups)
    n_val = max(1, round(len(groups) * fraction)) if fraction > 0 else 0
    val_groups = set(groups[:n_val])
    train_idx = [i for i, item in enumerate(items) if item.group not in val_groups]
    val_idx = [i for i, item in enumerate(items) if item.group in val_groups]
    return train_idx, val_idx


def initial_model(config: TrainConfig) -> QualityNet:
    """The model a run starts from: ``config.init``'s checkpoint (``default`` = the shipped model), else
    ``config.model`` with ImageNet backbone weights.

    Raises:
        ConfigError: the ``init`` checkpoint is missing or unreadable.
    """
    if not config.init:
        return create_model(config.model, pretrained_backbone=True)
    from pixgrade.errors import ConfigError
    from pixgrade.model.checkpoint import CheckpointError, load_checkpoint
    from pixgrade.model.loader import DEFAULT_MODEL_PATH

    path = DEFAULT_MODEL_PATH if config.init == "default" else Path(config.init)
    try:
        model, _ = load_checkpoint(path)
    except CheckpointError as exc:
        raise ConfigError(f"--init: {exc}") from exc
    if model.config.name != config.model:
        log.info("init %s: a %s model (its architecture replaces model=%s)", path, model.config.name, config.model)
    return model


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Fine-tunes a :class:`QualityNet` on cached stems of human-rated and synthetic samples."""

    def __init__(self, config: TrainConfig, model: QualityNet | None = None) -> None:
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        _seed_everything(config.seed)
        self.device = torch.device(
            "cuda"
            if config.device == "auto" and torch.cuda.is_available()
            else ("cpu" if config.device == "auto" else config.device)
        )
        self.model = model or initial_model(config)
        # a trained checkpoint keeps the feature standardisation its heads were trained with
        self.keep_normalisation = model is None and bool(config.init)
        self.autocast = config.mixed_precision and self.device.type == "cuda"
        self.start = config.trainable_from
        self.out_dir = Path(config.out_dir)
        self.rng = np.random.default_rng(config.seed)

    # ---------------------------------------------------------------- data
    def prepare(
        self,
        human: Sequence[HumanItem],
        synthetic: Sequence[SyntheticItem] = (),
        cached_human: list[CachedSample] | None = None,
        cached_synthetic: list[CachedSample] | None = None,
    ) -> tuple[list[CachedSample], list[CachedSample]]:
        """Cache the frozen stem of every sample (or reuse caches computed by an earlier call)."""
        self.model.to(self.device)
        show, cache_dir = self.config.progress, self.config.cache_dir
        human_cache = cached_human or load_or_cache_samples(
            self.model, human, self.start, True, cache_dir and Path(cache_dir) / "rated.pt", show, "caching rated"
        )
        synth_cache = cached_synthetic
        if synth_cache is None:
            synth_cache = load_or_cache_samples(
                self.model,
                synthetic,
                self.start,
                False,
                cache_dir and Path(cache_dir) / "synthetic.pt",
                show,
                "caching synthetic",
            )
        if len(synth_cache) == len(synthetic):
            for sample, target in zip(synth_cache, synthetic_targets(synthetic), strict=True):
                sample.score = target
        return human_cache, synth_cache

    def _set_normalisation(self, samples: Sequence[CachedSample], batch_size: int = 32) -> None:
        """Standardise pooled statistics with their mean/std over the training images (ImageNet trunk)."""
        from pixgrade.model.net import _mean_std_pool

        self.model.eval()
        by_shape: dict[tuple[int, ...], list[CachedSample]] = {}
        for sample in samples:
            by_shape.setdefault(tuple(sample.views[0].shape), []).append(sample)
        pooled = []
        with torch.no_grad():
            for same in by_shape.values():
                for i in range(0, len(same), batch_size):
                    chunk = same[i : i + batch_size]
                    hidden = torch.stack([s.views[0] for s in chunk]).float().to(self.device)
                    _, stages = self.model.backbone.forward_range(hidden, self.start)
                    stem = torch.stack([s.stem_stats[0] for s in chunk]).to(self.device)
                    stats = [stem] + [
                        _mean_std_pool(stages[j]).float() for j in self.model.config.pooled_stages if j in stages
                    ]
                    pooled.append(torch.cat(stats, dim=1).cpu())
        all_pooled = torch.cat(pooled)
        self.model.set_feature_normalisation(all_pooled.mean(0), all_pooled.std(0))

    def _to_device(self, samples: Sequence[CachedSample]) -> None:
        """Keep the cached tensors on the training device (a GPU holds all of LIVE-C's stems easily)."""
        if self.device.type == "cpu":
            return
        for sample in samples:
            sample.views = [v.to(self.device, non_blocking=True) for v in sample.views]
            sample.stem_stats = [s.to(self.device) for s in sample.stem_stats]

    # ---------------------------------------------------------------- model parts
    def _freeze(self) -> None:
        self.model.backbone.freeze_layers(self.start)

    def _train_mode(self) -> None:
        self.model.train()
        # Batch-norm statistics stay as learnt on ImageNet: small batches of crops would only add noise.
        for module in self.model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()

    def _forward(
        self,
        batch: Sequence[CachedSample],
        train: bool,
        detach_features: bool = False,
        model: QualityNet | None = None,
        detach_severity: bool | None = None,
    ) -> dict[str, torch.Tensor]:
        hidden, stats = random_crop_batch(batch, self.config.crop, self.rng, train=train)
        if detach_severity is None:
            detach_severity = self.config.detach_severity
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            out = (model or self.model).forward_from_stem(
                hidden.to(self.device),
                self.start,
                stats.to(self.device),
                detach_severity,
                detach_features,
            )
        return {key: value.float() for key, value in out.items()}

    # ---------------------------------------------------------------- evaluation
    @torch.no_grad()
    def predict(self, samples: Sequence[CachedSample], model: QualityNet | None = None) -> np.ndarray:
        """Scores of cached samples (whole plain view, one at a time) by ``model`` (default: the trained one)."""
        model = model or self.model
        model.eval()
        return np.array([float(self._forward([s], train=False, model=model)["score"][0]) for s in samples])

    def validate(
        self, human: Sequence[CachedSample], synthetic: Sequence[CachedSample], model: QualityNet | None = None
    ) -> dict[str, float]:
        """Validation metrics of ``model`` (default: the trained one)."""
        metrics: dict[str, float] = {}
        if human:
            pred = self.predict(human, model)
            true = np.array([s.score for s in human])
            metrics["val_srcc"] = float(scipy_stats.spearmanr(pred, true)[0])
            metrics["val_plcc"] = float(scipy_stats.pearsonr(pred, true)[0])
            metrics["val_rmse"] = float(np.sqrt(np.mean((pred - true) ** 2)))
        if synthetic:
            pred = self.predict(synthetic, model)
            level = np.array([s.level for s in synthetic])
            metrics["val_synthetic_level_srcc"] = float(-scipy_stats.spearmanr(pred, level)[0])
            target = np.array([s.score for s in synthetic])
            if np.isfinite(target).all():
                metrics["val_synthetic_target_mae"] = float(np.mean(np.abs(pred - target)))
        return metrics

    # ---------------------------------------------------------------- training
    def _severity_plan(self, train_human: Sequence[CachedSample], synthetic: bool) -> torch.Tensor | None:
        """Freeze the severity head when no synthetic data trains it; returns the starting model's severities of
        ``train_human`` (distillation targets, ``(N, K)``) when it has trained ones, else ``None``."""
        if synthetic:
            return None
        for param in self.model.severity_head.parameters():
            param.requires_grad_(False)
        if not self.config.init:
            last = self.model.severity_head[-1]
            assert isinstance(last, torch.nn.Linear)
            with torch.no_grad():
                last.weight.zero_()
                last.bias.fill_(-12.0)  # sigmoid(-12) ~ 6e-6: an untrained head says nothing
            log.warning("no synthetic data and no --init checkpoint: the model's severities are switched off")
            return None
        self.model.eval()
        with torch.no_grad():
            targets = [self._forward([s], train=False)["severities"][0] for s in train_human]
        return torch.stack(targets).detach() if targets else None

    @staticmethod
    def _by_photo(synthetic: Sequence[CachedSample]) -> list[list[CachedSample]]:
        """The synthetic samples grouped by source photo (clean + degraded copies), in first-seen order."""
        by_group: dict[int, list[CachedSample]] = {}
        for sample in synthetic:
            by_group.setdefault(sample.group, []).append(sample)
        return list(by_group.values())

    def _synthetic_batch(self, photos: Sequence[list[CachedSample]], size: int) -> list[CachedSample]:
        """Whole photos (all their versions, for the within-photo ranking) drawn at random until ``size``."""
        batch: list[CachedSample] = []
        while len(batch) < size:
            batch.extend(photos[int(self.rng.integers(len(photos)))])
        return batch

    def fit(
        self,
        train_human: Sequence[CachedSample],
        val_human: Sequence[CachedSample],
        train_synthetic: Sequence[CachedSample] = (),
        val_synthetic: Sequence[CachedSample] = (),
        metadata: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Train with early stopping; the best epoch (validation SRCC) is saved to ``out_dir/best.safetensors``."""
        cfg = self.config
        if not cfg.train_backbone:
            return self.fit_heads(train_human, val_human, train_synthetic, val_synthetic, metadata)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._freeze()
        self.model.to(self.device)
        for samples in (train_human, val_human, train_synthetic, val_synthetic):
            self._to_device(samples)
        if not self.keep_normalisation:
            self._set_normalisation(list(train_human) + list(train_synthetic))
        # Without synthetic data nothing labels the severities: the severity head is frozen, and the features it
        # reads are held to the starting model's severities (distillation) when it was trained, or its outputs are
        # switched off (all ~0: no model reasons) when it is an untrained head on ImageNet features.
        severity_targets = self._severity_plan(train_human, bool(train_synthetic))
        head_params = list(self.model.score_head.parameters())
        if train_synthetic:
            head_params += list(self.model.severity_head.parameters())
        backbone_params = [p for p in self.model.backbone.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            [{"params": backbone_params, "lr": cfg.lr_backbone}, {"params": head_params, "lr": cfg.lr_head}],
            weight_decay=cfg.weight_decay,
        )
        steps_per_epoch = max(1, math.ceil(len(train_human) / cfg.batch_size))
        total = steps_per_epoch * cfg.epochs
        warmup = steps_per_epoch * cfg.warmup_epochs

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        ema = None
        if cfg.ema_decay > 0:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        state_path = self.out_dir / "last_state.pt"
        history: list[dict[str, float]] = []
        best = {"epoch": -1, "val_srcc": -math.inf}
        first_epoch = 0
        if cfg.resume and state_path.is_file():
            state = torch.load(state_path, map_location=self.device, weights_only=True)
            self.model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if ema is not None and "ema" in state:
                ema.load_state_dict(state["ema"])
            self.rng = np.random.default_rng(state["rng_seed"])
            history, best, first_epoch = json.loads(state["history"]), json.loads(state["best"]), state["epoch"] + 1
            log.info("resumed from %s at epoch %d", state_path, first_epoch)
        writer = _summary_writer(self.out_dir / "tensorboard")
        bad_epochs = sum(1 for h in history if h["epoch"] > best["epoch"])
        order = np.arange(len(train_human))
        photos = self._by_photo(train_synthetic)  # grouped once, not at every step
        for epoch in range(first_epoch, cfg.epochs):
            if bad_epochs >= cfg.patience:
                break
            started = time.perf_counter()
            self._train_mode()
            self.rng.shuffle(order)
            sums = {"loss": 0.0, "human": 0.0, "synthetic": 0.0, "severity": 0.0}
            bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not cfg.progress)
            for step in bar:
                idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                batch = [train_human[i] for i in idx]
                out = self._forward(batch, train=True, detach_severity=False if severity_targets is not None else None)
                target = torch.tensor([s.score for s in batch], device=self.device)
                human_loss = score_loss(out["score"], target, cfg.rank_weight)
                loss = human_loss
                synth_loss = sev_loss = torch.zeros((), device=self.device)
                if severity_targets is not None:
                    sev_loss = severity_loss(out["severities"], severity_targets[torch.as_tensor(idx)])
                    loss = loss + cfg.severity_weight * sev_loss
                elif cfg.clean_severity_min_score > 0:
                    clean = target >= cfg.clean_severity_min_score
                    zeros = torch.zeros_like(out["severities"])
                    sev_loss = severity_loss(out["severities"], zeros, clean)
                    loss = loss + cfg.severity_weight * sev_loss
                if train_synthetic:
                    sbatch = self._synthetic_batch(photos, cfg.synthetic_batch_size or cfg.batch_size)
                    sout = self._forward(sbatch, train=True, detach_features=cfg.detach_synthetic)
                    level = torch.tensor([float(s.level) for s in sbatch], device=self.device)
                    group = torch.tensor([s.group for s in sbatch], device=self.device)
                    synth_loss = pairwise_rank_loss(sout["score"], -level, group, margin=0.15)
                    sev_target = torch.stack([s.severity for s in sbatch if s.severity is not None]).to(self.device)
                    synth_sev_loss = severity_loss(sout["severities"], sev_target)
                    sev_loss = sev_loss + synth_sev_loss
                    loss = loss + cfg.synthetic_weight * synth_loss + cfg.severity_weight * synth_sev_loss
                    if cfg.synthetic_target_weight > 0:
                        grade = torch.tensor([s.score for s in sbatch], device=self.device)
                        if not bool(torch.isfinite(grade).all()):
                            raise ValueError("synthetic samples without a target score (see Trainer.prepare)")
                        target_loss = torch.nn.functional.smooth_l1_loss(sout["score"], grade, beta=0.5)
                        synth_loss = synth_loss + target_loss
                        loss = loss + cfg.synthetic_target_weight * target_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if ema is not None:
                    ema.update_parameters(self.model)
                for key, value in (
                    ("loss", loss),
                    ("human", human_loss),
                    ("synthetic", synth_loss),
                    ("severity", sev_loss),
                ):
                    sums[key] += float(value.detach())
                bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.3f}")
            record = {"epoch": epoch, **{f"train_{k}": v / steps_per_epoch for k, v in sums.items()}}
            # with EMA, the averaged weights are validated, logged and saved
            evaluated: QualityNet = ema.module if ema is not None else self.model  # type: ignore[assignment]
            record.update(self.validate(val_human, val_synthetic, evaluated))
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            (self.out_dir / "history.json").write_text(json.dumps(history, indent=1))
            for key, metric in record.items():
                if key != "epoch" and writer is not None:
                    writer.add_scalar(key, metric, epoch)
            if writer is not None and val_human:
                writer.add_histogram("val_predictions", self.predict(val_human[:64], evaluated), epoch)
            log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in record.items()})
            if cfg.progress:
                print(json.dumps({k: round(v, 4) for k, v in record.items()}), flush=True)
            score = record.get("val_srcc", -record.get("train_loss", 0.0))
            meta = {"training": cfg.to_dict(), "epoch": epoch, "metrics": record, "version": __version__}
            meta.update(metadata or {})
            if score > best["val_srcc"]:
                best = {"epoch": epoch, "val_srcc": score}
                bad_epochs = 0
                save_checkpoint(self.out_dir / "best.safetensors", evaluated.cpu(), meta)
                evaluated.to(self.device)
            else:
                bad_epochs += 1
            torch.save(
                {
                    **({"ema": ema.state_dict()} if ema is not None else {}),
                    "model": self.model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng_seed": int(self.rng.integers(1 << 31)),
                    "history": json.dumps(history),
                    "best": json.dumps(best),
                    "epoch": epoch,
                },
                state_path,
            )
        if writer is not None:
            writer.close()
        (self.out_dir / "history.json").write_text(json.dumps(history, indent=1))
        return TrainResult(self.out_dir / "best.safetensors", int(best["epoch"]), float(best["val_srcc"]), history)

    # ---------------------------------------------------------------- heads only
    @torch.no_grad()
    def _pooled(self, samples: Sequence[CachedSample]) -> torch.Tensor:
        """Standardised pooled statistics ``(N, D)`` of each sample's plain view (no crop): one backbone pass."""
        self.model.eval()
        out = []
        for sample in samples:
            hidden = sample.views[0].unsqueeze(0).float().to(self.device)
            _, stages = self.model.backbone.forward_range(hidden, self.start)
            stats = [sample.stem_stats[0].unsqueeze(0).to(self.device)]
            stats += [_mean_std_pool(stages[j]) for j in self.model.config.pooled_stages if j in stages]
            out.append(self.model.normalise(torch.cat(stats, dim=1))[0].cpu())
        return torch.stack(out) if out else torch.zeros(0, self.model.feature_dim)

    def fit_heads(
        self,
        train_human: Sequence[CachedSample],
        val_human: Sequence[CachedSample],
        train_synthetic: Sequence[CachedSample] = (),
        val_synthetic: Sequence[CachedSample] = (),
        metadata: dict[str, Any] | None = None,
    ) -> TrainResult:
        """Train the two heads on the frozen backbone's pooled features (computed once per sample), with the same
        losses as :meth:`fit`, on a fixed cosine schedule of ``heads_epochs``; the last epoch is saved to
        ``out_dir/best.safetensors`` (so that the synthetic targets are fitted as fully as the human scores; the
        validation figures of every epoch are in ``history.json``)."""
        cfg = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model.to(self.device)
        for param in self.model.backbone.parameters():
            param.requires_grad_(False)
        if not self.keep_normalisation:
            self._set_normalisation(list(train_human) + list(train_synthetic))
        started = time.perf_counter()
        h_feat, v_feat = self._pooled(train_human), self._pooled(val_human)
        s_feat, vs_feat = self._pooled(train_synthetic), self._pooled(val_synthetic)
        log.info("pooled features of the samples in %.0f s", time.perf_counter() - started)
        h_score = torch.tensor([s.score for s in train_human])
        v_score = np.array([s.score for s in val_human])
        s_target = torch.tensor([s.score for s in train_synthetic])
        s_level = torch.tensor([float(s.level) for s in train_synthetic])
        s_group = torch.tensor([s.group for s in train_synthetic])
        s_sev = (
            torch.stack([s.severity for s in train_synthetic if s.severity is not None]) if train_synthetic else None
        )
        if train_synthetic and not bool(torch.isfinite(s_target).all()):
            raise ValueError("synthetic samples without a target score (see Trainer.prepare)")
        photos: dict[int, list[int]] = {}
        for i, g in enumerate(s_group.tolist()):
            photos.setdefault(g, []).append(i)
        photo_list = list(photos.values())
        params = list(self.model.score_head.parameters()) + list(self.model.severity_head.parameters())
        optimizer = torch.optim.AdamW(params, lr=cfg.lr_head, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, math.ceil(len(train_human) / cfg.batch_size))
        total = steps_per_epoch * cfg.heads_epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
        )
        sbatch_size = cfg.synthetic_batch_size or cfg.batch_size
        history: list[dict[str, float]] = []
        dev = self.device
        for epoch in range(cfg.heads_epochs):
            self.model.train()
            order = self.rng.permutation(len(train_human))
            sums = {"loss": 0.0, "human": 0.0, "synthetic": 0.0, "severity": 0.0}
            for step in range(steps_per_epoch):
                idx = torch.as_tensor(order[step * cfg.batch_size : (step + 1) * cfg.batch_size])
                out = self.model.heads_from_pooled(h_feat[idx].to(dev))
                target = h_score[idx].to(dev)
                human_loss = score_loss(out["score"], target, cfg.rank_weight)
                loss = human_loss
                sev_loss = synth_loss = torch.zeros((), device=dev)
                if cfg.clean_severity_min_score > 0:
                    clean = target >= cfg.clean_severity_min_score
                    sev_loss = severity_loss(out["severities"], torch.zeros_like(out["severities"]), clean)
                    loss = loss + cfg.severity_weight * sev_loss
                if photo_list:
                    picked: list[int] = []
                    while len(picked) < sbatch_size:
                        picked.extend(photo_list[int(self.rng.integers(len(photo_list)))])
                    sidx = torch.as_tensor(picked)
                    sout = self.model.heads_from_pooled(s_feat[sidx].to(dev))
                    synth_loss = pairwise_rank_loss(
                        sout["score"], -s_level[sidx].to(dev), s_group[sidx].to(dev), margin=0.15
                    )
                    loss = loss + cfg.synthetic_weight * synth_loss
                    if cfg.synthetic_target_weight > 0:
                        target_loss = F.smooth_l1_loss(sout["score"], s_target[sidx].to(dev), beta=0.5)
                        synth_loss = synth_loss + target_loss
                        loss = loss + cfg.synthetic_target_weight * target_loss
                    if s_sev is not None:
                        synth_sev = severity_loss(sout["severities"], s_sev[sidx].to(dev))
                        sev_loss = sev_loss + synth_sev
                        loss = loss + cfg.severity_weight * synth_sev
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                for key, value in (("loss", loss), ("human", human_loss), ("synthetic", synth_loss)):
                    sums[key] += float(value.detach())
                sums["severity"] += float(sev_loss.detach())
            record: dict[str, float] = {"epoch": epoch, **{f"train_{k}": v / steps_per_epoch for k, v in sums.items()}}
            self.model.eval()
            with torch.no_grad():
                if len(v_feat):
                    pred = self.model.heads_from_pooled(v_feat.to(dev))["score"].cpu().numpy()
                    record["val_srcc"] = float(scipy_stats.spearmanr(pred, v_score)[0])
                    record["val_plcc"] = float(scipy_stats.pearsonr(pred, v_score)[0])
                    record["val_rmse"] = float(np.sqrt(np.mean((pred - v_score) ** 2)))
                if len(vs_feat):
                    spred = self.model.heads_from_pooled(vs_feat.to(dev))["score"].cpu().numpy()
                    level = np.array([s.level for s in val_synthetic])
                    record["val_synthetic_level_srcc"] = float(-scipy_stats.spearmanr(spred, level)[0])
                    vs_target = np.array([s.score for s in val_synthetic])
                    record["val_synthetic_target_mae"] = float(np.mean(np.abs(spred - vs_target)))
            history.append(record)
            if cfg.progress:
                print(json.dumps({k: round(v, 4) for k, v in record.items()}), flush=True)
        meta = {"training": cfg.to_dict(), "epoch": len(history) - 1, "metrics": history[-1] if history else {}}
        meta.update({"version": __version__, **(metadata or {})})
        save_checkpoint(self.out_dir / "best.safetensors", self.model.cpu(), meta)
        self.model.to(dev)
        (self.out_dir / "history.json").write_text(json.dumps(history, indent=1))
        last = history[-1].get("val_srcc", math.nan) if history else math.nan
        return TrainResult(self.out_dir / "best.safetensors", len(history) - 1, float(last), history)


def _summary_writer(path: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is the optional "train" extra
        log.warning("tensorboard is not installed: no TensorBoard logs (pip install 'pixgrade[train]')")
        return None
    return SummaryWriter(str(path))


def train(config: TrainConfig) -> TrainResult:
    """Run a whole training from a config: read data, cache stems, split (or read the validation manifests), fit,
    save the best checkpoint."""
    human, synthetic = training_items(config)
    val_human = validation_items(config)
    trainer = Trainer(config)
    if val_human:
        cache_dir = config.cache_dir
        val_cache = load_or_cache_samples(
            trainer.model.to(trainer.device),
            val_human,
            trainer.start,
            True,
            cache_dir and Path(cache_dir) / "validation.pt",
            config.progress,
            "caching validation",
        )
        human_cache, synth_cache = trainer.prepare(human, synthetic)
        return train_on_samples(trainer, human, human_cache, synth_cache, len(synthetic), (val_human, val_cache))
    human_cache, synth_cache = trainer.prepare(human, synthetic)
    return train_on_samples(trainer, human, human_cache, synth_cache, len(synthetic))


def train_on_samples(
    trainer: Trainer,
    human: Sequence[HumanItem],
    human_cache: Sequence[CachedSample],
    synth_cache: Sequence[CachedSample],
    n_synthetic: int | None = None,
    validation: tuple[Sequence[HumanItem], Sequence[CachedSample]] | None = None,
) -> TrainResult:
    """:func:`train` after the data step: split (10 % of the rated groups and of the synthetic photos for
    validation; ``validation`` = given rated items and their caches instead), fit, save. ``human_cache[i]`` is the
    cached ``human[i]``."""
    config = trainer.config
    if validation is None:
        train_idx, val_idx = group_split(human, config.val_fraction, config.seed)
        train_cache = [human_cache[i] for i in train_idx]
        val_cache = [human_cache[i] for i in val_idx]
    else:
        train_cache, val_cache = list(human_cache), list(validation[1])
    synth_groups = sorted({s.group for s in synth_cache})
    val_synth_groups = set(synth_groups[: max(1, len(synth_groups) // 10)]) if synth_groups else set()
    metadata = {
        "training_data": {
            "human": [str(m) for m in config.manifests],
            "n_human": len(human),
            "validation": split_sources(config)[1] if validation is not None else "random split",
            "init": config.init or "imagenet",
            "synthetic_dir": config.synthetic_dir,
            "n_synthetic": len(synth_cache) if n_synthetic is None else n_synthetic,
        }
    }
    return trainer.fit(
        train_cache,
        val_cache,
        [s for s in synth_cache if s.group not in val_synth_groups],
        [s for s in synth_cache if s.group in val_synth_groups],
        metadata,
    )
