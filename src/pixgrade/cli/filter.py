"""``pixgrade filter``: apply a marketplace policy, group by product, find duplicates, pick main images."""

from __future__ import annotations

import argparse
import json
import sys
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
  pixgrade filter s3://shop/photos/ --policy generic -o out/    # objects listed, read and copied through pyarrow.fs
"""


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
    from pixgrade.io.sources import is_uri

    for p in args.paths:
        if not is_uri(p) and not Path(p).exists():
            raise ConfigError(f"{p}: no such file or folder")
    if any(is_uri(p) for p in args.paths):  # s3://, gs://…: read (and copied) through io.sources
        if args.placement in ("symlink", "move"):
            raise ConfigError(f"--{args.placement} needs local files; images read from a URI can only be copied")
        if getattr(args, "renditions", None) and args.placement != "copy":
            raise ConfigError("--renditions of images read from a URI are made from their copies: keep --copy")
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
    from pixgrade.cli.options import load_plugin_args

    plugins = load_plugin_args(args)  # before the policy: its rules may name the plugins' factors
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
        plugins=plugins,
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
    from pixgrade.catalog import Catalog, run_filter
    from pixgrade.catalog.filter_rows import decision_rows
    from pixgrade.catalog.filter_summary import filter_summary, rejections_line, summary_line
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
    if args.placement != "none" and outdir is not None:
        destinations = _place(args, outcome.records, outdir, journal, say)

    renditions_failed = False
    if getattr(args, "renditions", None) and outdir is not None:
        renditions_failed = _write_renditions(args, outcome.records, destinations, outdir, say)

    rows = decision_rows(outcome.records, destinations)
    summary = filter_summary(outcome)
    if args.dry_run or outdir is None:
        print(json.dumps(summary, indent=2))
        return 1 if outcome.n_failed else 0

    written = _write_outputs(args, outcome, rows, policy, outdir)
    print(summary_line(summary))
    rejected = rejections_line(summary)
    if rejected:
        print(rejected)
    print("wrote " + ", ".join(map(str, written)) + f"; catalogue {catalog_path}")
    return 1 if outcome.n_failed or renditions_failed else 0


def _place(args: argparse.Namespace, records: Any, outdir: Path, journal: Any, say: Any) -> dict[str, str]:
    """Copy, link or move the decided images into OUTDIR's decision folders
    (:func:`~pixgrade.catalog.placement.place_decided`); the destination of each placed image by its path."""
    from pixgrade.catalog.placement import place_decided
    from pixgrade.io.files import path_text

    destinations: dict[str, str] = {}
    strip = bool(getattr(args, "strip_metadata", False))
    placed = place_decided(records, outdir, args.placement, dry_run=args.dry_run, journal=journal, strip_metadata=strip)
    for p in placed:
        if p.destination is None:
            cause = (p.error.strerror if p.error is not None else None) or p.error
            say(f"{path_text(p.path)}: could not {args.placement} into {p.folder}: {cause}")
            continue
        destinations[p.path] = str(p.destination)
        if args.dry_run:
            verb = args.placement if p.changed else "keep"
            print(f"would {verb} {path_text(p.path)} -> {path_text(p.destination)}")
    return destinations


def _write_outputs(
    args: argparse.Namespace, outcome: Any, rows: list[dict[str, Any]], policy: Any, outdir: Path
) -> list[Path]:
    """Write decisions.csv, decisions.json and (unless ``--no-report``) report.html into ``outdir``
    (:mod:`pixgrade.catalog.filter_output`); the paths written."""
    from pixgrade.catalog.filter_output import GENERATOR, decisions_csv, decisions_document, output_file, write_text
    from pixgrade.provenance import provenance, provenance_text

    outdir.mkdir(parents=True, exist_ok=True)
    run_provenance = provenance(
        args.model or "none",
        backend=f"{args.backend} (requested; results reused from the catalogue keep their own)",
        text_detector=args.text_detector,
        policy=policy,
    )
    csv_path = output_file(outdir, "decisions.csv")
    write_text(csv_path, decisions_csv(rows))
    json_path = output_file(outdir, "decisions.json")
    write_text(json_path, decisions_document(outcome, rows, policy, run_provenance, top_k=args.top_k or None))
    written = [csv_path, json_path]
    if not args.no_report:
        from pixgrade.report.filter_report import render_filter_report

        report_path = output_file(outdir, "report.html")
        report = render_filter_report(outcome, policy, generator=GENERATOR, provenance=provenance_text(run_provenance))
        write_text(report_path, report)
        written.append(report_path)
    return written


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
    from pixgrade.catalog.placement import product_folder
    from pixgrade.fullref.renditions import parse_spec, render_batch
    from pixgrade.io.sources import is_uri

    sizes, formats = parse_spec(args.renditions)
    root = outdir / "renditions"
    jobs: list[tuple[str, Path]] = []
    for record in records:
        decision = record.decision
        if decision is None or decision.decision not in ("main", "accept"):
            continue
        # the original (or, after --move, where it went; for a URI, its downloaded copy): the full original
        remote = is_uri(record.path)
        moved = args.placement == "move" or remote
        source = destinations.get(record.path) if moved else record.location or record.path
        if source is None or not Path(source).is_file():
            continue
        jobs.append((source, root / product_folder(decision.product)))
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
