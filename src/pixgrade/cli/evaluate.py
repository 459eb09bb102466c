"""``pixgrade evaluate MANIFEST --model M -o OUTDIR``: score a labelled manifest and report the agreement.

Writes ``predictions.csv`` (appended batch by batch, so ``--resume`` continues an interrupted run),
``metrics.json`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

from pixgrade.cli.options import BACKEND_CHOICES
from pixgrade.errors import PixgradeError

OUTPUT_FILES = ("predictions.csv", "metrics.json", "report.html")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a labelled manifest and report SRCC/PLCC/RMSE/grade accuracy",
        description=(
            "Score every image of MANIFEST (CSV: image,score[,degradation,level,group]) with a model and write "
            "predictions.csv, metrics.json and report.html to OUTDIR."
        ),
    )
    parser.add_argument("manifest", type=Path, metavar="MANIFEST")
    parser.add_argument("--model", default="default", help="'default' (shipped weights) or a checkpoint path")
    parser.add_argument(
        "--backend",
        default=None,
        choices=BACKEND_CHOICES,
        help=(
            "inference backend (default fp32: the model's exact weights, on fp32 ONNX Runtime, else PyTorch; "
            "evaluate measures the model itself, not its INT8 approximation, unless you pass int8 or auto. Without "
            "PyTorch, a checkpoint's fp32 ONNX export cannot be made: the default is then auto, i.e. its INT8 export)"
        ),
    )
    parser.add_argument("-o", "--output", type=Path, metavar="OUTDIR", help="default: <manifest name>-eval/")
    parser.add_argument("--batch-size", type=int, default=16, help="images per predictor call (default 16)")
    parser.add_argument("--resume", action="store_true", help="continue OUTDIR/predictions.csv of an earlier run")
    parser.add_argument("--force", action="store_true", help="replace earlier results in OUTDIR")
    return parser


def _torch_installed() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _previous_lines(path: Path) -> set[int]:
    """Manifest lines already in ``predictions.csv`` (a half-written last line is dropped first)."""
    if not path.exists():
        return set()
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
    with path.open(newline="", encoding="utf-8") as handle:
        return {int(row["line"]) for row in csv.DictReader(handle) if row.get("line", "").strip().isdigit()}


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from pixgrade.data import load_manifest
    from pixgrade.evaluate import PREDICTION_COLUMNS, evaluate_manifest, evaluate_predictions, write_report

    if args.batch_size < 1:
        raise PixgradeError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.resume and args.force:
        raise PixgradeError("--resume and --force exclude each other")
    out: Path = args.output or Path(f"{args.manifest.stem}-eval")
    existing = [out / name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not (args.resume or args.force):
        names = ", ".join(str(p) for p in existing)
        raise PixgradeError(f"{names}: already exist(s); pass --resume to continue or --force to replace")
    manifest = load_manifest(args.manifest, on_missing="keep")  # missing images are reported per row

    from pixgrade.model.loader import load_predictor

    backend = args.backend
    if backend is None:
        backend = "fp32"
        if not _torch_installed() and not str(args.model).lower().endswith(".onnx"):
            backend = "auto"
            print(
                "PyTorch is not installed: evaluating on ONNX Runtime with --backend auto (the model's INT8 export "
                "when it has one); install 'pixgrade[train]' to evaluate the exact fp32 weights",
                file=sys.stderr,
            )
    try:
        predictor = load_predictor(args.model, backend=backend)
    except FileNotFoundError as exc:
        raise PixgradeError(f"{args.model}: model not found ({exc})") from None
    except (ValueError, ImportError) as exc:
        raise PixgradeError(f"{args.model}: cannot load the model: {exc}") from None

    out.mkdir(parents=True, exist_ok=True)
    predictions = out / "predictions.csv"
    if args.force:
        predictions.unlink(missing_ok=True)
    done = _previous_lines(predictions)
    new_file = not predictions.exists()

    from tqdm import tqdm

    bar = tqdm(total=len(manifest) - len(done & set(manifest.frame.index)), unit="image", disable=None, file=sys.stderr)
    with predictions.open("a", newline="", encoding="utf-8") as handle:
        if new_file:
            handle.write(",".join(PREDICTION_COLUMNS) + "\n")
            handle.flush()

        def write_batch(table: pd.DataFrame) -> None:
            table.to_csv(handle, header=False, index=False, lineterminator="\n", float_format="%.6g")
            handle.flush()
            bar.update(len(table))

        try:
            evaluate_manifest(manifest, predictor, batch_size=args.batch_size, skip_lines=done, on_batch=write_batch)
        finally:
            bar.close()

    text_columns = {"image": str, "degradation": str, "group": str, "error": str}
    table = pd.read_csv(predictions, keep_default_na=False, dtype=text_columns)
    table = table[table["line"].isin(manifest.frame.index)]  # rows of this manifest only
    results = {
        "manifest": str(args.manifest),
        "model": str(args.model),
        "backend": getattr(predictor, "description", backend),
        **evaluate_predictions(table),
    }
    paths = write_report(results, table, out, title=f"pixgrade evaluation: {args.manifest.name}")
    failed = table[table["error"] != ""]
    for _, row in failed.iterrows():
        print(f"{manifest.resolve(str(row['image']))}: {row['error']}", file=sys.stderr)
    print(
        f"{results['n']} scored, {results['n_failed']} failed | SRCC {results['srcc']:.3f}  "
        f"PLCC {results['plcc']:.3f}  PLCC(logistic) {results['plcc_logistic']:.3f}  KRCC {results['krcc']:.3f}  "
        f"RMSE {results['rmse']:.3f}  MAE {results['mae']:.3f}  grade acc {results['grade_accuracy']:.3f} "
        f"(±1: {results['grade_accuracy_within_1']:.3f})"
    )
    for name, row in results.get("per_degradation", {}).items():
        print(f"  {name:16s} n={row['n']:<5d} SRCC(level) {row['srcc_level']:+.3f}  SRCC {row['srcc']:.3f}")
    print(f"report: {paths['report']}  metrics: {paths['metrics']}  predictions: {predictions}")
    return 1 if len(failed) else 0
