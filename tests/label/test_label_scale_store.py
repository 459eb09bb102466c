"""Judgements in the catalogue, the fitted scale, agreement, import/export round trip."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from pixgrade.catalog.judgements import Judgement, JudgementStore
from pixgrade.cli.main import main
from pixgrade.errors import ConfigError
from pixgrade.label.scale import agreement_report, fit_scale


def _j(i: int, annotator: str, kind: str, sha: str, value: float | None, other: str | None = None) -> Judgement:
    return Judgement(i, annotator, kind, sha, other, value, "t")


def test_store_keeps_every_judgement_written_by_two_annotators_at_once(tmp_path: Path) -> None:
    store = JudgementStore(tmp_path / "cat.sqlite")

    def write(name: str) -> None:
        for i in range(100):
            store.add(name, "grade", f"img{i}", float(i % 6))

    threads = [threading.Thread(target=write, args=(name,)) for name in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts() == {"grade": 200}
    store.close()
    # a second process/connection sees them all after a restart; undo marks only the latest one of one annotator
    again = JudgementStore(tmp_path / "cat.sqlite")
    undone = again.undo("ann")
    assert undone is not None and undone.sha256 == "img99"
    assert len(again.judgements(annotator="ann")) == 99 and len(again.judgements(annotator="bob")) == 100
    with pytest.raises(ValueError, match="between 0 and 5"):
        again.add("ann", "grade", "x", 7.0)
    again.close()


def test_bradley_terry_pairs_recover_the_order_and_biases_are_corrected() -> None:
    rng = np.random.default_rng(0)
    true = {f"i{k}": float(v) for k, v in enumerate(np.linspace(0.5, 4.5, 20))}
    names = list(true)
    judgements, n = [], 0
    for _ in range(300):  # Thurstone comparisons with noise
        a, b = rng.choice(names, 2, replace=False)
        judgements.append(_j(n, "p", "pair", a, 1.0 if true[a] + rng.normal(0, 0.5) > true[b] else 0.0, b))
        n += 1
    fit = fit_scale(judgements, prior=true)
    assert stats.spearmanr([fit.scores[s] for s in names], [true[s] for s in names])[0] > 0.9
    # two graders on the same images, one a full grade harsher: the bias is found and removed
    grades = []
    for s in names:
        grades += [_j(n, "mild", "grade", s, true[s]), _j(n + 1, "harsh", "grade", s, max(0.0, true[s] - 1.0))]
        n += 2
    fit = fit_scale(grades)
    assert fit.biases["harsh"] < -0.3 < 0.3 < fit.biases["mild"]
    report = {r.annotator: r for r in agreement_report(grades)}
    assert report["harsh"].grade_srcc is not None and report["harsh"].grade_srcc > 0.9
    lo, hi = report["harsh"].grade_srcc_ci or (0, 0)
    assert lo <= report["harsh"].grade_srcc <= hi
    assert report["harsh"].with_others["mild"] > 0.9


def test_import_export_round_trip(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.new("RGB", (16, 16), (i * 40, 10, 10)).save(photos / f"p{i}.png")
    grades = tmp_path / "grades.csv"
    grades.write_text("image,grade,annotator\n" + "".join(f"photos/p{i}.png,{i % 6},ann\n" for i in range(6)))
    catalog = tmp_path / "cat.sqlite"
    assert main(["label", "import", str(grades), "--catalog", str(catalog)]) == 0
    out = tmp_path / "out" / "manifest.csv"
    assert main(["label", "export", "--catalog", str(catalog), "-o", str(out)]) == 0
    frame = pd.read_csv(out)
    assert sorted(frame["image"]) == [f"../photos/p{i}.png" for i in range(6)]
    assert dict(zip(frame["image"], frame["score"], strict=True))["../photos/p3.png"] == pytest.approx(3.0)
    # the exported manifest imports back as the same grades
    again = out.parent / "again.csv"
    frame.rename(columns={"score": "grade"})[["image", "grade"]].to_csv(again, index=False)
    other = tmp_path / "other.sqlite"
    assert main(["label", "import", str(again), "--catalog", str(other), "--annotator", "x"]) == 0
    with JudgementStore(other) as store:
        assert sorted(j.value for j in store.judgements()) == [0, 1, 2, 3, 4, 5]
    # a bad row stores nothing and names the line
    bad = tmp_path / "bad.csv"
    bad.write_text("image,grade\nphotos/p0.png,9\nphotos/nope.png,1\n")
    with JudgementStore(tmp_path / "third.sqlite") as store, pytest.raises(ConfigError, match=r"line 2.*line 3"):
        from pixgrade.label.transfer import import_grades

        import_grades(store, bad, "x")
    assert main(["label", "report", "--catalog", str(catalog)]) == 0


def test_disconnected_comparisons_take_each_group_level_from_the_prior() -> None:
    # two products, each compared only within itself: BT cannot say which product is better, the prior can
    judgements = [_j(0, "p", "pair", "a1", 1.0, "a2"), _j(1, "p", "pair", "b1", 1.0, "b2")]
    judgements += [_j(2, "p", "pair", "a1", 1.0, "a2"), _j(3, "p", "pair", "b2", 0.0, "b1")]
    prior = {"a1": 4.0, "a2": 3.8, "b1": 1.2, "b2": 1.0}
    fit = fit_scale(judgements, prior=prior)
    assert fit.scores["a1"] > fit.scores["a2"] > fit.scores["b1"] > fit.scores["b2"]
    assert np.mean([fit.scores["a1"], fit.scores["a2"]]) == pytest.approx(3.9, abs=1e-6)
