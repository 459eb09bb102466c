"""``pixgrade filter``: apply a marketplace policy, group by product, find duplicates, pick main images."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pixgrade.cli.options import add_memory_options, add_model_options, memory_limits, non_negative_int

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Judge every image under PATH against a marketplace policy and decide, per product, what to keep:
main (the chosen image), accept, reject (with the failing rules) or duplicate (of a better near-copy).
Writes OUTDIR/decisions.csv, decisions.json, report.html and the catalogue, and copies (or links, or moves)
the images into OUTDIR/accepted, rejected and duplicates. Nothing is ever overwritten: a name already taken
gets a suffix, and a move never replaces a file. Unreadable files are rejected with the reason; the run goes on.
Re-running reuses the stored scores of unchanged files.

Exit status: 0 done, 1 some files could not be read, 2 usage error.
"""

EPILOG = """\
examples:
  pixgrade filter photos/ --policy amazon-main --group-by folder -o out/
  pixgrade filter photos/ --policy my-rules.yaml --group-by "pattern:^(?P<product>[A-Z0-9]+)_" -o out/ --symlink
  pixgrade filter photos/ --policy ebay --group-by csv:skus.csv -o out/ --dry-run
  pixgrade filter --show-policy amazon-main > my-rules.yaml      # copy a preset to edit
  pixgrade filter /mnt/shared/photos --engine ray --address auto -o /mnt/shared/out/   # score on a Ray cluster
"""

GENERATOR = "pixgrade filter"
_FOLDERS = {"main": "accepted", "accept": "accepted", "reject": "rejected", "duplicate": "duplicates"}
_CSV_COLUMNS = [
    "path",
    "product",
    "decision",
    "main",
    "rank",
    "score",
    "grade",
    "duplicate_of",
    "reasons",
    "warnings",
    "destination",
    "width",
    "height",
    "format",
    "sha256",
    "error",
    "presentation",
    "main_score",
    "presentation_reasons",
    "cluster",
    "notes",
]
#: The first columns, which every version's decisions.csv starts with (recognises our own older files).
_CSV_SIGNATURE = ",".join(_CSV_COLUMNS[:8])


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade filter`` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "filter",
        help="apply a marketplace policy: accept/reject, duplicates, main image per product, HTML report",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="image files and/or folders (searched recursively)")
    parser.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (created if missing)")
    parser.add_argument(
        "--policy",
        default="generic",
        metavar="NAME|FILE",
        help="a preset (amazon-main, ebay, walmart, generic) or a .yaml/.toml policy file (default generic)",
    )
    parser.add_argument("--show-policy", metavar="NAME", help="print a preset's YAML (to copy and edit) and exit")
    parser.add_argument("--list-policies", action="store_true", help="list the built-in presets and exit")
    parser.add_argument(
        "--group-by",
        default="folder",
        metavar="folder|none|csv:FILE|pattern:REGEX",
        help="how images map to products: parent folder (default), none (each image alone), a CSV with image and "
        "product columns, or a regex on the file name whose group 'product' (or first group) is the product",
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--copy",
        dest="placement",
        action="store_const",
        const="copy",
        help="copy images into OUTDIR/accepted, rejected, duplicates (default)",
    )
    action.add_argument(
        "--symlink", dest="placement", action="store_const", const="symlink", help="symbolic links instead of copies"
    )
    action.add_argument(
        "--move",
        dest="placement",
        action="store_const",
        const="move",
        help="move the originals (never replacing a file); only when you ask for it",
    )
    parser.add_argument(
        "--strip-metadata",
        action="store_true",
        help="copies without EXIF (GPS position, camera, dates), XMP, IPTC or comments: re-encoded with orientation "
        "applied, JPEG with its own quantisation tables, PNG/WebP losslessly, other formats as PNG; ICC profile "
        "kept; originals untouched (with --copy only)",
    )
    action.add_argument(
        "--no-files",
        dest="placement",
        action="store_const",
        const="none",
        help="write only the decisions, report and catalogue",
    )
    parser.set_defaults(placement="copy")
    parser.add_argument(
        "--renditions",
        metavar="SIZES[:FORMATS]",
        help="also write delivery renditions of the accepted images (main and accept) into OUTDIR/renditions/"
        "<product>/, e.g. 1600,800,400:webp,jpeg (formats default webp,jpeg; avif where Pillow has it), each at the "
        "smallest quality keeping --rendition-min-ssim, metadata stripped, listed in OUTDIR/renditions/"
        "renditions.csv; reruns resume, nothing is overwritten (as pixgrade renditions)",
    )
    from pixgrade.cli.renditions import add_target_options

    add_target_options(parser, prefix="rendition-")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and print what would happen; write nothing (the catalogue is kept in memory)",
    )
    add_model_options(parser, "worker processes (0 = in this process; default: one per CPU); Ray actors with Ray")
    from pixgrade.cli.engine import add_engine_options

    add_engine_options(parser, ". Ray scores the images; the decisions, report and catalogue are made here")
    parser.add_argument("--catalog", metavar="FILE", help="SQLite catalogue (default OUTDIR/catalog.sqlite)")
    parser.add_argument(
        "--duplicates",
        choices=("product", "all", "off"),
        default="product",
        help="look for near-duplicates within each product (default), across all images, or not",
    )
    parser.add_argument(
        "--hash-distance",
        type=non_negative_int,
        default=32,
        metavar="BITS",
        help="pHash bits (of 256) within which two images are duplicates (default 32)",
    )
    parser.add_argument(
        "--similarity",
        type=float,
        default=0.97,
        metavar="COS",
        help="embedding cosine similarity at or above which two images are duplicates (default 0.97)",
    )
    parser.add_argument(
        "--top-k",
        type=non_negative_int,
        default=3,
        metavar="K",
        help="ranked images listed per product in decisions.json (default 3; 0 = all)",
    )
    parser.add_argument(
        "--text-detector",
        choices=("auto", "db", "classical"),
        default="auto",
        help="overlaid-text detector (auto: the DB network when installed, else classical)",
    )
    add_memory_options(parser)
    parser.add_argument("--no-report", action="store_true", help="skip report.html")
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run is writing the same output folder or catalogue, wait this long for it "
        "(default 0: exit 2 at once)",
    )
    return parser


