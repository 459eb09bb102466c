"""How the model's score follows the grading standard on product photos never used in training.

Held-out photos are those of ``products-fashion`` whose ``product_id`` is divisible by 6 (training never uses
them, see ``TrainConfig.synthetic_holdout_mod``). Each is degraded by every registered type at levels 0–5
(and, with ``--heldout-types``, by the evaluation-only types of :mod:`pixgrade.degrade.heldout`, which no
training ever sees) and scored. Printed:

- per type: within-photo SRCC between level and score (negated: 1 = the score falls as the level rises),
  averaged over photos; SRCC pooled over all photos; the mean score at each level; the share of level-5 copies
  below 2.5; the mean severity of the type's channel at levels 0 and 5;
- over all registered types: pooled SRCC, mean within-photo SRCC, clean photos >= 3.5, most severe level
  < 2.5, and how much the clean score depends on the kind of product (per master category);
- desaturation again on colourful photos only (taking the colour out of a grey product changes nothing, and
  the standard grades it so, docs/grading.md);
- ``--calibration``: type × level -> distribution of whole grades (0–5, ``pixgrade.pipeline.grade_from_score``).

    python benchmarks/synthetic_levels.py --model default --images 60 --heldout-types --calibration
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

from pixgrade.degrade import degrade, get_degradation, list_degradations
from pixgrade.degrade.heldout import degrade_heldout, list_heldout_degradations
from pixgrade.degrade.targets import DESATURATION_FULL_M, picture_colourfulness
from pixgrade.model.predictor import load_predictor
from pixgrade.pipeline import grade_from_score


def _summary(df: pd.DataFrame, title: str) -> None:
    print(f"\n{title}")
    print(
        f"{'degradation':21s} {'SRCC/photo':>10s} {'pooled':>7s} "
        + " ".join(f"{'L' + str(k):>5s}" for k in range(6))
        + f" {'L5<2.5':>7s} {'sevL0':>6s} {'sevL5':>6s}"
    )
    for name, group in df.groupby("degradation", sort=False):
        per_photo = [
            -stats.spearmanr(g.level, g.score)[0] for _, g in group.groupby("product") if g.score.nunique() > 1
        ]
        pooled = -stats.spearmanr(group.level, group.score)[0]
        means = group.groupby("level").score.mean()
        worst = group[group.level == 5].score
        sev = group.groupby("level").severity.mean()
        print(
            f"{name:21s} {np.mean(per_photo):10.3f} {pooled:7.3f} "
            + " ".join(f"{means.get(k, np.nan):5.2f}" for k in range(6))
            + f" {(worst < 2.5).mean():7.0%} {sev.get(0, np.nan):6.2f} {sev.get(5, np.nan):6.2f}"
        )
    per_photo_all = [
        -stats.spearmanr(g.level, g.score)[0]
        for _, g in df.groupby(["degradation", "product"])
        if g.score.nunique() > 1
    ]
    worst = df[df.level == 5].score
    print(
        f"pooled SRCC(level, score) over all photos and types: {-stats.spearmanr(df.level, df.score)[0]:.3f}; "
        f"within-photo SRCC (mean over photo x type): {np.mean(per_photo_all):.3f}; "
        f"most severe level < 2.5: {(worst < 2.5).mean():.1%} of {len(worst)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "../shared/data/products-fashion"))
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--holdout-mod", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--heldout-types", action="store_true", help="also the evaluation-only degradation types")
    parser.add_argument("--calibration", action="store_true", help="print the type x level -> grade table")
    parser.add_argument("--csv", help="write every (photo, type, level, score) row here")
    args = parser.parse_args()

    predictor = load_predictor(args.model, backend=args.backend)
    table = pd.read_csv(Path(args.data) / "products.csv")
    table = table[table["product_id"] % args.holdout_mod == 0].sort_values("product_id")
    # spread over the kinds of product: round-robin over sub-categories, then the first N
    table = table.assign(rank=table.groupby("subCategory").cumcount()).sort_values(["rank", "product_id"])
    table = table.head(args.images)
    kinds = [(name, "registered") for name in list_degradations()]
    if args.heldout_types:
        kinds += [(name, "held-out") for name in list_heldout_degradations()]
    rows = []
    started = time.perf_counter()
    for k, row in enumerate(table.itertuples(index=False)):
        with Image.open(Path(args.data) / row.image) as image:
            rgb = np.asarray(image.convert("RGB"))
        clean = predictor.predict([rgb])[0]
        colourful = picture_colourfulness(rgb) >= DESATURATION_FULL_M
        for name, kind in kinds:
            if kind == "registered":
                images = [degrade(rgb, name, level, seed=args.seed + k) for level in range(1, 6)]
                channel = get_degradation(name).severity
            else:
                images = [degrade_heldout(rgb, name, level, seed=args.seed + k) for level in range(1, 6)]
                channel = None
            outs = [clean, *predictor.predict(images)]
            for level, out in enumerate(outs):
                severity = out.severities[channel] if channel else max(out.severities.values())
                rows.append((row.product_id, row.masterCategory, colourful, kind, name, level, out.score, severity))
    columns = ["product", "category", "colourful", "kind", "degradation", "level", "score", "severity"]
    df = pd.DataFrame(rows, columns=columns)
    print(
        f"{len(table)} held-out photos ({table.subCategory.nunique()} sub-categories) x {len(kinds)} types x "
        f"6 levels in {time.perf_counter() - started:.0f} s; model {args.model}, backend {predictor.backend}"
    )
    registered = df[df.kind == "registered"]
    _summary(registered, "registered types (trained on other photos)")
    clean = registered[(registered.level == 0)].drop_duplicates("product")
    print(
        f"clean photos >= 3.5: {(clean.score >= 3.5).mean():.1%} of {len(clean)} "
        f"(mean {clean.score.mean():.2f}, min {clean.score.min():.2f}, std {clean.score.std():.2f}); "
        "clean mean by category: "
        + ", ".join(f"{c} {g.score.mean():.2f} (n={len(g)})" for c, g in clean.groupby("category"))
    )
    desat = registered[(registered.degradation == "desaturation") & registered.colourful]
    if len(desat):
        worst = desat[desat.level == 5].score
        print(
            f"desaturation of colourful photos only (colourfulness M >= {DESATURATION_FULL_M:g}, "
            f"{desat['product'].nunique()} photos): mean score by level "
            + " ".join(f"{m:.2f}" for m in desat.groupby("level").score.mean())
            + f"; level 5 < 2.5: {(worst < 2.5).mean():.0%}"
        )
    if args.heldout_types:
        _summary(df[df.kind == "held-out"], "held-out types (never trained on; severity = largest of any channel)")
    if args.calibration:
        print("\ncalibration: type x level -> share of grades 0/1/2/3/4/5 (%)")
        for (name, level), group in df[df.level > 0].groupby(["degradation", "level"], sort=False):
            grades = np.array([grade_from_score(s) for s in group.score])
            shares = " ".join(f"{(grades == g).mean() * 100:3.0f}" for g in range(6))
            print(f"{name:21s} L{level}  {shares}   mean {group.score.mean():.2f}")
    if args.csv:
        df.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
