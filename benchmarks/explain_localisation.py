"""How often does the heatmap point at the damaged half of a photo?

Takes product photos from ``$PIXGRADE_DATA/products-fashion/images`` (default ``../shared/data``), degrades the left
or the right half (Gaussian blur sigma 3, or Gaussian noise sigma 25), and counts how often the heat mass of each
explanation method falls mostly on the degraded half. 50% is chance.

    python benchmarks/explain_localisation.py --model default --n 40
    python benchmarks/explain_localisation.py --model path/to/checkpoint.safetensors --n 20 --stages -1 3

Prints one line per (method, stage, degradation) with the hit rate and the mean share of heat on the degraded half.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from pixgrade.explain import EXPLAIN_METHODS, explain_image
from pixgrade.model.predictor import load_predictor


def _degrade(rgb: np.ndarray, kind: str, side: str, seed: int) -> np.ndarray:
    half = rgb.shape[1] // 2
    region = (slice(None), slice(0, half)) if side == "left" else (slice(None), slice(half, None))
    out = rgb.copy()
    if kind == "blur":
        out[region] = cv2.GaussianBlur(rgb, (0, 0), 3.0)[region]
    else:
        noisy = rgb.astype(np.float32) + np.random.default_rng(seed).normal(0, 25, rgb.shape)
        out[region] = np.clip(noisy, 0, 255).astype(np.uint8)[region]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="'default' or a checkpoint path")
    parser.add_argument("--n", type=int, default=20, help="number of photos (each degraded 4 ways)")
    parser.add_argument("--stages", type=int, nargs="+", default=[-1], help="backbone stages to explain")
    parser.add_argument("--data", default=None, help="data folder (default: $PIXGRADE_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = Path(
        args.data or os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[1].parent / "shared/data")
    )
    folder = data / "products-fashion" / "images"
    files = sorted(folder.glob("*.jpg"))[: args.n]
    if not files:
        raise SystemExit(f"no images found in {folder}")
    predictor = load_predictor(args.model, backend="torch")
    hits: dict[tuple[str, int, str], list[float]] = {}
    start = time.perf_counter()
    for i, path in enumerate(files):
        rgb = np.asarray(Image.open(path).convert("RGB"))
        for kind in ("blur", "noise"):
            for side in ("left", "right"):
                degraded = _degrade(rgb, kind, side, seed=i)
                for method in EXPLAIN_METHODS:
                    for stage in args.stages:
                        left, right = explain_image(predictor, degraded, method=method, stage=stage).left_right_mass()
                        share = left if side == "left" else right
                        hits.setdefault((method, stage, kind), []).append(share)
    elapsed = time.perf_counter() - start
    print(f"model: {args.model}; {len(files)} photos from {folder}; 2 sides each; {elapsed:.0f} s")
    print(f"{'method':<16} {'stage':>5} {'degradation':<11} {'hit rate':>8} {'mean share':>10}")
    for (method, stage, kind), shares in sorted(hits.items()):
        values = np.asarray(shares)
        print(f"{method:<16} {stage:>5} {kind:<11} {np.mean(values > 0.5):>8.0%} {values.mean():>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
