"""From judgements to one quality scale: annotator-corrected grades, Bradley–Terry scores of comparisons, and
an agreement report.

- **Grades** follow ``grade = quality(image) + bias(annotator) + noise``. Biases are estimated only from images
  that several annotators graded (alternating least squares, shrunk toward 0, weighted to mean 0), so an annotator
  who is harsher than the others is corrected, and one who graded alone keeps their grades.
- **Pairs** are fitted with the Bradley–Terry model by ``choix.opt_pairwise`` (maximum likelihood with a small
  L2 penalty; "about equal" counts as half a win each way). The BT utilities are put on the 0–5 grade scale by a
  least-squares line through the images that also have grades, else through a prior (the model's scores; within
  each connected component of the comparison graph), else one grade per unit of utility; each connected component
  gets its own offset (from its graded images, else the prior), since comparisons identify differences only
  within a component.
- **Combined** score of an image: the mean of its corrected grade(s) and its mapped pair score, weighted by how
  many judgements each rests on (a comparison counts as half a grade).

The agreement report gives, per annotator, the Spearman correlation of their grades with everyone else's
consensus on the same images, and the share of their comparisons that everyone else's scale orders the same way,
with 95 % bootstrap (SRCC) and Wilson (share) intervals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from pixgrade.catalog.judgements import Judgement

__all__ = ["AnnotatorAgreement", "ScaleFit", "agreement_report", "fit_scale"]

_PAIR_WEIGHT = 0.5
"""A comparison counts as half a grade when grades and comparisons are combined."""


@dataclass
class ScaleFit:
    """Fitted scores (0–5) of every judged image and the annotator biases."""

    scores: dict[str, float]
    """sha256 -> fitted score on 0–5."""
    support: dict[str, float]
    """sha256 -> how many judgements the score rests on (a comparison counts as half)."""
    biases: dict[str, float] = field(default_factory=dict)
    """annotator -> additive grade bias (positive: grades higher than the others)."""
    pair_utilities: dict[str, float] = field(default_factory=dict)
    """sha256 -> Bradley–Terry utility (log-strength) of images in comparisons."""


def _grade_fit(grades: Sequence[Judgement], shrink: float = 2.0, rounds: int = 30) -> tuple[dict, dict, dict]:
    by_image: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for j in grades:
        by_image[j.sha256].append((j.annotator, float(j.value or 0.0)))
    shared = {sha: rows for sha, rows in by_image.items() if len({a for a, _ in rows}) > 1}
    annotators = sorted({j.annotator for j in grades})
    bias = dict.fromkeys(annotators, 0.0)
    quality = {sha: float(np.mean([g for _, g in rows])) for sha, rows in by_image.items()}
    for _ in range(rounds if shared else 0):
        quality = {sha: float(np.mean([g - bias[a] for a, g in rows])) for sha, rows in by_image.items()}
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for sha, rows in shared.items():
            for a, g in rows:
                sums[a] += g - quality[sha]
                counts[a] += 1
        bias = {a: sums[a] / (counts[a] + shrink) for a in annotators}
        total = sum(counts.values())
        centre = sum(bias[a] * counts[a] for a in annotators) / max(1, total)
        bias = {a: (b - centre if counts[a] else 0.0) for a, b in bias.items()}
    quality = {sha: float(np.mean([g - bias[a] for a, g in rows])) for sha, rows in by_image.items()}
    support = {sha: float(len(rows)) for sha, rows in by_image.items()}
    return quality, bias, support


def _pair_fit(pairs: Sequence[Judgement], alpha: float = 0.05) -> tuple[dict[str, float], dict[str, float]]:
    import choix

    ids = sorted({j.sha256 for j in pairs} | {j.other_sha256 for j in pairs if j.other_sha256})
    index = {sha: i for i, sha in enumerate(ids)}
    data: list[tuple[int, int]] = []
    for j in pairs:
        a, b = index[j.sha256], index[str(j.other_sha256)]
        if j.value == 1.0:
            data.append((a, b))
        elif j.value == 0.0:
            data.append((b, a))
        else:  # about equal: half a win each way, as two opposite outcomes at half the weight of the pair
            data.extend([(a, b), (b, a)])
    if not data:
        return {}, {}
    utilities = choix.opt_pairwise(len(ids), data, alpha=alpha)
    support: dict[str, float] = defaultdict(float)
    for j in pairs:
        support[j.sha256] += _PAIR_WEIGHT
        support[str(j.other_sha256)] += _PAIR_WEIGHT
    return {sha: float(utilities[index[sha]]) for sha in ids}, dict(support)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares ``y ≈ slope * x + intercept`` with a positive slope, or None when it is not defined."""
    if len(x) < 3 or np.std(x) < 1e-9:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    return (float(slope), float(intercept)) if slope > 0 else None


