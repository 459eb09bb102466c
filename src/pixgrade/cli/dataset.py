"""``pixgrade dataset``: import label files into manifests, check them, split them.

pixgrade dataset import --format livec|koniq|grades SRC -o manifest.csv
pixgrade dataset check MANIFEST
pixgrade dataset split MANIFEST --val 0.1 --test 0.1 --seed 0 -o OUTDIR
pixgrade dataset folds MANIFEST -k 5 --seed 0 -o OUTDIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pixgrade.errors import PixgradeError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dataset",
        help="import label files into manifests, check and split them",
        description="Dataset manifests: CSV files listing images (relative to the manifest) and 0-5 scores.",
    )
    sub = parser.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    imp = sub.add_parser("import", help="convert a labels file (LIVE-C, KonIQ-10k, grades) into a manifest")
    imp.add_argument("source", type=Path, help="labels CSV")
    imp.add_argument(
        "--layout",
        "--format",
        dest="format",
        required=True,
        choices=("livec", "koniq", "grades"),
        help="layout of SRC (--format: deprecated alias; --format means an output format elsewhere)",
    )
    imp.add_argument("-o", "--output", required=True, type=Path, help="manifest CSV to write")
    imp.add_argument("--image-dir", type=Path, help="koniq only: folder of the images (default: found near SRC)")
    imp.add_argument(
        "--missing",
        choices=("error", "drop", "keep"),
        default="error",
        help="rows whose image is missing: stop with a list (default), leave them out, or keep them",
    )
    imp.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")

    check = sub.add_parser("check", help="validate a manifest and print a summary")
    check.add_argument("manifest", type=Path)

    split = sub.add_parser("split", help="write train/val/test manifests, each group on one side")
    split.add_argument("manifest", type=Path)
    split.add_argument("--val", type=float, default=0.1, help="fraction of rows for validation (default 0.1)")
    split.add_argument("--test", type=float, default=0.1, help="fraction of rows for testing (default 0.1)")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("-o", "--output", required=True, type=Path, help="folder for train.csv, val.csv, test.csv")
    split.add_argument("--force", action="store_true", help="overwrite existing split files")

    folds = sub.add_parser("folds", help="write k cross-validation folds (fold<i>_train.csv, fold<i>_val.csv)")
    folds.add_argument("manifest", type=Path)
    folds.add_argument("-k", type=int, default=5, help="number of folds (default 5)")
    folds.add_argument("--seed", type=int, default=0)
    folds.add_argument("-o", "--output", required=True, type=Path)
    folds.add_argument("--force", action="store_true", help="overwrite existing fold files")
    return parser


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        names = ", ".join(str(p) for p in existing)
        raise PixgradeError(f"{names}: already exist(s); not overwriting (pass --force to replace)")


def _print_summary(label: str, summary: dict[str, object]) -> None:
    print(f"{label}: {json.dumps(summary)}")


def run(args: argparse.Namespace) -> int:
    from pixgrade.data import import_labels, k_fold_splits, load_manifest, split_manifest

    if args.dataset_command == "import":
        _refuse_existing([args.output], args.force)
        kwargs: dict[str, object] = {"on_missing": args.missing}
        if args.image_dir is not None:
            if args.format != "koniq":
                raise PixgradeError("--image-dir applies to --format koniq only")
            kwargs["image_dir"] = args.image_dir
        manifest = import_labels(args.format, args.source, **kwargs)
        manifest.save(args.output, overwrite=args.force)
        _print_summary(str(args.output), manifest.summary())
        missing = manifest.missing_files() if args.missing == "keep" else []
        if missing:
            print(f"warning: {len(missing)} image file(s) listed but not found, e.g. {missing[0][2]}")
        return 0

    if args.dataset_command == "check":
        manifest = load_manifest(args.manifest, on_missing="error")
        _print_summary(str(args.manifest), manifest.summary())
        return 0

    manifest = load_manifest(args.manifest, on_missing="error")
    if args.dataset_command == "split":
        try:
            parts = split_manifest(manifest, val=args.val, test=args.test, seed=args.seed)
        except ValueError as exc:
            raise PixgradeError(str(exc)) from None
        targets = {name: args.output / f"{name}.csv" for name in parts}
        _refuse_existing(list(targets.values()), args.force)
        for name, part in parts.items():
            part.save(targets[name], overwrite=args.force)
            _print_summary(str(targets[name]), part.summary())
            if len(part) == 0 and name != "train" and getattr(args, name) > 0:
                print(f"warning: {name} is empty: too few groups for a {getattr(args, name):g} share")
        return 0

    # folds
    try:
        pairs = k_fold_splits(manifest, k=args.k, seed=args.seed)
    except ValueError as exc:
        raise PixgradeError(str(exc)) from None
    paths = [args.output / f"fold{i}_{side}.csv" for i in range(len(pairs)) for side in ("train", "val")]
    _refuse_existing(paths, args.force)
    for i, (train, val) in enumerate(pairs):
        train.save(args.output / f"fold{i}_train.csv", overwrite=args.force)
        val.save(args.output / f"fold{i}_val.csv", overwrite=args.force)
        print(f"fold {i}: train {len(train)} rows, val {len(val)} rows")
    return 0
