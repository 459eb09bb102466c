"""Baseline: frozen ImageNet MobileNetV2 features + ridge regression, same 5 folds as ``livec_cv.py``.

Features: spatial mean and standard deviation of the five stage outputs at native resolution (the statistics
that QualityNet's heads read), for the image and its mirror; ridge regression (alpha by internal CV) on the
standardised features; SRCC on each held-out fold.

    python benchmarks/livec_frozen_baseline.py [--model pixgrade_effl0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from scipy import stats
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pixgrade.model import create_model
from pixgrade.model.predictor import prepare_input
from pixgrade.train.data import read_human_items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/livec-train")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="pixgrade_mnv2", help="registered model whose backbone is used")
    args = parser.parse_args()

    items = read_human_items(Path(args.data))
    model = create_model(args.model, pretrained_backbone=True).eval()
    features = []
    with torch.inference_mode():
        for item in items:
            with Image.open(item.path) as image:
                x = prepare_input(np.asarray(image.convert("RGB")), model.config.max_side)
            stages = model.forward_features(torch.cat([x, x.flip(3)]))
            features.append(model.pool(stages).numpy())  # feature_mean 0, feature_std 1: raw statistics
    feats = np.stack(features)  # (N, 2 views, D)
    y = np.array([item.score for item in items])
    fold_of = np.random.default_rng(args.seed).permutation(len(y)) % args.folds  # as livec_cv.py
    scores = []
    for fold in range(args.folds):
        train, test = fold_of != fold, fold_of == fold
        x_train = np.concatenate([feats[train, 0], feats[train, 1]])
        regressor = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(0, 5, 11)))
        regressor.fit(x_train, np.concatenate([y[train], y[train]]))
        scores.append(stats.spearmanr(regressor.predict(feats[test, 0]), y[test])[0])
        print(f"fold {fold}: SRCC {scores[-1]:.4f}")
    summary = f"SRCC {np.mean(scores):.4f} ± {np.std(scores):.4f}"
    print(f"{args.model}: frozen features + ridge, {args.folds}-fold: {summary}")


if __name__ == "__main__":
    main()