def _is_ours(path: Path) -> bool:
    """True when ``path`` was written by an earlier ``pixgrade filter`` (so replacing it loses nothing of the
    user's)."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    if path.suffix == ".csv":
        return head.startswith(_CSV_SIGNATURE)
    if path.suffix == ".json":
        return f'"generator": "{GENERATOR}"' in head
    return f'<meta name="generator" content="{GENERATOR}">' in head


def _output_file(outdir: Path, name: str) -> Path:
    """``outdir/name`` unless a file of the user's is there; then a free suffixed name."""
    from pixgrade.catalog import unique_destination

    path = outdir / name
    if not path.exists() or _is_ours(path):
        return path
    return unique_destination(outdir, name)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.pixgrade-part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _product_folder(product: str) -> Path:
    parts = [p for p in Path(product).parts if p not in ("", ".", "..", "/")]
    return Path(*parts) if parts else Path()


def run(args: argparse.Namespace) -> int:
    """Run the filter."""
    from contextlib import ExitStack

    from pixgrade.catalog import FilterSettings
    from pixgrade.dedupe import DuplicateSettings
    from pixgrade.errors import ConfigError
    from pixgrade.io.locks import OutputLock
    from pixgrade.policy import list_presets, load_policy, preset_text

    if args.list_policies:
        for name in list_presets():
            print(
                f"{name:<12} {load_policy(name).description.splitlines()[0] if load_policy(name).description else ''}"
            )
        return 0
    if args.show_policy:
        sys.stdout.write(preset_text(args.show_policy))
        return 0
    if not args.paths:
        raise ConfigError("give at least one PATH (an image file or folder)")
    for p in args.paths:
        if not Path(p).exists():
            raise ConfigError(f"{p}: no such file or folder")
    if not args.output and not args.dry_run:
        raise ConfigError("give an output folder with -o OUTDIR (or use --dry-run)")
    if not 0.0 < args.similarity <= 1.0:
        raise ConfigError(f"--similarity must be in (0, 1], got {args.similarity}")
    if getattr(args, "strip_metadata", False) and args.placement != "copy":
        raise ConfigError(
            "--strip-metadata applies to copies (--copy, the default), not to --symlink, --move or --no-files"
        )
    if getattr(args, "renditions", None):
        from pixgrade.fullref.renditions import parse_spec

        parse_spec(args.renditions)  # a bad spec is a usage error before any scoring
        target_from_args_checked(args)
    policy = load_policy(args.policy)
    outdir = Path(args.output) if args.output else None
    if outdir is not None and outdir.exists() and not outdir.is_dir():
        raise ConfigError(f"{outdir}: exists and is not a folder")

    from pixgrade.model.reference import resolve_model

    ref = resolve_model(args.model, args.backend)  # ConfigError naming what to pass instead
    model = None if ref.is_none else ref.name

    settings = FilterSettings(
        policy=policy,
        group_by=args.group_by,
        model=model,
        backend=args.backend,
        workers=args.workers,
        duplicates=None if args.duplicates == "off" else DuplicateSettings(args.hash_distance, args.similarity),
        duplicate_scope="all" if args.duplicates == "all" else "product",
        text_detector=args.text_detector,
    )
    settings.max_image_bytes, settings.max_file_bytes = memory_limits(args)
    from pixgrade.cli.engine import engine_from_args

    settings.engine = engine_from_args(args).file_engine()  # None: run_filter's own worker processes
    catalog_path = ":memory:" if args.dry_run else (args.catalog or str(outdir / "catalog.sqlite"))  # type: ignore[operator]
    with ExitStack() as locks:  # one run at a time per output folder and catalogue: a second waits or exits 2
        if not args.dry_run:
            assert outdir is not None
            outdir.mkdir(parents=True, exist_ok=True)
            locks.enter_context(OutputLock(outdir, what="output folder", wait=args.lock_wait))
            locks.enter_context(OutputLock(catalog_path, what="catalogue", wait=args.lock_wait))
            for part in _leftover_part_files(outdir):  # an interrupted run's half-written files (ours by name)
                part.unlink(missing_ok=True)
        return _filter(args, policy, settings, outdir, catalog_path)


