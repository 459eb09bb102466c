"""``pixgrade score``: score image files and folders into a table (CSV/JSONL/Parquet) and an HTML page."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from pixgrade.cli.options import add_memory_options, add_model_options, positive_int

__all__ = ["add_parser", "run"]

DESCRIPTION = """\
Score every image under the given files and folders (recursively; the content decides what is an image):
a 0-5 quality score, a whole grade, plain-language reasons and per-factor diagnostics, one row per file.
Unreadable files get a row too, with the cause in the error column; they never stop the run.

Exit status: 0 all scored, 1 some files failed (see the error column), 2 usage error.
"""

EPILOG = """\
examples:
  pixgrade score photos/ -o results.csv --html report.html
  pixgrade score photos/ -o results.parquet --resume      # continue an interrupted run
  pixgrade score shoe.jpg --model none                    # measures only, table on stdout
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade score`` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "score",
        help="score images: 0-5 quality, grade, reasons, factor diagnostics",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders (searched recursively)")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="results table: .csv, .jsonl, .json (one array, written at the end) or .parquet; "
        "- = JSON lines on stdout (default: a table on stdout)",
    )
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with thumbnails")
    add_model_options(parser, "processes decoding and measuring images (0 = in this process; default: one per CPU)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, metavar="N", help="images per model batch (default 16)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in the output and score only the other files"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument(
        "--lock-wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another run is writing the same output, wait this long for it (default 0: exit 2 at once)",
    )
    parser.add_argument(
        "--max-pixels",
        type=positive_int,
        default=100_000_000,
        metavar="N",
        help="refuse images with more pixels than this (decompression-bomb guard; default 100,000,000)",
    )
    add_memory_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    from pixgrade.cli.engine import add_engine_options

    add_engine_options(parser, ". With -o OUT.parquet the workers write a folder of Parquet files there")
    return parser


def _table_line(row: dict[str, Any]) -> str:
    score = "" if row["score"] is None else f"{row['score']:.2f}"
    grade = "" if row["grade"] is None else str(row["grade"])
    presentation = "" if row["presentation"] is None else f"{row['presentation']:.2f}"
    main = "" if row["main_score"] is None else f"{row['main_score']:.2f}"
    detail = f"error: {row['error']}" if row["error"] else (row["reasons"] or "")
    return f"{score:>5}  {grade:>5}  {presentation:>12}  {main:>10}  {row['path']}  {detail}".rstrip()


