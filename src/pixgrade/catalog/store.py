"""The SQLite catalogue of images, scores, factors, rule results, decisions and runs.

One file (stdlib ``sqlite3``, WAL journal, every write in a transaction). Images are keyed by path and carry the
content SHA-256; scores are stored with the file hash and a *model key* (model, pixgrade version, analysis
version), so a re-run reuses the stored analysis of every unchanged file (same hash, same key) and re-scores
changed ones. Re-running updates rows in place: an image has one row, one score row, one decision (the latest
run's) and one set of rule results; every run is logged in ``runs``. Paths (and products, duplicate-of) are stored
as :func:`pixgrade.io.files.path_text` (valid UTF-8 for any file name; :func:`~pixgrade.io.files.path_from_text`
gives the name back).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.errors import ConfigError
from pixgrade.facts import ImageFacts
from pixgrade.io.files import path_from_text, path_text
from pixgrade.measures import Factor
from pixgrade.pipeline import ImageResult
from pixgrade.policy.decisions import Decision
from pixgrade.policy.rules import Verdict

__all__ = ["SCHEMA_VERSION", "Catalog", "StoredAnalysis"]

SCHEMA_VERSION = 3
"""1: the first schema; 2: ``runs.provenance`` (JSON of :func:`pixgrade.provenance.provenance`); 3:
``scores.presentation``, ``scores.main_score`` and ``scores.presentation_reasons``. Each is added by ``ALTER TABLE``
when an older file is opened (old rows keep ``NULL`` until their image is judged again)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    command TEXT,
    policy TEXT,
    model TEXT,
    n_images INTEGER,
    n_reused INTEGER,
    status TEXT NOT NULL DEFAULT 'running',
    provenance TEXT
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT,
    size_bytes INTEGER,
    width INTEGER,
    height INTEGER,
    format TEXT,
    error TEXT,
    phash TEXT,
    updated_at TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id)
);
CREATE INDEX IF NOT EXISTS images_sha256 ON images(sha256);
CREATE TABLE IF NOT EXISTS scores (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    model_key TEXT NOT NULL,
    score REAL,
    grade INTEGER,
    reasons TEXT,
    severities TEXT,
    facts TEXT,
    embedding BLOB,
    scored_at TEXT NOT NULL,
    presentation REAL,
    main_score REAL,
    presentation_reasons TEXT
);
CREATE INDEX IF NOT EXISTS scores_lookup ON scores(sha256, model_key);
CREATE TABLE IF NOT EXISTS factors (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL,
    score REAL,
    flag INTEGER,
    reason TEXT,
    PRIMARY KEY (image_id, name)
);
CREATE TABLE IF NOT EXISTS rule_results (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    policy TEXT NOT NULL,
    rule TEXT NOT NULL,
    metric TEXT NOT NULL,
    passed INTEGER,
    value TEXT,
    threshold TEXT,
    action TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (image_id, rule)
);
CREATE TABLE IF NOT EXISTS decisions (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    product TEXT,
    decision TEXT NOT NULL,
    is_main INTEGER NOT NULL,
    rank INTEGER,
    duplicate_of TEXT,
    reasons TEXT,
    warnings TEXT
);
CREATE TABLE IF NOT EXISTS content_embeddings (
    image_id INTEGER PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    embedding BLOB NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class StoredAnalysis:
    """An image's stored analysis, ready to reuse."""

    result: ImageResult
    facts: ImageFacts | None
    phash: str | None


class Catalog:
    """A catalogue file; use as a context manager or call :meth:`close`.

    Args:
        path: the SQLite file (created with its folder when missing), or ``":memory:"``.

    Raises:
        ConfigError: the file is not a pixgrade catalogue, or was written by a newer schema.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0)
            self.conn.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                row = self.conn.execute("SELECT version FROM schema_version").fetchone()
                if row is None:
                    self.conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                elif row[0] > SCHEMA_VERSION:
                    raise ConfigError(
                        f"{self.path}: catalogue schema version {row[0]} is newer than this pixgrade ({SCHEMA_VERSION})"
                    )
                elif row[0] < SCHEMA_VERSION:
                    self._migrate(int(row[0]))
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable SQLite catalogue: {exc}") from exc

    def _migrate(self, version: int) -> None:
        """Bring an older file up to :data:`SCHEMA_VERSION` in place (inside the opening transaction)."""
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(runs)")}
        if version < 2 and "provenance" not in columns:
            self.conn.execute("ALTER TABLE runs ADD COLUMN provenance TEXT")
        score_columns = {r[1] for r in self.conn.execute("PRAGMA table_info(scores)")}
        for name, kind in (("presentation", "REAL"), ("main_score", "REAL"), ("presentation_reasons", "TEXT")):
            if version < 3 and name not in score_columns:
                self.conn.execute(f"ALTER TABLE scores ADD COLUMN {name} {kind}")
        self.conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (committed on success, rolled back on error)."""
        with self.conn:
            yield self.conn

    @property
    def schema_version(self) -> int:
        """The schema version stored in the file."""
        return int(self.conn.execute("SELECT version FROM schema_version").fetchone()[0])

    # -- runs --------------------------------------------------------------------------------------------------
    def start_run(
        self, command: str, policy: str | None, model: str | None, provenance: Mapping[str, Any] | None = None
    ) -> int:
        """Log a new run (``provenance``: :func:`pixgrade.provenance.provenance`, stored as JSON); returns its id."""
        record = None if provenance is None else json.dumps(dict(provenance), sort_keys=True, default=str)
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO runs (started_at, command, policy, model, provenance) VALUES (?, ?, ?, ?, ?)",
                (_now(), command, policy, model, record),
            )
        return int(cur.lastrowid or 0)

    def interrupt_stale_runs(self) -> int:
        """Mark every run still ``running`` as ``interrupted`` (call it while holding the catalogue's lock, when no
        other run can be live: those runs were killed); returns how many."""
        with self.conn:
            cur = self.conn.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'", (_now(),)
            )
        return int(cur.rowcount or 0)

    def finish_run(self, run_id: int, n_images: int, n_reused: int, status: str = "done") -> None:
        """Mark a run finished."""
        with self.conn:
            self.conn.execute(
                "UPDATE runs SET finished_at = ?, n_images = ?, n_reused = ?, status = ? WHERE id = ?",
                (_now(), n_images, n_reused, status, run_id),
            )

    # -- images and scores ---------------------------------------------------------------------------------------
    def lookup(self, sha256: str, model_key: str, path: str | None = None) -> StoredAnalysis | None:
        """The stored analysis of content ``sha256`` under ``model_key`` (from any path; this path's first), or
        None when it must be (re)computed."""
        row = self.conn.execute(
            """SELECT i.id, i.path, i.width, i.height, i.format, i.phash, s.score, s.grade, s.reasons, s.severities,
                      s.facts, s.embedding, s.presentation, s.main_score, s.presentation_reasons
               FROM scores s JOIN images i ON i.id = s.image_id
               WHERE s.sha256 = ? AND s.model_key = ? AND i.error IS NULL
               ORDER BY (i.path = ?) DESC LIMIT 1""",
            (sha256, model_key, path_text(path) if path else ""),
        ).fetchone()
        if row is None:
            return None
        image_id, _, width, height, fmt, phash, score, grade, reasons, severities, facts, embedding = row[:12]
        presentation, main_score, presentation_reasons = row[12:]
        factors = {
            name: Factor(name=name, value=value, score=fscore, flag=bool(flag), reason=reason)
            for name, value, fscore, flag, reason in self.conn.execute(
                "SELECT name, value, score, flag, reason FROM factors WHERE image_id = ?", (image_id,)
            )
        }
        result = ImageResult(
            path=path or path_from_text(row[1]),
            score=score,
            grade=grade,
            factors=factors,
            severities=json.loads(severities) if severities else {},
            reasons=json.loads(reasons) if reasons else [],
            width=width,
            height=height,
            format=fmt,
            sha256=sha256,
            embedding=np.frombuffer(embedding, dtype=np.float32).copy() if embedding else None,
            presentation=presentation,
            main_score=main_score,
            presentation_reasons=json.loads(presentation_reasons) if presentation_reasons else [],
        )
        return StoredAnalysis(result, ImageFacts.from_dict(json.loads(facts)) if facts else None, phash)

    def save_analysis(
        self,
        result: ImageResult,
        *,
        model_key: str,
        facts: ImageFacts | None,
        phash: str | None,
        size_bytes: int | None,
        run_id: int | None = None,
    ) -> int:
        """Insert or update an image and its scores, factors and facts; returns the image id."""
        now = _now()
        with self.conn:
            image_id = self._upsert_image(result, phash, size_bytes, run_id, now)
            self.conn.execute("DELETE FROM factors WHERE image_id = ?", (image_id,))
            if result.error is not None or result.sha256 is None:
                self.conn.execute("DELETE FROM scores WHERE image_id = ?", (image_id,))
                return image_id
            self.conn.executemany(
                "INSERT INTO factors (image_id, name, value, score, flag, reason) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (image_id, f.name, _finite(f.value), _finite(f.score), int(bool(f.flag)), f.reason)
                    for f in result.factors.values()
                ],
            )
            embedding = None
            if result.embedding is not None:
                embedding = np.asarray(result.embedding, dtype=np.float32).tobytes()
            self.conn.execute(
                """INSERT INTO scores (image_id, sha256, model_key, score, grade, reasons, severities, facts,
                                      embedding, scored_at, presentation, main_score, presentation_reasons)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(image_id) DO UPDATE SET sha256 = excluded.sha256, model_key = excluded.model_key,
                     score = excluded.score, grade = excluded.grade, reasons = excluded.reasons,
                     severities = excluded.severities, facts = excluded.facts, embedding = excluded.embedding,
                     scored_at = excluded.scored_at, presentation = excluded.presentation,
                     main_score = excluded.main_score, presentation_reasons = excluded.presentation_reasons""",
                (
                    image_id,
                    result.sha256,
                    model_key,
                    result.score,
                    result.grade,
                    json.dumps(result.reasons),
                    json.dumps(result.severities),
                    json.dumps(facts.to_dict()) if facts is not None else None,
                    embedding,
                    now,
                    _finite(result.presentation),
                    _finite(result.main_score),
                    json.dumps(result.presentation_reasons) if result.presentation_reasons else None,
                ),
            )
        return image_id

    def _upsert_image(
        self, result: ImageResult, phash: str | None, size_bytes: int | None, run_id: int | None, now: str
    ) -> int:
        self.conn.execute(
            """INSERT INTO images (path, sha256, size_bytes, width, height, format, error, phash, updated_at, run_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(path) DO UPDATE SET sha256 = excluded.sha256, size_bytes = excluded.size_bytes,
                 width = excluded.width, height = excluded.height, format = excluded.format, error = excluded.error,
                 phash = excluded.phash, updated_at = excluded.updated_at, run_id = excluded.run_id""",
            (
                path_text(result.path),
                result.sha256,
                size_bytes,
                result.width,
                result.height,
                result.format,
                result.error,
                phash,
                now,
                run_id,
            ),
        )
        return int(self.conn.execute("SELECT id FROM images WHERE path = ?", (path_text(result.path),)).fetchone()[0])

    # -- near-duplicate search -----------------------------------------------------------------------------------
    def content_embedding(self, sha256: str, model: str) -> np.ndarray | None:
        """The stored content embedding (see :func:`pixgrade.dedupe.features.content_embedding`) of content
        ``sha256`` computed by ``model``, or None."""
        row = self.conn.execute(
            "SELECT embedding FROM content_embeddings WHERE sha256 = ? AND model = ? LIMIT 1", (sha256, model)
        ).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32).copy()

    def save_content_embeddings(self, items: Sequence[tuple[str, str, str, np.ndarray]]) -> None:
        """Store ``(path, sha256, model, embedding)`` content embeddings (the image rows must exist)."""
        with self.conn:
            for path, sha256, model, vector in items:
                image_id = self.image_id(path)
                if image_id is None:
                    raise KeyError(f"{path}: not in the catalogue; save its analysis first")
                self.conn.execute(
                    """INSERT INTO content_embeddings (image_id, sha256, model, embedding) VALUES (?, ?, ?, ?)
                       ON CONFLICT(image_id) DO UPDATE SET sha256 = excluded.sha256, model = excluded.model,
                         embedding = excluded.embedding""",
                    (image_id, sha256, model, np.asarray(vector, dtype=np.float32).tobytes()),
                )

    def duplicate_entries(self, after_id: int = 0) -> Iterator[tuple[int, str, str | None, str | None, int, int]]:
        """``(image id, path, sha256, phash, width, height)`` of every readable image with a pHash, by id, from
        ``after_id`` on (streamed: memory stays flat however large the catalogue)."""
        cursor = self.conn.execute(
            """SELECT id, path, sha256, phash, COALESCE(width, 0), COALESCE(height, 0) FROM images
               WHERE error IS NULL AND phash IS NOT NULL AND id > ? ORDER BY id""",
            (after_id,),
        )
        yield from cursor

    def content_embeddings_of(self, model: str, after_id: int = 0) -> Iterator[tuple[int, str, np.ndarray]]:
        """``(image id, sha256, embedding)`` of the content embeddings by ``model`` whose image still has that
        content, by id, from ``after_id`` on (streamed)."""
        cursor = self.conn.execute(
            """SELECT c.image_id, c.sha256, c.embedding FROM content_embeddings c JOIN images i ON i.id = c.image_id
               WHERE c.model = ? AND c.sha256 = i.sha256 AND i.error IS NULL AND c.image_id > ? ORDER BY c.image_id""",
            (model, after_id),
        )
        for image_id, sha256, blob in cursor:
            yield int(image_id), str(sha256), np.frombuffer(blob, dtype=np.float32).copy()

    def entry(self, image_id: int) -> tuple[str, str | None, str | None, int, int] | None:
        """``(path, sha256, phash, width, height)`` of one image id, or None."""
        row = self.conn.execute(
            "SELECT path, sha256, phash, COALESCE(width, 0), COALESCE(height, 0) FROM images WHERE id = ?",
            (image_id,),
        ).fetchone()
        return None if row is None else (str(row[0]), row[1], row[2], int(row[3]), int(row[4]))

    def image_id(self, path: str) -> int | None:
        """The id of an image path, or None."""
        row = self.conn.execute("SELECT id FROM images WHERE path = ?", (path_text(path),)).fetchone()
        return None if row is None else int(row[0])

    # -- policy outcomes -----------------------------------------------------------------------------------------
    def save_outcomes(self, run_id: int, items: Sequence[tuple[str, Verdict, Decision]]) -> None:
        """Replace the rule results and decision of each ``(path, verdict, decision)`` with this run's."""
        with self.conn:
            for path, verdict, decision in items:
                image_id = self.image_id(path)
                if image_id is None:
                    raise KeyError(f"{path}: not in the catalogue; save its analysis first")
                self.conn.execute("DELETE FROM rule_results WHERE image_id = ?", (image_id,))
                self.conn.executemany(
                    """INSERT INTO rule_results (image_id, run_id, policy, rule, metric, passed, value, threshold,
                                                action, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [
                        (
                            image_id,
                            run_id,
                            verdict.policy,
                            r.rule,
                            r.metric,
                            None if r.passed is None else int(r.passed),
                            None if r.value is None else json.dumps(_plain(r.value)),
                            r.threshold,
                            r.action,
                            r.reason,
                        )
                        for r in verdict.results
                    ],
                )
                self.conn.execute(
                    """INSERT INTO decisions (image_id, run_id, product, decision, is_main, rank, duplicate_of, reasons,
                                             warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT(image_id) DO UPDATE SET run_id = excluded.run_id, product = excluded.product,
                         decision = excluded.decision, is_main = excluded.is_main, rank = excluded.rank,
                         duplicate_of = excluded.duplicate_of, reasons = excluded.reasons,
                         warnings = excluded.warnings""",
                    (
                        image_id,
                        run_id,
                        path_text(decision.product),
                        decision.decision,
                        int(decision.main),
                        decision.rank,
                        None if decision.duplicate_of is None else path_text(decision.duplicate_of),
                        json.dumps(decision.reasons),
                        json.dumps(decision.warnings),
                    ),
                )

    # -- reading ---------------------------------------------------------------------------------------------------
    def count(self, table: str) -> int:
        """Row count of one table."""
        if table not in ("images", "scores", "factors", "rule_results", "decisions", "runs"):
            raise ValueError(f"unknown table {table!r}")
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per image: file facts, score, factors, facts, and the latest decision."""
        columns = [
            "path",
            "sha256",
            "size_bytes",
            "width",
            "height",
            "format",
            "error",
            "phash",
            "score",
            "grade",
            "presentation",
            "main_score",
            "reasons",
            "presentation_reasons",
            "severities",
            "facts",
            "model_key",
            "product",
            "decision",
            "is_main",
            "rank",
            "duplicate_of",
            "decision_reasons",
            "warnings",
            "run_id",
        ]
        query = """
            SELECT i.path, i.sha256, i.size_bytes, i.width, i.height, i.format, i.error, i.phash, s.score, s.grade,
                   s.presentation, s.main_score, s.reasons, s.presentation_reasons, s.severities, s.facts, s.model_key,
                   d.product, d.decision, d.is_main, d.rank,
                   d.duplicate_of, d.reasons, d.warnings, d.run_id, i.id
            FROM images i LEFT JOIN scores s ON s.image_id = i.id LEFT JOIN decisions d ON d.image_id = i.id
            ORDER BY i.path"""
        factors: dict[int, dict[str, Any]] = {}
        for image_id, name, value, score, flag in self.conn.execute(
            "SELECT image_id, name, value, score, flag FROM factors"
        ):
            entry = factors.setdefault(image_id, {})
            entry[f"{name}_score"], entry[f"{name}_flag"], entry[f"{name}_value"] = score, bool(flag), value
        out = []
        for raw in self.conn.execute(query):
            row = dict(zip(columns, raw[:-1], strict=True))
            image_id = raw[-1]
            for key in ("reasons", "presentation_reasons", "decision_reasons", "warnings"):
                row[key] = "; ".join(json.loads(row[key])) if row[key] else None
            for name, value in (json.loads(row.pop("severities")) if row["severities"] else {}).items():
                row[f"severity_{name}"] = value
            for name, value in (json.loads(row.pop("facts")) if row["facts"] else {}).items():
                row[f"fact_{name}"] = value
            row.pop("severities", None)
            row.pop("facts", None)
            row["is_main"] = None if row["is_main"] is None else bool(row["is_main"])
            row.update(factors.get(image_id, {}))
            out.append(row)
        return out


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