def _leftover_part_files(outdir: Path) -> list[Path]:
    """``.NAME.pixgrade-part`` files under ``outdir``: what an interrupted run was writing (safe to delete while
    the folder's lock is held, since no other run can be writing them)."""
    return [p for p in outdir.rglob(".*.pixgrade-part") if p.is_file() and not p.is_symlink()]


def _filter(args: argparse.Namespace, policy: Any, settings: Any, outdir: Path | None, catalog_path: str) -> int:
    """The work of :func:`run` once its outputs are locked."""
    from pixgrade.catalog import Catalog, place_file, run_filter
    from pixgrade.catalog.journal import MoveJournal
    from pixgrade.io.files import path_text

    journal = MoveJournal(outdir) if outdir is not None else None
    relocated = journal.locations(args.paths) if journal is not None else {}
    if relocated:
        print(
            f"{len(relocated)} original(s) moved by an earlier --move into {outdir} are judged again "
            f"(from {journal.path if journal else ''})",
            file=sys.stderr,
        )
    stored = args.catalog or (str(outdir / "catalog.sqlite") if outdir is not None else None)
    if args.dry_run and stored and Path(stored).is_file():
        # A dry run may read the stored scores but must not write: work on an in-memory copy.
        import sqlite3

        source = sqlite3.connect(f"file:{stored}?mode=ro", uri=True)
        catalog = Catalog(":memory:")
        catalog.conn.close()
        catalog.conn = sqlite3.connect(":memory:")
        source.backup(catalog.conn)
        source.close()
    else:
        catalog = Catalog(catalog_path)
        stale = catalog.interrupt_stale_runs()  # we hold its lock: a run still marked running was killed
        if stale:
            print(f"{catalog_path}: {stale} earlier run(s) had been interrupted; marked 'interrupted'", file=sys.stderr)

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    def progress_bar(results: Iterable[Any], total: int) -> Iterator[Any]:
        from tqdm import tqdm

        # on a terminal only (disable=None), so logs and pipes stay clean
        with tqdm(results, total=total, unit="img", desc="scoring", file=sys.stderr, disable=None) as bar:
            yield from bar

    with catalog:
        outcome = run_filter(
            args.paths,
            settings,
            catalog,
            exclude=[outdir] if outdir else [],
            command=" ".join(["pixgrade filter", *map(path_text, args.paths), "--policy", path_text(args.policy)]),
            progress=say,
            relocated=relocated,
            progress_bar=progress_bar,
        )

    destinations: dict[str, str] = {}
    content = None
    if getattr(args, "strip_metadata", False):
        from pixgrade.io.metadata import stripped_copy

        content = stripped_copy
    if args.placement != "none" and outdir is not None:
        for record in outcome.records:
            decision = record.decision
            assert decision is not None
            current = record.location or record.path  # an original a previous --move took away is there now
            if not Path(current).is_file():
                continue
            folder = outdir / _FOLDERS[decision.decision] / _product_folder(decision.product)
            moving = args.placement == "move" and not args.dry_run and journal is not None
            try:
                if moving:
                    journal.intend(record.path, folder, record.result.sha256)  # type: ignore[union-attr]
                dst, changed = place_file(current, folder, args.placement, dry_run=args.dry_run, content=content)
                if moving and (changed or record.location is not None):
                    journal.moved(record.path, dst)  # type: ignore[union-attr]
            except OSError as exc:
                say(f"{path_text(record.path)}: could not {args.placement} into {folder}: {exc.strerror or exc}")
                continue
            destinations[record.path] = str(dst)
            if args.dry_run:
                print(f"would {args.placement if changed else 'keep'} {path_text(record.path)} -> {path_text(dst)}")

    renditions_failed = False
    if getattr(args, "renditions", None) and outdir is not None:
        renditions_failed = _write_renditions(args, outcome.records, destinations, outdir, say)

    rows = []
    for record in outcome.records:
        d = record.decision
        assert d is not None
        r = record.result
        rows.append(
            {
                "path": path_text(record.path),
                "product": path_text(d.product),
                "decision": d.decision,
                "main": d.main,
                "rank": d.rank,
                "score": None if r.score is None else round(r.score, 3),
                "grade": r.grade,
                "duplicate_of": None if d.duplicate_of is None else path_text(d.duplicate_of),
                "reasons": _utf8("; ".join(d.reasons)),
                "warnings": _utf8("; ".join(d.warnings)),
                "destination": path_text(destinations[record.path]) if record.path in destinations else None,
                "width": r.width,
                "height": r.height,
                "format": r.format,
                "sha256": r.sha256,
                "error": None if r.error is None else _utf8(r.error),
                "presentation": None if r.presentation is None else round(r.presentation, 3),
                "main_score": None if r.main_score is None else round(r.main_score, 3),
                "presentation_reasons": "; ".join(r.presentation_reasons),
                "cluster": d.cluster,
                "notes": "; ".join(d.notes),
            }
        )
    counts = Counter(row["decision"] for row in rows)
    reason_counts: Counter[str] = Counter()
    for record in outcome.records:
        verdict = record.verdict
        if verdict is None or record.decision is None or record.decision.decision != "reject":
            continue
        if verdict.error:
            reason_counts["unreadable file"] += 1
        for failure in verdict.failures:
            reason_counts[failure.rule] += 1
    summary = {
        "images": len(rows),
        "products": len(outcome.products),
        "reused": outcome.n_reused,
        "decisions": dict(counts),
        "main_images": main_image_counts(outcome.products),
        "rejections_by_rule": dict(reason_counts.most_common()),
        "duplicate_clusters": len(outcome.clusters),
    }
    if args.dry_run or outdir is None:
        print(json.dumps(summary, indent=2))
        return 1 if outcome.n_failed else 0

    outdir.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    csv_path = _output_file(outdir, "decisions.csv")
    _write_text(csv_path, buffer.getvalue())
    top_k = args.top_k or None
    from pixgrade.provenance import provenance, provenance_text

    run_provenance = provenance(
        args.model or "none",
        backend=f"{args.backend} (requested; results reused from the catalogue keep their own)",
        text_detector=args.text_detector,
        policy=policy,
    )
    document = {
        "generator": GENERATOR,
        "provenance": run_provenance,
        "policy": {
            "name": policy.name,
            "source": policy.path or f"preset {policy.name}",
            "sources": list(policy.sources),
        },
        "summary": summary,
        "products": [
            {
                "product": path_text(p.product),
                "main": None if p.main is None else path_text(p.main),
                "main_passes": p.main_passes,
                "top": [path_text(t) for t in p.ranking[:top_k]],
            }
            for p in outcome.products
        ],
        "duplicate_clusters": [
            {
                "cluster": c["cluster"],
                "keep": path_text(c["keep"]),
                "duplicates": [path_text(d) for d in c["duplicates"]],
                "kinds": {path_text(d): kind for d, kind in c["kinds"].items()},
                "matches": [{**m, "a": path_text(m["a"]), "b": path_text(m["b"])} for m in c["matches"]],
            }
            for c in outcome.duplicate_details
        ],
        "images": [
            {**row, "rules": [] if rec.verdict is None else rec.verdict.rules}
            for row, rec in zip(rows, outcome.records, strict=True)
        ],
    }
    json_path = _output_file(outdir, "decisions.json")
    _write_text(json_path, json.dumps(document, indent=1, default=_json_default))
    written = [str(csv_path), str(json_path)]
    if not args.no_report:
        from pixgrade.report.filter_report import render_filter_report

        report_path = _output_file(outdir, "report.html")
        _write_text(
            report_path,
            render_filter_report(outcome, policy, generator=GENERATOR, provenance=provenance_text(run_provenance)),
        )
        written.append(str(report_path))
    print(summary_line(summary))
    if reason_counts:
        print("rejected by: " + ", ".join(f"{rule} {n}" for rule, n in reason_counts.most_common()))
    print("wrote " + ", ".join(written) + f"; catalogue {catalog_path}")
    return 1 if outcome.n_failed or renditions_failed else 0


