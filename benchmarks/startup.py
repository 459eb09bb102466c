"""Start-up cost of each backend: what a fresh process pays before its first score, and its resident memory.

For each configuration, ``--repeats`` fresh Python processes each import pixgrade, load the default model with
``load_predictor(model, backend)`` and score one 500x500 image; each reports its CPU time (user + system, from
``resource.getrusage``), wall time, peak resident memory (``ru_maxrss``) and whether ``torch`` was imported. The
fastest repeat is printed (the machine is shared; CPU time is the figure to compare). Configurations:

- ``int8``: the shipped INT8 export on ONNX Runtime (what ``backend="auto"`` picks) — PyTorch is never imported;
- ``onnx``: fp32 ONNX Runtime from the cached export (exported once before timing) — no PyTorch either;
- ``int8+torch``: ``int8`` after an explicit ``import torch``: what the same process cost before PyTorch imports
  were made lazy;
- ``torch``: the PyTorch backend;
- ``cli-int8`` / ``cli-torch``: ``pixgrade score IMAGE --workers 0`` end to end (``python -m pixgrade.cli.main``;
  includes writing the table).

    python benchmarks/startup.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from perfutil import data_dir, machine

CHILD = """
import resource, sys, time
wall = time.perf_counter()
backend, image, pre_torch = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
if pre_torch:
    import torch  # noqa: F401
from pixgrade.io import load_image
from pixgrade.model.predictor import load_predictor
predictor = load_predictor("default", backend=backend)
score = predictor.predict([load_image(image).rgb])[0].score
usage = resource.getrusage(resource.RUSAGE_SELF)
import json
print("RESULT " + json.dumps({
    "cpu": usage.ru_utime + usage.ru_stime, "wall": time.perf_counter() - wall, "rss_kib": usage.ru_maxrss,
    "torch": "torch" in sys.modules, "backend": predictor.backend, "score": score,
}))
"""

CLI_CHILD = """
import resource, sys, time
wall = time.perf_counter()
from pixgrade.cli.main import main
code = main(["score", sys.argv[2], "--workers", "0", "--no-progress", "--backend", sys.argv[1], "-o", sys.argv[3]])
usage = resource.getrusage(resource.RUSAGE_SELF)
import json
print("RESULT " + json.dumps({
    "cpu": usage.ru_utime + usage.ru_stime, "wall": time.perf_counter() - wall, "rss_kib": usage.ru_maxrss,
    "torch": "torch" in sys.modules, "backend": sys.argv[1], "score": code,
}))
"""


def run_child(code: str, *argv: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict = json.loads(line[len("RESULT ") :])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per configuration (default 3)")
    args = parser.parse_args()

    from pixgrade.model.predictor import load_predictor

    print(f"machine: {machine()}")
    image = sorted((data_dir() / "livec-train" / "images").iterdir())[0]
    load_predictor("default", backend="onnx")  # make sure the fp32 export is cached before timing
    configs = {
        "int8": (CHILD, "int8", "0"),
        "onnx": (CHILD, "onnx", "0"),
        "int8+torch": (CHILD, "int8", "1"),
        "torch": (CHILD, "torch", "0"),
        "cli-int8": (CLI_CHILD, "int8"),
        "cli-torch": (CLI_CHILD, "torch"),
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="pixgrade-startup-") as tmp:
        for name, (code, backend, *rest) in configs.items():
            extra = rest[0] if rest else str(Path(tmp) / f"{name}.csv")
            runs = []
            for i in range(args.repeats):
                if code is CLI_CHILD:
                    Path(extra).unlink(missing_ok=True)
                runs.append(run_child(code, backend, str(image), extra))
                print(f"  {name} run {i + 1}: {runs[-1]}", flush=True)
            best = min(runs, key=lambda r: r["cpu"])
            rows.append((name, best, min(r["rss_kib"] for r in runs)))
    print("\n| configuration | torch imported | CPU s to first score | wall s | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|")
    for name, best, rss in rows:
        torch = "yes" if best["torch"] else "no"
        print(f"| {name} | {torch} | {best['cpu']:.2f} | {best['wall']:.2f} | {rss / 1024:.0f} |")
    by = {name: (best, rss) for name, best, rss in rows}
    for a, b in (("int8", "int8+torch"), ("cli-int8", "cli-torch")):
        if a in by and b in by:
            cpu = by[b][0]["cpu"] - by[a][0]["cpu"]
            mib = (by[b][1] - by[a][1]) / 1024
            print(f"{a} vs {b}: {cpu:.2f} CPU s and {mib:.0f} MiB less")
    print(f"\nload average at the end: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
