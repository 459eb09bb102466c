"""Per-product decisions: accept, reject, duplicate, and the main image of each product.

**The ranking** (one order serves the main image, the ``rank`` column, the top-k list and the copy a duplicate
cluster keeps). Images are compared by, in turn:

1. readable before unreadable;
2. passing the policy before failing it;
3. fewer failed hard rules;
4. higher **main score** (:func:`pixgrade.model.presentation.main_score`: the geometric mean of ``score / 5``
   and the presentation judgement; ``score / 5`` when there is no presentation), to the hundredth;
5. higher quality score, to the hundredth;
6. more pixels;
7. the content's SHA-256 (hex order): a fixed, arbitrary order that depends on the bytes, never on file names.

So a product's clean studio shot beats phone photos of it even when it is smaller (its presentation is much
higher), a product whose images all fail gets the one failing the fewest hard rules as its "best available"
main image, and a duplicate cluster keeps its best *passing* copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pixgrade.policy.rules import Verdict

__all__ = ["Candidate", "Decision", "ProductSummary", "decide", "preference_key"]

DecisionKind = Literal["main", "accept", "reject", "duplicate"]


@dataclass(frozen=True)
class Candidate:
    """One image as the decision sees it."""

    path: str
    product: str
    score: float | None
    verdict: Verdict
    duplicate_of: str | None = None
    """Path of the image this one nearly duplicates, when the caller already chose the kept copy (else use
    ``cluster`` and let :func:`decide` choose)."""
    presentation: float | None = None
    """Catalogue-shot judgement in [0, 1] (:mod:`pixgrade.model.presentation`)."""
    main_score: float | None = None
    """Grade and presentation combined, in [0, 1]; None: ``score / 5`` is used."""
    cluster: str | None = None
    """Near-duplicate cluster id (images of one cluster are near-copies); :func:`decide` keeps the best."""
    pixels: int | None = None
    """Width × height of the picture in the file."""
    sha256: str | None = None


@dataclass
class Decision:
    """What happens to one image, and why.

    ``decision`` is ``main`` (the product's chosen image; passes the policy), ``accept`` (passes), ``reject`` (fails
    a hard rule or could not be read) or ``duplicate`` (a near-copy of ``duplicate_of``, which ranks higher).
    ``main`` is also True for a rejected image when no image of its product passes: it is the best available
    (fewest failed hard rules, then best main score), and its failing rules are listed in ``reasons``.
    """

    path: str
    product: str
    decision: DecisionKind
    main: bool
    rank: int | None
    """1-based place in the product's ranking (see the module docstring) among readable, non-duplicate images;
    the main image is 1."""
    score: float | None
    duplicate_of: str | None = None
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cluster: str | None = None
    """The near-duplicate cluster this image belongs to (kept copy or not), if any."""
    notes: list[str] = field(default_factory=list)
    """Other facts about the decision (e.g. "kept copy of duplicate cluster 2")."""
    main_score: float | None = None
    presentation: float | None = None


@dataclass
class ProductSummary:
    """A product's images ranked best first."""

    product: str
    main: str | None
    main_passes: bool
    ranking: list[str]
    """Paths of the readable non-duplicate images, best first (the order of the module docstring)."""
    main_failures: int = 0
    """Hard rules the main image fails (0 when it passes)."""


def _effective_main(c: Candidate) -> float:
    if c.main_score is not None:
        return c.main_score
    return -1.0 if c.score is None else min(1.0, max(0.0, c.score / 5.0))


def preference_key(c: Candidate) -> tuple[bool, bool, int, float, float, int, str]:
    """Sort key of the ranking: smaller is better (see the module docstring)."""
    return (
        c.verdict.error is not None,
        not c.verdict.passed,
        len(c.verdict.failures),
        -round(_effective_main(c), 2),
        -round(-1.0 if c.score is None else c.score, 2),
        -(c.pixels or 0),
        c.sha256 or "~",
    )


