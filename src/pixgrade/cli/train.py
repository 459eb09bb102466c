"""``pixgrade train``: fine-tune a quality model from a YAML/TOML config; every option is also a flag."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from pixgrade.train.config import TrainConfig


def _flag_type(default: Any) -> dict[str, Any]:
    if isinstance(default, bool):
        return {"action": argparse.BooleanOptionalAction}
    if isinstance(default, list):
        return {"nargs": "+"}
    return {"type": type(default)}


_HELP = {
    "init": "start from a trained checkpoint: 'default' (the shipped model) or a .safetensors path "
    "(default: ImageNet backbone of --model)",
    "manifests": "manifest CSVs, LIVE-C folders, or folders written by `pixgrade dataset split` (train.csv "
    "trains, val.csv validates)",
    "val_manifests": "validation manifests (e.g. the val.csv of `pixgrade dataset split`) instead of a random "
    "--val-fraction",
    "synthetic_dir": "clean product photos (products.csv) degraded on the fly; '' = none. Without --config, "
    "giving --manifests alone means none",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a quality model",
        description="Fine-tune a QualityNet (ImageNet-initialised, or a trained checkpoint with --init) on human "
        "scores and synthetic degradations. Options come from --config (YAML or TOML), then flags override them. "
        "See docs/training.md.",
    )
    parser.add_argument("--config", help="YAML or TOML file with TrainConfig options")
    defaults = TrainConfig()
    for f in fields(TrainConfig):
        default = getattr(defaults, f.name)
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=None,
            help=f"{_HELP[f.name]} " if f.name in _HELP else f"(default: {default})",
            **_flag_type(default),
        )
    return parser


def run(args: argparse.Namespace) -> int:
    from pixgrade.train.config import load_config
    from pixgrade.train.trainer import train

    config = load_config(args.config) if args.config else TrainConfig()
    overrides = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name) is not None}
    if not args.config and "manifests" in overrides and "synthetic_dir" not in overrides:
        # the built-in default points into the project's ../shared/data: one's own data comes without it
        overrides["synthetic_dir"] = ""
    config = TrainConfig.from_dict({**config.to_dict(), **overrides})
    result = train(config)
    print(f"best epoch {result.best_epoch + 1}: validation SRCC {result.best_val_srcc:.4f} -> {result.best_path}")
    return 0
