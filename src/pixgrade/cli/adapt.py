"""``pixgrade adapt``: fine-tune a model to the judgements in a catalogue (see docs/labelling.md)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade adapt``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "adapt",
        help="adapt the model to a catalogue's own judgements (minutes on a CPU)",
        description="Fine-tune the score head of a model on the judgements stored in a catalogue (grades and "
        "pairwise comparisons fitted to one scale), regularised toward the base model, with k-fold "
        "cross-validation before and after. Writes a checkpoint that works wherever a model does (--model "
        "team.safetensors) and its INT8 export next to it.",
    )
    parser.add_argument("--catalog", required=True, metavar="FILE", help="the catalogue with the judgements")
    parser.add_argument("--base", default="default", help="'default' (shipped model) or a checkpoint")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="team.safetensors to write")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    parser.add_argument(
        "--anchor-weight",
        type=float,
        default=1.0,
        help="how strongly unlabelled photos keep the base model's ordering (default: 1; 5 is safer with few, noisy "
        "labels and a catalogue holding little else, see docs/labelling.md)",
    )
    parser.add_argument("--l2sp", type=float, default=1e-2, help="pull of the head's weights toward the base's")
    parser.add_argument("--no-int8", dest="int8", action="store_false", help="do not write the INT8 export")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _fmt(values: dict[str, Any] | None) -> str:
    if not values:
        return "n/a (fewer than 10 labels)"
    return f"SRCC {values['srcc']:.3f}, within ±1 grade {values['grade_within_1']:.0%} ({values['n']} labels)"


def run(args: argparse.Namespace) -> int:
    """Adapt and report."""
    from pathlib import Path

    from pixgrade.errors import ConfigError
    from pixgrade.label.adapt import AdaptSettings, adapt_catalog

    if not Path(args.catalog).is_file():
        raise ConfigError(f"{args.catalog}: catalogue not found")
    if args.folds < 2:
        raise ConfigError("--folds must be at least 2")
    if args.anchor_weight < 0 or args.l2sp < 0:
        raise ConfigError("--anchor-weight and --l2sp must be >= 0")
    settings = AdaptSettings(anchor_weight=args.anchor_weight, l2sp=args.l2sp)
    report = adapt_catalog(
        args.catalog,
        args.output,
        args.base,
        folds=args.folds,
        settings=settings,
        int8=args.int8,
        overwrite=args.overwrite,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0
    cv = report.cross_validation
    print(f"{cv['folds']}-fold cross-validation on the labels:")
    print(f"  before (base model): {_fmt(cv['before'])}")
    print(f"  after (adapted):     {_fmt(cv['after'])}")
    print(f"wrote {report.output}" + (f" and {report.int8}" if report.int8 else "") + f" in {report.seconds:.0f} s")
    if report.int8_note:
        print(f"note: {report.int8_note}")
    before, after = cv.get("before") or {}, cv.get("after") or {}
    if after and before and not after["srcc"] > before["srcc"]:
        print(
            "warning: in cross-validation the adapted model does not rank the labels better than the base "
            f"(SRCC {after['srcc']:.3f} vs {before['srcc']:.3f}); keep using the base model, or label more photos "
            "(several annotators per photo make the labels less noisy)"
        )
    return 0
