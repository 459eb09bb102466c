"""Images per second and peak memory of each stage of the scoring pipeline, against cleanvision as a reference.

Two folders:

- ``large``: ``--n-large`` JPEGs of 1600x1000 (1.6 MP), products-fashion photos upscaled onto a white canvas;
- ``livec``: the first ``--n-livec`` livec-train photos (500x500; symlinked, nothing copied).

For each folder and each configuration, a fresh Python process does the work and the parent samples the resident
memory of its whole process tree (workers included). The child runs the configuration twice, on the first
``WARMUP_FILES`` (8) files and then on all of them; the per-image figures are the *difference* of the two runs
divided by the difference in images, so the fixed cost of a run (starting worker processes: ~0.3 s of CPU each,
mostly importing NumPy, OpenCV and Pillow; cleanvision's own set-up) cancels out and is printed separately as
"start-up". Model loading happens once, before both runs, and is not counted. Configurations:

- ``decode``: :func:`pixgrade.io.load_image` at full resolution in 2 processes (the floor: nothing can be faster
  than reading every pixel);
- ``decode-reduced``: the same with ``max_side=512``, as the pipeline decodes (JPEG DCT scaling);
- ``measures``: ``Scorer(model=None).score_paths`` (decode + the 11 factor measures, 2 worker processes);
- ``torch`` / ``onnx`` / ``int8``: the full pipeline with the model on PyTorch, ONNX Runtime fp32, and ONNX Runtime
  INT8, the model in the main process (the default). INT8 is the shipped static INT8 export of the default model
  (``backend="int8"``, what ``auto`` picks); for another checkpoint, or if the shipped file is missing or stale, a
  static export calibrated on 32 products-fashion + livec images that are not in the timed folders;
- ``int8-workers``: INT8 with ``Scorer(model_in_workers=True)`` (each worker decodes, measures and runs its own
  one-thread copy of the model);
- ``cleanvision``: ``Imagelab(data_path=folder).find_issues()`` (all default issue checks) run by the interpreter
  given with ``--cleanvision-python`` (cleanvision is not a pixgrade dependency; install it in its own venv:
  ``python3.11 -m venv /tmp/cv-venv && /tmp/cv-venv/bin/pip install cleanvision``); skipped if absent.

Run::

    python benchmarks/throughput.py --cleanvision-python /tmp/cv-venv/bin/python

and it prints a markdown table per folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perfutil import benchmark_checkpoint, data_dir, link_livec, machine, make_large_jpegs, mib, sampling_rss

CONFIGS = ("decode", "decode-reduced", "measures", "torch", "onnx", "int8", "int8-workers", "cleanvision")
#: Files of the first (short) run; the per-image cost is (full run - short run) / (files - WARMUP_FILES).
WARMUP_FILES = 8

CLEANVISION_SCRIPT = """
import contextlib, io, json, resource, sys, time
from cleanvision import Imagelab
def cpu():
    usages = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)
runs = []
for folder in sys.argv[1:]:
    start, cpu_start = time.perf_counter(), cpu()
    with contextlib.redirect_stdout(io.StringIO()):
        lab = Imagelab(data_path=folder)
        lab.find_issues()
    runs.append({"images": int(len(lab.issues)), "seconds": time.perf_counter() - start,
                 "cpu_seconds": cpu() - cpu_start})
