"""The summary of a ``pixgrade filter`` run: counts of decisions, main images and rejection rules, and the lines
the command prints from them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from pixgrade.catalog.filtering import FilterOutcome, ImageRecord
from pixgrade.policy.decisions import ProductSummary

__all__ = ["filter_summary", "main_image_counts", "rejection_counts", "rejections_line", "summary_line"]


def rejection_counts(records: Iterable[ImageRecord]) -> Counter[str]:
    """How many rejected images each rule failed (``unreadable file`` for those that could not be read). Images
    decided otherwise (a best-available main image included, which fails the policy) are not counted."""
    counts: Counter[str] = Counter()
    for record in records:
        verdict = record.verdict
        if verdict is None or record.decision is None or record.decision.decision != "reject":
            continue
        if verdict.error:
            counts["unreadable file"] += 1
        for failure in verdict.failures:
            counts[failure.rule] += 1
    return counts


def main_image_counts(products: Sequence[ProductSummary]) -> dict[str, int]:
    """How many products got a main image that passes, only a best-available one (failing), or none."""
    passing = sum(1 for p in products if p.main is not None and p.main_passes)
    failing = sum(1 for p in products if p.main is not None and not p.main_passes)
    return {"passing": passing, "best_available": failing, "none": len(products) - passing - failing}


def filter_summary(outcome: FilterOutcome) -> dict[str, Any]:
    """The run's summary (the ``summary`` of decisions.json, printed by a dry run): images, products, reused
    results, images per decision (in order of first appearance), main images (:func:`main_image_counts`),
    rejections per rule (most frequent first, :func:`rejection_counts`) and duplicate clusters."""
    decisions = Counter(r.decision.decision for r in outcome.records if r.decision is not None)
    return {
        "images": len(outcome.records),
        "products": len(outcome.products),
        "reused": outcome.n_reused,
        "decisions": dict(decisions),
        "main_images": main_image_counts(outcome.products),
        "rejections_by_rule": dict(rejection_counts(outcome.records).most_common()),
        "duplicate_clusters": len(outcome.clusters),
    }


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


def rejections_line(summary: dict[str, Any]) -> str | None:
    """``rejected by: RULE N, ...`` (most frequent first), or None when nothing was rejected by a rule."""
    by_rule = summary["rejections_by_rule"]
    if not by_rule:
        return None
    return "rejected by: " + ", ".join(f"{rule} {n}" for rule, n in by_rule.items())
