"""Agreement between predicted and true quality scores: correlations, errors, grade accuracy.

Every metric takes ``(y_true, y_pred)`` array-likes of equal length ``N`` (``y_true`` = human or reference
scores, ``y_pred`` = model scores), checked by :func:`check_pair`. Correlations are undefined when either side
is constant and then return ``nan`` (never raise), so a report can show them as missing.

Shape:
    - y_true: ``(N,)`` finite floats.
    - y_pred: ``(N,)`` finite floats.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "GRADES",
    "LogisticFit",
    "check_pair",
    "confusion_matrix",
    "fit_logistic",
    "grade_accuracy",
    "krcc",
    "logistic_4",
    "mae",
    "plcc",
    "plcc_logistic",
    "rmse",
    "score_to_grade",
    "srcc",
]

ArrayLike = Sequence[float] | np.ndarray
GRADES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


def check_pair(y_true: ArrayLike, y_pred: ArrayLike, min_size: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a pair of score vectors to float64 arrays.

    Raises:
        ValueError: not one-dimensional, different lengths, fewer than ``min_size`` entries, or NaN/inf values
            (the message says which argument and where).
    """
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be numeric: {exc}") from None
        if array.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional (N,), got shape {array.shape}")
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise ValueError(f"{name} has {bad.size} non-finite value(s), first at index {int(bad[0])}")
        arrays.append(array)
    true, pred = arrays
    if true.shape != pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {true.shape[0]} vs {pred.shape[0]}")
    if true.shape[0] < min_size:
        raise ValueError(f"need at least {min_size} pair(s), got {true.shape[0]}")
    return true, pred


def _constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) == 0.0)


def srcc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank-order correlation coefficient (SROCC).

    Range [-1, 1]; higher is better (1 = same ranking). ``nan`` for fewer than 2 pairs or a constant input.
    Reference: C. Spearman, "The proof and measurement of association between two things", 1904;
    the standard monotonicity measure of VQEG (2000) and IQA papers.
    """
    true, pred = check_pair(y_true, y_pred)
    if true.size < 2 or _constant(true) or _constant(pred):
        return math.nan
    return float(stats.spearmanr(true, pred).statistic)


def krcc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall rank correlation coefficient (tau-b, which accounts for ties).

    Range [-1, 1]; higher is better. ``nan`` for fewer than 2 pairs or a constant input.
    Reference: M. G. Kendall, "A new measure of rank correlation", Biometrika 1938.
    """
    true, pred = check_pair(y_true, y_pred)
    if true.size < 2 or _constant(true) or _constant(pred):
        return math.nan
    return float(stats.kendalltau(true, pred).statistic)