print("RESULT " + json.dumps({**runs[1], "first": runs[0], "load_seconds": 0.0}))
"""


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process, its finished (waited-for) descendants and its live children."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    except ImportError:
        pass
    return total


def _decode_one(args: tuple[str, int | None]) -> int:
    from pixgrade.io import load_image

    path, max_side = args
    image = load_image(path, max_side=max_side)
    return int(image.rgb.shape[0] > 0)


def _wait_for_children(timeout: float = 60.0) -> None:
    """Wait until the worker processes of a finished run have exited and been reaped, so that all their CPU time
    (a worker still loading the model when a short run ends included) is in ``RUSAGE_CHILDREN``."""
    try:
        import psutil
    except ImportError:  # without psutil, give the pool a moment to finish
        time.sleep(2.0)
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = []  # the pool's workers (not multiprocessing's resource tracker, which lives on)
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                    children.append(child)
        if not children:
            break
        psutil.wait_procs(children, timeout=0.5)
    time.sleep(0.2)  # let the pool's management thread reap the zombies


def _timed(fn: Any, keep: int = 0) -> dict[str, Any]:
    """Run ``fn() -> (images, failed)``; wall and process-tree CPU seconds. ``keep``: child processes that
    outlive the run (a pool made outside it), not waited for."""
    start, cpu_start = time.perf_counter(), tree_cpu_seconds()
    count, failed = fn()
    seconds = time.perf_counter() - start
    if not keep:
        _wait_for_children()
    cpu = tree_cpu_seconds() - cpu_start
    return {"images": count, "failed": failed, "seconds": seconds, "cpu_seconds": cpu}


def run_one(config: str, folder: Path, model: str | None) -> dict[str, Any]:
    """Child-process side: do ``config`` on the first :data:`WARMUP_FILES` files of ``folder``, then on all of
    them; returns the second run's counts and timings with the first run's under ``"first"``."""
    from pixgrade.io import iter_image_files

    paths = [str(p) for p in iter_image_files([folder])]
    load_start = time.perf_counter()
    if config.startswith("decode"):
        from concurrent.futures import ProcessPoolExecutor

        max_side = 512 if config == "decode-reduced" else None
        with ProcessPoolExecutor(2) as pool:
            load_seconds = time.perf_counter() - load_start

            def decode(subset: list[str]) -> tuple[int, int]:
                return sum(pool.map(_decode_one, [(p, max_side) for p in subset], chunksize=4)), 0

            first = _timed(lambda: decode(paths[:WARMUP_FILES]), keep=2)  # also starts the workers
            full = _timed(lambda: decode(paths), keep=2)
        return {**full, "first": first, "load_seconds": load_seconds}
    from pixgrade.pipeline import Scorer

    backend = {"torch": "torch", "onnx": "onnx", "int8": "int8", "int8-workers": "int8"}.get(config, "auto")
    scorer = Scorer(
        model=model if config != "measures" else None, backend=backend, model_in_workers=config.endswith("-workers")
    )
    load_seconds = time.perf_counter() - load_start

    def score(subset: list[str]) -> tuple[int, int]:
        count = failed = 0
        for result in scorer.score_paths(subset, workers=2, batch_size=16):
            count += 1
            failed += result.error is not None
        return count, failed

    first = _timed(lambda: score(paths[:WARMUP_FILES]))
    full = _timed(lambda: score(paths))
    return {**full, "first": first, "load_seconds": load_seconds}


def measure(command: list[str]) -> dict[str, Any]:
    """Run a child that prints ``RESULT {json}``; add the peak RSS of its process tree."""
    with (
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc,
        sampling_rss(proc.pid, interval=0.05) as sampler,
    ):
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}... failed ({proc.returncode}):\n{err[-2000:]}")
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    result["peak_rss"] = sampler.peak
    return result


def prepare_int8(checkpoint: Path, workdir: Path, exclude: set[str]) -> Path:
    """Static INT8 export calibrated on 16 products-fashion + 16 livec-train images not in the timed folders."""
    from pixgrade.export import export_model

    out = workdir / f"{checkpoint.stem}-int8.onnx"
    if out.exists():
        return out
    root = data_dir()
    fashion = sorted((root / "products-fashion" / "images").glob("*.jpg"))[-16:]
    livec = [p for p in sorted((root / "livec-train" / "images").iterdir()) if p.name not in exclude][-16:]
    return export_model(checkpoint, out, int8=True, calibration_images=[*fashion, *livec])


def shipped_int8(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` has an up-to-date INT8 export that ``backend="int8"`` loads (the shipped one)."""
    from pixgrade.model.onnx_predictor import OnnxModelError
    from pixgrade.model.predictor import load_predictor

    try:
        return load_predictor(checkpoint, backend="int8").backend == "int8"
    except (OnnxModelError, ImportError):
        return False


def steady(r: dict[str, Any]) -> tuple[float, float, float]:
    """``(CPU s/image, wall s/image, start-up CPU s)`` from a full run and its short first run."""
    first = r["first"]
    n = r["images"] - first["images"]
    cpu = (r["cpu_seconds"] - first["cpu_seconds"]) / n
    wall = (r["seconds"] - first["seconds"]) / n
    return cpu, wall, first["cpu_seconds"] - first["images"] * cpu


