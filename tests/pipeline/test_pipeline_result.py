"""ImageResult rows, columns and grades."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixgrade.measures import FACTOR_NAMES, Factor
from pixgrade.pipeline import SEVERITY_NAMES, ImageResult, column_types, grade_from_score, result_columns
from pixgrade.pipeline.result import coerce_row


def test_columns_are_exactly_the_documented_ones() -> None:
    expected = ["path", "score", "grade", "presentation", "main_score"]
    for name in FACTOR_NAMES:
        expected += [f"{name}_score", f"{name}_flag", f"{name}_value"]
    expected += [f"severity_{name}" for name in SEVERITY_NAMES]
    expected += ["reasons", "presentation_reasons", "error", "width", "height", "format", "sha256"]
    assert result_columns() == expected
    assert len(FACTOR_NAMES) == 11 and len(SEVERITY_NAMES) == 8


def test_severity_names_match_the_model() -> None:
    from pixgrade.model import SEVERITY_NAMES as MODEL_SEVERITY_NAMES

    assert SEVERITY_NAMES == MODEL_SEVERITY_NAMES


def test_row_of_scored_and_failed_results_has_every_column() -> None:
    factors = {"sharpness": Factor("sharpness", 12.5, 0.2, True, "blurry: low detail")}
    good = ImageResult(
        path="a/b.jpg",
        score=3.14159,
        grade=3,
        factors=factors,
        severities={"blur": 0.81234},
        reasons=["blurry (model)", "too small: 0.1 MP; aim for 500 px"],
        width=640,
        height=480,
        format="JPEG",
        sha256="ab" * 32,
        embedding=np.zeros(4, np.float32),
    )
    row = good.to_row()
    assert list(row) == result_columns()
    assert row["score"] == 3.142 and row["grade"] == 3
    assert row["sharpness_score"] == 0.2 and row["sharpness_flag"] is True and row["sharpness_value"] == 12.5
    assert row["noise_score"] is None and row["noise_flag"] is None
    assert row["severity_blur"] == 0.8123 and row["severity_noise"] is None
    assert row["reasons"] == "blurry (model); too small: 0.1 MP, aim for 500 px"  # "; " only between reasons
    assert "embedding" not in row

    bad = ImageResult(path="x.jpg", error="empty file (0 bytes)\nsecond line").to_row()
    assert list(bad) == result_columns()
    assert bad["error"] == "empty file (0 bytes) second line"  # one line per row keeps CSV/JSONL resumable
    assert bad["score"] is None and bad["grade"] is None and bad["reasons"] is None


@pytest.mark.parametrize(
    ("score", "grade"),
    [(0.0, 0), (0.49, 0), (0.5, 1), (2.5, 3), (2.49, 2), (4.6, 5), (5.0, 5), (5.7, 5), (-0.3, 0), (None, None)],
)
def test_grade_rounds_half_up_and_clips(score: float | None, grade: int | None) -> None:
    assert grade_from_score(score) == grade


def test_grade_of_nan_is_none() -> None:
    assert grade_from_score(math.nan) is None


def test_coerce_row_types_csv_strings() -> None:
    types = column_types(["path", "score", "grade", "sharpness_flag", "sharpness_value", "error"])
    row = coerce_row(
        {"path": "a.jpg", "score": "3.5", "grade": "3", "sharpness_flag": "False", "sharpness_value": "", "error": ""},
        types,
    )
    assert row == {
        "path": "a.jpg",
        "score": 3.5,
        "grade": 3,
        "sharpness_flag": False,
        "sharpness_value": None,
        "error": None,
    }
