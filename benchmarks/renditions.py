"""Bytes of quality-targeted renditions against a fixed quality 85, and renditions per second.

For a seeded sample of images from each folder, each size (``--sizes``, longest side; sizes larger than an image
are skipped, as ``pixgrade renditions`` does; ``0`` = the image's own size) and format:

1. **fixed**: the resized original encoded at quality 85, its SSIM (luminance, against the resized original);
2. **matched**: the smallest quality whose SSIM is at least the fixed encoding's (same or better SSIM) — the
   bytes saved against quality 85 at no loss of SSIM;
3. **target**: the smallest quality with SSIM >= ``--min-ssim`` (what ``pixgrade renditions`` writes by default),
   its bytes against quality 85 and how many renditions miss the target even at the highest quality.

Renditions per second are timed on the target search alone (one process, one thread). No model is run (the
grade bound is not benchmarked here).

    python benchmarks/renditions.py [--n 8] [--sizes 0,200] [--formats jpeg,webp] [--min-ssim 0.98] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from pixgrade.fullref.images import open_srgb
from pixgrade.fullref.metrics import luminance, ssim
from pixgrade.fullref.renditions import Target, check_formats, encode, search_quality

DATA = Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
FOLDERS = ("products-fashion", "products-grocery-phone", "livec-train")


def _ssim_of(reference_y: np.ndarray, data: bytes) -> float:
    with Image.open(BytesIO(data)) as im:
        return ssim(reference_y, luminance(np.asarray(im.convert("RGB"))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="images per folder")
    parser.add_argument("--sizes", default="0,200", help="longest sides; 0 = the image's own")
    parser.add_argument("--formats", default="jpeg,webp")
    parser.add_argument("--min-ssim", type=float, default=0.98)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    formats = check_formats(args.formats.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    target = Target(min_ssim=args.min_ssim)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(f"target SSIM (luminance) >= {args.min_ssim}; quality range {target.min_quality}-{target.max_quality}")
    header = "folder                  fmt   n   matched/q85  target/q85  q85<target  target missed  q(target) med"
    header += "  rend/s"
    print(header)
    for folder in FOLDERS:
        files = sorted((DATA / folder / "images").iterdir())
        sample = random.Random(args.seed).sample(files, min(args.n, len(files)))
        for fmt in formats:
            matched_ratio, target_ratio, qualities = [], [], []
            below = missed = 0
            seconds = 0.0
            for path in sample:
                original = open_srgb(path)
                for size in sizes:
                    side = size or max(original.size)
                    if side > max(original.size):
                        continue
                    scale = side / max(original.size)
                    image = (
                        original
                        if side == max(original.size)
                        else original.resize(
                            (max(1, round(original.width * scale)), max(1, round(original.height * scale))),
                            Image.Resampling.LANCZOS,
                            reducing_gap=3.0,
                        )
                    )
                    ref_y = luminance(np.asarray(image))
                    fixed = encode(image, fmt, 85)
                    fixed_ssim = _ssim_of(ref_y, fixed)
                    matched, _ = search_quality(image, fmt, Target(min_ssim=min(fixed_ssim, 1.0)))
                    matched_ratio.append(len(matched.data) / len(fixed))
                    start = time.perf_counter()
                    best, met = search_quality(image, fmt, target)
                    seconds += time.perf_counter() - start
                    target_ratio.append(len(best.data) / len(fixed))
                    qualities.append(best.quality)
                    below += fixed_ssim < args.min_ssim
                    missed += not met
            n = len(target_ratio)
            print(
                f"{folder:<22}  {fmt:<4} {n:>3}  {statistics.mean(matched_ratio):>11.3f}  "
                f"{statistics.mean(target_ratio):>10.3f}  {below:>10}  {missed:>13}  "
                f"{statistics.median(qualities):>13.0f}  {n / seconds:>6.2f}"
            )
    print("ratios: mean over renditions of bytes / bytes at quality 85 (below 1 = smaller)")


if __name__ == "__main__":
    main()