def _components(pairs: Sequence[Judgement]) -> list[list[str]]:
    """The connected components of the comparison graph (Bradley–Terry orders images only within one)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ids = sorted({j.sha256 for j in pairs} | {str(j.other_sha256) for j in pairs})
    index = {sha: i for i, sha in enumerate(ids)}
    rows = [index[j.sha256] for j in pairs]
    cols = [index[str(j.other_sha256)] for j in pairs]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[str]] = defaultdict(list)
    for sha, label in zip(ids, labels, strict=True):
        groups[int(label)].append(sha)
    return list(groups.values())


def _map_utilities(
    utilities: Mapping[str, float],
    components: Sequence[Sequence[str]],
    quality: Mapping[str, float],
    prior: Mapping[str, float],
) -> dict[str, float]:
    """Put Bradley–Terry utilities on the grade scale: one slope for all, one offset per connected component.

    The slope comes from a line through the images that have grades, else the prior, else 1 (a unit of
    utility is then one grade). Within a component only differences are identified, so its offset comes from its
    graded images, else its images' prior scores, else the mean grade (2.5 without any)."""
    both = [sha for sha in utilities if sha in quality]
    line = _line(np.array([utilities[s] for s in both]), np.array([quality[s] for s in both]))
    if line is None and prior:
        centred_u, centred_p = [], []
        for members in components:  # within-component differences only: offsets are unidentified
            known = [s for s in members if s in prior]
            if len(known) >= 2:
                u = np.array([utilities[s] for s in known])
                p = np.array([prior[s] for s in known])
                centred_u.extend(u - u.mean())
                centred_p.extend(p - p.mean())
        fitted = _line(np.array(centred_u), np.array(centred_p))
        line = None if fitted is None else (fitted[0], 0.0)
    slope = line[0] if line is not None else 1.0
    default = float(np.mean(list(quality.values()))) if quality else 2.5
    mapped: dict[str, float] = {}
    for members in components:
        anchors = [s for s in members if s in quality] or [s for s in members if s in prior]
        source = quality if any(s in quality for s in members) else prior
        centre = float(np.mean([source[s] for s in anchors])) if anchors else default
        offset = centre - slope * float(
            np.mean([utilities[s] for s in anchors] if anchors else [utilities[s] for s in members])
        )
        for sha in members:
            mapped[sha] = slope * utilities[sha] + offset
    return mapped


def fit_scale(judgements: Sequence[Judgement], prior: Mapping[str, float] | None = None) -> ScaleFit:
    """Fit one 0–5 score per judged image from grades and comparisons (see the module docstring).

    Args:
        judgements: standing judgements (skips are ignored).
        prior: optional sha256 -> score (e.g. the model's) that puts comparisons on the grade scale when too few
            compared images have grades.
    """
    grades = [j for j in judgements if j.kind == "grade" and j.value is not None]
    pairs = [j for j in judgements if j.kind == "pair" and j.other_sha256]
    quality, biases, grade_support = _grade_fit(grades)
    utilities, pair_support = _pair_fit(pairs)
    mapped: dict[str, float] = {}
    if utilities:
        mapped = _map_utilities(utilities, _components(pairs), quality, prior or {})
    scores: dict[str, float] = {}
    support: dict[str, float] = {}
    for sha in set(quality) | set(mapped):
        wg, wp = grade_support.get(sha, 0.0), pair_support.get(sha, 0.0)
        value = (quality.get(sha, 0.0) * wg + mapped.get(sha, 0.0) * wp) / (wg + wp)
        scores[sha] = float(np.clip(value, 0.0, 5.0))
        support[sha] = wg + wp
    return ScaleFit(scores, support, biases, utilities)


