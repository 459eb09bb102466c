"""What finding the foreground on an integer-factor shrink (the current code) changes against area resampling to
exactly 256 px (the code before): the cost per image and the ``background``, ``fill`` and ``centring`` values.

The layout copy (:attr:`pixgrade.measures.PreparedImage.foreground`) is the working copy shrunk by the smallest
integer factor that brings it to at most 256 px (``_shrink_integer``: 2x2 block means for a 500-px photo, 250 px).
Before, it was area-resampled to exactly 256 px (``pixgrade.io.arrays.fit_longest_side``), which OpenCV does
about 20 times slower for a non-integer factor. This script runs both on livec-train photos (decoded at full
resolution, as ``benchmarks/factor_calibration.py`` does) and prints the CPU milliseconds of the foreground
step, the value differences of the three layout factors and how many flags change.

    python benchmarks/layout_shrink_check.py [--n 813]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from perfutil import data_dir, machine

LAYOUT_FACTORS = ("background", "fill", "centring")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=813, help="livec-train photos (sorted by name; default all 813)")
    args = parser.parse_args()

    import cv2

    import pixgrade.measures.prepared as prepared
    from pixgrade.io import load_image
    from pixgrade.measures import PreparedImage, measure_all, prepare

    cv2.setNumThreads(1)
    print(f"machine: {machine()}")
    paths = sorted((data_dir() / "livec-train" / "images").iterdir())[: args.n]
    images = [load_image(path) for path in paths]
    variants = {
        "integer factor (current)": prepared._shrink_integer,
        "area to 256 px (before)": prepared.fit_longest_side,
    }
    values: dict[str, dict[str, np.ndarray]] = {}
    flags: dict[str, dict[str, np.ndarray]] = {}
    print(f"\n{len(images)} livec-train photos\n")
    print("| layout copy | CPU ms/image for the foreground |")
    print("|---|---:|")
    for label, shrink in variants.items():
        prepared._shrink_integer = shrink  # what PreparedImage.foreground calls
        preps: list[PreparedImage] = [prepare(image) for image in images]
        for prep in preps:
            _ = prep.work_rgb  # not part of the timed step
        start = time.process_time()
        for prep in preps:
            _ = prep.foreground
        cpu = time.process_time() - start
        print(f"| {label} | {1000 * cpu / len(preps):.2f} |")
        results = [measure_all(prep, LAYOUT_FACTORS) for prep in preps]
        values[label] = {n: np.array([r[n].value for r in results]) for n in LAYOUT_FACTORS}
        flags[label] = {n: np.array([r[n].flag for r in results]) for n in LAYOUT_FACTORS}
    prepared._shrink_integer = variants["integer factor (current)"]
    new, old = variants
    print("\n| factor | mean \\|Δvalue\\| | 95th percentile | images with \\|Δ\\| > 0.05 | flags changed |")
    print("|---|---:|---:|---:|---:|")
    for name in LAYOUT_FACTORS:
        diff = np.abs(values[new][name] - values[old][name])
        changed = int(np.count_nonzero(flags[new][name] != flags[old][name]))
        print(
            f"| {name} | {diff.mean():.4f} | {np.percentile(diff, 95):.4f} | {int((diff > 0.05).sum())} | "
            f"{changed} / {len(diff)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
