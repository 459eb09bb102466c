"""Milliseconds per 500×500 image for the shipped model (decoded image in, score out), torch and ONNX Runtime.

Prints wall-clock and CPU time per image. On a machine busy with other work, the CPU time of a 1-thread run is
what one idle core would take; compare backends within one run only.

    python benchmarks/latency.py --images 30 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx"])
    args = parser.parse_args()

    import torch

    from pixgrade.model.predictor import load_predictor

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(args.size, args.size, 3), dtype=np.uint8) for _ in range(args.images)]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.images} images of {args.size}x{args.size}")
    print(f"{'backend':8s} {'threads':>7s} {'wall ms/img':>11s} {'CPU ms/img':>10s}")
    for threads in args.threads:
        os.environ["PIXGRADE_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
        for backend in args.backends:
            try:
                predictor = load_predictor(args.model, backend=backend)
            except Exception as exc:  # a missing optional backend is reported, not fatal
                print(f"{backend:8s} {threads:7d} unavailable: {exc}")
                continue
            predictor.predict(images[:2])  # warm-up
            wall, cpu = time.perf_counter(), time.process_time()
            predictor.predict(images)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{backend:8s} {threads:7d} {1000 * wall / args.images:11.1f} {1000 * cpu / args.images:10.1f}")


if __name__ == "__main__":
    main()
