"""Human judgements of photos (grades 0–5 and pairwise comparisons), stored in the SQLite catalogue.

Every judgement is one row, written in its own transaction the moment it is made: the image's content SHA-256,
the annotator, the kind (``grade``, ``pair`` or ``skip``), the value and the time. Undo marks an annotator's latest
judgement as undone (nothing is deleted). Each thread has its own connection to the file (WAL journal,
``BEGIN IMMEDIATE`` writes with a 30 s busy timeout), so several annotators — several server threads or
processes — can write at the same moment without losing a row.

Values: a grade is 0–5; a pair ``(sha256, other_sha256)`` is ``1.0`` when the first image is better, ``0.0`` when
the second is, ``0.5`` when they are about equal; a skip has no value.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pixgrade.errors import ConfigError

__all__ = ["KINDS", "Judgement", "JudgementStore"]

KINDS: tuple[str, ...] = ("grade", "pair", "skip")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS label_images (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS judgements (
    id INTEGER PRIMARY KEY,
    annotator TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('grade', 'pair', 'skip')),
    sha256 TEXT NOT NULL,
    other_sha256 TEXT,
    value REAL,
    created_at TEXT NOT NULL,
    undone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS judgements_annotator ON judgements(annotator, undone);
CREATE INDEX IF NOT EXISTS judgements_sha256 ON judgements(sha256);
CREATE TABLE IF NOT EXISTS label_features (
    sha256 TEXT NOT NULL,
    model TEXT NOT NULL,
    pooled BLOB NOT NULL,
    embedding BLOB NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (sha256, model)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Judgement:
    """One stored judgement (see the module docstring for the values)."""

    id: int
    annotator: str
    kind: str
    sha256: str
    other_sha256: str | None
    value: float | None
    created_at: str


def _check(kind: str, value: float | None, other: str | None) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown judgement kind {kind!r}; one of {', '.join(KINDS)}")
    if kind == "grade" and (value is None or not 0.0 <= float(value) <= 5.0):
        raise ValueError(f"a grade must be between 0 and 5, got {value}")
    if kind == "pair" and (other is None or value not in (0.0, 0.5, 1.0)):
        raise ValueError("a pair needs the other image and a value 1 (first better), 0 (second) or 0.5 (equal)")


class JudgementStore:
    """The judgements, labelling images and cached model features of one catalogue file (thread-safe).

    Raises:
        ConfigError: the file is not a usable SQLite database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path == ":memory:":
            raise ConfigError("judgements need a catalogue file (several connections share it), not ':memory:'")
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self._conn().executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{self.path}: not a usable SQLite catalogue: {exc}") from exc

    # -- connections -----------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> JudgementStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- images ----------------------------------------------------------------------------------------------
    def add_images(self, items: Iterable[tuple[str, str]]) -> int:
        """Register ``(sha256, path)`` pairs for labelling (a known SHA-256 keeps its first path); returns how
        many are new."""
        now = _now()
        with self._write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO label_images (sha256, path, added_at) VALUES (?, ?, ?)",
                [(sha, str(path), now) for sha, path in items],
            )
            return conn.total_changes - before

    def images(self) -> list[tuple[str, str]]:
        """All ``(sha256, path)`` registered for labelling, in the order they were added."""
        return [(r[0], r[1]) for r in self._conn().execute("SELECT sha256, path FROM label_images ORDER BY rowid")]

    def path_of(self, sha256: str) -> str | None:
        """The stored path of an image, or None."""
        row = self._conn().execute("SELECT path FROM label_images WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else str(row[0])

    # -- judgements ------------------------------------------------------------------------------------------
    def add(
        self, annotator: str, kind: str, sha256: str, value: float | None = None, other_sha256: str | None = None
    ) -> int:
        """Store one judgement now (its own transaction); returns its id.

        Raises:
            ValueError: unknown kind, a grade outside 0–5, or a pair without the other image or a valid value.
        """
        if not annotator:
            raise ValueError("a judgement needs an annotator name")
        _check(kind, value, other_sha256)
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO judgements (annotator, kind, sha256, other_sha256, value, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (annotator, kind, sha256, other_sha256, None if value is None else float(value), _now()),
            )
            return int(cur.lastrowid or 0)

    def add_many(self, rows: Sequence[tuple[str, str, str, float | None, str | None]]) -> int:
        """Store ``(annotator, kind, sha256, value, other_sha256)`` rows in one transaction; returns the count."""
        for annotator, kind, _, value, other in rows:
            if not annotator:
                raise ValueError("a judgement needs an annotator name")
            _check(kind, value, other)
        now = _now()
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO judgements (annotator, kind, sha256, other_sha256, value, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(a, k, s, o, None if v is None else float(v), now) for a, k, s, v, o in rows],
            )
        return len(rows)

    def undo(self, annotator: str) -> Judgement | None:
        """Mark ``annotator``'s latest judgement undone; returns it (None when there is nothing to undo)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, annotator, kind, sha256, other_sha256, value, created_at FROM judgements "
                "WHERE annotator = ? AND undone = 0 ORDER BY id DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE judgements SET undone = 1 WHERE id = ?", (row[0],))
        return Judgement(*row)

    def judgements(self, kind: str | None = None, annotator: str | None = None) -> list[Judgement]:
        """The standing (not undone) judgements, oldest first, optionally of one kind or annotator."""
        query = "SELECT id, annotator, kind, sha256, other_sha256, value, created_at FROM judgements WHERE undone = 0"
        params: list[str] = []
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        if annotator is not None:
            query += " AND annotator = ?"
            params.append(annotator)
        return [Judgement(*row) for row in self._conn().execute(query + " ORDER BY id", params)]

    def seen_by(self, annotator: str) -> set[str]:
        """SHA-256 of every image ``annotator`` has graded or skipped (standing judgements)."""
        rows = self._conn().execute(
            "SELECT sha256 FROM judgements WHERE annotator = ? AND undone = 0 AND kind IN ('grade', 'skip')",
            (annotator,),
        )
        return {r[0] for r in rows}

    def pairs_seen_by(self, annotator: str) -> set[frozenset[str]]:
        """The image pairs ``annotator`` has compared (or skipped as a pair)."""
        rows = self._conn().execute(
            "SELECT sha256, other_sha256 FROM judgements "
            "WHERE annotator = ? AND undone = 0 AND other_sha256 IS NOT NULL",
            (annotator,),
        )
        return {frozenset(r) for r in rows}

    def counts(self) -> dict[str, int]:
        """Standing judgements per kind."""
        rows = self._conn().execute("SELECT kind, COUNT(*) FROM judgements WHERE undone = 0 GROUP BY kind")
        return {str(k): int(n) for k, n in rows}

    def annotators(self) -> list[str]:
        """Names of everyone with a standing judgement."""
        rows = self._conn().execute("SELECT DISTINCT annotator FROM judgements WHERE undone = 0 ORDER BY annotator")
        return [r[0] for r in rows]

    # -- cached model features ---------------------------------------------------------------------------------
    def save_features(self, model: str, rows: Sequence[tuple[str, np.ndarray, np.ndarray, float]]) -> None:
        """Keep ``(sha256, pooled, embedding, score)`` of images under model key ``model`` (float16 blobs)."""
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO label_features (sha256, model, pooled, embedding, score) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (sha, model, np.asarray(p, np.float16).tobytes(), np.asarray(e, np.float16).tobytes(), float(s))
                    for sha, p, e, s in rows
                ],
            )

    def features(self, model: str) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
        """``sha256 -> (pooled, embedding, score)`` cached under model key ``model`` (float32 arrays)."""
        out = {}
        for sha, pooled, embedding, score in self._conn().execute(
            "SELECT sha256, pooled, embedding, score FROM label_features WHERE model = ?", (model,)
        ):
            out[sha] = (
                np.frombuffer(pooled, np.float16).astype(np.float32),
                np.frombuffer(embedding, np.float16).astype(np.float32),
                float(score),
            )
        return out
