"""Build the shipped static INT8 export of the default model: ``src/pixgrade/model/weights/pixgrade_mnv2.int8.onnx``.

Run ``make int8-model`` (or ``python tools/build_int8_model.py``) after replacing the shipped weights
(``pixgrade_mnv2.safetensors``); ``backend="auto"`` uses the INT8 file only while the SHA-256 of the weights it
was made from (stored in its ONNX metadata, ``onnx.source_sha256``) equals that of the shipped weights, and
``tests/export/test_export_shipped_int8.py`` fails when they differ.

Idempotent: when the INT8 file already matches the weights and was calibrated on the same images, nothing is
done (``--force`` rebuilds anyway). ``--check`` only reports, exit status 1 when a rebuild is needed.

Calibration set (fixed, deterministic; 64 images from ``$PIXGRADE_DATA``, default ``<repo>/../shared/data``):

- 32 livec-train photographs (500×500 camera pictures): rows 0, 25, 50, …, 775 of ``livec-train/labels.csv``;
- 32 products-fashion photographs (224×224 studio product shots on white): rows 0, 93, 186, …, 2883 of
  ``products-fashion/products.csv``.

They are resized exactly as at inference time (longest side at most the model's 512 px). The file names are
stored in the INT8 file's metadata (``onnx.calibration.files``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CALIBRATION_RECIPE = "livec-train labels.csv rows 0::25 (32) + products-fashion products.csv rows 0::93 (32)"
PER_SOURCE = 32


def data_dir() -> Path:
    """``$PIXGRADE_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("PIXGRADE_DATA") or REPO.parent / "shared" / "data")


def calibration_files(root: Path) -> list[str]:
    """The calibration images, as paths relative to ``root`` (see the module docstring)."""
    chosen: list[str] = []
    for folder, table, step in (("livec-train", "labels.csv", 25), ("products-fashion", "products.csv", 93)):
        path = root / folder / table
        if not path.is_file():
            raise SystemExit(f"{path}: not found; set PIXGRADE_DATA to the shared data folder")
        with path.open(newline="", encoding="utf-8") as handle:
            images = [row["image"] for row in csv.DictReader(handle)]
        picked = images[::step][:PER_SOURCE]
        if len(picked) < PER_SOURCE:
            raise SystemExit(f"{path}: only {len(picked)} calibration images, expected {PER_SOURCE}")
        chosen += [f"{folder}/{name}" for name in picked]
    return chosen


def up_to_date(int8: Path, weights_sha256: str, files: list[str]) -> tuple[bool, str]:
    """Whether ``int8`` is a static INT8 export of the weights with that SHA-256, calibrated on ``files``."""
    from pixgrade.model.onnx_predictor import OnnxModelError, read_onnx_metadata
    from pixgrade.model.predictor import int8_mismatch

    if not int8.is_file():
        return False, f"{int8} does not exist"
    try:
        info: dict[str, Any] = read_onnx_metadata(int8).get("onnx") or {}
    except OnnxModelError as exc:
        return False, str(exc)
    mismatch = int8_mismatch(info, weights_sha256)
    if mismatch is not None:
        return False, f"{int8}: {mismatch}"
    if (info.get("calibration") or {}).get("files") != files:
        return False, f"{int8} was calibrated on other images"
    return True, f"{int8} is up to date (weights SHA-256 {weights_sha256[:12]}…)"


def main(argv: list[str] | None = None) -> int:
    from pixgrade.io import sha256_file
    from pixgrade.model.predictor import DEFAULT_INT8_PATH, DEFAULT_MODEL_PATH

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=DEFAULT_MODEL_PATH, help="safetensors checkpoint")
    parser.add_argument("--output", type=Path, default=None, help="INT8 file (default: <weights stem>.int8.onnx)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when a rebuild is needed")
    args = parser.parse_args(argv)

    from pixgrade.model.predictor import int8_path_for

    weights: Path = args.weights
    output: Path = args.output or (DEFAULT_INT8_PATH if weights == DEFAULT_MODEL_PATH else int8_path_for(weights))
    if not weights.is_file():
        raise SystemExit(f"{weights}: weights not found")
    root = data_dir()
    files = calibration_files(root)
    digest = sha256_file(weights)
    fresh, why = up_to_date(output, digest, files)
    if args.check:
        print(why)
        return 0 if fresh else 1
    if fresh and not args.force:
        print(f"{why}; nothing to do (--force rebuilds)")
        return 0
    print(f"building {output}: {why}")

    from pixgrade.export import export_model

    start = time.perf_counter()
    export_model(
        weights,
        output,
        int8=True,
        calibration_images=[root / name for name in files],
        overwrite=True,
        calibration_info={"recipe": CALIBRATION_RECIPE, "files": files},
    )
    fresh, why = up_to_date(output, digest, files)
    if not fresh:  # cannot happen unless the exporter stops recording the source SHA-256
        print(f"error: {why}", file=sys.stderr)
        return 1
    size_mb = output.stat().st_size / 1e6
    print(f"wrote {output} ({size_mb:.1f} MB, {len(files)} calibration images, {time.perf_counter() - start:.0f} s)")
    print(f"  weights SHA-256 {digest}; INT8 SHA-256 {sha256_file(output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
