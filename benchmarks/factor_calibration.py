"""How the factor values and flags behave on real photos: the evidence behind the anchors in docs/factors.md.

Two parts:
  1. products-fashion (clean studio shots on white, no quality labels): each factor's value percentiles and flag
     rate on the clean photos and on synthetic degradations of them (Gaussian blur, grain, JPEG re-encoding);
  2. livec-train (authentic distortions with human mean opinion scores, MOS 0-100): per factor the Spearman
     correlation of the value with MOS, the share of photos flagged and the mean MOS of flagged vs unflagged ones.

    python benchmarks/factor_calibration.py [--fashion 100] [--livec 813]

Data comes from ``$PIXGRADE_DATA`` (falls back to ``<repo>/../shared/data``).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image
from scipy.stats import spearmanr

from pixgrade.io import LoadedImage, load_image
from pixgrade.measures import FACTOR_NAMES, PreparedImage, measure_all

SHOWN = ("sharpness", "noise", "exposure", "contrast", "colourfulness", "blockiness", "background", "fill", "centring")


def data_root() -> Path:
    env = os.environ.get("PIXGRADE_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def jpeg(rgb: np.ndarray, quality: int) -> LoadedImage:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return load_image(buf.getvalue())


def variants(image: LoadedImage, rng: np.random.Generator) -> dict[str, LoadedImage | PreparedImage]:
    rgb = image.rgb
    grain = rng.normal(0, 1, rgb.shape[:2])[:, :, None]
    return {
        "clean": image,
        "blur s=1": PreparedImage(cv2.GaussianBlur(rgb, (0, 0), 1.0)),
        "blur s=2": PreparedImage(cv2.GaussianBlur(rgb, (0, 0), 2.0)),
        "grain s=5": PreparedImage(np.clip(rgb + 5 * grain, 0, 255).astype(np.uint8)),
        "grain s=10": PreparedImage(np.clip(rgb + 10 * grain, 0, 255).astype(np.uint8)),
        "jpeg q=10": jpeg(rgb, 10),
        "jpeg q=30": jpeg(rgb, 30),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fashion", type=int, default=100, help="products-fashion photos to use (default 100)")
    parser.add_argument("--livec", type=int, default=813, help="livec-train photos to use (default all 813)")
    args = parser.parse_args(argv)
    root = data_root()
    if not root.is_dir():
        print(f"error: {root}: no data folder (set PIXGRADE_DATA)", file=sys.stderr)
        return 2
    pd.set_option("display.width", 160)
    rng = np.random.default_rng(0)

    rows = []
    fashion = pd.read_csv(root / "products-fashion" / "products.csv").head(args.fashion)
    for name in fashion["image"]:
        image = load_image(root / "products-fashion" / name)
        for variant, img in variants(image, rng).items():
            for factor, result in measure_all(img).items():
                rows.append((variant, factor, result.value, result.flag))
    df = pd.DataFrame(rows, columns=["variant", "factor", "value", "flag"])
    print(f"== products-fashion: {len(fashion)} photos x {df.variant.nunique()} variants")
    for factor in ("sharpness", "noise", "exposure", "contrast", "blockiness", "fill", "centring", "background"):
        sub = df[df.factor == factor]
        table = sub.groupby("variant", sort=False)["value"].quantile([0.05, 0.5, 0.95]).unstack()
        table.columns = ["p5", "median", "p95"]
        table["flagged"] = sub.groupby("variant", sort=False)["flag"].mean()
        print(f"-- {factor}")
        print(table.round(3).to_string())

    labels = pd.read_csv(root / "livec-train" / "labels.csv").head(args.livec)
    records: list[dict[str, float | bool]] = []
    for name, mos in zip(labels["image"], labels["mos"], strict=True):
        factors = measure_all(load_image(root / "livec-train" / name))
        records.append(
            {
                "mos": mos,
                **{f"{n}_value": f.value for n, f in factors.items()},
                **{f"{n}_flag": f.flag for n, f in factors.items()},
            }
        )
    lv = pd.DataFrame(records)
    print(f"\n== livec-train: {len(lv)} photos, mean MOS {lv.mos.mean():.1f}")
    out = []
    for factor in FACTOR_NAMES:
        if factor not in SHOWN:
            continue
        flag = lv[f"{factor}_flag"]
        rho = spearmanr(lv[f"{factor}_value"], lv.mos).statistic
        out.append(
            (factor, rho, flag.mean(), lv.mos[flag].mean() if flag.any() else float("nan"), lv.mos[~flag].mean())
        )
    print(
        pd.DataFrame(out, columns=["factor", "spearman_vs_mos", "flagged", "mos_flagged", "mos_unflagged"])
        .round(3)
        .to_string(index=False)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
