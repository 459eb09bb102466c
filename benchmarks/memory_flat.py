"""Does memory stay flat however many images ``pixgrade score`` streams through? Peak RSS at 1k / 5k / 20k images.

Generates ``--n`` (default 20000) small JPEGs (``--side`` px, default 64) in a temporary folder, runs
``pixgrade score FOLDER --model none -o results.csv`` as a child process, and samples the resident memory of the
whole process tree (the command and its worker processes) every 0.2 s while counting the rows already written.
It prints the peak RSS reached by the time 1000, 5000, ... rows were written: flat streaming means these are
about equal. Then the same with the model on the first ``--model-n`` of those images (default 2000; ``--model``,
by default the trained default model when installed, else an ImageNet-backbone model with random heads, on the
default ``auto`` backend; an INT8 ``.onnx`` export works too). ``--skip-measures`` leaves out the measures-only run.

Run::

    python benchmarks/memory_flat.py --n 20000 --model-n 2000
    python benchmarks/memory_flat.py --n 20000 --model-n 20000 --side 160 --skip-measures
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from perfutil import _tree_rss, benchmark_checkpoint, machine, mib


def make_small_jpegs(folder: Path, n: int, side: int) -> None:
    """``n`` distinct tiny JPEGs (a coloured square on a light background, varying noise) in 100 subfolders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = np.full((side, side, 3), 235, np.uint8)
    for i in range(n):
        sub = folder / f"{i % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        image = base.copy()
        lo, hi = side // 4, 3 * side // 4
        image[lo:hi, lo:hi] = rng.integers(0, 255, 3, dtype=np.uint8)
        image = np.clip(image + rng.normal(0, 1 + i % 7, image.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(sub / f"img_{i:06d}.jpg", quality=85)


def run_and_sample(command: list[str], output: Path, marks: list[int]) -> tuple[dict[int, int], int, float, int]:
    """Run ``command``; returns (peak RSS when each mark of rows was reached, final peak, seconds, rows)."""
    peaks: dict[int, int] = {}
    state = {"peak": 0, "rows": 0, "offset": 0}
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                state["peak"] = max(state["peak"], _tree_rss(proc.pid))
                if output.exists():
                    with output.open("rb") as handle:
                        handle.seek(state["offset"])
                        chunk = handle.read()
                    state["offset"] += len(chunk)
                    state["rows"] += chunk.count(b"\n")
                for mark in marks:
                    if mark not in peaks and state["rows"] - 1 >= mark:  # minus the header line
                        peaks[mark] = state["peak"]
                stop.wait(0.2)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        _, err = proc.communicate()
        stop.set()
        thread.join()
    seconds = time.perf_counter() - start
    if output.exists():  # rows written after the sampler's last look
        with output.open("rb") as handle:
            handle.seek(state["offset"])
            state["rows"] += handle.read().count(b"\n")
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"pixgrade score failed ({proc.returncode}): {err[-2000:]}")
    rows = state["rows"] - 1
    for mark in marks:
        if mark not in peaks and rows >= mark:
            peaks[mark] = state["peak"]
    return peaks, state["peak"], seconds, rows


def report(title: str, command: list[str], peaks: dict[int, int], peak: int, seconds: float, rows: int) -> None:
    print(f"\n**{title}**  ({rows} rows in {seconds:.0f} s, {rows / seconds:.1f} img/s)\n")
    print(f"`{' '.join(command)}`\n")
    print("| rows written | peak RSS so far (command + workers) |")
    print("|---:|---:|")
    for mark, value in sorted(peaks.items()):
        print(f"| {mark:,} | {mib(value)} |")
    print(f"| end ({rows:,}) | {mib(peak)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20000, help="images for the measures-only run (default 20000)")
    parser.add_argument("--model-n", type=int, default=2000, help="images for the run with the model (0: skip)")
    parser.add_argument("--side", type=int, default=64, help="side of the generated JPEGs in px (default 64)")
    parser.add_argument("--workdir", type=Path, help="keep generated images here (default: temporary)")
    parser.add_argument("--model", help="model for the second run (default: the trained default model if installed)")
    parser.add_argument("--skip-measures", action="store_true", help="leave out the measures-only run")
    args = parser.parse_args()
    pixgrade = shutil.which("pixgrade") or str(Path(sys.executable).with_name("pixgrade"))
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-memflat-") as tmp:
        workdir = args.workdir or Path(tmp)
        images = workdir / f"images-{args.n}-{args.side}px"
        if not images.exists():
            start = time.perf_counter()
            make_small_jpegs(images, args.n, args.side)
            print(f"generated {args.n} {args.side}x{args.side} JPEGs in {time.perf_counter() - start:.0f} s")
        marks = sorted({m for m in (1000, 2000, 5000, 10000, 20000, 50000) if m <= args.n} | {args.n})
        if not args.skip_measures:
            out = workdir / "measures.csv"
            out.unlink(missing_ok=True)
            command = [pixgrade, "score", str(images), "--model", "none", "-o", str(out), "--no-progress"]
            report("measures only (--model none)", command, *run_and_sample(command, out, marks))
        if args.model_n:
            subset = workdir / "subset"
            if not subset.exists():
                subset.mkdir()
                for path in sorted(images.rglob("*.jpg"))[: args.model_n]:
                    (subset / path.name).symlink_to(path)
            if args.model:
                checkpoint, description = Path(args.model), args.model
            else:
                checkpoint, description = benchmark_checkpoint(workdir)
            out = workdir / "model.csv"
            out.unlink(missing_ok=True)
            command = [pixgrade, "score", str(subset), "--model", str(checkpoint), "-o", str(out), "--no-progress"]
            model_marks = sorted(
                {m for m in (100, 500, 1000, 2000, 5000, 10000, 20000) if m <= args.model_n} | {args.model_n}
            )
            report(f"with the model ({description})", command, *run_and_sample(command, out, model_marks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
