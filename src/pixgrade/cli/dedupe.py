"""``pixgrade dedupe --catalog FILE IMAGE...``: which catalogue images is each new image a near-copy of?"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade dedupe``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dedupe",
        help="find the catalogue images that new images nearly duplicate",
        description=(
            "Look each IMAGE up in a catalogue written by `pixgrade filter`, without rescanning it: the catalogue's "
            "duplicate index (CATALOG.dupindex, created or brought up to date first) gives candidates, which are "
            "checked on their stored hash and embedding and, for crops and re-framings, by keypoints against the "
            "catalogue's files. Prints one line per match (or JSON with --json)."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to look up")
    parser.add_argument("--catalog", required=True, metavar="FILE", help="the catalogue (e.g. OUTDIR/catalog.sqlite)")
    parser.add_argument(
        "--model",
        default="default",
        help="model for content embeddings (default, a checkpoint, or none: hashes and keypoints only); must be "
        "the one the catalogue was filtered with for embeddings to be compared",
    )
    parser.add_argument("--hash-distance", type=int, default=32, metavar="BITS", help="pHash match (of 256 bits)")
    parser.add_argument("--similarity", type=float, default=0.97, metavar="COS", help="embedding match")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    return parser


def run(args: argparse.Namespace) -> int:
    """Look the images up; exit status 0 (1 when an image could not be read)."""
    import json
    from pathlib import Path

    from pixgrade.catalog import Catalog
    from pixgrade.catalog.duplicates import find_in_catalog, sync_index
    from pixgrade.catalog.filtering import model_base_key
    from pixgrade.dedupe import DuplicateSettings
    from pixgrade.errors import ConfigError, ImageLoadError
    from pixgrade.io import load_image

    if not Path(args.catalog).is_file():
        raise ConfigError(f"{args.catalog}: catalogue not found")
    if not 0.0 < args.similarity <= 1.0:
        raise ConfigError(f"--similarity must be in (0, 1], got {args.similarity}")
    predictor = None
    model_name = None
    if args.model.lower() != "none":
        from pixgrade.model.loader import DEFAULT_MODEL_PATH, load_predictor

        if args.model == "default" and not DEFAULT_MODEL_PATH.is_file():
            raise ConfigError("the default model weights are not installed; use --model none or --model PATH")
        if args.model != "default" and not Path(args.model).is_file():
            raise ConfigError(f"{args.model}: model checkpoint not found")
        predictor = load_predictor(args.model)
        model_name = model_base_key(args.model)
    settings = DuplicateSettings(args.hash_distance, args.similarity)
    failed = 0
    report: list[dict[str, Any]] = []
    with Catalog(args.catalog) as catalog:
        index = sync_index(catalog, model_name)
        for name in args.images:
            try:
                rgb = load_image(name, max_side=1024).rgb
            except ImageLoadError as exc:
                failed += 1
                report.append({"image": name, "error": str(exc), "matches": []})
                continue
            matches = find_in_catalog(catalog, index, rgb, predictor=predictor, settings=settings)
            report.append({"image": name, "error": None, "matches": [m.to_dict() for m in matches]})
    if args.json:
        print(json.dumps({"catalog": args.catalog, "results": report}, indent=1))
    else:
        for item in report:
            if item["error"]:
                print(f"{item['image']}: error: {item['error']}")
            elif not item["matches"]:
                print(f"{item['image']}: no near-duplicate in the catalogue")
            for match in item["matches"]:
                print(
                    f"{item['image']}: {match['kind']} of {match['path']} "
                    f"(similarity {match['similarity']:.3f}, by {match['evidence']})"
                )
    return 1 if failed else 0