def _why_kept(keep: Candidate, other: Candidate) -> str:
    """Why ``keep`` is kept rather than ``other`` (the first ranking step that separates them)."""
    k, o = preference_key(keep), preference_key(other)
    if k[1] != o[1]:
        return "it passes the policy and this copy does not"
    if k[2] != o[2]:
        return f"it fails fewer hard rules ({k[2]} against {o[2]})"
    if k[3] != o[3]:
        return f"its main score is higher ({-k[3]:.2f} against {-o[3]:.2f})"
    if k[4] != o[4]:
        return f"its quality score is higher ({-k[4]:.2f} against {-o[4]:.2f})"
    if k[5] != o[5]:
        return f"it has more pixels ({-k[5]} against {-o[5]}); the scores are equal"
    return "all else equal, by the fixed tie rule (content SHA-256 order)"


def decide(candidates: Sequence[Candidate]) -> tuple[list[Decision], list[ProductSummary]]:
    """Decide every image, keep the best copy of each duplicate cluster, and pick each product's main image.

    Returns:
        Decisions in input order, and one summary per product in order of first appearance.
    """
    by_product: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_product.setdefault(c.product, []).append(c)
    order = {id(c): i for i, c in enumerate(candidates)}

    def key(c: Candidate) -> tuple[tuple[bool, bool, int, float, float, int, str], int]:
        return preference_key(c), order[id(c)]

    # Duplicate clusters: the best copy by the ranking is kept (a passing one whenever one passes).
    kept_by_cluster: dict[str, Candidate] = {}
    members: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.cluster is not None and c.verdict.error is None:
            members.setdefault(c.cluster, []).append(c)
    for number, group in members.items():
        kept_by_cluster[number] = min(group, key=key)
    duplicate_of: dict[int, Candidate] = {}
    for c in candidates:
        if c.cluster is not None and c.cluster in kept_by_cluster and kept_by_cluster[c.cluster] is not c:
            duplicate_of[id(c)] = kept_by_cluster[c.cluster]

    decisions: dict[int, Decision] = {}
    summaries = []
    for product, items in by_product.items():
        eligible = [
            c for c in items if c.duplicate_of is None and id(c) not in duplicate_of and c.verdict.error is None
        ]
        ranked = sorted(eligible, key=key)
        rank = {id(c): i + 1 for i, c in enumerate(ranked)}
        main = ranked[0] if ranked else None
        for c in items:
            warnings = [r.reason for r in c.verdict.warnings]
            kept = duplicate_of.get(id(c))
            if kept is not None or c.duplicate_of is not None:
                if kept is not None:
                    size = len(members[c.cluster])  # type: ignore[index]
                    first = (
                        f"near-duplicate of {kept.path} (duplicate cluster {c.cluster}, {size} copies), which is "
                        f"kept because {_why_kept(kept, c)}"
                    )
                    target = kept.path
                else:
                    first = f"near-duplicate of {c.duplicate_of} (the better copy, which is kept)"
                    target = c.duplicate_of  # type: ignore[assignment]
                d = Decision(
                    c.path, product, "duplicate", False, None, c.score, target, [first, *c.verdict.reasons], warnings
                )
            elif c.verdict.passed:
                kind: DecisionKind = "main" if c is main else "accept"
                d = Decision(c.path, product, kind, c is main, rank.get(id(c)), c.score, None, [], warnings)
            else:
                reasons = list(c.verdict.reasons)
                is_main = c is main
                if is_main:
                    n_fail = len(c.verdict.failures)
                    reasons.insert(
                        0,
                        "no image of this product passes the policy; this is the best available "
                        f"(fails {n_fail} hard rule{'s' if n_fail != 1 else ''}, the fewest of its images)",
                    )
                d = Decision(c.path, product, "reject", is_main, rank.get(id(c)), c.score, None, reasons, warnings)
            d.cluster, d.main_score, d.presentation = c.cluster, c.main_score, c.presentation
            if c.cluster is not None and kept_by_cluster.get(c.cluster) is c:
                others = len(members[c.cluster]) - 1
                d.notes.append(
                    f"kept copy of duplicate cluster {c.cluster} ({others} other cop{'ies' if others != 1 else 'y'} "
                    "set aside)"
                )
            decisions[id(c)] = d
        summaries.append(
            ProductSummary(
                product,
                main.path if main else None,
                bool(main and main.verdict.passed),
                [c.path for c in ranked],
                len(main.verdict.failures) if main else 0,
            )
        )
    return [decisions[id(c)] for c in candidates], summaries