def plcc(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson linear correlation coefficient of the raw scores.

    Range [-1, 1]; higher is better. ``nan`` for fewer than 2 pairs or a constant input.
    Reference: K. Pearson, 1895; see :func:`plcc_logistic` for the VQEG variant after a monotone fit.
    """
    true, pred = check_pair(y_true, y_pred)
    if true.size < 2 or _constant(true) or _constant(pred):
        return math.nan
    return float(stats.pearsonr(true, pred).statistic)


def logistic_4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """VQEG 4-parameter logistic: ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``.

    ``b1`` and ``b2`` are the upper and lower asymptotes, ``b3`` the midpoint, ``|b4|`` the slope scale.
    """
    z = np.clip(-(np.asarray(x, dtype=np.float64) - b3) / max(abs(b4), 1e-12), -500.0, 500.0)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


@dataclass(frozen=True)
class LogisticFit:
    """Result of :func:`fit_logistic`: parameters ``(b1, b2, b3, b4)`` and whether the fit converged.

    When ``converged`` is False the parameters describe the straight least-squares line instead
    (``linear = (slope, intercept)``) and :meth:`predict` uses that.
    """

    params: tuple[float, float, float, float]
    converged: bool
    linear: tuple[float, float] = (1.0, 0.0)

    def predict(self, x: ArrayLike) -> np.ndarray:
        """Map predicted scores onto the scale of the true scores."""
        values = np.asarray(x, dtype=np.float64)
        if self.converged:
            return logistic_4(values, *self.params)
        slope, intercept = self.linear
        return slope * values + intercept


def fit_logistic(y_true: ArrayLike, y_pred: ArrayLike) -> LogisticFit:
    """Fit ``y_true ≈ logistic_4(y_pred)`` by least squares (``scipy.optimize.curve_fit``).

    Initial guess (robust to scale and direction): asymptotes at the max and min of ``y_true`` (swapped when
    the ranks correlate negatively), midpoint at the median of ``y_pred``, slope scale its standard deviation
    / 4 (and a few alternative slopes if that fails). Bounds keep the asymptotes within one range of
    ``y_true`` around it, the midpoint inside the range of ``y_pred`` and the slope scale at least 1 % of
    that range (no step functions). With fewer than 5 pairs, a constant input or no convergence it falls
    back to the least-squares line (``converged=False``).
    """
    true, pred = check_pair(y_true, y_pred)
    if true.size >= 2 and not _constant(pred):
        slope, intercept = (float(v) for v in np.polyfit(pred, true, 1))
    else:
        slope, intercept = 0.0, float(true.mean()) if true.size else 0.0
    fallback = LogisticFit((math.nan, math.nan, math.nan, math.nan), False, (slope, intercept))
    if true.size < 5 or _constant(true) or _constant(pred):
        return fallback
    rho = stats.spearmanr(true, pred).statistic
    high, low = float(true.max()), float(true.min())
    if rho < 0:
        high, low = low, high
    spread = float(np.std(pred))
    # the slope scale may not shrink below 1% of the prediction range: a step function would "fit" any
    # small sample perfectly and inflate the PLCC
    min_slope = 0.01 * float(np.ptp(pred))
    margin = float(np.ptp(true))
    bounds = (
        [float(true.min()) - margin, float(true.min()) - margin, float(pred.min()), min_slope],
        [float(true.max()) + margin, float(true.max()) + margin, float(pred.max()), np.inf],
    )
    for scale in (0.25, 1.0, 0.05):
        p0 = (high, low, float(np.median(pred)), max(spread * scale, min_slope * 1.01))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = optimize.curve_fit(logistic_4, pred, true, p0=p0, bounds=bounds, maxfev=20000)
        except (RuntimeError, ValueError, optimize.OptimizeWarning):
            continue
        if np.all(np.isfinite(params)):
            b1, b2, b3, b4 = (float(v) for v in params)
            return LogisticFit((b1, b2, b3, b4), True, (slope, intercept))
    return fallback


def plcc_logistic(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """PLCC after mapping the predictions through a fitted 4-parameter logistic (VQEG procedure).

    Range [-1, 1]; higher is better. Removes the non-linearity between the model's scale and the human
    one before measuring linear agreement. If the fit does not converge (or N < 5) this equals :func:`plcc`.
    ``nan`` for a constant input.
    Reference: VQEG, "Final report on the validation of objective models of video quality assessment", 2000;
    H. R. Sheikh et al., "A statistical evaluation of recent full reference image quality assessment
    algorithms", IEEE TIP 2006.
    """
    true, pred = check_pair(y_true, y_pred)
    fit = fit_logistic(true, pred)
    if not fit.converged:
        return plcc(true, pred)
    mapped = fit.predict(pred)
    if true.size < 2 or _constant(true) or _constant(mapped):
        return math.nan
    return float(stats.pearsonr(true, mapped).statistic)


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error in score units (0–5 scale for pixgrade).

    Range [0, inf); lower is better. Computed on the raw predictions (no fitted mapping).
    """
    true, pred = check_pair(y_true, y_pred, min_size=1)
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error in score units. Range [0, inf); lower is better."""
    true, pred = check_pair(y_true, y_pred, min_size=1)
    return float(np.mean(np.abs(pred - true)))


def score_to_grade(scores: ArrayLike | float) -> np.ndarray:
    """Round 0–5 scores to whole grades 0 … 5 (halves round up: 2.5 → 3), clipped to the range.

    Shape: any; returns int64 of the same shape.
    """
    values = np.asarray(scores, dtype=np.float64)
    return np.clip(np.floor(values + 0.5), GRADES[0], GRADES[-1]).astype(np.int64)


def grade_accuracy(y_true: ArrayLike, y_pred: ArrayLike, tolerance: int = 0) -> float:
    """Share of images whose predicted grade is within ``tolerance`` of the true grade (grades by
    :func:`score_to_grade`).

    Range [0, 1]; higher is better. ``tolerance=1`` gives the "within one grade" accuracy.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    true, pred = check_pair(y_true, y_pred, min_size=1)
    return float(np.mean(np.abs(score_to_grade(pred) - score_to_grade(true)) <= tolerance))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    """6×6 counts of grades: row = true grade 0 … 5, column = predicted grade 0 … 5.

    Shape: returns ``(6, 6)`` int64; the diagonal holds the exact hits.
    """
    true, pred = check_pair(y_true, y_pred, min_size=0)
    matrix = np.zeros((len(GRADES), len(GRADES)), dtype=np.int64)
    np.add.at(matrix, (score_to_grade(true), score_to_grade(pred)), 1)
    return matrix
