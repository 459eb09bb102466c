"""``pixgrade explain``: a heatmap of the regions that lowered an image's score, with its factors and reasons."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pixgrade.cli.options import add_model_options
from pixgrade.errors import ConfigError, PixgradeError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain",
        help="heatmap of where an image lost points",
        description=(
            "Write a PNG overlay whose bright regions lowered the model's score most (element-wise Grad-CAM on the "
            "last backbone stage, drawn on the model's input copy; see docs/serving.md), and print the score "
            "(the one `pixgrade score` gives), factor scores and reasons."
        ),
    )
    parser.add_argument("image", help="the image file")
    parser.add_argument("-o", "--output", required=True, help="overlay PNG to write")
    parser.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    add_model_options(parser)
    parser.add_argument(
        "--method", default="gradcam", choices=("gradcam", "gradcam_classic"), help="explanation method"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of text")
    return parser


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise ConfigError(f"{output}: already exists; pass --overwrite to replace it")
    if output.suffix.lower() != ".png":
        raise ConfigError(f"{output}: the overlay is written as PNG; give the output a .png name")
    if not output.parent.is_dir():
        raise ConfigError(f"{output.parent}: output folder does not exist")
    if str(args.model).lower() == "none":
        raise ConfigError("explain needs the quality model; --model none has no heatmap")

    from pixgrade.cli.options import load_plugin_args
    from pixgrade.explain import overlay_heatmap, write_png
    from pixgrade.model.reference import resolve_model
    from pixgrade.pipeline.analysis import analyse
    from pixgrade.pipeline.scorer import Scorer

    plugins = load_plugin_args(args)  # custom factors: measured and printed with the built-in ones
    model = resolve_model(args.model, args.backend)  # ConfigError naming what to pass instead
    try:
        # the scoring backend of `pixgrade score` (the score is the same); the heatmap's gradients come from the
        # same checkpoint on PyTorch (Scorer.explainer)
        scorer = Scorer(model=model, plugins=plugins)
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc}; pass --model CHECKPOINT to use a trained checkpoint") from None
    if not scorer.can_explain:
        raise ConfigError(f"{args.model}: heatmaps need a PyTorch checkpoint (not an ONNX export)")
    analysis = analyse(args.image, scorer.settings)
    rgb = analysis.model_rgb
    [(result, explanation)] = scorer.explain_batch([analysis], method=args.method)
    if result.error is not None or explanation is None or rgb is None:
        raise PixgradeError(f"{args.image}: {result.error or 'no model input'}")
    try:
        write_png(output, overlay_heatmap(rgb, explanation.heat), overwrite=args.overwrite)
    except FileExistsError as exc:
        raise ConfigError(f"{exc}; pass --overwrite to replace it") from None
    except OSError as exc:
        raise PixgradeError(f"{output}: cannot write the overlay: {exc.strerror or exc}") from None

    if args.json:
        payload = {
            "path": result.path,
            "score": result.score,
            "grade": result.grade,
            "factors": {
                n: {"score": f.score, "value": f.value, "flag": f.flag, "reason": f.reason}
                for n, f in result.factors.items()
            },
            "severities": result.severities,
            "reasons": result.reasons,
            "presentation": result.presentation,
            "main_score": result.main_score,
            "presentation_reasons": result.presentation_reasons,
            "heatmap": {"path": str(output), "method": explanation.method, "grid": list(explanation.grid)},
        }
        json.dump(payload, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
        return 0
    print(f"{result.path}: score {result.score:.2f} / 5, grade {result.grade}")
    if result.presentation is not None:
        main = "" if result.main_score is None else f", main score {result.main_score:.2f}"
        print(f"  presentation {result.presentation:.2f}{main}: {'; '.join(result.presentation_reasons)}")
    for name, factor in result.factors.items():
        mark = "  <- problem" if factor.flag else ""
        print(f"  {name:<14} {factor.score:5.2f}{mark}")
    if result.reasons:
        print("reasons:")
        for reason in result.reasons:
            print(f"  - {reason}")
    print(f"heatmap ({explanation.method}, {explanation.grid[0]}x{explanation.grid[1]} cells) -> {output}")
    return 0
