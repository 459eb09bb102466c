"""K-fold cross-validation of the training recipe on LIVE-C (``../shared/data/livec-train``).

Each fold trains a fresh ImageNet-initialised model on the other folds (10% of them held out for early
stopping) and reports SRCC / PLCC / RMSE on the fold it never saw. The frozen stem is cached once and shared.

    python benchmarks/livec_cv.py --config configs/default.yaml --folds 5   # the shipped model's recipe
    python benchmarks/livec_cv.py --folds 5 --no-synthetic --epochs 8
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from pixgrade.train.config import TrainConfig, load_config
from pixgrade.train.data import training_items
from pixgrade.train.trainer import Trainer, group_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="training config (YAML/TOML); defaults to the built-in recipe")
    parser.add_argument("--data", help="folder with livec-train/ and products-fashion/ (default: the config's paths)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, nargs="*", help="run just these fold indices")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--trainable-from", type=int)
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--synthetic-sources", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/cv")
    parser.add_argument("--set", nargs="*", default=[], help="extra config overrides key=value (JSON values)")
    args = parser.parse_args()

    config = load_config(args.config) if args.config else TrainConfig()
    overrides: dict[str, Any] = {"progress": False}
    if args.data:
        overrides.update(
            manifests=[str(Path(args.data) / "livec-train")], synthetic_dir=str(Path(args.data) / "products-fashion")
        )
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.trainable_from is not None:
        overrides["trainable_from"] = args.trainable_from
    if args.no_synthetic:
        overrides["synthetic_dir"] = ""
    if args.synthetic_sources:
        overrides["synthetic_sources"] = args.synthetic_sources
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value)
    config = replace(config, **overrides)

    if config.init:
        print(
            f"WARNING: init={config.init}: folds start from a checkpoint trained on livec-train, so the folds' test "
            "images are not unseen (not a cross-validation); use --set init='\"\"' train_backbone=true"
        )
    human, synthetic = training_items(config)
    started = time.perf_counter()
    base = Trainer(replace(config, out_dir=f"{args.out}/cache"))
    human_cache, synth_cache = base.prepare(human, synthetic)  # reused from config.cache_dir when present
    print(f"cached {len(human_cache)} rated + {len(synth_cache)} synthetic in {time.perf_counter() - started:.0f} s")

    rng = np.random.default_rng(args.seed)
    fold_of = rng.permutation(len(human)) % args.folds
    results = []
    for fold in range(args.folds):
        if args.only_folds and fold not in args.only_folds:
            continue
        t0 = time.perf_counter()
        rest = [i for i in range(len(human)) if fold_of[i] != fold]
        test = [i for i in range(len(human)) if fold_of[i] == fold]
        tr, va = group_split([human[i] for i in rest], config.val_fraction, config.seed + fold)
        trainer = Trainer(replace(config, out_dir=f"{args.out}/fold{fold}", seed=config.seed + fold))
        result = trainer.fit(
            [human_cache[rest[i]] for i in tr],
            [human_cache[rest[i]] for i in va],
            synth_cache,
            [],
        )
        from pixgrade.model.checkpoint import load_checkpoint

        best_model, _ = load_checkpoint(result.best_path)
        trainer.model = best_model.to(trainer.device)
        pred = trainer.predict([human_cache[i] for i in test])
        true = np.array([human[i].score for i in test])
        row = {
            "fold": fold,
            "srcc": float(stats.spearmanr(pred, true)[0]),
            "plcc": float(stats.pearsonr(pred, true)[0]),
            "rmse_0_5": float(np.sqrt(np.mean((pred - true) ** 2))),
            "best_epoch": result.best_epoch,
            "minutes": (time.perf_counter() - t0) / 60,
        }
        results.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    srcc = [r["srcc"] for r in results]
    plcc = [r["plcc"] for r in results]
    print(
        f"LIVE-C {args.folds}-fold CV ({len(results)} folds run): SRCC {np.mean(srcc):.4f} ± {np.std(srcc):.4f}, "
        f"PLCC {np.mean(plcc):.4f} ± {np.std(plcc):.4f}"
    )


if __name__ == "__main__":
    main()
