"""The files ``pixgrade filter`` writes into its output folder — decisions.csv and decisions.json — written
atomically and never over a file of the user's."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixgrade.catalog.filter_rows import CSV_COLUMNS, CSV_SIGNATURE
from pixgrade.catalog.filter_summary import filter_summary
from pixgrade.catalog.filtering import FilterOutcome
from pixgrade.catalog.placement import unique_destination
from pixgrade.io.files import path_text

__all__ = ["GENERATOR", "decisions_csv", "decisions_document", "is_ours", "output_file", "write_text"]

GENERATOR = "pixgrade filter"
"""The generator named in decisions.json and report.html (how a rerun recognises its own files)."""


def is_ours(path: Path) -> bool:
    """True when ``path`` was written by an earlier ``pixgrade filter`` (so replacing it loses nothing of the
    user's): a decisions.csv by its first columns, a JSON or HTML file by its generator."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    if path.suffix == ".csv":
        return head.startswith(CSV_SIGNATURE)
    if path.suffix == ".json":
        return f'"generator": "{GENERATOR}"' in head
    return f'<meta name="generator" content="{GENERATOR}">' in head


def output_file(outdir: Path, name: str) -> Path:
    """``outdir/name`` unless a file of the user's is there; then a free suffixed name (``name-1.csv``)."""
    path = outdir / name
    if not path.exists() or is_ours(path):
        return path
    return unique_destination(outdir, name)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through ``.NAME.pixgrade-part`` and a rename, so an interrupted run
    never leaves half a file under the real name."""
    tmp = path.with_name(f".{path.name}.pixgrade-part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def decisions_csv(rows: Sequence[dict[str, Any]]) -> str:
    """decisions.csv's text: a header of :data:`~pixgrade.catalog.filter_rows.CSV_COLUMNS` and one line per
    row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def decisions_document(
    outcome: FilterOutcome,
    rows: Sequence[dict[str, Any]],
    policy: Any,
    provenance: dict[str, Any],
    *,
    top_k: int | None = None,
) -> str:
    """decisions.json's text: generator, provenance, the policy (name and sources), the summary
    (:func:`~pixgrade.catalog.filter_summary.filter_summary`), each product's main image and ranking (the first
    ``top_k``, all when None), the duplicate clusters with their matches, and each image's row with its rule
    results. ``rows`` are the decision rows of ``outcome.records``, in the same order."""
    document = {
        "generator": GENERATOR,
        "provenance": provenance,
        "policy": {
            "name": policy.name,
            "source": policy.path or f"preset {policy.name}",
            "sources": list(policy.sources),
        },
        "summary": filter_summary(outcome),
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
    return json.dumps(document, indent=1, default=_json_default)