def _load_scorer(args: argparse.Namespace, engine: Any = None) -> Any:
    """The engine's Scorer, loaded here (the local engine scores with it; for Ray it names the model and its
    backend in the output's provenance), or without an engine ``Scorer(**scorer_kwargs(args))``; loading errors
    are usage errors."""
    from pixgrade.cli.engine import scorer_kwargs
    from pixgrade.errors import ConfigError
    from pixgrade.pipeline import Scorer

    try:
        return engine.scorer if engine is not None else Scorer(**scorer_kwargs(args))
    except ConfigError:
        raise
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    except (ValueError, ImportError) as exc:  # a backend that cannot run this model (e.g. int8 without onnxruntime)
        raise ConfigError(f"--backend {args.backend}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """Score the files; returns 0 (all scored), 1 (some failed) or 2 (usage error, via ConfigError)."""
    from pixgrade.errors import ConfigError
    from pixgrade.pipeline import check_output

    args.jsonl_stdout = args.output == "-"
    output = Path(args.output) if args.output and not args.jsonl_stdout else None
    html = Path(args.html) if args.html else None
    from pixgrade.cli.engine import engine_from_args, parquet_folder_output, scorer_kwargs, write_parquet_folder
    from pixgrade.io.sources import list_sources

    # The one choice of engine; the model is checked here (ConfigError naming what to pass instead), and
    # --engine ray without Ray is refused before any output exists.
    engine = engine_from_args(args, scorer_kwargs(args))
    if parquet_folder_output(args, engine):  # the Ray workers write a folder of Parquet files
        files = list_sources(args.paths)  # local paths and s3://, gs://… URIs
        if not files:
            raise ConfigError(f"no files found in {', '.join(args.paths)}")
        return write_parquet_folder(args, engine, files)
    if output is not None:
        check_output(output, resume=args.resume, overwrite=args.overwrite)
    elif args.resume or args.overwrite:
        raise ConfigError("--resume and --overwrite apply to an output file: give one with -o")
    if html is not None:
        if html.is_dir():
            raise ConfigError(f"{html}: is a directory; give a file name for the HTML page")
        if html.exists() and not (args.overwrite or args.resume):
            raise ConfigError(f"{html}: already exists; use --overwrite to replace it")
        if output is not None and html.resolve() == output.resolve():
            raise ConfigError("--html and -o must be different files")

    from contextlib import ExitStack

    from pixgrade.io.locks import OutputLock

    with ExitStack() as locks:  # one run at a time per output: a second one waits or exits 2 naming the holder
        for target, what in ((output, "results file"), (html, "HTML page")):
            if target is not None:
                locks.enter_context(OutputLock(target, what=what, wait=args.lock_wait))
        return _score(args, engine, output, html)


PROVENANCE_SUFFIX = ".provenance.json"
"""``<output>.provenance.json``: what produced the table (:func:`pixgrade.provenance.provenance`)."""


def _provenance(scorer: Any) -> dict[str, Any]:
    from pixgrade.provenance import provenance

    return provenance(getattr(scorer, "_model_spec", None) or "none", scorer.predictor)


def _write_provenance(output: Path, record: dict[str, Any]) -> None:
    from pixgrade.provenance import write_sidecar

    write_sidecar(output, record)


def _score(args: argparse.Namespace, engine: Any, output: Path | None, html: Path | None) -> int:
    """The work of :func:`run` once its outputs are locked."""
    from tqdm import tqdm

    from pixgrade.errors import ConfigError
    from pixgrade.io.sources import is_uri, list_sources
    from pixgrade.pipeline import ImageResult, open_writer, read_rows, result_columns
    from pixgrade.pipeline.writers import ResultWriter, normalise_path

    # our own outputs may sit in a scanned folder (e.g. `pixgrade score . -o results.csv --resume`): skip them
    own = {p.resolve() for p in (output, html) if p is not None}
    if output is not None:
        own |= {
            output.resolve().with_name(output.name + suffix) for suffix in (".partial.jsonl", ".tmp", PROVENANCE_SUFFIX)
        }
    walk_errors: list[tuple[Path, str]] = []  # unreadable folders and entries: each gets a row with its cause
    # local files and folders, and s3://, gs://… URIs, whatever the engine (raises for a path naming nothing)
    listed = list_sources(args.paths, on_error=lambda path, cause: walk_errors.append((path, cause)))
    files = [f for f in listed if is_uri(f) or Path(f).resolve() not in own]
    unreadable = {str(path): cause for path, cause in walk_errors}
    if not files and not unreadable:
        raise ConfigError(f"no files found in {', '.join(args.paths)}")

    scorer = _load_scorer(args, engine)
    if scorer.predictor is not None:
        print(f"model: {scorer.model_name} on {scorer.predictor.description}", file=sys.stderr)
    record = _provenance(scorer)
    writer: ResultWriter | None = None
    if output is not None:
        writer = open_writer(
            output,
            result_columns(scorer.factor_names),
            resume=args.resume,
            overwrite=args.overwrite,
            provenance=record,
        )
    done = writer.existing_paths if writer is not None else set()
    todo = [f for f in files if normalise_path(f) not in done]
    skipped = len(files) - len(todo)
    unreadable_todo = {f: cause for f, cause in unreadable.items() if normalise_path(f) not in done}
    skipped += len(unreadable) - len(unreadable_todo)

    rows: list[dict[str, Any]] = []
    n_scored = n_failed = 0
    try:
        with tqdm(
            total=len(todo) + len(unreadable_todo),
            unit="img",
            desc="scoring",
            file=sys.stderr,
            disable=args.no_progress or None,
        ) as bar:
            if output is None and not args.jsonl_stdout:
                header = f"{'score':>5}  {'grade':>5}  {'presentation':>12}  {'main_score':>10}  path  reasons"
                tqdm.write(header, file=sys.stdout)
            walked = (ImageResult(path=f, error=cause) for f, cause in unreadable_todo.items())
            results = engine.score(todo)
            for result in itertools.chain(walked, results):
                row = result.to_row(scorer.factor_names)  # custom factors (--plugin) after the built-in ones
                if writer is not None:
                    writer.write(row)
                elif args.jsonl_stdout:
                    sys.stdout.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
                    sys.stdout.flush()
                else:
                    tqdm.write(_table_line(row), file=sys.stdout)
                if writer is None and html is not None:
                    rows.append(row)
                n_scored += result.error is None
                n_failed += result.error is not None
                bar.update(1)
    except KeyboardInterrupt:
        if writer is not None:
            writer.close()
            print(
                f"interrupted after {n_scored + n_failed} images; {output} keeps every finished row: "
                "run the same command with --resume to continue",
                file=sys.stderr,
            )
        raise
    finally:
        if writer is not None:
            writer.close()

    if output is not None:
        _write_provenance(output, record)
    total = n_scored + n_failed
    summary = f"scored {total} image{'s' if total != 1 else ''}"
    if n_failed:
        summary += f", {n_failed} failed: see the error column"
    if skipped:
        summary += f" ({skipped} already in {output}, skipped)"
    if output is not None:
        summary += f"; results: {output}"
    if html is not None:
        from pixgrade.provenance import provenance_text
        from pixgrade.report.score_page import write_score_page

        page_rows = list(read_rows(output)) if output is not None else rows
        write_score_page(page_rows, html, model=scorer.model_name, provenance=provenance_text(record))
        summary += f"; page: {html}"
    print(summary, file=sys.stderr)
    return 1 if n_failed else 0
