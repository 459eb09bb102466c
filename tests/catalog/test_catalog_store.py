"""The SQLite catalogue: re-runs update instead of duplicating, changed files are re-scored, export, placement."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from pixgrade.catalog import SCHEMA_VERSION, Catalog, FilterSettings, export_catalog, place_file, run_filter
from pixgrade.errors import ConfigError
from pixgrade.policy import load_policy


def product(path: Path, shade: int = 60, size: int = 320) -> Path:
    image = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(image).ellipse([20, 20, size - 20, size - 20], fill=(shade, 90, 200 - shade))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90)
    return path


def settings() -> FilterSettings:
    return FilterSettings(policy=load_policy("amazon-main"), model=None, workers=0, text_detector="classical")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    product(root / "P1" / "front.jpg", 40)
    product(root / "P1" / "side.jpg", 140)
    product(root / "P2" / "only.jpg", 90)
    (root / "P2" / "notes.txt").write_text("not an image")
    return root


def test_rerun_updates_and_reuses(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalog(db) as cat:
        first = run_filter([photos], settings(), cat)
        counts = {t: cat.count(t) for t in ("images", "scores", "decisions", "rule_results")}
        assert first.n_reused == 0 and counts["images"] == 4 and counts["scores"] == 3 and counts["decisions"] == 4
        second = run_filter([photos], settings(), cat)
        assert second.n_reused == 3  # the unreadable file is retried, never cached
        assert {t: cat.count(t) for t in counts} == counts
        assert cat.count("runs") == 2
        assert [r.result.score for r in second.records] == [r.result.score for r in first.records]
        product(photos / "P1" / "side.jpg", 220)  # the file changes: a new hash
        third = run_filter([photos], settings(), cat)
        assert third.n_reused == 2
        changed = next(r for r in third.records if r.path.endswith("side.jpg"))
        assert not changed.reused
        sha = cat.conn.execute("SELECT sha256 FROM images WHERE path LIKE '%side.jpg'").fetchone()[0]
        assert sha == changed.result.sha256
        assert cat.count("images") == 4


def test_bad_file_is_rejected_with_reason(photos: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        outcome = run_filter([photos], settings(), cat)
    bad = next(r for r in outcome.records if r.path.endswith("notes.txt"))
    assert bad.decision is not None and bad.decision.decision == "reject"
    assert bad.result.error and "could not read the image" in bad.decision.reasons[0]
    assert outcome.n_failed == 1


def test_schema_wal_and_version(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION
        assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(ConfigError, match="newer"):
        Catalog(db)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite"):
        Catalog(junk)


def test_export_csv_and_parquet(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    with Catalog(db) as cat:
        run_filter([photos], settings(), cat)
    assert export_catalog(db, tmp_path / "out.csv") == 4
    assert export_catalog(db, tmp_path / "out.parquet") == 4
    frame = pd.read_parquet(tmp_path / "out.parquet")
    assert {"path", "sha256", "score", "decision", "product", "fact_white_background", "sharpness_score"} <= set(frame)
    assert set(frame["decision"]) <= {"main", "accept", "reject", "duplicate"}
    with pytest.raises(ConfigError, match="already exists"):
        export_catalog(db, tmp_path / "out.csv")


def test_place_file_never_overwrites(tmp_path: Path) -> None:
    src = product(tmp_path / "in" / "a.jpg", 10)
    dest = tmp_path / "out"
    dest.mkdir()
    theirs = dest / "a.jpg"
    theirs.write_bytes(b"the user's own file")
    copied, written = place_file(src, dest, "copy")
    assert written and copied.name == "a-1.jpg" and theirs.read_bytes() == b"the user's own file"
    again, written = place_file(src, dest, "copy")  # a re-run: identical copy already there
    assert not written and again == dest / "a-1.jpg"
    assert sorted(p.name for p in dest.iterdir()) == ["a-1.jpg", "a.jpg"]
    link, _ = place_file(src, tmp_path / "links", "symlink")
    assert link.is_symlink() and link.resolve() == src.resolve()


def test_move_never_replaces(tmp_path: Path) -> None:
    src = product(tmp_path / "in" / "a.jpg", 10)
    data = src.read_bytes()
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "a.jpg").write_bytes(b"keep me")
    moved, written = place_file(src, dest, "move")
    assert written and not src.exists() and moved.read_bytes() == data
    assert (dest / "a.jpg").read_bytes() == b"keep me"


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    src = product(tmp_path / "a.jpg")
    target, written = place_file(src, tmp_path / "out", "move", dry_run=True)
    assert written and target == tmp_path / "out" / "a.jpg"
    assert src.exists() and not (tmp_path / "out").exists()


def test_catalog_rows_have_factors(photos: Path, tmp_path: Path) -> None:
    with Catalog(tmp_path / "c.sqlite") as cat:
        run_filter([photos], settings(), cat)
        rows = cat.rows()
    ok = [r for r in rows if r["error"] is None]
    assert all(isinstance(r["score"], float) and np.isfinite(r["score"]) for r in ok)
    assert all(r["fact_text_detector"] == "classical" for r in ok)


def test_worker_processes_give_the_same_decisions_as_one_process(photos: Path, tmp_path: Path) -> None:
    import dataclasses

    with Catalog(tmp_path / "one.sqlite") as cat:
        one = run_filter([photos], settings(), cat)
    with Catalog(tmp_path / "two.sqlite") as cat:
        two = run_filter([photos], dataclasses.replace(settings(), workers=2), cat)

    def summary(outcome: object) -> list[tuple[str, str | None, tuple[str, ...]]]:
        return [
            (
                Path(r.path).name,
                r.decision.decision if r.decision else None,
                tuple(r.decision.reasons if r.decision else ()),
            )
            for r in outcome.records  # type: ignore[attr-defined]
        ]

    assert summary(two) == summary(one)
    assert two.n_failed == one.n_failed == 1


def test_presentation_is_stored_and_exported(photos: Path, tmp_path: Path) -> None:
    db = tmp_path / "cat.sqlite"
    with Catalog(db) as cat:
        first = run_filter([photos], settings(), cat)
        second = run_filter([photos], settings(), cat)  # reused records are judged and stored alike
        rows = {Path(r["path"]).name: r for r in cat.rows()}
    judged = {Path(r.path).name: r.result for r in second.records if r.result.error is None}
    assert judged and all(result.presentation is not None for result in judged.values())
    for name, result in judged.items():
        assert rows[name]["presentation"] == pytest.approx(result.presentation)
        assert rows[name]["main_score"] == pytest.approx(result.main_score)
        assert rows[name]["presentation_reasons"] == "; ".join(result.presentation_reasons)
    assert [r.result.presentation for r in first.records] == [r.result.presentation for r in second.records]
    assert rows["notes.txt"]["presentation"] is None
    assert export_catalog(db, tmp_path / "export.csv") == 4
    table = pd.read_csv(tmp_path / "export.csv")
    assert {"presentation", "main_score", "presentation_reasons"} <= set(table.columns)


def test_a_version_2_catalogue_gains_the_presentation_columns(tmp_path: Path) -> None:
    db = tmp_path / "v2.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (2);"
        "CREATE TABLE scores (image_id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL, model_key TEXT NOT NULL,"
        " score REAL, grade INTEGER, reasons TEXT, severities TEXT, facts TEXT, embedding BLOB,"
        " scored_at TEXT NOT NULL);"
        "INSERT INTO scores (image_id, sha256, model_key, score, scored_at) VALUES (1, 'ab', 'k', 3.5, 'then');"
    )
    conn.commit()
    conn.close()
    with Catalog(db) as cat:
        assert cat.schema_version == SCHEMA_VERSION == 3
        columns = {r[1] for r in cat.conn.execute("PRAGMA table_info(scores)")}
        old = cat.conn.execute("SELECT score, presentation, main_score FROM scores").fetchone()
    assert {"presentation", "main_score", "presentation_reasons"} <= columns
    assert old == (3.5, None, None)
