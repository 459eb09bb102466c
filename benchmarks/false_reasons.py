"""How often pixgrade names a defect that is not there: reasons on photos that have none to name.

Sets (every photo is scored by the full pipeline, ``pixgrade.pipeline.Scorer``, default model):

- ``studio``: clean studio photos of ``products-fashion`` held out from training (``product_id % 6 == 0``);
- ``livec-val``: LIVE-C photos rated MOS >= 70 ("good" to "excellent") in the shipped model's validation groups
  (``group_split(items, 0.1, seed 0)``: never trained on);
- ``livec-train``: the same for the groups the model trained on (their scores, and for MOS >= 70 their
  all-zero severities, were training targets: an optimistic figure);
- ``grocery``: hand-held phone photos of groceries in shops (``products-grocery-phone``, never trained on).
  These are casual photos, some genuinely blurry or dark: a reason there is not always false.

A *defect reason* is a model severity reason (``"... (model)"``) or the reason of a flagged technical factor
(sharpness, noise, exposure, contrast, colourfulness, blockiness); size (resolution, aspect ratio) and
composition (background, fill, centring) are facts, not defects, and are not counted. Printed per set: share of
photos with at least one model reason / technical factor reason / either, the most frequent reasons, and the
photos with a contradictory pair (over- and underexposed named together, by the model or the factors).

    python benchmarks/false_reasons.py --studio 100 --livec 200 --grocery 150
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import pandas as pd

from pixgrade.pipeline import Scorer
from pixgrade.train.data import read_human_items
from pixgrade.train.trainer import group_split

TECHNICAL = ("sharpness", "noise", "exposure", "contrast", "colourfulness", "blockiness")


def _sets(data: Path, n_studio: int, n_livec: int, n_grocery: int, min_mos: float) -> dict[str, list[str]]:
    products = pd.read_csv(data / "products-fashion" / "products.csv")
    held = products[products.product_id % 6 == 0].sort_values("product_id")
    studio = [str(data / "products-fashion" / p) for p in held.image.head(n_studio)]
    items = read_human_items(data / "livec-train")
    train_idx, val_idx = group_split(items, 0.1, 0)
    good = [i for i, item in enumerate(items) if item.score * 20 >= min_mos]
    val = [items[i].path for i in good if i in set(val_idx)]
    train = [items[i].path for i in good if i in set(train_idx)][:n_livec]
    grocery = pd.read_csv(data / "products-grocery-phone" / "photos.csv")
    picks = grocery.sample(n=min(n_grocery, len(grocery)), random_state=0).image
    return {
        "studio": studio,
        "livec-val": val,
        "livec-train": train,
        "grocery": [str(data / "products-grocery-phone" / p) for p in picks],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "../shared/data"))
    parser.add_argument("--studio", type=int, default=100)
    parser.add_argument("--livec", type=int, default=200, help="at most this many of the trained-on LIVE-C photos")
    parser.add_argument("--grocery", type=int, default=150)
    parser.add_argument("--min-mos", type=float, default=70.0)
    args = parser.parse_args()

    scorer = Scorer(model=args.model)
    sets = _sets(Path(args.data), args.studio, args.livec, args.grocery, args.min_mos)
    print(f"model {args.model} ({scorer.predictor.description if scorer.predictor else 'measures only'})")
    header = ("set", "n", "model", "factor", "either", "contra", "score>=3.5")
    print(f"{header[0]:12s} {header[1]:>4s} " + " ".join(f"{h:>6s}" for h in header[2:6]) + f" {header[6]:>10s}  top")
    for name, paths in sets.items():
        started = time.perf_counter()
        model_hit = factor_hit = either = contradictory = good = 0
        counts: collections.Counter[str] = collections.Counter()
        results = [r for r in scorer.score_paths(paths, workers=0) if r.error is None]
        for result in results:
            model_reasons = [r for r in result.reasons if r.endswith("(model)")]
            factor_reasons = [
                f.reason or f.name for n, f in result.factors.items() if n in TECHNICAL and f.flag and f.reason
            ]
            model_hit += bool(model_reasons)
            factor_hit += bool(factor_reasons)
            either += bool(model_reasons or factor_reasons)
            text = " ".join(model_reasons + factor_reasons).lower()
            contradictory += ("overexposed" in text or "bright" in text) and ("underexposed" in text or "dark" in text)
            good += result.score is not None and result.score >= 3.5
            counts.update(r.split(":")[0] for r in model_reasons + factor_reasons)
        n = max(1, len(results))
        top = ", ".join(f"{reason} {count / n:.0%}" for reason, count in counts.most_common(4))
        print(
            f"{name:12s} {len(results):4d} {model_hit / n:6.1%} {factor_hit / n:6.1%} {either / n:6.1%} "
            f"{contradictory:6d} {good / n:10.1%}  {top}   ({time.perf_counter() - started:.0f} s)"
        )
    print(f"(LIVE-C sets: MOS >= {args.min_mos:g}; mean of scores not shown; defect reasons only, see the docstring)")


if __name__ == "__main__":
    main()
