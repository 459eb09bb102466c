"""``pixgrade compare``: PSNR, SSIM and MS-SSIM of distorted copies against a reference, with both grades."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from pixgrade.cli.options import add_model_options, positive_int

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Compare each DISTORTED image with REFERENCE: MSE, PSNR, SSIM and MS-SSIM on luminance (BT.601 Y) and on colour
(SSIM/MS-SSIM: mean of R, G, B), from scikit-image, plus the learned score of both and its difference.
Images are compared at full resolution after EXIF orientation and conversion to sRGB. Sizes must match unless
--resize scales the distorted image to the reference's size. Identical images give SSIM 1 and PSNR inf
(null in JSON Lines and JSON, which have no infinity).

Exit status: 0 all compared, 1 some files failed (see the error column), 2 usage error.
"""

EPILOG = """\
examples:
  pixgrade compare original.png copy-q85.jpg copy-q60.webp
  pixgrade compare original.png small.jpg --resize -o comparison.csv
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade compare`` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="full-reference PSNR / SSIM / MS-SSIM and the grade difference of copies against a reference",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("reference", metavar="REFERENCE", help="the reference image")
    parser.add_argument("distorted", nargs="+", metavar="DISTORTED", help="images to compare with it")
    parser.add_argument("--resize", action="store_true", help="scale a distorted image of another size (Lanczos)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="table: .csv, .jsonl or .json (one array, written at the end; as score) (default: a table on stdout)",
    )
    parser.add_argument("--resume", action="store_true", help="keep the rows already in the output; skip those")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_model_options(parser, "unused by compare (accepted for symmetry with score)")
    parser.add_argument(
        "--max-pixels", type=positive_int, default=100_000_000, metavar="N", help="decompression-bomb guard"
    )
    return parser


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def load_scorer(args: argparse.Namespace) -> Any:
    """The :class:`~pixgrade.pipeline.Scorer` of ``--model``/``--backend`` (as ``score`` loads it)."""
    from pixgrade.cli.score import _load_scorer

    return _load_scorer(args)  # memory limits: the defaults when args lacks them (cli.options.memory_limits)


def run(args: argparse.Namespace) -> int:
    """Compare the files; 0 all compared, 1 some failed, 2 usage error (via ConfigError)."""
    from pixgrade.errors import ConfigError
    from pixgrade.fullref.compare import compare, compare_columns
    from pixgrade.pipeline import check_output, open_writer
    from pixgrade.pipeline.writers import normalise_path, output_format

    output = Path(args.output) if args.output else None
    if output is not None:
        if output_format(output) not in ("csv", "jsonl", "json"):
            raise ConfigError(f"{output}: compare writes .csv, .jsonl or .json")
        check_output(output, resume=args.resume, overwrite=args.overwrite)
    elif args.resume or args.overwrite:
        raise ConfigError("--resume and --overwrite apply to an output file: give one with -o")
    scorer = load_scorer(args)
    writer = open_writer(output, compare_columns(), resume=args.resume, overwrite=args.overwrite) if output else None
    done = writer.existing_paths if writer is not None else set()
    todo = [p for p in args.distorted if normalise_path(p) not in done]
    json_safe = output is not None and output_format(output) in ("jsonl", "json")  # JSON has no infinity
    n_failed = 0
    try:
        if writer is None:
            print("psnr_y  ssim_y  ms_ssim_y  ssim_rgb  score  diff  path")
        for row in compare(args.reference, todo, resize=args.resize, scorer=scorer, max_pixels=args.max_pixels):
            n_failed += row.error is not None
            if writer is not None:
                writer.write(row.to_row(json_safe=json_safe))
                continue
            detail = f"  error: {row.error}" if row.error else ""
            print(
                f"{_fmt(row.psnr_y, 2):>6}  {_fmt(row.ssim_y, 4):>6}  {_fmt(row.ms_ssim_y, 4):>9}  "
                f"{_fmt(row.ssim_rgb, 4):>8}  {_fmt(row.score, 2):>5}  {_fmt(row.score_diff, 2):>5}  "
                f"{row.path}{detail}"
            )
    finally:
        if writer is not None:
            writer.close()
    summary = f"compared {len(todo)} image{'s' if len(todo) != 1 else ''} with {args.reference}"
    if n_failed:
        summary += f", {n_failed} failed: see the error column"
    if len(todo) < len(args.distorted):
        summary += f" ({len(args.distorted) - len(todo)} already in {output}, skipped)"
    print(summary, file=sys.stderr)
    return 1 if n_failed else 0
