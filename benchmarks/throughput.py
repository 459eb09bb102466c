"""Images per second and peak memory of each stage of the scoring pipeline, against cleanvision as a reference.

Two folders:

- ``large``: ``--n-large`` JPEGs of 1600x1000 (1.6 MP), products-fashion photos upscaled onto a white canvas;
- ``livec``: the first ``--n-livec`` livec-train photos (500x500; symlinked, nothing copied).

For each folder and each configuration, a fresh Python process does the work and the parent samples the resident
memory of its whole process tree (workers included). Images/s counts the processing only (not interpreter start
or model loading, which are printed separately). Configurations:

- ``decode``: :func:`pixgrade.io.load_image` at full resolution in 2 processes (the floor: nothing can be faster
  than reading every pixel);
- ``decode-reduced``: the same with ``max_side=512``, as the pipeline decodes (JPEG DCT scaling);
- ``measures``: ``Scorer(model=None).score_paths`` (decode + the 11 factor measures, 2 worker processes);
- ``torch`` / ``onnx`` / ``int8``: the full pipeline with the model on PyTorch, ONNX Runtime fp32, and ONNX Runtime
  INT8 (static, calibrated on 32 products-fashion + livec images that are not in the timed folders);
- ``cleanvision``: ``Imagelab(data_path=folder).find_issues()`` (all default issue checks) run by the interpreter
  given with ``--cleanvision-python`` (cleanvision is not a pixgrade dependency; install it in its own venv:
  ``python3.11 -m venv /tmp/cv-venv && /tmp/cv-venv/bin/pip install cleanvision``); skipped if absent.

Run::

    python benchmarks/throughput.py --cleanvision-python /tmp/cv-venv/bin/python

and it prints a markdown table per folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from perfutil import benchmark_checkpoint, data_dir, link_livec, machine, make_large_jpegs, mib, sampling_rss

CONFIGS = ("decode", "decode-reduced", "measures", "torch", "onnx", "int8", "cleanvision")

CLEANVISION_SCRIPT = """
import contextlib, io, json, resource, sys, time
from cleanvision import Imagelab
def cpu():
    usages = map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return sum(u.ru_utime + u.ru_stime for u in usages)
start, cpu_start = time.perf_counter(), cpu()
with contextlib.redirect_stdout(io.StringIO()):
    lab = Imagelab(data_path=sys.argv[1])
    lab.find_issues()
seconds, cpu_seconds = time.perf_counter() - start, cpu() - cpu_start
print("RESULT " + json.dumps({"images": int(len(lab.issues)), "seconds": seconds, "cpu_seconds": cpu_seconds,
                             "load_seconds": 0.0}))
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


def run_one(config: str, folder: Path, model: str | None) -> dict[str, Any]:
    """Child-process side: do ``config`` on every file of ``folder``; returns counts and timings."""
    from pixgrade.io import iter_image_files

    paths = [str(p) for p in iter_image_files([folder])]
    load_start = time.perf_counter()
    if config.startswith("decode"):
        from concurrent.futures import ProcessPoolExecutor

        max_side = 512 if config == "decode-reduced" else None
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(_decode_one, [(paths[0], max_side)] * 2))  # start both workers before timing
            load_seconds = time.perf_counter() - load_start
            start, cpu_start = time.perf_counter(), tree_cpu_seconds()
            count = sum(pool.map(_decode_one, [(p, max_side) for p in paths], chunksize=4))
            seconds, cpu = time.perf_counter() - start, tree_cpu_seconds() - cpu_start
        return {"images": count, "seconds": seconds, "cpu_seconds": cpu, "load_seconds": load_seconds}
    from pixgrade.pipeline import Scorer

    backend = {"torch": "torch", "onnx": "onnx", "int8": "onnx"}.get(config, "auto")
    scorer = Scorer(model=model if config != "measures" else None, backend=backend)
    load_seconds = time.perf_counter() - load_start
    start, cpu_start = time.perf_counter(), tree_cpu_seconds()
    count = failed = 0
    for result in scorer.score_paths(paths, workers=2, batch_size=16):
        count += 1
        failed += result.error is not None
    seconds, cpu = time.perf_counter() - start, tree_cpu_seconds() - cpu_start  # the pool is joined by now
    return {"images": count, "failed": failed, "seconds": seconds, "cpu_seconds": cpu, "load_seconds": load_seconds}


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


def table(name: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    """Markdown table. ``CPU ms/image`` counts every process of the run (workers included) and does not depend
    on what else the machine is doing; ``2-core rate`` = 2 CPU-seconds per second / CPU time per image, the rate
    on two idle cores if the run keeps both busy. Shares of the decode floor use that CPU time."""
    floor = next((r["cpu_seconds"] / r["images"] for c, r in rows if c == "decode" and "cpu_seconds" in r), None)
    lines = [
        f"\n**{name}**\n",
        "| configuration | images/s (wall, shared machine) | CPU ms/image | 2-core rate (img/s) | "
        "% of decode floor | peak RSS (process tree) | start-up + model load (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for config, r in rows:
        if "skipped" in r:
            lines.append(f"| {config} | — | — | — | — | — | skipped: {r['skipped']} |")
            continue
        rate = r["images"] / r["seconds"]
        per_image = r["cpu_seconds"] / r["images"]
        share = f"{100 * floor / per_image:.0f}%" if floor else "—"
        lines.append(
            f"| {config} | {rate:.1f} | {1000 * per_image:.0f} | {2 / per_image:.1f} | {share} | "
            f"{mib(r['peak_rss'])} | {r.get('load_seconds', 0):.1f} |"
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
        if "int8" in args.configs:
            models["int8"] = str(
                prepare_int8(checkpoint, workdir, {p.name for p in folders.get("livec", workdir).iterdir()})
            )
        here = Path(__file__).resolve()
        for name, folder in folders.items():
            n_files = len(list(folder.iterdir()))
            rows: list[tuple[str, dict[str, Any]]] = []
            for config in args.configs:
                if config == "cleanvision":
                    python = args.cleanvision_python
                    if python is None or not python.exists():
                        rows.append((config, {"skipped": "no --cleanvision-python interpreter"}))
                        continue
                    command = [str(python), "-c", CLEANVISION_SCRIPT, str(folder)]
                else:
                    command = [sys.executable, str(here), "--one", config, str(folder), models.get(config, "-")]
                result = measure(command)
                rows.append((config, result))
                rate = result["images"] / result["seconds"]
                print(
                    f"{name:6} {config:15} {result['images']:5d} images {result['seconds']:7.1f} s {rate:7.2f} img/s "
                    f"{1000 * result['cpu_seconds'] / result['images']:6.0f} CPU-ms/img peak {mib(result['peak_rss'])} "
                    f"(load {os.getloadavg()[0]:.1f})",
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
