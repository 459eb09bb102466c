"""Summaries of predictions against true scores: a metrics dict, ``metrics.json`` and a one-file HTML report."""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pixgrade.evaluate.metrics import (
    GRADES,
    confusion_matrix,
    fit_logistic,
    grade_accuracy,
    krcc,
    mae,
    plcc,
    plcc_logistic,
    rmse,
    srcc,
)
from pixgrade.io.files import temp_file_beside

__all__ = ["METRIC_NAMES", "evaluate_predictions", "write_report"]

METRIC_NAMES: tuple[str, ...] = (
    "srcc",
    "plcc",
    "plcc_logistic",
    "krcc",
    "rmse",
    "mae",
    "grade_accuracy",
    "grade_accuracy_within_1",
)
"""Keys of the overall metrics in the dict :func:`evaluate_predictions` returns."""

CLEAN = "(clean)"


def _text(series: pd.Series) -> pd.Series:
    """Strings with missing values as "" (whatever dtype the column was read with)."""
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("true", "pred") if c not in df.columns]
    if missing:
        raise ValueError(f"predictions need columns 'true' and 'pred'; missing {', '.join(missing)}")
    true = pd.to_numeric(df["true"], errors="coerce")
    pred = pd.to_numeric(df["pred"], errors="coerce")
    ok = true.notna() & pred.notna() & np.isfinite(true) & np.isfinite(pred)
    if "error" in df.columns:
        ok &= _text(df["error"]) == ""
    out = df.loc[ok].copy()
    out["true"], out["pred"] = true[ok].astype(float), pred[ok].astype(float)
    return out


