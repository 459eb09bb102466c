"""Does INT8 cost accuracy? Spearman correlation (SRCC) with human opinion on livec-train: torch vs ONNX vs INT8.

For each ``--model`` checkpoint (with an optional ``--holdout`` file listing the livec-train images that model did
not train on, one name per line, for cross-validation folds), scores the evaluated images with:

- torch (the reference),
- ONNX Runtime fp32 (the ``auto`` backend),
- ONNX Runtime INT8, static (QDQ, per-channel), calibrated on 16 products-fashion images + 16 livec-train images
  *outside* the evaluated set (or 32 products-fashion images when every livec image is evaluated),
- optionally (``--dynamic``) ONNX Runtime INT8 dynamic (no calibration),

and prints SRCC and PLCC against MOS, the SRCC lost by each backend, and the largest score difference to torch.
INT8 may become the default only if it loses at most 0.01 SRCC on every fold. With several folds, the mean is
printed too. Images are decoded as the pipeline decodes them (longest side capped at the model's input size).

Run (the lead, with the trained model; one line per fold)::

    python benchmarks/int8_accuracy.py --model fold0.safetensors --holdout fold0.txt \
        --model fold1.safetensors --holdout fold1.txt ...
    python benchmarks/int8_accuracy.py --model default          # all 813 images, no holdout

Without trained weights the SRCC values are meaningless (random heads), but the score differences are not.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from perfutil import benchmark_checkpoint, data_dir, machine


def livec_labels() -> dict[str, float]:
    with (data_dir() / "livec-train" / "labels.csv").open(newline="") as handle:
        return {Path(row["image"]).name: float(row["mos"]) for row in csv.DictReader(handle)}


def score_all(predictor: object, images: list[np.ndarray]) -> np.ndarray:
    return np.array([predictor.predict([image])[0].score for image in images])  # type: ignore[attr-defined]


def evaluate_fold(checkpoint: Path, names: list[str], mos: dict[str, float], workdir: Path, dynamic: bool) -> dict:
    from pixgrade.export import export_model
    from pixgrade.io import load_image
    from pixgrade.model.predictor import load_predictor

    root = data_dir()
    torch_predictor = load_predictor(checkpoint, backend="torch")
    side = torch_predictor.input_max_side
    images = [load_image(root / "livec-train" / "images" / name, max_side=side).rgb for name in names]
    target = np.array([mos[name] for name in names])
    evaluated = set(names)
    outside = [p for p in sorted((root / "livec-train" / "images").iterdir()) if p.name not in evaluated]
    fashion = sorted((root / "products-fashion" / "images").glob("*.jpg"))
    calibration = [*fashion[:16], *outside[:16]] if outside else fashion[:32]

    backends: dict[str, object] = {"torch": torch_predictor, "onnx-fp32": load_predictor(checkpoint, backend="onnx")}
    tag = f"{checkpoint.stem}-{abs(hash(tuple(names))) % 10**8}"
    static = export_model(checkpoint, workdir / f"{tag}-int8.onnx", int8=True, calibration_images=calibration)
    backends["onnx-int8-static"] = load_predictor(static)
    if dynamic:
        dyn = export_model(checkpoint, workdir / f"{tag}-int8d.onnx", int8=True, quant_method="dynamic")
        backends["onnx-int8-dynamic"] = load_predictor(dyn)
    results: dict[str, dict[str, float]] = {}
    reference = None
    for name, predictor in backends.items():
        start = time.perf_counter()
        scores = score_all(predictor, images)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = scores
        results[name] = {
            "srcc": float(stats.spearmanr(scores, target).statistic),
            "plcc": float(stats.pearsonr(scores, target).statistic),
            "max_diff": float(np.max(np.abs(scores - reference))),
            "mean_diff": float(np.mean(np.abs(scores - reference))),
            "ms_per_image": 1000 * seconds / len(images),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="checkpoint ('default' for the shipped one); repeatable")
    parser.add_argument("--holdout", action="append", type=Path, help="image names evaluated for that --model")
    parser.add_argument("--n", type=int, help="evaluate only the first N images (sorted) of each set")
    parser.add_argument("--dynamic", action="store_true", help="also evaluate dynamic INT8")
    args = parser.parse_args()
    mos = livec_labels()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-int8acc-") as tmp:
        workdir = Path(tmp)
        if not args.model:
            checkpoint, description = benchmark_checkpoint(workdir)
            print(f"no --model: using the {description}; SRCC values are then meaningless")
            args.model = [str(checkpoint)]
        if args.holdout and len(args.holdout) != len(args.model):
            parser.error("give one --holdout per --model, or none")
        folds = []
        for i, model in enumerate(args.model):
            from pixgrade.model.predictor import DEFAULT_MODEL_PATH

            checkpoint = DEFAULT_MODEL_PATH if model == "default" else Path(model)
            names = sorted(mos) if not args.holdout else [ln.strip() for ln in args.holdout[i].read_text().split()]
            names = [Path(n).name for n in names if Path(n).name in mos][: args.n]
            result = evaluate_fold(checkpoint, names, mos, workdir, args.dynamic)
            folds.append(result)
            print(f"\nfold {i}: {checkpoint} on {len(names)} livec-train images\n")
            print("| backend | SRCC | PLCC | SRCC lost vs torch | max |Δscore| | mean |Δscore| | ms/image |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, r in result.items():
                lost = folds[-1]["torch"]["srcc"] - r["srcc"]
                print(
                    f"| {name} | {r['srcc']:.4f} | {r['plcc']:.4f} | {lost:+.4f} | {r['max_diff']:.3f} | "
                    f"{r['mean_diff']:.3f} | {r['ms_per_image']:.0f} |"
                )
        if len(folds) > 1:
            print("\nmean over folds\n")
            print("| backend | mean SRCC | mean SRCC lost vs torch | worst fold loss |")
            print("|---|---:|---:|---:|")
            for name in folds[0]:
                losses = [f["torch"]["srcc"] - f[name]["srcc"] for f in folds]
                srcc = np.mean([f[name]["srcc"] for f in folds])
                print(f"| {name} | {srcc:.4f} | {np.mean(losses):+.4f} | {max(losses):+.4f} |")
        worst = max(f["torch"]["srcc"] - f["onnx-int8-static"]["srcc"] for f in folds)
        verdict = "meets" if worst <= 0.01 else "does NOT meet"
        print(f"\nstatic INT8 {verdict} the criterion (at most 0.01 SRCC lost on every fold): worst loss {worst:+.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