def target_from_args_checked(args: argparse.Namespace) -> Any:
    """The rendition target of ``--rendition-*`` (ConfigError when out of range)."""
    from pixgrade.cli.renditions import target_from_args

    return target_from_args(args, prefix="rendition-")


def _write_renditions(
    args: argparse.Namespace, records: Any, destinations: dict[str, str], outdir: Path, say: Any
) -> bool:
    """Renditions of the accepted images (decision main or accept) under ``outdir/renditions/<product>``, with
    the manifest ``outdir/renditions/renditions.csv`` (:func:`pixgrade.fullref.renditions.render_batch`); on a
    dry run, only say what would be rendered. True when some rendition failed or missed its target."""
    from pixgrade.fullref.renditions import parse_spec, render_batch

    sizes, formats = parse_spec(args.renditions)
    root = outdir / "renditions"
    jobs: list[tuple[str, Path]] = []
    for record in records:
        decision = record.decision
        if decision is None or decision.decision not in ("main", "accept"):
            continue
        # the original (or, after --move, where it went); renditions are made from the full original
        source = destinations.get(record.path) if args.placement == "move" else record.location or record.path
        if source is None or not Path(source).is_file():
            continue
        jobs.append((source, root / _product_folder(decision.product)))
    if args.dry_run:
        print(f"would render {len(jobs)} accepted image(s) x {len(sizes)} size(s) x {len(formats)} format(s) "
              f"into {root}, and remove the renditions {root / 'renditions.csv'} lists of any other image")  # fmt: skip
        return False
    if not jobs and not (root / "renditions.csv").is_file():
        return False
    scorer = None
    if (args.model or "").lower() != "none" or args.rendition_max_grade_drop is not None:
        from pixgrade.cli.compare import load_scorer

        scorer = load_scorer(args)
    from pixgrade.cli.renditions import report_row

    counts = render_batch(
        jobs,
        root / "renditions.csv",
        sizes,
        formats,
        target_from_args_checked(args),
        scorer=scorer,
        keep_icc=args.rendition_keep_icc,
        on_row=lambda row: report_row(row, lambda text, file=None: say(text)),
        prune=True,
        on_pruned=lambda pruned: [say(f"{path}: {why}") for path, why in pruned.left],
    )
    removed, left, dropped = counts.pop("removed", 0), counts.pop("left", 0), counts.pop("rows_dropped", 0)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing new"
    if dropped:
        summary += f"; removed {removed} rendition file(s) of images no longer accepted ({dropped} manifest row(s))" + (
            f", left {left} file(s) not as pixgrade wrote them" if left else ""
        )
    say(f"renditions of {len(jobs)} accepted image(s): {summary}; manifest {root / 'renditions.csv'}")
    return bool(counts.get("failed") or counts.get("target_not_met"))


