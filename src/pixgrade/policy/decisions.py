"""Per-product decisions: accept, reject, duplicate, and the main image of each product."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pixgrade.policy.rules import Verdict

__all__ = ["Candidate", "Decision", "ProductSummary", "decide"]

DecisionKind = Literal["main", "accept", "reject", "duplicate"]


@dataclass(frozen=True)
class Candidate:
    """One image as the decision sees it."""

    path: str
    product: str
    score: float | None
    verdict: Verdict
    duplicate_of: str | None = None
    """Path of the better image this one nearly duplicates (None when it is unique or the kept one)."""


@dataclass
class Decision:
    """What happens to one image, and why.

    ``decision`` is ``main`` (the product's chosen image; passes the policy), ``accept`` (passes), ``reject`` (fails
    a hard rule or could not be read) or ``duplicate`` (a near-copy of ``duplicate_of``, which is better).
    ``main`` is also True for a rejected image when no image of its product passes: it is the best available,
    and its failing rules are listed in ``reasons``.
    """

    path: str
    product: str
    decision: DecisionKind
    main: bool
    rank: int | None
    """1-based rank by score within the product among readable, non-duplicate images."""
    score: float | None
    duplicate_of: str | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ProductSummary:
    """A product's images ranked best first."""

    product: str
    main: str | None
    main_passes: bool
    ranking: list[str]
    """Paths of the readable non-duplicate images, best first (passing images before failing ones)."""


def _key(c: Candidate) -> tuple[bool, float]:
    return (c.verdict.passed, -1.0 if c.score is None else c.score)


def decide(candidates: Sequence[Candidate]) -> tuple[list[Decision], list[ProductSummary]]:
    """Decide every image and pick each product's main image.

    The main image is the best-scoring image that passes the policy; when none passes, the best-scoring readable
    one, flagged with its failing rules. Duplicates never become the main image (the image they duplicate is
    better or equal by construction).

    Returns:
        Decisions in input order, and one summary per product in order of first appearance.
    """
    by_product: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_product.setdefault(c.product, []).append(c)
    decisions: dict[str, Decision] = {}
    summaries = []
    for product, items in by_product.items():
        eligible = [c for c in items if c.duplicate_of is None and c.verdict.error is None]
        ranked = sorted(eligible, key=_key, reverse=True)
        by_score = sorted(eligible, key=lambda c: -1.0 if c.score is None else c.score, reverse=True)
        rank = {c.path: i + 1 for i, c in enumerate(by_score)}
        main = ranked[0] if ranked else None
        for c in items:
            warnings = [r.reason for r in c.verdict.warnings]
            if c.duplicate_of is not None:
                d = Decision(
                    c.path,
                    product,
                    "duplicate",
                    False,
                    None,
                    c.score,
                    c.duplicate_of,
                    [
                        f"near-duplicate of {c.duplicate_of} (the better-scoring copy, which is kept)",
                        *c.verdict.reasons,
                    ],
                    warnings,
                )
            elif c.verdict.passed:
                kind: DecisionKind = "main" if c is main else "accept"
                d = Decision(c.path, product, kind, c is main, rank.get(c.path), c.score, None, [], warnings)
            else:
                reasons = list(c.verdict.reasons)
                is_main = c is main
                if is_main:
                    reasons.insert(0, "no image of this product passes the policy; this is the best available")
                d = Decision(c.path, product, "reject", is_main, rank.get(c.path), c.score, None, reasons, warnings)
            decisions[c.path] = d
        summaries.append(
            ProductSummary(
                product, main.path if main else None, bool(main and main.verdict.passed), [c.path for c in ranked]
            )
        )
    return [decisions[c.path] for c in candidates], summaries
