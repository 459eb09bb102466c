"""CPU milliseconds per image for the quality model alone (decoded image in, score out): torch, ONNX Runtime fp32
and ONNX Runtime INT8, with 1 and 2 threads, on 500x500 photos and on 1.6 MP photos as the pipeline feeds them.

- ``500x500``: the first ``--images`` livec-train photos (the model's input policy keeps them at 500x500);
- ``1.6MP``: 1600x1000 JPEGs (products-fashion photos on a white canvas, see ``perfutil.make_large_jpegs``) decoded
  as the pipeline decodes them, at reduced size to the model's ``max_side`` (512x320 for the shipped model).

INT8 is, for the default model, the shipped static INT8 export (``pixgrade_mnv2.int8.onnx``, what
``backend="auto"`` runs; calibrated by ``make int8-model`` on 150 fixed images, some of which may be among the timed
ones — irrelevant for speed); for another checkpoint, or when the shipped file is missing or stale, a static export
calibrated here on 32 livec-train photos that are not timed; or ``--int8-model FILE``. ``int8-dynamic`` (not run
by default) is the dynamic one.
Each configuration scores every image once to warm up, then ``--repeats`` times; the fastest repeat is reported
(the machine is shared). CPU time counts every thread of this process, so a 2-thread run shows what the second
thread costs; wall time is printed for completeness only.

    python benchmarks/latency.py --images 20 --threads 1 2
    python benchmarks/latency.py --images 5 --threads 1 --backends onnx int8-dynamic
    python benchmarks/latency.py --images 20 --threads 1 --backends onnx int8 --batch 4

``--batch N`` also times ONNX Runtime on batches of N same-size images (one ``session.run`` per batch, images
already resized), against the predictor's one-image-at-a-time runs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from perfutil import data_dir, machine, make_large_jpegs


def load_sets(n: int, side: int, workdir: Path) -> dict[str, list[np.ndarray]]:
    from pixgrade.io import load_image

    livec = sorted((data_dir() / "livec-train" / "images").iterdir())
    large = make_large_jpegs(workdir / "large", n)
    return {
        "500x500": [load_image(p).rgb for p in livec[:n]],
        "1.6MP": [load_image(p, max_side=side).rgb for p in large],
    }


def time_batches(predictor: Any, images: list[np.ndarray], batch: int, repeats: int) -> tuple[float, float]:
    """CPU and wall ms per image when same-size images go to ONNX Runtime ``batch`` at a time."""
    from pixgrade.model.onnx_predictor import INPUT_NAME
    from pixgrade.model.predictor import resize_for_model

    resized = [resize_for_model(im, predictor.input_max_side, predictor.min_side) for im in images]
    groups: dict[tuple[int, ...], list[np.ndarray]] = {}
    for im in resized:
        groups.setdefault(im.shape, []).append(im)
    batches = [np.stack(g[i : i + batch]) for g in groups.values() for i in range(0, len(g), batch)]
    for b in batches:
        predictor.session.run(None, {INPUT_NAME: b})  # warm-up
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for b in batches:
            predictor.session.run(None, {INPUT_NAME: b})
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return 1000 * best_cpu / len(images), 1000 * best_wall / len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="checkpoint ('default': the shipped one)")
    parser.add_argument("--images", type=int, default=20, help="images per set (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the fastest is reported (default 3)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--backends", nargs="+", default=["torch", "onnx", "int8"], choices=["torch", "onnx", "int8", "int8-dynamic"]
    )
    parser.add_argument("--int8-model", type=Path, help="an INT8 ONNX export to time instead of calibrating one")
    parser.add_argument("--batch", type=int, default=1, help="also time ONNX batches of this many images")
    args = parser.parse_args()

    import torch

    from pixgrade.export import export_model
    from pixgrade.model.onnx_predictor import OnnxPredictor
    from pixgrade.model.predictor import load_predictor

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-latency-") as tmp:
        workdir = Path(tmp)
        fp32_path = export_model(args.model, workdir / "fp32.onnx")
        int8_path = args.int8_model
        if "int8" in args.backends and int8_path is None and args.model == "default":
            shipped = load_predictor("default", backend="auto")
            if isinstance(shipped, OnnxPredictor) and shipped.backend == "int8":
                int8_path = shipped.path
        if "int8" in args.backends and int8_path is None:
            calibration = sorted((data_dir() / "livec-train" / "images").iterdir())[-32:]
            int8_path = export_model(args.model, workdir / "int8.onnx", int8=True, calibration_images=calibration)
        dynamic_path = None
        if "int8-dynamic" in args.backends:
            dynamic_path = export_model(args.model, workdir / "dynamic.onnx", int8=True, quant_method="dynamic")
        side = OnnxPredictor(fp32_path).input_max_side
        if int8_path is not None:
            print(f"int8 model: {int8_path}")
        sets = load_sets(args.images, side, workdir)
        shapes = {name: sorted({im.shape[:2] for im in images}) for name, images in sets.items()}
        print(f"sets: {', '.join(f'{k} ({len(v)} images, model input {shapes[k]})' for k, v in sets.items())}")
        print("\n| backend | threads | set | CPU ms/image | wall ms/image |")
        print("|---|---:|---|---:|---:|")
        for threads in args.threads:
            torch.set_num_threads(threads)
            for backend in args.backends:
                if backend == "torch":
                    predictor: object = load_predictor(args.model, backend="torch")
                else:
                    path = {"onnx": fp32_path, "int8": int8_path, "int8-dynamic": dynamic_path}[backend]
                    predictor = OnnxPredictor(path, num_threads=threads)
                for name, images in sets.items():
                    predictor.predict(images)  # type: ignore[attr-defined]  # warm-up
                    best_cpu = best_wall = float("inf")
                    for _ in range(args.repeats):
                        wall, cpu = time.perf_counter(), time.process_time()
                        predictor.predict(images)  # type: ignore[attr-defined]
                        best_cpu = min(best_cpu, time.process_time() - cpu)
                        best_wall = min(best_wall, time.perf_counter() - wall)
                    print(
                        f"| {backend} | {threads} | {name} | {1000 * best_cpu / len(images):.1f} | "
                        f"{1000 * best_wall / len(images):.1f} |",
                        flush=True,
                    )
                    if args.batch > 1 and isinstance(predictor, OnnxPredictor):
                        cpu_ms, wall_ms = time_batches(predictor, images, args.batch, args.repeats)
                        print(
                            f"| {backend}, batches of {args.batch} | {threads} | {name} | {cpu_ms:.1f} | "
                            f"{wall_ms:.1f} |"
                        )
        print(f"\nload average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
