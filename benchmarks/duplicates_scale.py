"""Time and peak memory of the near-duplicate index at catalogue scale, on synthetic entries.

For each size N (default 10 000, 100 000 and 1 000 000) a fresh process builds a
:class:`pixgrade.dedupe.index.DuplicateIndex` incrementally, in batches of 50 000 as a growing catalogue would,
from synthetic entries: random 256-bit hashes and 1280-dimensional L2-normalised embeddings (the shipped model's
size) drawn from a 96-dimensional latent space plus noise, so that their spectrum decays as real embeddings' do.
One entry in 100 is a planted near-copy of an earlier one (20 of 256 hash bits flipped; embedding cosine about 0.95).
It then answers 300 single-image queries (near-copies of stored entries) and reports the median and 95th-percentile
query time and how often the stored original was among the 10 neighbours. Peak memory is the process's maximum
resident set (``ru_maxrss``), the synthetic data generation included. Run::

    OMP_NUM_THREADS=1 python benchmarks/duplicates_scale.py --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

DIM = 1280
LATENT = 96
BATCH = 50_000


def synthetic(rng: np.random.Generator, n: int, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    latent = rng.normal(size=(n, LATENT)).astype(np.float32) * np.linspace(2.0, 0.2, LATENT, dtype=np.float32)
    vectors = latent @ basis + 0.15 * rng.normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return codes, vectors


def near(codes: np.ndarray, vectors: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    bits = np.unpackbits(codes, axis=1)
    for row in bits:
        row[rng.choice(256, 20, replace=False)] ^= 1
    noisy = vectors + 0.33 / np.sqrt(DIM) * rng.normal(size=vectors.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return np.packbits(bits, axis=1), noisy


def run_one(n: int, seed: int) -> dict[str, float]:
    from pixgrade.dedupe.index import DuplicateIndex

    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(LATENT, DIM)).astype(np.float32) / np.sqrt(DIM)
    index = DuplicateIndex()
    kept_codes: list[np.ndarray] = []
    kept_vectors: list[np.ndarray] = []
    build = 0.0
    for start in range(0, n, BATCH):
        size = min(BATCH, n - start)
        codes, vectors = synthetic(rng, size, basis)
        pick = rng.choice(size, max(1, size // 100), replace=False)
        if start:  # plant near-copies of earlier entries
            source = rng.choice(len(kept_codes[0]), len(pick))
            codes[pick], vectors[pick] = near(kept_codes[0][source], kept_vectors[0][source], rng)
        if not kept_codes:
            kept_codes.append(codes[:2000].copy())
            kept_vectors.append(vectors[:2000].copy())
        ids = np.arange(start, start + size)
        t0 = time.perf_counter()
        index.add_hashes(ids, codes)
        index.add_embeddings(ids, vectors)
        build += time.perf_counter() - t0
    queries = rng.choice(len(kept_codes[0]), 300, replace=False)
    q_codes, q_vectors = near(kept_codes[0][queries], kept_vectors[0][queries], rng)
    times = []
    hash_hits = emb_hits = 0
    for j, q in enumerate(queries):
        t0 = time.perf_counter()
        found = index.search(q_codes[j : j + 1], q_vectors[j : j + 1], k=10)
        times.append(time.perf_counter() - t0)
        hash_hits += int(q in found.hash_ids[0])
        emb_hits += int(q in found.embedding_ids[0])
    return {
        "n": n,
        "build_s": build,
        "build_us_per_entry": 1e6 * build / n,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "query_ms_median": 1000 * float(np.median(times)),
        "query_ms_p95": 1000 * float(np.percentile(times, 95)),
        "hash_recall_at_10": hash_hits / len(queries),
        "embedding_recall_at_10": emb_hits / len(queries),
        "exact": float(index.exact),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return
    print(
        f"{'entries':>9} {'build s':>8} {'us/entry':>8} {'peak MB':>8} {'query ms (median, p95)':>23} "
        f"{'hash recall@10':>14} {'emb recall@10':>13}  index"
    )
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--seed", str(args.seed)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{n:>9} {r['build_s']:>8.1f} {r['build_us_per_entry']:>8.1f} {r['peak_rss_mb']:>8.0f} "
            f"{r['query_ms_median']:>11.2f}, {r['query_ms_p95']:>9.2f} {r['hash_recall_at_10']:>14.3f} "
            f"{r['embedding_recall_at_10']:>13.3f}  {'exact' if r['exact'] else 'IVF'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
