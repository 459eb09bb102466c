"""Wall time of ``pixgrade filter``'s scoring pass against ``pixgrade score`` on the same folder.

Both go through the one per-image stage (``pipeline.analysis.analyse``: one read, one decode), so the filter's
extra work per new file is the marketplace facts (background, border, overlaid text) and the pHash. This script
times, on N photos copied from ``products-fashion`` and ``products-grocery-phone`` (``PIXGRADE_DATA``, default
``../shared/data``) and scaled to a longest side of 1200 px (larger than every decode size):

- ``score``: ``Scorer(model).score_paths`` over the folder;
- ``filter``: ``run_filter`` on the same folder (new in-memory catalogue, ``--duplicates off``: the duplicate
  step is another feature, timed by ``benchmarks/duplicates_filter_cost.py``);
- the text detector's own cost: ``detect_text`` on each photo at the facts' size (1024 px), in this process.

and prints ``filter / (score + text)``, which issue 14 wants at most 1.5. Run::

    OMP_NUM_THREADS=1 python benchmarks/filter_vs_score.py --n 60 --workers 2
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from PIL import Image


def data_dir() -> Path:
    return Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60, help="photos")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--model", default="default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pixgrade.catalog import Catalog, FilterSettings, run_filter
    from pixgrade.facts import available_text_detectors, detect_text
    from pixgrade.io import load_image
    from pixgrade.pipeline import Scorer
    from pixgrade.policy import load_policy

    rng = random.Random(args.seed)
    root = data_dir()
    pool = sorted((root / "products-fashion" / "images").glob("*.jpg"))
    pool += sorted((root / "products-grocery-phone" / "images").glob("*.jpg"))
    folder = Path(tempfile.mkdtemp(prefix="pixgrade-filter-vs-score-")) / "photos"
    folder.mkdir()
    for i, path in enumerate(rng.sample(pool, args.n)):
        image = Image.open(path).convert("RGB")
        scale = 1200 / max(image.size)
        image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS).save(
            folder / f"{i:04d}.jpg", quality=90
        )
    files = sorted(str(p) for p in folder.iterdir())
    detector = available_text_detectors()[0]

    scorer = Scorer(args.model)  # loaded outside the timing, as the filter's is (below)
    started = time.perf_counter()
    n_scored = sum(1 for _ in scorer.score_paths(files, workers=args.workers))
    score_s = time.perf_counter() - started

    settings = FilterSettings(
        policy=load_policy("generic"), model=args.model, workers=args.workers, duplicates=None, group_by="none"
    )
    Scorer(args.model)  # warm the model files' page cache like the score run had
    started = time.perf_counter()
    with Catalog(":memory:") as catalog:
        outcome = run_filter([folder], settings, catalog)
    filter_s = time.perf_counter() - started

    started = time.perf_counter()
    for path in files:
        detect_text(load_image(path, max_side=1024).rgb, detector=detector)  # type: ignore[arg-type]
    text_s = time.perf_counter() - started
    decode_s_start = time.perf_counter()
    for path in files:
        load_image(path, max_side=1024)
    text_s -= time.perf_counter() - decode_s_start  # the detector alone, not the decode

    workers = "one per CPU" if args.workers is None else str(args.workers)
    print(f"{len(files)} photos (1200 px), model {args.model}, workers {workers}, text detector {detector}")
    print(f"score:  {score_s:6.1f} s  ({n_scored} results)")
    print(f"filter: {filter_s:6.1f} s  ({len(outcome.records)} records, scoring + facts + pHash + policy + catalogue)")
    print(f"text detector alone (this process, 1024 px): {text_s:6.1f} s")
    print(f"filter / (score + text detector) = {filter_s / (score_s + text_s):.2f}")


if __name__ == "__main__":
    main()
