"""Build the shipped static INT8 export of the default model: ``src/pixgrade/model/weights/pixgrade_mnv2.int8.onnx``.

Run ``make int8-model`` (or ``python tools/build_int8_model.py``) after replacing the shipped weights
(``pixgrade_mnv2.safetensors``); ``backend="auto"`` uses the INT8 file only while the SHA-256 of the weights it
was made from (stored in its ONNX metadata, ``onnx.source_sha256``) equals that of the shipped weights, and
``tests/export/test_export_shipped_int8.py`` fails when they differ.

Idempotent: when the INT8 file already matches the weights and was calibrated on the same images, nothing is
done (``--force`` rebuilds anyway). ``--check`` only reports, exit status 1 when a rebuild is needed.

Calibration set (fixed, deterministic; 150 images from ``$PIXGRADE_DATA``, default ``<repo>/../shared/data``):

- 32 livec-train photographs (500×500 camera pictures): rows 0, 25, 50, …, 775 of ``livec-train/labels.csv``;
- 48 clean products-fashion studio shots (224×224 on white) spread over the kinds of product: the products whose
  ``product_id % 6 != 0`` (those divisible by 6 are the held-out photos of ``benchmarks/synthetic_levels.py``,
  never used here), taken round-robin over ``subCategory`` in ``product_id`` order, the first 48;
- 70 degraded copies of those studio shots, one for every registered degradation type × level 1–5
  (:func:`pixgrade.degrade.degrade`, seed 0), the k-th (type, level) applied to the (k mod 48)-th shot — so the
  activation ranges cover the defects the grade must see, not only clean pictures.

They are resized exactly as at inference time (longest side at most the model's 512 px). Each activation's range
is its min and max over all 150 images (``moving_average=False``): the mean of the per-image ranges, the
library's default, clipped the studio shots' activations (on the held-out photos of
``benchmarks/synthetic_levels.py`` it lowered INT8's pooled SRCC to 0.643 with this set, against 0.701 here).
Their names (a degraded copy as ``<file>#<type>@<level>``) are stored in the INT8 file's metadata
(``onnx.calibration.files``).
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
CALIBRATION_RECIPE = (
    "livec-train labels.csv rows 0::25 (32) + products-fashion product_id % 6 != 0, round-robin over subCategory "
    "(48 clean) + 70 degraded copies (every registered type x level 1-5, seed 0); ranges: global min/max"
)
LIVEC_COUNT = 32
STUDIO_COUNT = 48
HOLDOUT_MOD = 6  # benchmarks/synthetic_levels.py holds out the products whose id is divisible by this
DEGRADE_SEED = 0


def data_dir() -> Path:
    """``$PIXGRADE_DATA``, else ``<repo>/../shared/data``."""
    return Path(os.environ.get("PIXGRADE_DATA") or REPO.parent / "shared" / "data")


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SystemExit(f"{path}: not found; set PIXGRADE_DATA to the shared data folder")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def calibration_files(root: Path) -> list[str]:
    """The calibration images, as paths relative to ``root``; a degraded copy is ``<path>#<type>@<level>``
    (see the module docstring)."""
    from pixgrade.degrade import list_degradations

    livec = [row["image"] for row in _read_rows(root / "livec-train" / "labels.csv")][::25][:LIVEC_COUNT]
    if len(livec) < LIVEC_COUNT:
        raise SystemExit(f"livec-train: only {len(livec)} calibration images, expected {LIVEC_COUNT}")
    products = _read_rows(root / "products-fashion" / "products.csv")
    products = sorted(
        (r for r in products if int(r["product_id"]) % HOLDOUT_MOD != 0), key=lambda r: int(r["product_id"])
    )
    seen: dict[str, int] = {}
    ranked = []
    for row in products:  # round-robin over the kinds of product, as the benchmark does for its held-out photos
        rank = seen.get(row["subCategory"], 0)
        seen[row["subCategory"]] = rank + 1
        ranked.append((rank, int(row["product_id"]), row["image"]))
    studio = [f"products-fashion/{image}" for _, _, image in sorted(ranked)[:STUDIO_COUNT]]
    if len(studio) < STUDIO_COUNT:
        raise SystemExit(f"products-fashion: only {len(studio)} calibration images, expected {STUDIO_COUNT}")
    variants = [(name, level) for name in list_degradations() for level in range(1, 6)]
    degraded = [f"{studio[k % len(studio)]}#{name}@{level}" for k, (name, level) in enumerate(variants)]
    return [f"livec-train/{name}" for name in livec] + studio + degraded


def calibration_image(root: Path, entry: str) -> Path | Any:
    """One :func:`calibration_files` entry: its path, or the degraded RGB array of ``<path>#<type>@<level>``."""
    if "#" not in entry:
        return root / entry
    import numpy as np

    from pixgrade.degrade import degrade
    from pixgrade.io import load_image

    name, variant = entry.split("#", 1)
    kind, level = variant.rsplit("@", 1)
    rgb = np.asarray(load_image(root / name).rgb)
    return degrade(rgb, kind, int(level), seed=DEGRADE_SEED)


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
    calibration = info.get("calibration") or {}
    if calibration.get("files") != files or calibration.get("recipe") != CALIBRATION_RECIPE:
        return False, f"{int8} was calibrated on other images or with another recipe"
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
        calibration_images=[calibration_image(root, entry) for entry in files],
        overwrite=True,
        calibration_info={"recipe": CALIBRATION_RECIPE, "files": files},
        moving_average=False,
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