def _metrics(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    if true.size == 0:
        return dict.fromkeys(METRIC_NAMES, math.nan)
    return {
        "srcc": srcc(true, pred),
        "plcc": plcc(true, pred),
        "plcc_logistic": plcc_logistic(true, pred),
        "krcc": krcc(true, pred),
        "rmse": rmse(true, pred),
        "mae": mae(true, pred),
        "grade_accuracy": grade_accuracy(true, pred),
        "grade_accuracy_within_1": grade_accuracy(true, pred, tolerance=1),
    }


def _labels(df: pd.DataFrame) -> pd.Series:
    labels = _text(df["degradation"])
    return labels.where(labels != "", CLEAN)


def _per_degradation(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    labels = _labels(df)
    levels = pd.to_numeric(df["level"], errors="coerce")
    clean = df[(labels == CLEAN) | (levels == 0)]
    table: dict[str, dict[str, Any]] = {}
    for name in sorted(set(labels) - {CLEAN}):
        rows = df[labels == name]
        # the clean pictures this type was made from (same group) anchor level 0 of the level curve
        anchor = clean
        if "group" in df.columns:
            same = clean[clean["group"].isin(set(rows["group"]))]
            anchor = same if len(same) else clean
        both = pd.concat([anchor, rows])
        both_levels = pd.to_numeric(both["level"], errors="coerce").fillna(0).to_numpy(dtype=float)
        true, pred = rows["true"].to_numpy(float), rows["pred"].to_numpy(float)
        by_level = both.assign(_level=both_levels).groupby("_level")["pred"].mean()
        table[name] = {
            "n": len(rows),
            "srcc": srcc(true, pred) if len(rows) else math.nan,
            "plcc": plcc(true, pred) if len(rows) else math.nan,
            "rmse": rmse(true, pred) if len(rows) else math.nan,
            "mae": mae(true, pred) if len(rows) else math.nan,
            "srcc_level": srcc(both_levels, both["pred"].to_numpy(float)) if len(both) else math.nan,
            "mean_pred_by_level": {str(int(level)): float(value) for level, value in by_level.items()},
        }
    return table


def evaluate_predictions(df: pd.DataFrame) -> dict[str, Any]:
    """All metrics of a table of predictions.

    Args:
        df: columns ``true`` and ``pred`` (0–5 scores); optional ``error`` (rows with one are counted as
            failed and left out), ``degradation`` and ``level`` (synthetic labels; ``""`` / 0 = clean) and
            ``group`` (the source picture of synthetic variants).

    Returns:
        ``n`` (rows scored), ``n_failed``, the :data:`METRIC_NAMES` metrics, ``logistic`` (the fitted VQEG
        curve: ``params`` b1…b4 and ``converged``), ``confusion_matrix`` (6×6 list, rows = true grade),
        ``true_mean`` and ``pred_mean``; with degradation labels also ``per_degradation``: for each type its
        ``n``, ``srcc``, ``plcc``, ``rmse``, ``mae`` against the true scores, ``srcc_level`` (Spearman
        correlation of the predicted score with the level, over that type's rows plus the clean pictures of
        the same groups; −1 is ideal: scores fall as the damage grows) and ``mean_pred_by_level``.
    """
    scored = _scored(df)
    true, pred = scored["true"].to_numpy(float), scored["pred"].to_numpy(float)
    fit = fit_logistic(true, pred) if true.size else None
    results: dict[str, Any] = {
        "n": len(scored),
        "n_failed": len(df) - len(scored),
        **_metrics(true, pred),
        "logistic": {
            "params": list(fit.params) if fit is not None else [math.nan] * 4,
            "converged": bool(fit.converged) if fit is not None else False,
        },
        "confusion_matrix": confusion_matrix(true, pred).tolist(),
        "true_mean": float(true.mean()) if true.size else math.nan,
        "pred_mean": float(pred.mean()) if pred.size else math.nan,
    }
    if "degradation" in scored.columns and "level" in scored.columns and (_labels(scored) != CLEAN).any():
        results["per_degradation"] = _per_degradation(scored)
    return results


def _jsonable(value: Any) -> Any:
    """NaN/inf → None and NumPy scalars → Python, recursively (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _atomic_write(path: Path, data: str) -> None:
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _colour(index: int) -> tuple[float, ...]:
    """A distinct colour for up to 20 series (matplotlib's tab20, dark shades first)."""
    from matplotlib import colormaps

    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return tuple(colormaps["tab20"](order[index % 20]))


def _scatter(scored: pd.DataFrame, results: Mapping[str, Any]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    if "degradation" in scored.columns and "per_degradation" in results:
        labels = _labels(scored)
        for i, name in enumerate(sorted(set(labels))):
            part = scored[labels == name]
            ax.scatter(part["pred"], part["true"], s=10, alpha=0.6, label=name, color=_colour(i))
        ax.legend(fontsize=7, markerscale=1.5, ncol=2, loc="upper left")
    else:
        ax.scatter(scored["pred"], scored["true"], s=10, alpha=0.5, color="#3b6ea5")
    ax.plot([0, 5], [0, 5], linestyle="--", color="#999999", linewidth=1, label="_y = x")
    logistic = results.get("logistic", {})
    if logistic.get("converged") and len(scored):
        from pixgrade.evaluate.metrics import logistic_4

        xs = np.linspace(float(scored["pred"].min()), float(scored["pred"].max()), 200)
        ax.plot(xs, logistic_4(xs, *logistic["params"]), color="#c0392b", linewidth=2, label="_logistic fit")
    ax.set_xlabel("predicted score")
    ax.set_ylabel("true score")
    ax.set_xlim(-0.1, 5.1)
    ax.set_ylim(-0.1, 5.1)
    ax.set_title(
        f"SRCC {results.get('srcc', math.nan):.3f}   PLCC(logistic) {results.get('plcc_logistic', math.nan):.3f}"
    )
    ax.grid(alpha=0.3)
    return _png(fig)


def _level_curves(per_degradation: Mapping[str, Mapping[str, Any]]) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for i, (name, row) in enumerate(per_degradation.items()):
        curve = row["mean_pred_by_level"]
        levels = sorted(curve, key=int)
        xs, ys = [int(lv) for lv in levels], [curve[lv] for lv in levels]
        ax.plot(xs, ys, marker="osD^v<>"[i % 7], color=_colour(i + 1), label=name)
    ax.set_xlabel("degradation level (0 = clean)")
    ax.set_ylabel("mean predicted score")
    ax.set_ylim(-0.1, 5.1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _png(fig)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _curve_text(curve: Mapping[str, float]) -> str:
    return ", ".join(f"{level}: {curve[level]:.2f}" for level in sorted(curve, key=int))


def _confusion_html(matrix: list[list[int]]) -> str:
    counts = np.asarray(matrix, dtype=float)
    row_totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, row_totals, out=np.zeros_like(counts), where=row_totals > 0)
    head = "".join(f"<th>{g}</th>" for g in GRADES)
    body = []
    for i, grade in enumerate(GRADES):
        cells = "".join(
            f'<td style="background: rgba(59,110,165,{shares[i, j]:.2f})">{int(counts[i, j])}</td>'
            for j in range(len(GRADES))
        )
        body.append(f"<tr><th>{grade}</th>{cells}<td>{int(row_totals[i, 0])}</td></tr>")
    return (
        '<table class="cm"><tr><th>true \\ predicted</th>' + head + "<th>total</th></tr>" + "".join(body) + "</table>"
    )


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; }
table.cm td { min-width: 3em; text-align: center; }
.meta { color: #666; font-size: 0.9em; }
img { max-width: 100%; }
"""


def write_report(
    results: Mapping[str, Any], df: pd.DataFrame, out_dir: str | Path, *, title: str = "pixgrade evaluation"
) -> dict[str, Path]:
    """Write ``metrics.json`` and a self-contained ``report.html`` (plots embedded as base64 PNG) in ``out_dir``.

    Args:
        results: what :func:`evaluate_predictions` returned (extra keys, e.g. ``model``, are shown as metadata).
        df: the predictions table given to :func:`evaluate_predictions` (for the plots).
        out_dir: created if needed; existing ``metrics.json`` / ``report.html`` there are replaced atomically.

    Returns:
        ``{"metrics": path, "report": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path, report_path = out / "metrics.json", out / "report.html"
    _atomic_write(metrics_path, json.dumps(_jsonable(dict(results)), indent=2) + "\n")

    scored = _scored(df)
    meta_keys = [k for k in results if k not in METRIC_NAMES and not isinstance(results[k], dict | list)]
    meta = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(results[k])}</td></tr>" for k in meta_keys)
    rows = "".join(f"<tr><th>{name}</th><td>{_fmt(results.get(name))}</td></tr>" for name in METRIC_NAMES)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        "<p class='meta'>SRCC, KRCC: rank agreement; PLCC: linear agreement (raw, and after the VQEG 4-parameter "
        "logistic fit); RMSE, MAE: error in score points (0–5); grade accuracy: share with the same whole grade "
        "(within one grade). Higher is better except RMSE and MAE.</p>",
        f"<table>{meta}{rows}</table>",
        "<h2>Predicted vs true score</h2>",
        f"<img alt='scatter plot of predicted vs true score' src='data:image/png;base64,{_scatter(scored, results)}'>",
        "<h2>Grade confusion matrix</h2>",
        _confusion_html(results.get("confusion_matrix") or confusion_matrix([], []).tolist()),
    ]
    per = results.get("per_degradation")
    if per:
        head = "<tr><th>degradation</th><th>n</th><th>SRCC</th><th>PLCC</th><th>RMSE</th><th>MAE</th>"
        head += "<th>SRCC with level (−1 ideal)</th><th>mean predicted score by level</th></tr>"
        body = "".join(
            f"<tr><th>{html.escape(name)}</th><td>{row['n']}</td><td>{_fmt(row['srcc'])}</td>"
            f"<td>{_fmt(row['plcc'])}</td><td>{_fmt(row['rmse'])}</td><td>{_fmt(row['mae'])}</td>"
            f"<td>{_fmt(row['srcc_level'])}</td><td>{_curve_text(row['mean_pred_by_level'])}</td></tr>"
            for name, row in per.items()
        )
        parts += [
            "<h2>Per degradation type</h2>",
            f"<table>{head}{body}</table>",
            f"<img alt='mean predicted score by level' src='data:image/png;base64,{_level_curves(per)}'>",
        ]
    parts.append("</body></html>\n")
    _atomic_write(report_path, "\n".join(parts))
    return {"metrics": metrics_path, "report": report_path}
