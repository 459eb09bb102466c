"""``pixgrade catalog``: inspect and export the SQLite catalogue written by ``pixgrade filter``."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade catalog`` and its sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "catalog",
        help="export or summarise a filter catalogue (SQLite)",
        description="Export or summarise the SQLite catalogue written by `pixgrade filter`.",
    )
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    export = sub.add_parser("export", help="write one row per image to a .csv or .parquet file")
    export.add_argument("catalog", metavar="CATALOG", help="the catalogue file (e.g. OUTDIR/catalog.sqlite)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="out.csv or out.parquet")
    export.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    info = sub.add_parser("info", help="print row counts and the latest runs")
    info.add_argument("catalog", metavar="CATALOG")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    from pathlib import Path

    from pixgrade.catalog import Catalog, export_catalog
    from pixgrade.errors import ConfigError

    if not Path(args.catalog).is_file():
        raise ConfigError(f"{args.catalog}: catalogue not found")
    if args.catalog_command == "export":
        n = export_catalog(args.catalog, args.output, overwrite=args.overwrite)
        print(f"wrote {n} rows to {args.output}")
        return 0
    with Catalog(args.catalog) as cat:
        print(f"{args.catalog}: schema version {cat.schema_version}")
        for table in ("images", "scores", "factors", "rule_results", "decisions", "runs"):
            print(f"  {table:<13} {cat.count(table):>7} rows")
        for row in cat.conn.execute(
            "SELECT id, started_at, policy, n_images, n_reused, status FROM runs ORDER BY id DESC LIMIT 5"
        ):
            print(f"  run {row[0]}: {row[1]} policy={row[2]} images={row[3]} reused={row[4]} {row[5]}")
    return 0
