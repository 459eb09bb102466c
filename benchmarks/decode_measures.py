"""Throughput of image decoding and of the factor measures, single process.

Prints images per second (by wall clock and by this process's CPU time) for:
  1. decoding alone, full resolution (``load_image(data)``);
  2. decoding alone at reduced size (``load_image(data, max_side=512)``: JPEG draft mode + area downscale);
  3. the factor measures alone (``measure_all`` on already-decoded images), with the milliseconds of the shared
     preparation (working copy, luma, foreground mask) and of each factor.
Files are read into memory first, so disk speed is not measured. On a machine shared with other work the wall-clock
figures swing with the load (printed first); the CPU-time figures are the steadier ones.

    python benchmarks/decode_measures.py [FOLDER] [--limit 200] [--enlarge 2000] [--threads 1]

FOLDER defaults to ``$PIXGRADE_DATA/livec-train/images`` (``PIXGRADE_DATA`` falls back to ``<repo>/../shared/data``).
Those images are 500x500, so ``max_side=512`` changes nothing for them; ``--enlarge N`` re-encodes each image as a
JPEG (quality 90) with its longest side N px before timing, to show what draft decoding saves on large uploads.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from pixgrade.errors import ImageLoadError
from pixgrade.io import LoadedImage, iter_image_files, load_image
from pixgrade.measures import FACTOR_NAMES, get_factor, prepare


def default_folder() -> Path:
    data = os.environ.get("PIXGRADE_DATA")
    root = Path(data) if data else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return root / "livec-train" / "images"


def enlarge(data: bytes, side: int) -> bytes:
    rgb = load_image(data).rgb
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    big = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Clock:
    """Wall-clock and CPU time (this process) of a block. On a busy machine the CPU time is the steadier figure."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def report(label: str, n: int, clock: Clock, extra: str = "") -> None:
    print(
        f"{label:20s}: {n / clock.wall:7.1f} images/s wall ({1000 * clock.wall / n:7.2f} ms/image), "
        f"{n / clock.cpu:7.1f} images/s CPU ({1000 * clock.cpu / n:7.2f} ms/image){extra}"
    )


def decode_all(blobs: list[bytes], max_side: int | None) -> list[LoadedImage]:
    images: list[LoadedImage] = []
    for data in blobs:
        try:
            images.append(load_image(data, max_side=max_side))
        except ImageLoadError as exc:
            print(f"  skipped: {exc}", file=sys.stderr)
    return images


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Decode and measure throughput (single process).")
    parser.add_argument("folder", nargs="?", type=Path, default=default_folder())
    parser.add_argument("--limit", type=int, default=200, help="at most this many files (default 200)")
    parser.add_argument("--max-side", type=int, default=512, help="longest side for the reduced decode (default 512)")
    parser.add_argument("--enlarge", type=int, default=None, help="re-encode each image as a JPEG this large first")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1: one core per process)")
    args = parser.parse_args(argv)
    if not args.folder.exists():
        print(f"error: {args.folder}: no such folder (set PIXGRADE_DATA or pass a folder)", file=sys.stderr)
        return 2
    cv2.setNumThreads(args.threads)
    paths = list(iter_image_files([args.folder]))[: args.limit]
    blobs = [p.read_bytes() for p in paths]
    if args.enlarge:
        blobs = [enlarge(b, args.enlarge) for b in blobs]
    n = len(blobs)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"OpenCV threads {cv2.getNumThreads()}"
    )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"load average before the run (1, 5, 15 min): {load}")
    print(f"folder: {args.folder}  files: {n}  enlarge: {args.enlarge or 'no'}")
    if not n:
        return 1

    with Clock() as clock:
        full = decode_all(blobs, None)
    mp = statistics.mean(w * h for w, h in (im.original_size for im in full)) / 1e6
    report("decode full", len(full), clock, f", mean {mp:.2f} MP")
    with Clock() as clock:
        reduced = decode_all(blobs, args.max_side)
    report(f"decode max_side={args.max_side}", len(reduced), clock)

    # measures alone, on the full decodes (the working copy makes them size-independent); per-step CPU time
    steps = ("prepare (shared)", *FACTOR_NAMES)
    per: dict[str, list[float]] = {name: [] for name in steps}
    with Clock() as clock:
        for im in full:
            t0 = time.process_time()
            prep = prepare(im)
            _ = prep.work_gray, prep.foreground, prep.foreground_mask
            per["prepare (shared)"].append(time.process_time() - t0)
            for name in FACTOR_NAMES:
                t0 = time.process_time()
                get_factor(name).fn(prep)
                per[name].append(time.process_time() - t0)
    report(f"measures (all {len(FACTOR_NAMES)})", len(full), clock)
    print("per step, CPU ms/image (mean / median / p95):")
    for name, values in per.items():
        ms = np.array(values) * 1000
        print(f"  {name:18s} {ms.mean():7.2f} {np.median(ms):7.2f} {np.percentile(ms, 95):7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
