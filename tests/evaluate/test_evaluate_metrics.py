"""Metrics agree with scipy.stats and with hand-computed values; input checks; the logistic fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from pixgrade.evaluate import (
    check_pair,
    confusion_matrix,
    fit_logistic,
    grade_accuracy,
    krcc,
    logistic_4,
    mae,
    plcc,
    plcc_logistic,
    rmse,
    score_to_grade,
    srcc,
)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 5, 300)
    pred = np.clip(true + rng.normal(0, 0.8, 300), 0, 5)
    pred[:5] = pred[5:10]  # ties
    return true, pred


def test_correlations_match_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    true, pred = pair
    assert srcc(true, pred) == pytest.approx(stats.spearmanr(true, pred).statistic, abs=1e-12)
    assert plcc(true, pred) == pytest.approx(stats.pearsonr(true, pred).statistic, abs=1e-12)
    assert krcc(true, pred) == pytest.approx(stats.kendalltau(true, pred).statistic, abs=1e-12)
    assert 0.8 < srcc(true, pred) < 1.0


def test_known_values() -> None:
    assert srcc([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert srcc([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert srcc([1, 2, 3], [0.1, 0.5, 0.4]) == pytest.approx(0.5)  # rank difference d = (0, 1, -1): 1 - 6*2/24
    assert krcc([1, 2, 3], [1, 3, 2]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant pair
    assert plcc([0, 1, 2], [0, 1, 5]) == pytest.approx(5 / math.sqrt(28))  # cov 5, sums of squares 2 and 14
    assert rmse([0, 0, 0, 0], [1, -1, 1, -1]) == pytest.approx(1.0)
    assert rmse([1, 2], [1, 2]) == 0.0
    assert mae([0, 0, 0], [3, 0, -3]) == pytest.approx(2.0)


def test_undefined_correlations_are_nan_not_errors() -> None:
    for metric in (srcc, plcc, krcc, plcc_logistic):
        assert math.isnan(metric([1, 2, 3], [2, 2, 2])), metric.__name__
        assert math.isnan(metric([3.0], [1.0])), metric.__name__


@pytest.mark.parametrize(
    ("true", "pred", "message"),
    [
        ([1, 2, 3], [1, 2], "differ in length: 3 vs 2"),
        ([[1, 2]], [[1, 2]], r"one-dimensional \(N,\)"),
        ([1, np.nan], [1, 2], "y_true has 1 non-finite value\\(s\\), first at index 1"),
        ([1, 2], [1, np.inf], "y_pred has 1 non-finite"),
        (["a", "b"], [1, 2], "y_true must be numeric"),
        ([], [], "need at least 1 pair"),
    ],
)
def test_input_validation(true: object, pred: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rmse(true, pred)  # type: ignore[arg-type]


def test_check_pair_converts() -> None:
    true, pred = check_pair([1, 2], (3, 4))
    assert true.dtype == np.float64 and pred.tolist() == [3.0, 4.0]


def test_logistic_fit_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 10, 400)
    params = (4.8, 0.3, 5.0, 1.2)
    true = logistic_4(pred, *params) + rng.normal(0, 0.05, 400)
    fit = fit_logistic(true, pred)
    assert fit.converged
    assert fit.params == pytest.approx(params, rel=0.05)
    # the fit removes the non-linearity: PLCC after it beats the raw PLCC and is near 1
    assert plcc_logistic(true, pred) > plcc(true, pred)
    assert plcc_logistic(true, pred) > 0.99


def test_logistic_fit_handles_decreasing_and_scaled_predictions() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 5, 200)
    true = 5 / (1 + np.exp(-(x - 2.5) / 0.6)) + rng.normal(0, 0.2, 200)
    base = plcc_logistic(true, x)
    assert plcc_logistic(true, 100 * x + 7) == pytest.approx(base, abs=1e-6)  # invariant to affine rescaling
    assert plcc_logistic(true, -x) == pytest.approx(base, abs=1e-6)  # a decreasing mapping is fitted too
    assert fit_logistic(true, -x).converged


def test_logistic_fit_falls_back_to_a_line() -> None:
    fit = fit_logistic([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])  # too few points for 4 parameters
    assert not fit.converged
    assert fit.predict([8.0]).tolist() == pytest.approx([4.0])
    assert plcc_logistic([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]) == pytest.approx(plcc([1.0, 2.0, 3.0], [2.0, 4.0, 6.5]))


def test_logistic_fit_is_not_a_step_function() -> None:
    """With a handful of points an unbounded fit collapses into a step; the slope floor prevents it."""
    true = [1.0, 3.0, 2.0, 4.0, 2.5, 4.5]
    pred = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    fit = fit_logistic(true, pred)
    assert not fit.converged or fit.params[3] >= 0.01 * (3.0 - 0.5)


def test_grades_and_confusion_matrix() -> None:
    assert score_to_grade([0.0, 0.49, 0.5, 2.5, 4.6, 5.0, -1.0, 7.0]).tolist() == [0, 0, 1, 3, 5, 5, 0, 5]
    true = [0.2, 1.0, 2.4, 3.6, 4.9, 4.9]
    pred = [0.4, 2.0, 2.6, 3.4, 3.6, 4.7]
    # grades: true 0 1 2 4 5 5, predicted 0 2 3 3 4 5
    assert grade_accuracy(true, pred) == pytest.approx(2 / 6)
    assert grade_accuracy(true, pred, tolerance=1) == pytest.approx(1.0)
    matrix = confusion_matrix(true, pred)
    assert matrix.shape == (6, 6) and matrix.sum() == 6
    assert matrix[0, 0] == 1 and matrix[1, 2] == 1 and matrix[2, 3] == 1 and matrix[4, 3] == 1
    assert matrix[5, 4] == 1 and matrix[5, 5] == 1
    assert np.trace(matrix) / matrix.sum() == pytest.approx(grade_accuracy(true, pred))
    with pytest.raises(ValueError, match="tolerance"):
        grade_accuracy(true, pred, tolerance=-1)
