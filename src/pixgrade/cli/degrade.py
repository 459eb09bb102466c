"""``pixgrade degrade SRC_DIR -o OUT_DIR``: write degraded copies of clean pictures and their manifest."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from pixgrade.errors import PixgradeError


def parse_levels(text: str) -> tuple[int, ...]:
    """``"1-5"``, ``"2,4"`` or ``"1-2,5"`` → sorted unique levels; ``argparse.ArgumentTypeError`` otherwise."""
    levels: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(v) for v in part.split("-", 1))
                if low > high:
                    raise ValueError
                levels.update(range(low, high + 1))
            else:
                levels.add(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid levels {text!r}: use e.g. 1-5, 2,4 or 1-2,5") from None
    if not levels or min(levels) < 1 or max(levels) > 5:
        raise argparse.ArgumentTypeError(f"invalid levels {text!r}: levels run from 1 to 5")
    return tuple(sorted(levels))


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "degrade",
        help="write synthetically degraded copies of clean pictures, with a manifest",
        description=(
            "Degrade every picture under SRC_DIR (blur, noise, JPEG, exposure, colour, resolution ...) at levels "
            "1 (mild) to 5 (severe) and write lossless PNGs plus OUT_DIR/manifest.csv "
            "(image,score,group,source,degradation,level). OUT_DIR must be new or empty, or use --resume."
        ),
    )
    parser.add_argument("src_dir", type=Path, metavar="SRC_DIR", help="folder of clean pictures (searched recursively)")
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT_DIR")
    parser.add_argument(
        "--types",
        nargs="+",
        metavar="TYPE",
        help="degradation types (default: all; see docs/degradations.md)",
    )
    parser.add_argument("--levels", type=parse_levels, help="e.g. 1-5 (default), 2,4")
    parser.add_argument("--seed", type=int, help="base random seed (default 0)")
    parser.add_argument(
        "--per-image", type=int, metavar="N", help="only N random (type, level) pairs per picture (default: all)"
    )
    parser.add_argument("--max-side", type=int, metavar="PX", help="first downscale sources to this longest side")
    parser.add_argument("--no-clean", action="store_const", const=True, help="do not write the clean (level 0) copy")
    parser.add_argument(
        "--clean-score", type=float, help="score of a clean picture (default 4.5); degraded ones get less"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="complete an interrupted run in OUT_DIR (options not given are taken from that run)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from pixgrade.degrade import DEGRADATIONS
    from pixgrade.degrade.dataset import DegradeSettings, load_settings, make_degraded_dataset

    base = (load_settings(args.output) if args.resume else None) or DegradeSettings()
    given = {
        "types": tuple(args.types) if args.types else None,
        "levels": args.levels,
        "seed": args.seed,
        "per_image": args.per_image,
        "max_side": args.max_side,
        "include_clean": False if args.no_clean else None,
        "clean_score": args.clean_score,
    }
    unknown = [t for t in given["types"] or () if t not in DEGRADATIONS]
    if unknown:
        raise PixgradeError(f"unknown degradation type(s) {', '.join(unknown)}; known: {', '.join(DEGRADATIONS)}")
    try:
        settings = replace(base, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise PixgradeError(str(exc)) from None

    bar = tqdm(unit="image", disable=None, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = make_degraded_dataset(args.src_dir, args.output, settings, resume=args.resume, progress=progress)
    finally:
        bar.close()
    for path, cause in summary.failed:
        print(f"{path}: {cause}", file=sys.stderr)
    print(
        f"{summary.sources} source(s): {summary.written} picture(s) written, {summary.skipped} already there, "
        f"{len(summary.failed)} source(s) failed; manifest: {args.output / 'manifest.csv'}"
    )
    return 1 if summary.failed else 0
