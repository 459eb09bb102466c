"""How well the model's score follows synthetic degradation levels on product photos never used in training.

Held-out photos are those of ``products-fashion`` whose ``product_id`` is divisible by 6 (training never uses
them, see ``TrainConfig.synthetic_holdout_mod``). Each is degraded by every registered type at levels 0–5 and
scored. Printed per type: SRCC between level and score (negated, so 1 = the score falls as the level rises)
computed per image and averaged, and pooled over all images; and the mean severity of the type's channel.

    python benchmarks/synthetic_levels.py --model default --images 100
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
from pixgrade.model.predictor import load_predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "../shared/data/products-fashion"))
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--holdout-mod", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    predictor = load_predictor(args.model)
    table = pd.read_csv(Path(args.data) / "products.csv")
    table = table[table["product_id"] % args.holdout_mod == 0].sort_values("product_id").head(args.images)
    rows = []
    started = time.perf_counter()
    for k, row in enumerate(table.itertuples(index=False)):
        with Image.open(Path(args.data) / row.image) as image:
            rgb = np.asarray(image.convert("RGB"))
        for name in list_degradations():
            images = [degrade(rgb, name, level, seed=args.seed + k) for level in range(6)]
            for level, out in enumerate(predictor.predict(images)):
                channel = get_degradation(name).severity
                rows.append((row.product_id, name, level, out.score, out.severities[channel]))
    df = pd.DataFrame(rows, columns=["product", "degradation", "level", "score", "severity"])
    print(
        f"{len(table)} held-out photos x {df.degradation.nunique()} types x 6 levels in "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"{'degradation':16s} {'SRCC/image':>10s} {'SRCC pooled':>11s} {'sev L0':>7s} {'sev L5':>7s}")
    per_type = []
    for name, group in df.groupby("degradation"):
        per_image = [
            -stats.spearmanr(g.level, g.score)[0] for _, g in group.groupby("product") if g.score.nunique() > 1
        ]
        pooled = -stats.spearmanr(group.level, group.score)[0]
        sev0 = group[group.level == 0].severity.mean()
        sev5 = group[group.level == 5].severity.mean()
        per_type.append((np.mean(per_image), pooled))
        print(f"{name:16s} {np.mean(per_image):10.3f} {pooled:11.3f} {sev0:7.2f} {sev5:7.2f}")
    means = np.array(per_type)
    print(f"{'mean':16s} {means[:, 0].mean():10.3f} {means[:, 1].mean():11.3f}")
    all_pooled = -stats.spearmanr(df.level, df.score)[0]
    print(f"all types pooled: SRCC(level, score) = {all_pooled:.3f}")


if __name__ == "__main__":
    main()
