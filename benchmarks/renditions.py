"""Bytes of quality-targeted renditions against a fixed quality 85, and renditions per second.

For a seeded sample of images from each folder, each size (``--sizes``, longest side; sizes larger than an image
are skipped, as ``pixgrade renditions`` does, and counted; ``0`` = the image's own size) and format:

1. **fixed**: the resized original encoded at quality 85 with the baseline's encoder settings
   (``--baseline-effort``, default: the same settings as the search), its SSIM (luminance, against the resized
   original);
2. **matched**: the smallest quality whose SSIM is at least the fixed encoding's (same or better SSIM) — the
   bytes saved against quality 85 at no loss of SSIM;
3. **target**: the smallest quality with SSIM >= ``--min-ssim`` (and, with ``--max-grade-drop``, a learned score
   at most that far below the resized original's: what ``pixgrade renditions`` writes), its bytes against quality
   85 and how many renditions miss the target even at the highest quality.

Encoder settings (``--effort``, ``--baseline-effort``), all lossless effort, none changes what a quality means:
``plain`` = Pillow's defaults (JPEG baseline Huffman tables, not progressive; WebP ``method=4``; AVIF ``speed=6``);
``default`` = what ``pixgrade renditions`` writes (JPEG ``optimize`` + ``progressive``; WebP ``method=4``; AVIF
``speed=6``); ``max`` = JPEG ``optimize`` + ``progressive``; WebP ``method=6``; AVIF ``speed=4``.

Renditions per second are timed on the target search alone (one process; with ``--max-grade-drop`` it includes
the model's scoring of the trials and the reference).

    python benchmarks/renditions.py [--n 8] [--sizes 0,200] [--formats jpeg,webp] [--min-ssim 0.98]
        [--max-grade-drop D --model default] [--effort default] [--baseline-effort SAME] [--seed 0]
        [--folders products-fashion,products-grocery-phone,livec-train] [--sample-min-side 0]
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
from typing import Any

import numpy as np
from PIL import Image

from pixgrade.fullref.images import open_srgb
from pixgrade.fullref.metrics import luminance, ssim
from pixgrade.fullref.renditions import (
    ENCODER_OPTIONS,
    Target,
    _score,
    check_formats,
    encode,
    encode_lossless,
    search_quality,
)

DATA = Path(os.environ.get("PIXGRADE_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
FOLDERS = ("products-fashion", "products-grocery-phone", "livec-train")

EFFORTS: dict[str, dict[str, dict[str, Any]]] = {
    "plain": {"jpeg": {}, "webp": {"method": 4}, "avif": {"speed": 6}},
    "default": {"jpeg": dict(ENCODER_OPTIONS["jpeg"]), "webp": dict(ENCODER_OPTIONS["webp"]), "avif": {"speed": 6}},
    "max": {"jpeg": {"optimize": True, "progressive": True}, "webp": {"method": 6}, "avif": {"speed": 4}},
}


def _ssim_of(reference_y: np.ndarray, data: bytes) -> float:
    with Image.open(BytesIO(data)) as im:
        return ssim(reference_y, luminance(np.asarray(im.convert("RGB"))))


def _images(folder: str) -> list[Path]:
    base = Path(folder) if Path(folder).is_dir() else DATA / folder
    base = base / "images" if (base / "images").is_dir() else base
    return sorted(p for p in base.iterdir() if p.is_file() and not p.name.startswith("."))


def _longest(path: Path) -> int:
    with Image.open(path) as im:
        return max(im.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8, help="images per folder")
    parser.add_argument("--sizes", default="0,200", help="longest sides; 0 = the image's own")
    parser.add_argument("--formats", default="jpeg,webp")
    parser.add_argument("--min-ssim", type=float, default=0.98)
    parser.add_argument("--max-grade-drop", type=float, default=None, help="also bound the learned score's drop")
    parser.add_argument("--model", default="default", help="the model of --max-grade-drop")
    parser.add_argument("--effort", choices=sorted(EFFORTS), default="default", help="encoder settings searched")
    parser.add_argument("--baseline-effort", choices=sorted(EFFORTS), default=None, help="q85's (default: same)")
    parser.add_argument("--folders", default=",".join(FOLDERS), help="names under the data folder, or paths")
    parser.add_argument(
        "--sample-min-side", type=int, default=0, help="draw the sample from images whose longest side is at least this"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    formats = check_formats(args.formats.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    target = Target(min_ssim=args.min_ssim, max_score_drop=args.max_grade_drop)
    effort = EFFORTS[args.effort]
    baseline = EFFORTS[args.baseline_effort or args.effort]
    scorer = None
    if args.max_grade_drop is not None:
        from pixgrade.pipeline.scorer import Scorer

        scorer = Scorer(model=args.model)
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}")
    print(
        f"target SSIM (luminance) >= {args.min_ssim}"
        + (f", score drop <= {args.max_grade_drop} ({args.model})" if scorer is not None else "")
        + f"; quality range {target.min_quality}-{target.max_quality}; sizes {args.sizes}"
    )
    if args.sample_min_side:
        print(f"sample drawn from the images whose longest side is >= {args.sample_min_side} px")
    print(f"search encoder: {args.effort} {effort}; q85 encoder: {args.baseline_effort or args.effort} {baseline}")
    header = "folder                  fmt   n  skip  matched/q85  target/q85  q85<target  target missed  q(target) med"
    header += "  rend/s"
    print(header)
    for folder in args.folders.split(","):
        files = [p for p in _images(folder) if not args.sample_min_side or _longest(p) >= args.sample_min_side]
        sample = random.Random(args.seed).sample(files, min(args.n, len(files)))
        for fmt in formats:
            matched_ratio, target_ratio, qualities = [], [], []
            below = missed = skipped = 0
            seconds = 0.0
            for path in sample:
                original = open_srgb(path)
                for size in sizes:
                    side = size or max(original.size)
                    if side > max(original.size):
                        skipped += 1
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
                    fixed = encode(image, fmt, 85, encoder_options=baseline[fmt])
                    fixed_ssim = _ssim_of(ref_y, fixed)
                    matched, _ = search_quality(
                        image, fmt, Target(min_ssim=min(fixed_ssim, 1.0)), encoder_options=effort[fmt]
                    )
                    matched_ratio.append(len(matched.data) / len(fixed))
                    start = time.perf_counter()
                    reference_score = None
                    if scorer is not None:
                        reference_score, _ = _score(scorer, encode_lossless(image))
                    best, met = search_quality(
                        image,
                        fmt,
                        target,
                        scorer=scorer,
                        reference_score=reference_score,
                        encoder_options=effort[fmt],
                    )
                    seconds += time.perf_counter() - start
                    target_ratio.append(len(best.data) / len(fixed))
                    qualities.append(best.quality)
                    below += fixed_ssim < args.min_ssim
                    missed += not met
            n = len(target_ratio)
            if not n:
                why = "every size larger than the images" if sample else "no image large enough to sample"
                print(f"{Path(folder).name:<22}  {fmt:<4} {n:>3}  {skipped:>4}  ({why})")
                continue
            print(
                f"{Path(folder).name:<22}  {fmt:<4} {n:>3}  {skipped:>4}  {statistics.mean(matched_ratio):>11.3f}  "
                f"{statistics.mean(target_ratio):>10.3f}  {below:>10}  {missed:>13}  "
                f"{statistics.median(qualities):>13.0f}  {n / seconds:>6.2f}"
            )
    print("ratios: mean over renditions of bytes / bytes at quality 85 (below 1 = smaller); skip: sizes not rendered")


if __name__ == "__main__":
    main()
