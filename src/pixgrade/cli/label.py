"""``pixgrade label``: judgements of the catalogue's own reviewers.

pixgrade label PATH... --catalog FILE [--mode grades|pairs] [--annotator NAME] [--port N]   # the labelling page
pixgrade label import GRADES.csv --catalog FILE [--annotator NAME]   # columns image,grade[,annotator]
pixgrade label export --catalog FILE -o manifest.csv                 # fitted scores, a training manifest
pixgrade label report --catalog FILE                                 # agreement per annotator
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_parser", "run"]

ACTIONS = ("import", "export", "report")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Declare ``pixgrade label``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "label",
        help="label photos on a web page; import, export and report a catalogue's judgements",
        description="Judgements (grades 0-5, pairwise comparisons) stored in a SQLite catalogue. "
        "`label PATH... --catalog FILE` serves the labelling page for the images under PATH (files or folders; "
        "grades with keys 0-5, pairs with the arrow keys; every judgement stored as it is made, for any number of "
        "annotators at once; see docs/labelling.md). `label import FILE.csv` stores grades (columns "
        "image,grade[,annotator]; images as registered in the catalogue or relative to the CSV); "
        "`label export -o manifest.csv` writes the fitted scores as a training "
        "manifest; `label report` prints each annotator's agreement with the others.",
    )
    parser.add_argument(
        "items", nargs="+", metavar="PATH|ACTION", help=f"images or folders to label, or one of: {', '.join(ACTIONS)}"
    )
    parser.add_argument("--catalog", required=True, metavar="FILE", help="the SQLite catalogue (created if missing)")
    parser.add_argument("--annotator", metavar="NAME", help="import: who graded (when the CSV has no annotator)")
    parser.add_argument("-o", "--output", metavar="FILE", help="export: the manifest CSV to write")
    parser.add_argument("--overwrite", action="store_true", help="export: replace an existing manifest")
    parser.add_argument("--json", action="store_true", help="report: print JSON")
    page = parser.add_argument_group("the labelling page")
    page.add_argument("--mode", choices=("grades", "pairs"), default="grades", help="default mode (default: grades)")
    page.add_argument(
        "--strategy", choices=("active", "random"), default="active", help="which item comes next (default: active)"
    )
    page.add_argument("--model", default="default", help="checkpoint whose features guide active selection")
    page.add_argument("--standard", metavar="FILE", help="grading standard shown (default: docs/grading.md)")
    page.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    page.add_argument("--port", type=int, default=8001, help="TCP port (default: 8001)")
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pixgrade.catalog.judgements import JudgementStore
    from pixgrade.errors import ConfigError
    from pixgrade.label.session import LabelSession
    from pixgrade.label.transfer import register_images
    from pixgrade.serve.labelling import create_label_app

    store = JudgementStore(args.catalog)
    added, problems = register_images(store, args.items)
    for problem in problems:
        print(f"warning: {problem}")
    if not store.images():
        raise ConfigError(f"no images found in {' '.join(args.items)}")
    print(f"{args.catalog}: {len(store.images())} images ({added} new), {store.counts()} judgements")
    session = LabelSession(store, mode=args.mode, strategy=args.strategy, model=args.model)
    app = create_label_app(session, standard=args.standard, catalog=args.catalog)
    query = f"?annotator={args.annotator}" if args.annotator else ""
    print(f"labelling page: http://{args.host}:{args.port}/label{query}   (API: /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    from pixgrade.catalog.judgements import JudgementStore
    from pixgrade.errors import ConfigError

    action, rest = args.items[0], args.items[1:]
    if action not in ACTIONS:
        return _serve(args)
    with JudgementStore(args.catalog) as store:
        if action == "import":
            from pixgrade.label.transfer import import_grades

            if len(rest) != 1:
                raise ConfigError("label import takes one CSV file")
            n = import_grades(store, rest[0], args.annotator)
            print(f"imported {n} grades into {args.catalog}")
            return 0
        if rest:
            raise ConfigError(f"label {action} takes no file argument (got {' '.join(rest)})")
        if action == "export":
            from pixgrade.label.transfer import export_manifest

            if not args.output:
                raise ConfigError("label export needs -o manifest.csv")
            try:
                n = export_manifest(store, args.output, overwrite=args.overwrite)
            except FileExistsError as exc:
                raise ConfigError(str(exc)) from exc
            print(f"wrote {n} fitted scores to {args.output}")
            return 0
        from pixgrade.label.scale import agreement_report

        report = agreement_report(store.judgements())
        if args.json:
            print(json.dumps([r.to_dict() for r in report], indent=1))
            return 0
        print(f"{args.catalog}: {store.counts()}")
        for r in report:
            line = f"  {r.annotator}: {r.n_grades} grades, {r.n_pairs} pairs, bias {r.bias:+.2f}"
            if r.grade_srcc is not None:
                ci = r.grade_srcc_ci or (float("nan"), float("nan"))
                line += f"; grades vs others SRCC {r.grade_srcc:.2f} [{ci[0]:.2f}, {ci[1]:.2f}] on {r.grade_overlap}"
            if r.pair_agreement is not None and r.pair_agreement_ci is not None:
                lo, hi = r.pair_agreement_ci
                line += f"; pairs agree {r.pair_agreement:.0%} [{lo:.0%}, {hi:.0%}] of {r.pair_overlap}"
            print(line)
    return 0
