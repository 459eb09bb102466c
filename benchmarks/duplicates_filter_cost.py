"""CPU cost of the filter's duplicate step against the cost of scoring, per image, and the estimate for 20 000 images.

On N real photos plus one altered copy of each (``benchmarks/duplicates.py``'s alterations, saved as JPEG), it
measures CPU time (``time.process_time``, this process only; the filter's workers do the same work) per image of

- scoring: ``Scorer(facts=True, phash=True, content=True).score_image`` (one decode, the 11 measures, the shipped
  model, the marketplace facts: background, borders, PP-OCR text detection, the pHash and the content embedding
  from the same decode) — what ``pixgrade filter`` does per new file with duplicates on;
- the duplicate step: ``find_duplicates`` over all images (``--duplicates all``: candidates, keypoint
  verification decoding the files of candidate pairs, clusters);

and, separately, the index part of ``find_duplicates`` on 20 000 synthetic entries (hashes and 1280-d embeddings,
no pixels to verify), which grows faster than linearly below the exact-search limit. The 20 000-image estimate is
per-image duplicate cost × 20 000 + that index time, against per-image scoring cost × 20 000. Run::

    OMP_NUM_THREADS=1 python benchmarks/duplicates_filter_cost.py --n 60
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from duplicates import ALTERATIONS, alter, data_dir
from pixgrade.catalog.duplicates import load_pixels
from pixgrade.dedupe import DuplicateSettings, find_duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=60, help="real photos (each gets one copy)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic", type=int, default=20_000, help="entries for the index-only timing")
    args = parser.parse_args()
    from pixgrade.pipeline import Scorer

    rng = random.Random(args.seed)
    studio = sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))
    phone = sorted((data_dir() / "products-grocery-phone" / "images").glob("*.jpg"))
    chosen = rng.sample(studio, args.n // 2) + rng.sample(phone, args.n - args.n // 2)
    folder = Path(tempfile.mkdtemp(prefix="pixgrade-dup-cost-"))
    paths = []
    for i, path in enumerate(chosen):
        base = Image.open(path).convert("RGB")
        copy, _ = alter(base, ALTERATIONS[i % len(ALTERATIONS)], rng)
        for suffix, image in (("a", base), ("b", copy)):
            target = folder / f"{i:04d}{suffix}.jpg"
            image.save(target, quality=92)
            paths.append(str(target))
    n = len(paths)
    scorer = Scorer("default", facts=True, phash=True, content=True)

    t0 = time.process_time()
    results = [scorer.score_image(path) for path in paths]
    score_cpu = (time.process_time() - t0) / n
    hashes = [r.phash for r in results]
    embeddings = [r.content_embedding for r in results]
    t0 = time.process_time()
    clusters = find_duplicates(hashes, embeddings, loader=lambda i: load_pixels(paths[i]))
    find_cpu = (time.process_time() - t0) / n

    synthetic_rng = np.random.default_rng(args.seed)
    codes = ["".join(f"{b:02x}" for b in row) for row in synthetic_rng.integers(0, 256, (args.synthetic, 32))]
    basis = synthetic_rng.normal(size=(96, 1280)).astype(np.float32)
    vectors = synthetic_rng.normal(size=(args.synthetic, 96)).astype(np.float32) @ basis
    vectors += 3 * synthetic_rng.normal(size=vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    t0 = time.process_time()
    find_duplicates(codes, list(vectors), settings=DuplicateSettings())
    index_cpu = time.process_time() - t0

    dup_cpu = find_cpu
    total = 20_000
    print(f"{n} images ({args.n} photos + one copy each), {len(clusters)} clusters found")
    print(f"scoring + facts:       {1000 * score_cpu:7.1f} CPU ms/image")
    print(f"duplicate step:        {1000 * dup_cpu:7.1f} CPU ms/image (find_duplicates with keypoint verification)")
    print(f"index on {args.synthetic} synthetic entries: {index_cpu:.1f} CPU s")
    estimate = dup_cpu * total + index_cpu * (total / args.synthetic)
    print(
        f"estimate for {total} images: duplicate step {estimate / 60:.1f} CPU min, "
        f"scoring {score_cpu * total / 60:.1f} CPU min (ratio {estimate / (score_cpu * total):.2f})"
    )


if __name__ == "__main__":
    main()
