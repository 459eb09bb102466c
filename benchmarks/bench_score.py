"""Throughput of ``pixgrade score`` and of the scoring pipeline on LIVE-C photos (``../shared/data/livec-train``).

Prints, for the first ``--n`` images of ``labels.csv`` (sorted by name):

1. end to end: the wall time of the ``pixgrade score`` command (process start, model/measures, CSV writing) with
   ``--model none`` for each ``--workers`` value, as images/s — the exact command is printed;
2. how well the measures-only heuristic score ranks the photos: Spearman correlation with the human mean opinion
   scores (MOS) of those images;
3. CPU seconds per image of reading + decoding + measuring and of the model (one thread), with the throughput
   bounds they imply for each model placement — process time is little affected by other jobs on the machine;
4. with a model: ``Scorer.score_paths`` images/s with the model in the main process (batches) vs in the worker
   processes (``model_in_workers=True``), wall time.

The model is ``--model`` (a checkpoint) or, by default, a randomly initialised ``QualityNet`` — the same
computation as the trained one, so the same speed.

The images are linked (symlinks, nothing copied) into a temporary folder. Run::

    python benchmarks/bench_score.py --n 100 --workers 0 1 2 --cpu-n 24 --model-n 48
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from perfutil import data_dir, machine


def end_to_end(folder: Path, out_dir: Path, workers: int, n: int) -> tuple[float, list[str]]:
    out = out_dir / f"results-w{workers}.csv"
    command = ["pixgrade", "score", str(folder), "-o", str(out), "--model", "none", "--workers", str(workers)]
    command += ["--no-progress"]
    exe = shutil.which("pixgrade") or str(Path(sys.executable).with_name("pixgrade"))
    start = time.perf_counter()
    subprocess.run([exe, *command[1:]], check=True, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n, f"expected {n} rows, got {len(rows)}"
    return elapsed, command


def load_model(model: str | None):  # type: ignore[no-untyped-def]
    import torch

    if model:
        from pixgrade.model.predictor import load_predictor

        predictor = load_predictor(model)
    else:
        from pixgrade.model import create_model
        from pixgrade.model.predictor import TorchPredictor

        torch.manual_seed(0)
        predictor = TorchPredictor(create_model(pretrained_backbone=False))
    return predictor


def cpu_costs(paths: list[Path], model: str | None) -> dict[str, float]:
    """CPU seconds per image (process time, one thread, one process) of each stage — little affected by other
    jobs on the machine, unlike wall time."""
    import torch

    from pixgrade.pipeline.analysis import AnalysisSettings, analyse

    torch.set_num_threads(1)
    predictor = load_model(model)
    settings = AnalysisSettings(max_pixels=100_000_000, measure_max_side=512, model_max_side=predictor.input_max_side)
    start = time.process_time()
    analyses = [analyse(p, settings) for p in paths]
    measure = (time.process_time() - start) / len(paths)
    predictor.predict([analyses[0].model_rgb])  # warm-up
    start = time.process_time()
    predictor.predict([a.model_rgb for a in analyses])
    infer = (time.process_time() - start) / len(paths)
    return {"read + decode + measures": measure, "model (1 thread)": infer}


def model_placement(paths: list[Path], model: str | None, workers: int) -> dict[str, float]:
    from pixgrade.pipeline import Scorer

    predictor = load_model(model)
    speeds = {}
    for label, in_workers in (("model in main process", False), ("model in workers", True)):
        scorer = Scorer(model=predictor, model_in_workers=in_workers)
        start = time.perf_counter()
        results = list(scorer.score_paths(paths, workers=workers, batch_size=16))
        elapsed = time.perf_counter() - start
        assert len(results) == len(paths) and all(r.error is None for r in results)
        speeds[label] = len(paths) / elapsed
    return speeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100, help="images for the measures-only runs")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--model-n", type=int, default=48, help="images for the model placement runs (0: skip)")
    parser.add_argument("--model-workers", type=int, default=2)
    parser.add_argument("--model", default=None, help="checkpoint for the model runs (default: random weights)")
    parser.add_argument("--cpu-n", type=int, default=24, help="images for the per-image CPU cost (0: skip)")
    args = parser.parse_args()

    livec = data_dir() / "livec-train"
    if not (livec / "labels.csv").is_file():
        sys.exit(f"LIVE-C data not found at {livec} (set PIXGRADE_DATA)")
    with open(livec / "labels.csv", newline="") as fh:
        labels = sorted(csv.DictReader(fh), key=lambda r: r["image"])[: args.n]
    mos = {str(livec / r["image"]): float(r["mos"]) for r in labels}
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-bench-") as tmp:
        folder = Path(tmp) / "livec"
        folder.mkdir()
        links = {}
        for i, row in enumerate(labels):
            link = folder / f"{i:04d}{Path(row['image']).suffix}"
            link.symlink_to(livec / row["image"])
            links[str(link)] = str(livec / row["image"])
        print(f"\n1. end to end, {len(labels)} LIVE-C images (500x500 JPEG/WebP), measures only:")
        for workers in args.workers:
            elapsed, command = end_to_end(folder, Path(tmp), workers, len(labels))
            shown = " ".join(command).replace(str(folder), "<folder>").replace(tmp, "<tmp>")
            print(f"   {len(labels) / elapsed:6.1f} images/s  ({elapsed:.1f} s)   {shown}")

        with open(Path(tmp) / f"results-w{args.workers[-1]}.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if r["score"]]
        ours = np.array([float(r["score"]) for r in rows])
        human = np.array([mos[links[r["path"]]] for r in rows])
        srcc = stats.spearmanr(ours, human).statistic
        print(f"\n2. measures-only score vs human MOS on these {len(rows)} images: SRCC = {srcc:.3f}")

        kind = args.model or "random-weight QualityNet (same compute as the trained model)"
        if args.cpu_n > 0:
            paths = sorted(folder.iterdir())[: args.cpu_n]
            print(f"\n3. CPU time per image (one process, one thread; model: {kind}), {len(paths)} images:")
            costs = cpu_costs(paths, args.model)
            for label, seconds in costs.items():
                print(f"   {1000 * seconds:7.1f} ms  {label}")
            measure, infer = costs.values()
            cores = len(os.sched_getaffinity(0))
            both = cores / (measure + infer)
            print(
                f"   on {cores} idle cores the CPU work bounds throughput at {both:.1f} images/s with the model in the "
                f"workers, and at {min(both, 1 / infer):.1f} with it in the main process (one model process)"
            )

        if args.model_n > 0:
            paths = sorted(folder.iterdir())[: args.model_n]
            print(f"\n4. with a model ({kind}), {len(paths)} images, {args.model_workers} worker processes:")
            for label, speed in model_placement(paths, args.model, args.model_workers).items():
                print(f"   {speed:6.1f} images/s  {label}")


if __name__ == "__main__":
    main()
