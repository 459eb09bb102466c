"""The Ray engine against the local engine on the same images, on this machine: time, CPU, overhead, same rows?

Uses the first ``--n`` (default 1000) products-fashion photos (224x224 JPEG; symlinked, nothing copied) and, for
``--model none`` (measures only) and for the model (the trained default when installed, else an ImageNet-backbone
model with random heads; ONNX Runtime backend), runs:

- local: ``LocalEngine(..., workers=2).score`` writing one Parquet file with the pipeline's writer;
- ray: ``write_parquet_with_ray`` on a local Ray instance (``num_cpus=2``, ``--actors`` actors) writing partitioned
  Parquet. Ray's start-up (``ray.init``) is timed separately; the job time includes the actors' start and model
  load.

Each run reports wall time and CPU time: this process plus every descendant process (worker processes, and for
Ray the whole local instance: GCS, raylet, agents, actors), sampled every 0.1 s with psutil (processes that end
during the run count up to their last sample; see ``TreeCpu``). On a machine shared with other jobs wall time
says little; CPU time per image is the figure to compare.

The outputs are then compared row by row, explicitly: rows are matched by ``path`` (missing, extra and duplicated
paths are reported), every column is compared (the rows hold no timing or other run-dependent column), floats
exactly and within a tolerance (``--tolerance``, absolute), with NaN equal to NaN and None equal to None; for
each differing column the script prints how many rows differ and the largest difference. It also says whether
the Ray output reads back in input order, and warns if the model file changed between the runs.

Run::

    python benchmarks/ray_vs_local.py --n 1000
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perfutil import benchmark_checkpoint, data_dir, machine, mib, sampling_rss


def link_fashion(folder: Path, n: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for image in sorted((data_dir() / "products-fashion" / "images").glob("*.jpg"))[:n]:
        link = folder / image.name
        if not link.exists():
            link.symlink_to(image)
        paths.append(str(link))
    return paths


class TreeCpu:
    """CPU seconds (user + system) of this process and every descendant, each process's own time sampled every
    ``interval`` seconds in a background thread, so that processes which end during the run (worker processes,
    Ray workers) are counted up to their last sample, and none twice (reaped children's times, which a parent may
    or may not collect, are not used). The sampler's own CPU time is left out."""

    def __init__(self, interval: float = 0.1) -> None:
        import psutil

        self.psutil = psutil
        self.interval = interval
        self.last: dict[tuple[int, float], float] = {}
        self.base: dict[tuple[int, float], float] = {}
        self.own = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> dict[tuple[int, float], float]:
        me = self.psutil.Process()
        seen = {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                with proc.oneshot():
                    t = proc.cpu_times()
                    seen[(proc.pid, proc.create_time())] = t.user + t.system
            except self.psutil.Error:
                continue
        return seen

    def _loop(self) -> None:
        start = time.thread_time()
        while not self._stop.wait(self.interval):
            self.last.update(self._sample())
        self.last.update(self._sample())
        self.own = time.thread_time() - start

    def __enter__(self) -> TreeCpu:
        self.base = self._sample()
        self.last = dict(self.base)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(value - self.base.get(key, 0.0) for key, value in self.last.items()) - self.own


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    peak_rss: int


def measure(fn: Any) -> Run:
    with sampling_rss() as memory, TreeCpu() as cpu:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    return Run(seconds, cpu.seconds, memory.peak)


def run_local(paths: list[str], scorer_kwargs: dict[str, Any], out: Path) -> None:
    from pixgrade.engines.local import LocalEngine
    from pixgrade.pipeline import open_writer

    with open_writer(out) as writer:
        for result in LocalEngine(scorer_kwargs, workers=2, batch_size=16).score(paths):
            writer.write(result.to_row())


def run_ray(paths: list[str], scorer_kwargs: dict[str, Any], out: Path, actors: int) -> None:
    from pixgrade.engines.ray import write_parquet_with_ray

    summary = write_parquet_with_ray(paths, out, scorer_kwargs, batch_size=16, num_actors=actors)
    if summary.n_recovered:
        print(f"note: {summary.n_recovered} files were re-scored after a Ray worker died")


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@dataclass
class Comparison:
    """Row-by-row comparison of two result tables matched by path."""

    n_local: int
    n_ray: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    n_compared: int = 0
    n_identical: int = 0
    n_within_tolerance: int = 0
    columns: dict[str, tuple[int, int, float | None, str]] = field(default_factory=dict)
    """column -> (rows not exactly equal, rows beyond tolerance, largest |difference| for numbers, an example)."""
    in_input_order: bool = False


def compare(
    local_rows: list[dict[str, Any]], ray_rows: list[dict[str, Any]], paths: list[str], tol: float
) -> Comparison:
    """Match rows by path and compare every column (see the module docstring)."""
    result = Comparison(len(local_rows), len(ray_rows))
    by_path: dict[str, dict[str, Any]] = {}
    for row in ray_rows:
        if row["path"] in by_path:
            result.duplicated.append(row["path"])
        by_path[row["path"]] = row
    local_paths = {row["path"] for row in local_rows}
    result.extra = sorted(set(by_path) - local_paths)
    result.in_input_order = [r["path"] for r in ray_rows] == paths
    columns = list(local_rows[0]) if local_rows else []
    stats: dict[str, list[Any]] = {c: [0, 0, None, ""] for c in columns}
    for mine in local_rows:
        theirs = by_path.get(mine["path"])
        if theirs is None:
            result.missing.append(mine["path"])
            continue
        result.n_compared += 1
        exact = within = True
        for column in columns:
            a, b = mine[column], theirs.get(column)
            if _same(a, b):
                continue
            exact = False
            entry = stats[column]
            entry[0] += 1
            numbers = isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool)
            if numbers:
                diff = abs(float(a) - float(b))
                entry[2] = diff if entry[2] is None or diff > entry[2] else entry[2]
                if not diff <= tol:  # NaN against a number is beyond any tolerance
                    within = False
                    entry[1] += 1
            else:
                within = False
                entry[1] += 1
            if not entry[3]:
                entry[3] = f"{Path(mine['path']).name}: local {a!r} vs ray {b!r}"
        result.n_identical += exact
        result.n_within_tolerance += within
    result.columns = {c: (s[0], s[1], s[2], s[3]) for c, s in stats.items() if s[0]}
    return result