def _utf8(text: str) -> str:
    """``text`` with any undecodable file-name byte written as an escape (so the UTF-8 outputs can hold it)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def main_image_counts(products: Any) -> dict[str, int]:
    """How many products got a main image that passes, only a best-available one (failing), or none."""
    passing = sum(1 for p in products if p.main is not None and p.main_passes)
    failing = sum(1 for p in products if p.main is not None and not p.main_passes)
    return {"passing": passing, "best_available": failing, "none": len(products) - passing - failing}


def summary_line(summary: dict[str, Any]) -> str:
    """The run's one-line summary: main images (passing and best-available), then the decisions.

    A best-available main image fails the policy, so its decision stays ``reject``; it is still a main image and
    is counted as one here ("12 main images: 8 pass, 4 only best available").
    """
    counts, mains = summary["decisions"], summary["main_images"]
    n_main = mains["passing"] + mains["best_available"]
    parts = [f"{mains['passing']} pass"]
    if mains["best_available"]:
        parts.append(f"{mains['best_available']} only best available (fail the policy)")
    if mains["none"]:
        parts.append(f"{mains['none']} products without a readable image")
    n_dup = counts.get("duplicate", 0)
    others = [
        f"{counts.get('accept', 0)} accepted",
        f"{counts.get('reject', 0) - mains['best_available']} rejected",
        f"{n_dup} duplicate{'s' if n_dup != 1 else ''}",
    ]
    return (
        f"{summary['images']} images, {summary['products']} products: "
        f"{n_main} main image{'s' if n_main != 1 else ''} ({', '.join(parts)}); of the other images "
        + ", ".join(others)
    )


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
