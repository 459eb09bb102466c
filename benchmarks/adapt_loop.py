"""The whole loop through the command line, timed: ``pixgrade label import`` → ``pixgrade adapt`` → the adapted
model's predictor (what ``pixgrade score --model team.safetensors`` runs), on degraded held-out product photos
graded by a simulated team.

The team standard and the simulated annotator are those of ``benchmarks/labelling_cost.py``. ``--labels`` photos
are graded (one noisy grade each) and imported; ``pixgrade adapt`` runs on them (features of every catalogue image,
5-fold CV, INT8 export); the adapted model and the shipped one then score ``--test`` other photos, and their SRCC
with the team standard is printed with the adapt time.

    python benchmarks/adapt_loop.py --labels 200 --test 150
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy import stats

from labelling_cost import CLEAN, ROOT, TEAM_PENALTY, Annotator
from pixgrade.degrade import degrade, get_degradation, list_degradations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "../shared/data/products-fashion"))
    parser.add_argument("--livec", default=str(ROOT / "../shared/data/livec-train/labels.csv"))
    parser.add_argument("--labels", type=int, default=200)
    parser.add_argument("--test", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "runs" / "adapt_loop"))
    args = parser.parse_args()

    out = Path(args.out)
    photos = out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(Path(args.data) / "products.csv")
    table = table[table["product_id"] % 6 == 0].sort_values("product_id")
    rng = np.random.default_rng(args.seed)
    chosen = table.iloc[rng.permutation(len(table))[: args.labels + args.test]]
    names = list_degradations()
    rows = []
    for i, row in enumerate(chosen.itertuples(index=False)):
        with Image.open(Path(args.data) / row.image) as image:
            rgb = np.asarray(image.convert("RGB"))
        penalty = 0.0
        if rng.random() > 0.2:
            name, level = str(rng.choice(names)), int(rng.integers(1, 6))
            rgb = degrade(rgb, name, level, seed=int(rng.integers(1 << 30)))
            penalty = TEAM_PENALTY[get_degradation(name).severity] * level
        path = photos / f"p{i:04d}.png"
        Image.fromarray(rgb).save(path)
        rows.append({"image": str(path), "team": float(np.clip(CLEAN - penalty, 0, 5))})
    frame = pd.DataFrame(rows)
    spread = rng.choice((pd.read_csv(args.livec)["mos_std"] / 20.0).to_numpy(), len(frame))
    annotator = Annotator(frame["team"].to_numpy(), spread, rng)
    labelled = frame.iloc[: args.labels].copy()
    labelled["grade"] = [annotator.grade(i) for i in range(args.labels)]
    grades_csv = out / "grades.csv"
    labelled[["image", "grade"]].to_csv(grades_csv, index=False)
    catalog = out / "team.sqlite"
    for stale in (catalog, out / "team.safetensors", out / "team.int8.onnx"):
        stale.unlink(missing_ok=True)
    exe = [sys.executable, "-m", "pixgrade"]
    subprocess.run(
        [*exe, "label", "import", str(grades_csv), "--catalog", str(catalog), "--annotator", "sim"], check=True
    )
    started = time.perf_counter()
    subprocess.run([*exe, "adapt", "--catalog", str(catalog), "-o", str(out / "team.safetensors")], check=True)
    adapt_s = time.perf_counter() - started
    test = frame.iloc[args.labels :]
    # the predictor itself (auto backend: the INT8 exports): `pixgrade score` caps the score of small images
    # (224-px product photos: at most 1.32, the resolution cap), which would hide the model's ranking here
    from pixgrade.model.predictor import load_predictor

    images = [np.asarray(Image.open(p).convert("RGB")) for p in test["image"]]
    results = {}
    for label, model in (("shipped", "default"), ("adapted", str(out / "team.safetensors"))):
        predictor = load_predictor(model)
        scores = [o.score for o in predictor.predict(images)]
        results[label] = float(stats.spearmanr(scores, test["team"])[0])
    print(f"pixgrade adapt on {args.labels} imported grades: {adapt_s:.0f} s (features, 5-fold CV, INT8 export)")
    print(
        f"SRCC with the team standard on {len(test)} other photos: shipped {results['shipped']:.3f}, "
        f"adapted {results['adapted']:.3f}"
    )


if __name__ == "__main__":
    main()
