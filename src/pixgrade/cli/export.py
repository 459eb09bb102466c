"""``pixgrade export``: write the model as ONNX (fp32 or INT8) for ONNX Runtime and other runtimes."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export the model to ONNX (optionally INT8)",
        description=(
            "Export the quality model to ONNX: input 'image' uint8 (N, H, W, 3) RGB with dynamic size, outputs "
            "'score', 'severities', 'embedding'; the model config is stored in the ONNX metadata. Score with it "
            "by passing the file as --model to score/filter/serve. An INT8 export of a checkpoint NAME.safetensors "
            "written as NAME.int8.onnx next to it is used by --backend auto/int8 of score/filter/serve as long as "
            "the checkpoint is unchanged (the SHA-256 of its weights is recorded)."
        ),
    )
    parser.add_argument("--format", choices=["onnx"], default="onnx", help="export format (default: onnx)")
    parser.add_argument("--model", default="default", help="'default' (shipped weights) or a checkpoint path")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    parser.add_argument("--int8", action="store_true", help="quantise weights and activations to 8 bits")
    parser.add_argument(
        "--quant-method",
        choices=["static", "dynamic"],
        default="static",
        help="INT8 method: static (calibrated, QDQ, fastest; needs --calibration) or dynamic (default: static)",
    )
    parser.add_argument(
        "--calibration",
        nargs="+",
        default=[],
        metavar="PATH",
        help="images or folders of images typical of what you score, for static INT8 calibration",
    )
    parser.add_argument(
        "--max-calibration", type=int, default=64, help="use at most this many calibration images (default: 64)"
    )
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, >= 17 (default: 17)")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    return parser


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pixgrade.errors import ConfigError
    from pixgrade.model.onnx_predictor import onnx_available

    if not onnx_available():
        raise ConfigError("export needs onnx and onnxruntime: pip install 'pixgrade[onnx]'")
    if args.opset < 17:
        raise ConfigError(f"--opset must be >= 17, got {args.opset}")
    output = Path(args.output)
    if output.exists() and not args.force:
        raise ConfigError(f"{output}: already exists; pass --force to replace it")
    calibration: list[Path] = []
    if args.int8 and args.quant_method == "static":
        from pixgrade.io import iter_image_files

        if not args.calibration:
            raise ConfigError("--int8 with static quantisation needs --calibration IMAGES_OR_FOLDERS")
        for path in iter_image_files(args.calibration):
            calibration.append(path)
            if len(calibration) >= args.max_calibration:
                break
        if not calibration:
            raise ConfigError(f"no calibration images found in {' '.join(args.calibration)}")
    elif args.calibration:
        raise ConfigError("--calibration is only used with --int8 --quant-method static")

    from pixgrade.export import export_model, read_onnx_metadata

    try:
        written = export_model(
            args.model,
            output,
            int8=args.int8,
            calibration_images=calibration,
            quant_method=args.quant_method,
            opset=args.opset,
            overwrite=args.force,
        )
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from exc
    info = read_onnx_metadata(written)
    quant = info["onnx"].get("quantization") or "fp32"
    size_mb = written.stat().st_size / 1e6
    print(f"wrote {written} ({quant}, {size_mb:.1f} MB, opset {info['onnx']['opset']})")
    return 0