def report(label: str, comparison: Comparison, tol: float) -> None:
    c = comparison
    print(f"\n{label}: {c.n_local} local rows, {c.n_ray} ray rows, {c.n_compared} matched by path")
    if c.missing or c.extra or c.duplicated:
        print(f"  missing from ray: {len(c.missing)}, extra in ray: {len(c.extra)}, duplicated: {len(c.duplicated)}")
    print(f"  identical (every column exactly equal): {c.n_identical}/{c.n_compared}")
    print(f"  equal within {tol:g} (absolute, numbers only): {c.n_within_tolerance}/{c.n_compared}")
    print(f"  ray output in input order: {'yes' if c.in_input_order else 'no'}")
    for column, (n_diff, n_beyond, largest, example) in c.columns.items():
        size = "" if largest is None else f", largest difference {largest:.3g}"
        print(f"  column {column}: {n_diff} rows differ ({n_beyond} beyond tolerance){size}; e.g. {example[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="images (default 1000)")
    parser.add_argument("--actors", type=int, default=2, help="Ray scoring actors (default 2)")
    parser.add_argument("--skip-model", action="store_true", help="only the measures-only comparison")
    parser.add_argument("--tolerance", type=float, default=1e-9, help="absolute tolerance for numbers (1e-9)")
    args = parser.parse_args()
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq
    import ray

    from pixgrade.io import sha256_file

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="pixgrade-rayvslocal-") as tmp:
        workdir = Path(tmp)
        paths = link_fashion(workdir / "images", args.n)
        runs: list[tuple[str, dict[str, Any]]] = [("measures only", {"model": None})]
        if not args.skip_model:
            checkpoint, description = benchmark_checkpoint(workdir)
            from pixgrade.model.predictor import load_predictor

            load_predictor(checkpoint, backend="onnx")  # export to the cache before timing
            model_digest = sha256_file(checkpoint)
            runs.append((f"model, ONNX ({description})", {"model": str(checkpoint), "backend": "onnx"}))
        local: list[Run] = []
        for i, (_, kwargs) in enumerate(runs):  # local runs first: no Ray processes in the tree yet
            local.append(measure(lambda i=i, kwargs=kwargs: run_local(paths, kwargs, workdir / f"local-{i}.parquet")))
        start = time.perf_counter()
        for attempt in range(3):  # on a saturated machine Ray's node may time out while starting (docs/ray.md)
            try:
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                break
            except Exception as exc:
                ray.shutdown()
                if attempt == 2:
                    raise
                print(f"ray.init failed ({exc}); trying again")
        init_seconds = time.perf_counter() - start
        remote: list[Run] = []
        try:
            for i, (_, kwargs) in enumerate(runs):
                out = workdir / f"ray-{i}"
                remote.append(measure(lambda out=out, kwargs=kwargs: run_ray(paths, kwargs, out, args.actors)))
        finally:
            ray.shutdown()
        if not args.skip_model and sha256_file(checkpoint) != model_digest:
            print(f"WARNING: {checkpoint} changed during the benchmark: local and Ray used different weights")
        comparisons = []
        for i, (label, _) in enumerate(runs):
            local_rows = pq.read_table(workdir / f"local-{i}.parquet").to_pylist()
            ray_rows = pads.dataset(workdir / f"ray-{i}", format="parquet").to_table().to_pylist()
            comparisons.append(compare(local_rows, ray_rows, paths, args.tolerance))
            report(label, comparisons[-1], args.tolerance)
    print(f"\nray.init (local instance, 2 CPUs): {init_seconds:.1f} s (not in the times below)")
    print(f"{len(paths)} products-fashion images (224x224 JPEG), {args.actors} Ray actors\n")
    print(
        "| run | engine | wall s | CPU s | CPU ms/image | Ray overhead (CPU) | Ray overhead (wall) "
        "| peak RSS (process tree) | rows identical | within tolerance |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    n = len(paths)
    for (label, _), mine, theirs, c in zip(runs, local, remote, comparisons, strict=True):
        print(
            f"| {label} | local | {mine.seconds:.1f} | {mine.cpu_seconds:.1f} | {1000 * mine.cpu_seconds / n:.1f} "
            f"| — | — | {mib(mine.peak_rss)} | | |"
        )
        cpu_overhead = f"{100 * (theirs.cpu_seconds / mine.cpu_seconds - 1):+.0f}%"
        wall_overhead = f"{100 * (theirs.seconds / mine.seconds - 1):+.0f}%"
        print(
            f"| {label} | ray | {theirs.seconds:.1f} | {theirs.cpu_seconds:.1f} | "
            f"{1000 * theirs.cpu_seconds / n:.1f} | {cpu_overhead} | {wall_overhead} | {mib(theirs.peak_rss)} | "
            f"{c.n_identical}/{c.n_compared} | {c.n_within_tolerance}/{c.n_compared} |"
        )
    print(
        "\nCPU: this process and all its descendants, sampled every 0.1 s during each run. Peak RSS: the process "
        "tree; the local Ray instance (GCS, raylet, agents, actors) is started by ray.init from this process, so it "
        "is part of the tree for the ray rows (shared object-store pages may be counted more than once)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
