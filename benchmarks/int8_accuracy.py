"""Does INT8 cost accuracy? Spearman correlation (SRCC) with human opinion on livec-train: torch vs ONNX vs INT8.

Two ways to choose the models and the images they are evaluated on:

- ``--cv runs/cv`` (the proper test): the fold checkpoints ``runs/cv/fold{k}/best.safetensors`` written by
  ``benchmarks/livec_cv.py``. Fold ``k`` is evaluated on the livec-train images it never trained on, with the
  same fold assignment as livec_cv.py: ``np.random.default_rng(seed).permutation(813) % folds`` over the rows of
  ``read_human_items(livec-train)``. Its INT8 model is calibrated on ``--calibration-images`` (default 32) images
  drawn at random from the *training* folds only.
- ``--model CKPT [--holdout NAMES.txt]`` (repeatable): any checkpoint, evaluated on the images listed in the
  holdout file (all 813 without one); calibrated on 16 products-fashion + 16 livec-train images outside the
  evaluated set.

Each model is scored with torch (the reference), ONNX Runtime fp32 and ONNX Runtime INT8 (static, QDQ,
per-channel weights, min/max calibration), and optionally dynamic INT8. Images are decoded as
the pipeline decodes them (longest side capped at the model's input size). Printed per fold: SRCC and PLCC
against MOS, the SRCC lost against fp32 ONNX, the largest and mean score difference to torch, and the CPU
milliseconds per image (all threads of this process). INT8 may become the default only if it loses at most 0.01
SRCC on average over the folds.

Run::

    python benchmarks/int8_accuracy.py --cv runs/cv
    python benchmarks/int8_accuracy.py --model default          # all 813 images: trained on them, diffs only
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from perfutil import benchmark_checkpoint, data_dir, machine


@dataclass
class Fold:
    """One model and what it is evaluated and calibrated on."""

    label: str
    checkpoint: Path
    names: list[str]
    """livec-train file names evaluated (held out from this model's training when from ``--cv``)."""
    calibration: list[Path]


def livec_labels() -> dict[str, float]:
    with (data_dir() / "livec-train" / "labels.csv").open(newline="") as handle:
        return {Path(row["image"]).name: float(row["mos"]) for row in csv.DictReader(handle)}


def cv_folds(cv_dir: Path, n_folds: int, seed: int, n_calibration: int) -> list[Fold]:
    """The folds of ``benchmarks/livec_cv.py`` (same rows, same permutation) whose checkpoint exists."""
    from pixgrade.train.data import read_human_items

    human = read_human_items(data_dir() / "livec-train")
    fold_of = np.random.default_rng(seed).permutation(len(human)) % n_folds
    folds = []
    for k in range(n_folds):
        checkpoint = cv_dir / f"fold{k}" / "best.safetensors"
        if not checkpoint.is_file():
            print(f"fold {k}: {checkpoint} missing, skipped")
            continue
        held = [Path(human[i].path).name for i in range(len(human)) if fold_of[i] == k]
        training = [Path(human[i].path) for i in range(len(human)) if fold_of[i] != k]
        picks = np.random.default_rng(1000 + k).choice(len(training), size=n_calibration, replace=False)
        folds.append(Fold(f"fold {k}", checkpoint, held, [training[i] for i in sorted(picks)]))
    return folds


def model_folds(models: list[str], holdouts: list[Path] | None, mos: dict[str, float], n: int | None) -> list[Fold]:
    from pixgrade.model.predictor import DEFAULT_MODEL_PATH

    root = data_dir()
    fashion = sorted((root / "products-fashion" / "images").glob("*.jpg"))
    folds = []
    for i, model in enumerate(models):
        checkpoint = DEFAULT_MODEL_PATH if model == "default" else Path(model)
        names = sorted(mos) if not holdouts else [ln.strip() for ln in holdouts[i].read_text().split()]
        names = [Path(name).name for name in names if Path(name).name in mos][:n]
        evaluated = set(names)
        outside = [p for p in sorted((root / "livec-train" / "images").iterdir()) if p.name not in evaluated]
        calibration = [*fashion[:16], *outside[:16]] if outside else fashion[:32]
        folds.append(Fold(f"model {i}", checkpoint, names, calibration))
    return folds


def score_all(predictor: object, images: list[np.ndarray]) -> np.ndarray:
    return np.array([predictor.predict([image])[0].score for image in images])  # type: ignore[attr-defined]


def evaluate_fold(
    fold: Fold, mos: dict[str, float], workdir: Path, dynamic: bool, with_torch: bool
) -> dict[str, dict[str, float]]:
    from pixgrade.export import export_model
    from pixgrade.io import load_image
    from pixgrade.model.onnx_predictor import OnnxPredictor
    from pixgrade.model.predictor import load_predictor

    root = data_dir()
    tag = f"{fold.label.replace(' ', '')}-{fold.checkpoint.stem}"
    fp32 = OnnxPredictor(export_model(fold.checkpoint, workdir / f"{tag}-fp32.onnx", overwrite=True))
    side = fp32.input_max_side
    images = [load_image(root / "livec-train" / "images" / name, max_side=side).rgb for name in fold.names]
    target = np.array([mos[name] for name in fold.names])

    backends: dict[str, object] = {}
    if with_torch:
        backends["torch"] = load_predictor(fold.checkpoint, backend="torch")
    backends["onnx-fp32"] = fp32
    start = time.process_time()
    path = export_model(
        fold.checkpoint, workdir / f"{tag}-int8.onnx", int8=True, calibration_images=fold.calibration, overwrite=True
    )
    print(
        f"  {fold.label}: INT8 calibrated on {len(fold.calibration)} images in {time.process_time() - start:.0f} CPU-s",
        flush=True,
    )
    backends["onnx-int8"] = OnnxPredictor(path)
    if dynamic:
        dyn = export_model(fold.checkpoint, workdir / f"{tag}-int8d.onnx", int8=True, quant_method="dynamic")
        backends["onnx-int8-dynamic"] = OnnxPredictor(dyn)
    results: dict[str, dict[str, float]] = {}
    reference = None
    for name, predictor in backends.items():
        score_all(predictor, images[:2])  # warm-up
        start = time.process_time()
        scores = score_all(predictor, images)
        cpu = time.process_time() - start
        if reference is None:
            reference = scores
        results[name] = {
            "srcc": float(stats.spearmanr(scores, target).statistic),
            "plcc": float(stats.pearsonr(scores, target).statistic),
            "max_diff": float(np.max(np.abs(scores - reference))),
            "mean_diff": float(np.mean(np.abs(scores - reference))),
            "cpu_ms": 1000 * cpu / len(images),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", type=Path, help="folder with fold{k}/best.safetensors from benchmarks/livec_cv.py")
    parser.add_argument("--folds", type=int, default=5, help="number of folds of the --cv run (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --cv fold assignment (default 0)")
    parser.add_argument("--calibration-images", type=int, default=32, help="--cv: calibration images per fold")
    parser.add_argument("--model", action="append", help="checkpoint ('default' for the shipped one); repeatable")
    parser.add_argument("--holdout", action="append", type=Path, help="image names evaluated for that --model")
    parser.add_argument("--n", type=int, help="--model: evaluate only the first N images (sorted) of each set")
    parser.add_argument("--dynamic", action="store_true", help="also evaluate dynamic INT8")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch backend (differences vs fp32 ONNX)")
    args = parser.parse_args()
    mos = livec_labels()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="pixgrade-int8acc-") as tmp:
        workdir = Path(tmp)
        if args.cv:
            if args.model:
                parser.error("give --cv or --model, not both")
            folds = cv_folds(args.cv, args.folds, args.seed, args.calibration_images)
            print(
                f"cross-validation: {args.cv}, {args.folds} folds (seed {args.seed}); INT8 calibrated on "
                f"{args.calibration_images} random images of each fold's training folds"
            )
        else:
            if not args.model:
                checkpoint, description = benchmark_checkpoint(workdir)
                print(f"no --model: using the {description}; SRCC values are then meaningless")
                args.model = [str(checkpoint)]
            if args.holdout and len(args.holdout) != len(args.model):
                parser.error("give one --holdout per --model, or none")
            folds = model_folds(args.model, args.holdout, mos, args.n)
        if not folds:
            parser.error("no model to evaluate")
        results = []
        for fold in folds:
            result = evaluate_fold(fold, mos, workdir, args.dynamic, not args.no_torch)
            results.append(result)
            print(f"\n{fold.label}: {fold.checkpoint} on {len(fold.names)} livec-train images\n")
            print("| backend | SRCC | PLCC | SRCC lost vs fp32 | max \\|Δscore\\| | mean \\|Δscore\\| | CPU ms/image |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, r in result.items():
                lost = result["onnx-fp32"]["srcc"] - r["srcc"]
                print(
                    f"| {name} | {r['srcc']:.4f} | {r['plcc']:.4f} | {lost:+.4f} | {r['max_diff']:.3f} | "
                    f"{r['mean_diff']:.3f} | {r['cpu_ms']:.0f} |",
                    flush=True,
                )
        print(f"\nsummary over {len(results)} fold(s): SRCC per fold, and fp32 ONNX SRCC minus this backend's\n")
        labels = [fold.label for fold in folds]
        print("| backend | " + " | ".join(labels) + " | mean SRCC | mean loss vs fp32 | worst fold loss |")
        print("|---|" + "---:|" * (len(labels) + 3))
        for name in results[0]:
            srcc = [r[name]["srcc"] for r in results]
            losses = [r["onnx-fp32"]["srcc"] - r[name]["srcc"] for r in results]
            print(
                f"| {name} | "
                + " | ".join(f"{v:.4f}" for v in srcc)
                + f" | {np.mean(srcc):.4f} | {np.mean(losses):+.4f} | {max(losses):+.4f} |"
            )
        losses = [r["onnx-fp32"]["srcc"] - r["onnx-int8"]["srcc"] for r in results]
        verdict = "meets" if np.mean(losses) <= 0.01 else "does NOT meet"
        print(
            f"\nstatic INT8 {verdict} the criterion (at most 0.01 SRCC lost on average): "
            f"mean loss {np.mean(losses):+.4f}, worst fold {max(losses):+.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