@dataclass
class AnnotatorAgreement:
    """How one annotator agrees with everyone else (None where there is nothing to compare)."""

    annotator: str
    n_grades: int
    n_pairs: int
    bias: float
    grade_srcc: float | None = None
    grade_srcc_ci: tuple[float, float] | None = None
    grade_overlap: int = 0
    pair_agreement: float | None = None
    pair_agreement_ci: tuple[float, float] | None = None
    pair_overlap: int = 0
    with_others: dict[str, float] = field(default_factory=dict)
    """other annotator -> SRCC of the two's grades on the images both graded (at least 3)."""

    def to_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _bootstrap_srcc(x: np.ndarray, y: np.ndarray, rounds: int = 500, seed: int = 0) -> tuple[float, float] | None:
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        idx = rng.integers(0, len(x), len(x))
        if np.std(x[idx]) > 0 and np.std(y[idx]) > 0:
            values.append(stats.spearmanr(x[idx], y[idx])[0])
    if len(values) < rounds // 2:
        return None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def _wilson(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def agreement_report(judgements: Sequence[Judgement], seed: int = 0) -> list[AnnotatorAgreement]:
    """Per annotator: agreement of their grades and comparisons with a scale fitted to everyone else's."""
    fit = fit_scale(judgements)
    out = []
    names = sorted({j.annotator for j in judgements if j.kind in ("grade", "pair")})
    grades_of: dict[str, dict[str, float]] = defaultdict(dict)
    for j in judgements:
        if j.kind == "grade" and j.value is not None:
            grades_of[j.annotator][j.sha256] = float(j.value)
    for name in names:
        mine = [j for j in judgements if j.annotator == name]
        others = [j for j in judgements if j.annotator != name]
        rest = fit_scale(others) if others else ScaleFit({}, {})
        entry = AnnotatorAgreement(
            name,
            n_grades=sum(j.kind == "grade" for j in mine),
            n_pairs=sum(j.kind == "pair" for j in mine),
            bias=fit.biases.get(name, 0.0),
        )
        shared = [sha for sha in grades_of[name] if sha in rest.scores]
        entry.grade_overlap = len(shared)
        if len(shared) >= 3:
            x = np.array([grades_of[name][s] for s in shared])
            y = np.array([rest.scores[s] for s in shared])
            if np.std(x) > 0 and np.std(y) > 0:
                entry.grade_srcc = float(stats.spearmanr(x, y)[0])
                entry.grade_srcc_ci = _bootstrap_srcc(x, y, seed=seed)
        compared = [
            j for j in mine if j.kind == "pair" and j.sha256 in rest.scores and str(j.other_sha256) in rest.scores
        ]
        decided = [j for j in compared if j.value != 0.5 and rest.scores[j.sha256] != rest.scores[str(j.other_sha256)]]
        entry.pair_overlap = len(decided)
        if decided:
            agree = sum((j.value == 1.0) == (rest.scores[j.sha256] > rest.scores[str(j.other_sha256)]) for j in decided)
            entry.pair_agreement = agree / len(decided)
            entry.pair_agreement_ci = _wilson(agree, len(decided))
        for other in names:
            if other == name:
                continue
            both = [s for s in grades_of[name] if s in grades_of[other]]
            if len(both) >= 3:
                x = np.array([grades_of[name][s] for s in both])
                y = np.array([grades_of[other][s] for s in both])
                if np.std(x) > 0 and np.std(y) > 0:
                    entry.with_others[other] = float(stats.spearmanr(x, y)[0])
        out.append(entry)
    return out