def table(name: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown table. ``CPU ms/image`` counts every process of the run (workers included), without the fixed
    start-up cost (see the module docstring), and does not depend on what else the machine is doing; ``2-core
    rate`` = 2 CPU-seconds per second / CPU time per image, the rate on two idle cores if the run keeps both busy.
    Shares of the decode floor use that CPU time."""
    floor = next((steady(r)[0] for c, r in rows if c == "decode" and "cpu_seconds" in r), None)
    lines = [
        f"\n**{name}**\n",
        "| configuration | CPU ms/image | 2-core rate (img/s) | % of decode floor | start-up CPU (s) | "
        "images/s (wall, shared machine) | peak RSS (process tree) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config, r in rows:
        if "skipped" in r:
            lines.append(f"| {config} | — | — | — | — | — | skipped: {r['skipped']} |")
            continue
        cpu, wall, startup = steady(r)
        share = f"{100 * floor / cpu:.0f}%" if floor else "—"
        lines.append(
            f"| {config} | {1000 * cpu:.0f} | {2 / cpu:.1f} | {share} | {startup:.1f} | {1 / wall:.1f} | "
            f"{mib(r['peak_rss'])} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-large", type=int, default=100, help="1600x1000 JPEGs to generate (default 100)")
    parser.add_argument("--n-livec", type=int, default=150, help="livec-train images to use (default 150)")
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--folders", nargs="+", choices=("large", "livec"), default=["large", "livec"])
    parser.add_argument("--cleanvision-python", type=Path, help="interpreter of a venv with cleanvision installed")
    parser.add_argument("--workdir", type=Path, help="keep generated images and models here (default: temporary)")
    parser.add_argument("--one", nargs=3, metavar=("CONFIG", "FOLDER", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:  # child process
        config, folder, model = args.one
        print("RESULT " + json.dumps(run_one(config, Path(folder), None if model == "-" else model)))
        return 0

    with tempfile.TemporaryDirectory(prefix="pixgrade-throughput-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"machine: {machine()}")
        checkpoint, description = benchmark_checkpoint(workdir)
        print(f"model: {description}")
        folders: dict[str, Path] = {}
        if "large" in args.folders:
            folders["large"] = workdir / "large"
            if not list(folders["large"].glob("*.jpg")):
                make_large_jpegs(folders["large"], args.n_large)
        if "livec" in args.folders:
            folders["livec"] = workdir / "livec"
            link_livec(folders["livec"], args.n_livec)
        models: dict[str, str] = {"torch": str(checkpoint), "onnx": str(checkpoint)}
        if "onnx" in args.configs:
            from pixgrade.model.predictor import load_predictor

            load_predictor(checkpoint, backend="onnx")  # export into the cache now, not while timing
        if {"int8", "int8-workers"} & set(args.configs) and shipped_int8(checkpoint):
            models["int8"] = models["int8-workers"] = str(checkpoint)
            print("int8: the shipped INT8 export of the default model")
        elif {"int8", "int8-workers"} & set(args.configs):
            models["int8"] = models["int8-workers"] = str(
                prepare_int8(checkpoint, workdir, {p.name for p in folders.get("livec", workdir).iterdir()})
            )
        here = Path(__file__).resolve()
        for name, folder in folders.items():
            n_files = len(list(folder.iterdir()))
            first = folder.parent / f"{folder.name}-first{WARMUP_FILES}"  # cleanvision's short run
            first.mkdir(exist_ok=True)
            for path in sorted(folder.iterdir())[:WARMUP_FILES]:
                if not (first / path.name).exists():
                    (first / path.name).symlink_to(path.resolve())
            rows: list[tuple[str, dict[str, Any]]] = []
            for config in args.configs:
                if config == "cleanvision":
                    python = args.cleanvision_python
                    if python is None or not python.exists():
                        rows.append((config, {"skipped": "no --cleanvision-python interpreter"}))
                        continue
                    command = [str(python), "-c", CLEANVISION_SCRIPT, str(first), str(folder)]
                else:
                    command = [sys.executable, str(here), "--one", config, str(folder), models.get(config, "-")]
                result = measure(command)
                rows.append((config, result))
                cpu, wall, startup = steady(result)
                print(
                    f"{name:6} {config:15} {result['images']:5d} images {result['seconds']:7.1f} s "
                    f"{1 / wall:7.2f} img/s {1000 * cpu:6.1f} CPU-ms/img start-up {startup:5.1f} CPU-s "
                    f"failed {result.get('failed', 0)} peak {mib(result['peak_rss'])} (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            title = f"{name}: {n_files} images" + (
                " of 1600x1000 (1.6 MP) JPEG" if name == "large" else " of livec-train (500x500)"
            )
            print(table(title, rows))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
