"""The Ray engine against the local engine on the same images, on this machine: wall time, overhead, same rows?

Uses the first ``--n`` (default 1000) products-fashion photos (224x224 JPEG; symlinked, nothing copied) and, for
``--model none`` (measures only) and for the model (the trained default when installed, else an ImageNet-backbone
model with random heads; ONNX Runtime backend), times:

- local: ``score_local(..., workers=2)`` writing one Parquet file with the pipeline's writer;
- ray: ``write_parquet_with_ray`` on a local Ray instance (``num_cpus=2``, 2 actors) writing partitioned Parquet.
  Ray's start-up (``ray.init``) is timed separately; the job time includes the actors' start and model load.

It then checks that both outputs hold the same rows (compared row by row, sorted by path).

Run::

    python benchmarks/ray_vs_local.py --n 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
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


def run_local(paths: list[str], scorer_kwargs: dict[str, Any], out: Path) -> float:
    from pixgrade.engines.local import score_local
    from pixgrade.pipeline import open_writer

    start = time.perf_counter()
    with open_writer(out) as writer:
        for result in score_local(paths, scorer_kwargs, workers=2, batch_size=16):
            writer.write(result.to_row())
    return time.perf_counter() - start


def run_ray(paths: list[str], scorer_kwargs: dict[str, Any], out: Path, actors: int) -> float:
    from pixgrade.engines.ray_engine import write_parquet_with_ray

    start = time.perf_counter()
    write_parquet_with_ray(paths, out, scorer_kwargs, batch_size=16, num_actors=actors)
    return time.perf_counter() - start


def same_rows(local: Path, ray_dir: Path) -> tuple[int, int]:
    """(rows, rows that differ) after sorting both tables by path."""
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    a = pq.read_table(local).sort_by("path").to_pylist()
    b = pads.dataset(ray_dir, format="parquet").to_table().sort_by("path").to_pylist()
    if len(a) != len(b):
        print(f"row counts differ: local {len(a)}, ray {len(b)}")
        return max(len(a), len(b)), abs(len(a) - len(b))
    differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if differing:
        x, y = differing[0]
        print(f"first differing row: {x['path']}: " + str({k: (x[k], y[k]) for k in x if x[k] != y[k]})[:500])
    return len(a), len(differing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="images (default 1000)")
    parser.add_argument("--actors", type=int, default=2, help="Ray scoring actors (default 2)")
    parser.add_argument("--skip-model", action="store_true", help="only the measures-only comparison")
    args = parser.parse_args()
    import ray

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-rayvslocal-") as tmp:
        workdir = Path(tmp)
        paths = link_fashion(workdir / "images", args.n)
        runs: list[tuple[str, dict[str, Any]]] = [("measures only", {"model": None})]
        if not args.skip_model:
            checkpoint, description = benchmark_checkpoint(workdir)
            from pixgrade.model.predictor import load_predictor

            load_predictor(checkpoint, backend="onnx")  # export to the cache before timing
            runs.append((f"with the model, ONNX ({description})", {"model": str(checkpoint), "backend": "onnx"}))
        local: list[tuple[float, int]] = []
        for i, (_, kwargs) in enumerate(runs):  # local runs first: no Ray processes in the tree yet
            with sampling_rss() as local_mem:
                local.append((run_local(paths, kwargs, workdir / f"local-{i}.parquet"), local_mem.peak))
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        init_seconds = time.perf_counter() - start
        print(f"ray.init (local instance, 2 CPUs): {init_seconds:.1f} s")
        print(f"\n{len(paths)} products-fashion images (224x224 JPEG)\n")
        print("| run | engine | seconds | images/s | Ray overhead | peak RSS (process tree) | rows identical |")
        print("|---|---|---:|---:|---:|---:|---:|")
        try:
            for i, (label, kwargs) in enumerate(runs):
                local_seconds, local_peak = local[i]
                ray_out = workdir / f"ray-{i}"
                with sampling_rss() as ray_mem:
                    ray_seconds = run_ray(paths, kwargs, ray_out, args.actors)
                n_rows, n_diff = same_rows(workdir / f"local-{i}.parquet", ray_out)
                overhead = f"{100 * (ray_seconds / local_seconds - 1):+.0f}%"
                print(
                    f"| {label} | local | {local_seconds:.1f} | {len(paths) / local_seconds:.1f} | — | "
                    f"{mib(local_peak)} | |"
                )
                print(
                    f"| {label} | ray | {ray_seconds:.1f} | {len(paths) / ray_seconds:.1f} | {overhead} | "
                    f"{mib(ray_mem.peak)} | {n_rows - n_diff}/{n_rows} |"
                )
        finally:
            ray.shutdown()
    print(
        "\nPeak RSS: the process tree of this script. The local Ray instance (GCS, raylet, actors) is started by "
        "ray.init from this process, so it is part of the tree for the ray rows (shared object-store pages may be "
        "counted more than once)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
