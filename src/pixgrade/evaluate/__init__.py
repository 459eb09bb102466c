"""Evaluation: IQA metrics (SRCC, PLCC, KRCC, RMSE, grade accuracy ...), reports, and scoring a manifest.

>>> from pixgrade.evaluate import srcc
>>> srcc([1.0, 2.0, 3.0], [0.1, 0.5, 0.4])
0.5
"""

from pixgrade.evaluate.metrics import (
    GRADES,
    LogisticFit,
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
from pixgrade.evaluate.report import METRIC_NAMES, evaluate_predictions, write_report
from pixgrade.evaluate.runner import PREDICTION_COLUMNS, ScorePredictor, evaluate_manifest

__all__ = [
    "GRADES",
    "METRIC_NAMES",
    "PREDICTION_COLUMNS",
    "LogisticFit",
    "ScorePredictor",
    "check_pair",
    "confusion_matrix",
    "evaluate_manifest",
    "evaluate_predictions",
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
    "write_report",
]
