"""``pixgrade renditions``: delivery copies in several sizes and formats at the smallest quality that keeps a
stated target, metadata stripped, with a manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pixgrade.cli.options import add_model_options, positive_int

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
For every image under PATH (files and folders, recursively), each size (longest side, px) and format: one file
OUTDIR/<stem>-<size>.<ext> encoded at the smallest quality (binary search over --quality-range) whose SSIM on
luminance against the resized original is at least --min-ssim and, with --max-grade-drop, whose learned score
falls by at most that much. Colour is converted to sRGB (ICC profiles honoured), EXIF orientation is applied,
transparency is composited on white, and the files carry no metadata (no EXIF, GPS, XMP, comments or profile);
--keep-icc embeds an sRGB profile. Sizes larger than the image are skipped (never upscaled). Existing files are
never overwritten. Every rendition gets a row in the manifest (default OUTDIR/renditions.csv); running the same
command again skips what the manifest already lists, so an interrupted run resumes. --prune also removes the
renditions the manifest lists of images not given in this run (deleted, removed, or left out on purpose): a file
is deleted only when it is exactly as pixgrade wrote it (length, format, size as recorded), others are named and
left.

Exit status: 0 all rendered (or skipped), 1 some failed or missed the target (see the status column), 2 usage error.
"""

EPILOG = """\
examples:
  pixgrade renditions photos/ -o web/ --sizes 1600,800,400 --formats webp,jpeg,avif
  pixgrade renditions shoe.jpg -o web/ --min-ssim 0.99 --max-grade-drop 0.1
  pixgrade renditions photos/ -o web/ --prune    # also drop the renditions of photos no longer in photos/
"""


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not values or any(v < 16 for v in values):
        raise argparse.ArgumentTypeError(f"sizes must be 16 px or more, got {text!r}")
    return values


def _quality_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX, e.g. 20-95, got {text!r}") from None
    return low, high


def add_target_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Declare the rendition target options (``--min-ssim``, ``--max-grade-drop``, ``--quality-range``,
    ``--keep-icc``), each name after ``prefix`` (``filter`` uses ``rendition-``); read them with
    :func:`target_from_args`."""
    parser.add_argument(f"--{prefix}min-ssim", type=float, default=0.98, help="SSIM (luminance) target (default 0.98)")
    parser.add_argument(
        f"--{prefix}max-grade-drop",
        type=float,
        default=None,
        metavar="D",
        help="also keep the learned score (0-5) within D of the resized original's (e.g. 0.1)",
    )
    parser.add_argument(
        f"--{prefix}quality-range",
        type=_quality_range,
        default=(20, 95),
        metavar="MIN-MAX",
        help="encoder qualities searched (default 20-95)",
    )
    parser.add_argument(f"--{prefix}keep-icc", action="store_true", help="embed an sRGB ICC profile (pixels are sRGB)")


def target_from_args(args: argparse.Namespace, prefix: str = "") -> Any:
    """The :class:`~pixgrade.fullref.renditions.Target` of the options :func:`add_target_options` declared."""
    from pixgrade.fullref.renditions import Target

    key = prefix.replace("-", "_")
    low, high = getattr(args, f"{key}quality_range")
    return Target(
        min_ssim=getattr(args, f"{key}min_ssim"),
        max_score_drop=getattr(args, f"{key}max_grade_drop"),
        min_quality=low,
        max_quality=high,
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade renditions`` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "renditions",
        help="delivery copies (sizes x formats) at the smallest quality keeping SSIM / grade; metadata stripped",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders (searched recursively)")
    parser.add_argument("-o", "--output-dir", required=True, metavar="OUTDIR", help="folder for the renditions")
    parser.add_argument(
        "--sizes", type=_int_list, default=[1600, 800, 400], help="longest sides (default 1600,800,400)"
    )
    parser.add_argument("--formats", default="webp,jpeg", help="webp, jpeg, avif (default webp,jpeg)")
    add_target_options(parser)
    parser.add_argument("--manifest", metavar="FILE", help="manifest CSV (default OUTDIR/renditions.csv)")
    add_model_options(parser, "unused (renditions run in this process)")
    parser.add_argument(
        "--max-pixels", type=positive_int, default=100_000_000, metavar="N", help="decompression-bomb guard"
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="remove the manifest's renditions of images not given in this run (only files as pixgrade wrote them)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return parser


def run(args: argparse.Namespace) -> int:
    """Render; 0 all done, 1 some failed or missed the target, 2 usage error (via ConfigError)."""
    from tqdm import tqdm

    from pixgrade.cli.compare import load_scorer
    from pixgrade.errors import ConfigError
    from pixgrade.fullref.renditions import check_formats, render_batch
    from pixgrade.io import iter_image_files
    from pixgrade.pipeline.writers import output_format

    formats = check_formats(args.formats.split(","))
    target = target_from_args(args)
    outdir = Path(args.output_dir)
    if outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir}: is not a folder")
    manifest = Path(args.manifest) if args.manifest else outdir / "renditions.csv"
    if output_format(manifest) != "csv":
        raise ConfigError(f"{manifest}: the manifest is a .csv file")
    sources = [p for p in iter_image_files(args.paths) if p.resolve().parent != outdir.resolve()]
    if not sources:
        raise ConfigError(f"no files found in {', '.join(args.paths)}")
    scorer = None if (args.model or "").lower() == "none" and args.max_grade_drop is None else load_scorer(args)
    outdir.mkdir(parents=True, exist_ok=True)
    with tqdm(total=len(sources), unit="img", desc="renditions", file=sys.stderr,
              disable=args.no_progress or None) as bar:  # fmt: skip
        counts = render_batch(
            ((source, outdir) for source in sources),
            manifest,
            args.sizes,
            formats,
            target,
            scorer=scorer,
            keep_icc=args.keep_icc,
            max_pixels=args.max_pixels,
            on_row=lambda row: report_row(row, tqdm.write),
            on_source=lambda _source: bar.update(1),
            prune=args.prune,
            on_pruned=lambda pruned: [tqdm.write(f"{path}: {why}", file=sys.stderr) for path, why in pruned.left],
        )
    removed, left, dropped = counts.pop("removed", 0), counts.pop("left", 0), counts.pop("rows_dropped", 0)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing new"
    if args.prune:
        summary += f"; pruned {dropped} manifest row(s) of images not given, {removed} file(s) removed" + (
            f", {left} left (not as pixgrade wrote them)" if left else ""
        )
    print(f"renditions: {summary}; manifest: {manifest}", file=sys.stderr)
    return 1 if counts.get("failed") or counts.get("target_not_met") else 0


def report_row(row: Any, write: Any) -> None:
    """Say on stderr (through ``write``) why a rendition failed or missed its target; nothing for the others."""
    if row.status in ("failed", "target_not_met"):
        write(f"{row.path}: {row.status}: {row.error or ''}".rstrip(": "), file=sys.stderr)
