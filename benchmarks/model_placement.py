"""Where the model runs in the batch pipeline: in the main process (the default) or in the worker processes.

Scores the same photos with ``Scorer(model_in_workers=False/True)`` and 2 workers, each placement in a fresh
process, and prints CPU time per image (this process and its workers) and wall time per image. A first short
pass starts the worker pool and loads the models; the timed pass reuses neither (each ``score_paths`` call starts
its own pool), so the figures include the pool's start-up.

    python benchmarks/model_placement.py --images ../shared/data/livec-train/images --n 120 --repeats 2
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_one(placement: str, folder: str, n: int, backend: str, workers: int) -> None:
    from pixgrade.pipeline.scorer import Scorer

    paths = sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))[:n]
    scorer = Scorer(model="default", backend=backend, model_in_workers=placement == "workers")
    list(scorer.score_paths(paths[:8], workers=workers))
    cpu, wall = _cpu_seconds(), time.perf_counter()
    results = list(scorer.score_paths(paths, workers=workers))
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    failed = sum(r.error is not None for r in results)
    print(
        f"{placement:>8} ({scorer.predictor.backend}): CPU {cpu / len(paths) * 1000:5.1f} ms/image, "
        f"wall {wall / len(paths) * 1000:5.1f} ms/image ({len(paths) / wall:.0f} images/s), {failed} failed",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--images", default=str(Path(__file__).resolve().parents[1] / "../shared/data/livec-train/images")
    )
    parser.add_argument("--n", type=int, default=120)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--one", choices=["main", "workers"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.images, args.n, args.backend, args.workers)
        return
    for _ in range(args.repeats):
        for placement in ("main", "workers"):
            command = [sys.executable, __file__, "--one", placement, "--images", args.images, "--n", str(args.n)]
            command += ["--backend", args.backend, "--workers", str(args.workers)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
