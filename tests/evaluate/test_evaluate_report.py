"""evaluate_predictions (overall and per degradation), write_report (metrics.json, report.html)."""

from __future__ import annotations

import base64
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pixgrade.evaluate import METRIC_NAMES, evaluate_predictions, write_report


def synthetic_predictions(seed: int = 0) -> pd.DataFrame:
    """20 sources, each clean plus blur levels 1–5 and noise levels 1–5; the fake model sees blur, not noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(20):
        base = rng.uniform(3.5, 5.0)
        rows.append({"true": base, "pred": base + rng.normal(0, 0.1), "degradation": "", "level": 0, "group": g})
        for level in range(1, 6):
            true = base - 0.8 * level
            rows.append(
                {"true": true, "pred": true + rng.normal(0, 0.2), "degradation": "blur", "level": level, "group": g}
            )
            rows.append(
                {"true": true, "pred": base + rng.normal(0, 0.2), "degradation": "noise", "level": level, "group": g}
            )
    return pd.DataFrame(rows)


def test_overall_metrics_and_failed_rows() -> None:
    df = synthetic_predictions()
    df.loc[0, "pred"] = np.nan
    df["error"] = ""
    df.loc[1, "error"] = "corrupt"
    results = evaluate_predictions(df)
    assert results["n"] == len(df) - 2 and results["n_failed"] == 2
    kept = df.drop(index=[0, 1])
    assert results["srcc"] == pytest.approx(stats.spearmanr(kept["true"], kept["pred"]).statistic)
    assert set(METRIC_NAMES) <= set(results)
    assert np.asarray(results["confusion_matrix"]).sum() == results["n"]
    assert results["logistic"]["converged"] is True


def test_per_degradation_separates_what_the_model_sees() -> None:
    per = evaluate_predictions(synthetic_predictions())["per_degradation"]
    assert set(per) == {"blur", "noise"}
    assert per["blur"]["n"] == per["noise"]["n"] == 100
    assert per["blur"]["srcc_level"] < -0.9, "predictions fall with the blur level"
    assert abs(per["noise"]["srcc_level"]) < 0.3, "the fake model is blind to noise"
    curve = per["blur"]["mean_pred_by_level"]
    assert list(curve) == ["0", "1", "2", "3", "4", "5"]
    assert all(curve[str(a)] > curve[str(a + 1)] for a in range(5))


def test_without_labels_there_is_no_breakdown_and_empty_input_is_nan() -> None:
    df = synthetic_predictions()[["true", "pred"]]
    assert "per_degradation" not in evaluate_predictions(df)
    empty = evaluate_predictions(pd.DataFrame({"true": [], "pred": []}))
    assert empty["n"] == 0 and math.isnan(empty["srcc"]) and math.isnan(empty["rmse"])
    with pytest.raises(ValueError, match="missing pred"):
        evaluate_predictions(pd.DataFrame({"true": [1.0]}))


def test_write_report_is_self_contained(tmp_path: Path) -> None:
    df = synthetic_predictions()
    results = {"model": "fake <v1>", **evaluate_predictions(df)}
    paths = write_report(results, df, tmp_path / "out")
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["n"] == len(df) and metrics["model"] == "fake <v1>"
    assert metrics["per_degradation"]["blur"]["srcc_level"] == pytest.approx(
        results["per_degradation"]["blur"]["srcc_level"]
    )
    page = paths["report"].read_text()
    assert "fake &lt;v1&gt;" in page, "values are HTML-escaped"
    assert "<script" not in page and "http" not in page.replace("http-equiv", ""), "no external resources"
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 2  # scatter + level curves
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG")
    assert "Per degradation type" in page and "true \\ predicted" in page


def test_metrics_json_has_no_nan(tmp_path: Path) -> None:
    df = pd.DataFrame({"true": [2.0, 2.0, 2.0], "pred": [1.0, 2.0, 3.0]})  # constant truth: correlations undefined
    paths = write_report(evaluate_predictions(df), df, tmp_path)
    text = paths["metrics"].read_text()
    assert "NaN" not in text
    assert json.loads(text)["srcc"] is None
    assert "<td>–</td>" in paths["report"].read_text()
