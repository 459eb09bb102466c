"""Provenance in every output: pixgrade version, model + weights SHA-256, backend, text detector, policy + hash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

import pixgrade
from pixgrade import __version__
from pixgrade.cli.main import main
from pixgrade.io import sha256_file
from pixgrade.model.predictor import DEFAULT_MODEL_PATH
from pixgrade.policy import load_policy
from pixgrade.provenance import policy_sha256, provenance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
KEYS = {"pixgrade_version", "model", "model_sha256", "backend", "text_detector", "policy", "policy_sha256"}


def test_the_record_names_the_shipped_weights_and_the_policy() -> None:
    record = provenance("default", None, backend="int8", text_detector="auto", policy=load_policy("amazon-main"))
    assert set(record) == KEYS
    assert record["pixgrade_version"] == __version__
    assert record["model_sha256"] == sha256_file(DEFAULT_MODEL_PATH)
    assert record["text_detector"] in ("db", "classical")
    assert record["policy"] == "amazon-main"
    assert record["policy_sha256"] == policy_sha256(load_policy("amazon-main"))
    assert policy_sha256(load_policy("amazon-main")) != policy_sha256(load_policy("ebay"))
    assert provenance("none")["backend"] == "none" and provenance("none")["model_sha256"] is None


def test_score_writes_a_provenance_sidecar(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert main(["score", str(EXAMPLES / "mug_good.jpg"), "-o", str(out), "--no-progress"]) == 0
    record = json.loads((tmp_path / "r.csv.provenance.json").read_text())
    assert set(record) >= KEYS
    assert record["model"] == "default" and record["model_sha256"] == sha256_file(DEFAULT_MODEL_PATH)
    assert record["backend"]  # the runtime that ran, e.g. "int8 (ONNX Runtime ...)"


def test_filter_decisions_json_has_provenance(tmp_path: Path) -> None:
    assert main(["filter", str(EXAMPLES / "mug_good.jpg"), "-o", str(tmp_path / "out"), "--model", "none"]) in (0, 1)
    record = json.loads((tmp_path / "out" / "decisions.json").read_text())["provenance"]
    assert record["policy"] == "generic" and record["policy_sha256"]  # the default policy
    assert record["text_detector"] in ("db", "classical")


def test_api_results_carry_provenance() -> None:
    results = pixgrade.score(np.full((32, 32, 3), 128, np.uint8), model="none")
    assert results.provenance["model"] == "none" and results.provenance["pixgrade_version"] == __version__
    decisions = pixgrade.filter(np.full((32, 32, 3), 128, np.uint8), model="none", policy="ebay")
    assert decisions.provenance["policy"] == "ebay"


def test_service_answers_carry_provenance() -> None:
    from pixgrade.pipeline import Scorer
    from pixgrade.serve.app import create_app

    with TestClient(create_app(Scorer(model="none"), policy="generic")) as client:
        health = client.get("/v1/health").json()
        assert health["provenance"]["policy"] == "generic"
        image = (EXAMPLES / "mug_good.jpg").read_bytes()
        answer = client.post("/v1/score", files={"files": ("mug.jpg", image, "image/jpeg")}).json()
        assert set(answer["provenance"]) == KEYS


def test_parquet_metadata_carries_provenance_and_keeps_it_on_resume(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "r.parquet"
    assert main(["score", str(EXAMPLES / "mug_good.jpg"), "-o", str(out), "--model", "none", "--no-progress"]) == 0
    record = json.loads(pq.read_schema(out).metadata[b"pixgrade"])
    assert set(record) == KEYS and record["model"] == "none" and record["pixgrade_version"] == __version__
    args = ["score", str(EXAMPLES), "-o", str(out), "--model", "none", "--no-progress", "--resume"]
    assert main(args) in (0, 1)
    assert pq.read_table(out).num_rows > 1
    assert json.loads(pq.read_schema(out).metadata[b"pixgrade"])["model"] == "none"


def test_html_reports_show_provenance_in_the_footer(tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    args = ["score", str(EXAMPLES / "mug_good.jpg"), "--html", str(html), "--model", "none", "--no-progress"]
    assert main(args) == 0
    footer = html.read_text().split("<footer>")[1].split("</footer>")[0]
    assert f"pixgrade {__version__}" in footer and "model none" in footer and "backend none" in footer
    assert main(["filter", str(EXAMPLES / "mug_good.jpg"), "-o", str(tmp_path / "out"), "--model", "none"]) in (0, 1)
    report = (tmp_path / "out" / "report.html").read_text()
    footer = report.split("<footer>")[1].split("</footer>")[0]
    policy_hash = policy_sha256(load_policy("generic"))
    assert "policy generic" in footer and policy_hash is not None and policy_hash[:12] in footer
    assert "text detector db" in footer or "text detector classical" in footer


def test_catalogue_runs_record_provenance(tmp_path: Path) -> None:
    import sqlite3

    assert main(["filter", str(EXAMPLES / "mug_good.jpg"), "-o", str(tmp_path / "out"), "--model", "none"]) in (0, 1)
    catalogue = tmp_path / "out" / "catalog.sqlite"
    with sqlite3.connect(catalogue) as conn:
        (text,) = conn.execute("SELECT provenance FROM runs").fetchone()
    record = json.loads(text)
    assert set(record) == KEYS and record["policy"] == "generic" and record["model"] == "none"


def test_a_version_1_catalogue_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    import sqlite3

    from pixgrade.catalog.store import SCHEMA_VERSION, Catalog

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the runs table as version 1 made it
        conn.executescript(
            "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, command TEXT,"
            " policy TEXT, model TEXT, n_images INTEGER, n_reused INTEGER, status TEXT NOT NULL DEFAULT 'running');"
            "INSERT INTO runs (started_at, command, status) VALUES ('2026-01-01', 'filter', 'done');"
        )
    conn.close()
    with Catalog(path) as catalog:
        assert catalog.schema_version == SCHEMA_VERSION == 3
        run_id = catalog.start_run("filter", "generic", "none", provenance={"model": "none"})
        rows = catalog.conn.execute("SELECT command, provenance FROM runs ORDER BY id").fetchall()
    assert rows == [("filter", None), ("filter", '{"model": "none"}')] and run_id == 2
    with Catalog(path) as catalog:  # opening again changes nothing
        assert catalog.schema_version == 3
