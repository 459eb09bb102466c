"""The self-contained HTML report of ``pixgrade filter``.

Per product: thumbnails in ranking order with a decision badge and a score badge, the chosen main image first and
highlighted, rejected images with their reasons, duplicates pointing at the image they copy. On top, the counts
per decision and per rejection reason. Thumbnails are embedded JPEGs; there are no external resources.
"""

from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2

from pixgrade.io.files import path_text
from pixgrade.report.score_page import ERROR_COLOUR, GRADE_COLOURS, make_thumbnail

__all__ = ["render_filter_report"]

_DECISION_LABELS = {"main": "Main image", "accept": "Accepted", "reject": "Rejected", "duplicate": "Duplicate"}


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pixgrade.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_filter_report(
    outcome: Any,
    policy: Any,
    *,
    generator: str = "pixgrade filter",
    title: str | None = None,
    thumb_size: int = 180,
    provenance: str | None = None,
) -> str:
    """HTML text of the report for a :class:`pixgrade.catalog.FilterOutcome` under ``policy``; ``provenance`` (a
    line such as :func:`pixgrade.provenance.provenance_text` makes) is shown in the footer."""
    records = outcome.records
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        thumbs = list(pool.map(lambda r: make_thumbnail(r.path, size=thumb_size), records))
    names = {r.path: path_text(Path(r.path).name) for r in records}
    cards_by_product: dict[str, list[dict[str, Any]]] = {}
    reason_counts: Counter[str] = Counter()
    reason_examples: dict[str, str] = {}
    for record, thumb in zip(records, thumbs, strict=True):
        d = record.decision
        r = record.result
        grade = r.grade
        colour = ERROR_COLOUR if grade is None else GRADE_COLOURS[int(grade)]
        if record.verdict is not None and d.decision == "reject":
            if record.verdict.error:
                reason_counts["unreadable"] += 1
                reason_examples.setdefault("unreadable", "the file could not be read as an image")
            for f in record.verdict.failures:
                reason_counts[f.rule] += 1
                reason_examples.setdefault(f.rule, f.reason)
        cards_by_product.setdefault(d.product, []).append(
            {
                "name": names[record.path],
                "path": path_text(record.path),
                "thumb": thumb,
                "decision": d.decision,
                "label": (
                    "Best available (fails)" if d.main and d.decision == "reject" else _DECISION_LABELS[d.decision]
                ),
                "main": d.main,
                "score": None if r.score is None else f"{r.score:.1f}",
                "score_colour": colour,
                "size": f"{r.width}×{r.height}" if r.width and r.height else None,
                "reasons": d.reasons,
                "warnings": d.warnings,
                "duplicate_of": names.get(d.duplicate_of) if d.duplicate_of else None,
                "duplicate_line": (
                    d.reasons[0].replace(d.duplicate_of, names.get(d.duplicate_of, d.duplicate_of))
                    if d.duplicate_of and d.reasons
                    else None
                ),
                "notes": d.notes,
                "rank": d.rank,
                "presentation": r.presentation,
                "main_score": r.main_score,
                "presentation_reasons": r.presentation_reasons,
                "sort": (
                    0 if d.main else 1,
                    {"main": 0, "accept": 1, "reject": 2, "duplicate": 3}[d.decision],
                    d.rank if d.rank is not None else 1 << 30,
                    -(r.score if r.score is not None else -1.0),
                ),
            }
        )
    products: list[dict[str, Any]] = []
    for summary in outcome.products:
        cards = sorted(cards_by_product.get(summary.product, []), key=lambda c: c["sort"])
        status = "ok" if summary.main_passes else ("fail" if summary.main else "empty")
        counts = Counter(c["decision"] for c in cards)
        products.append({"name": path_text(summary.product), "cards": cards, "status": status, "counts": counts})
    products.sort(key=lambda p: ({"fail": 0, "empty": 0, "ok": 1}[p["status"]], p["name"]))
    decision_counts = Counter(r.decision.decision for r in records)
    total_rejections = max(1, max(reason_counts.values(), default=1))
    reasons = [
        {"rule": rule, "count": n, "example": reason_examples[rule], "width": round(100 * n / total_rejections)}
        for rule, n in reason_counts.most_common()
    ]
    clusters = [{"keep": names[keep], "duplicates": [names[d] for d in dups]} for keep, dups in outcome.clusters]
    template = _environment().get_template("filter_report.html")
    return template.render(
        title=title or f"pixgrade filter — {policy.name}",
        generator=generator,
        provenance=provenance,
        policy=policy,
        created=datetime.now().strftime("%Y-%m-%d %H:%M"),
        n_images=len(records),
        n_products=len(products),
        n_main_ok=sum(1 for p in outcome.products if p.main_passes),
        n_main_best_available=sum(1 for p in outcome.products if p.main is not None and not p.main_passes),
        counts=decision_counts,
        reasons=reasons,
        products=products,
        clusters=clusters,
        n_reused=outcome.n_reused,
    )
