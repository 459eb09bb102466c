"""The state behind the labelling page: which item each annotator gets next, progress, agreement.

Judgements are stored the moment they are made (:class:`~pixgrade.catalog.judgements.JudgementStore`), so a
restarted server continues where everyone was. The model's features are computed in a background thread (cached
in the catalogue); until they are ready, images come in random order. An item handed to one annotator is leased
to them for ``lease_s`` seconds so that two annotators working at once are not shown the same image, except for a
share ``overlap`` of items deliberately shown to a second annotator to measure agreement and correct biases.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.catalog.judgements import Judgement, JudgementStore
from pixgrade.label.scale import agreement_report
from pixgrade.label.selection import STRATEGIES, Selector

__all__ = ["MODES", "LabelSession", "NextItem"]

log = logging.getLogger(__name__)

MODES: tuple[str, ...] = ("grades", "pairs")


@dataclass
class NextItem:
    """What to show: one image (grades) or two (pairs); ``images`` empty when everything is done."""

    kind: str
    images: list[str]
    reason: str = ""


@dataclass
class _Lease:
    annotator: str
    until: float


@dataclass
class LabelSession:
    """Labelling state of one catalogue (thread-safe; one per server).

    Args:
        store: the catalogue's judgement store, with the images to label registered.
        mode: ``grades`` or ``pairs`` (the default of the page; each request may ask for either).
        strategy: ``active`` or ``random``.
        model: ``default`` or a checkpoint whose features guide active selection (None: random only).
    """

    store: JudgementStore
    mode: str = "grades"
    strategy: str = "active"
    model: str | None = "default"
    overlap: float = 0.1
    lease_s: float = 120.0
    seed: int = 0
    features_done: int = 0
    features_total: int = 0
    features_error: str | None = None
    _selector: Selector | None = field(default=None, repr=False)
    _selector_order: list[str] = field(default_factory=list, repr=False)
    _selector_index: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _leases: dict[str, _Lease] = field(default_factory=dict, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; one of {', '.join(MODES)}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}; one of {', '.join(STRATEGIES)}")
        self.images = self.store.images()
        self.index = {sha: i for i, (sha, _) in enumerate(self.images)}
        self.rng = np.random.default_rng(self.seed)
        self.features_total = len(self.images)

    # -- features ----------------------------------------------------------------------------------------------
    def start_features(self) -> None:
        """Compute (or load) the model's features in a background thread, then switch to active selection."""
        if self.model is None or self.strategy == "random" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._features, name="pixgrade-label-features", daemon=True)
        self._thread.start()

    def wait_features(self, timeout: float | None = None) -> bool:
        """Wait for the background features; True when the selector is ready."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._selector is not None

    def _features(self) -> None:
        from pixgrade.label.features import ensure_features, load_base_model

        try:
            net, _, key = load_base_model(self.model or "default")

            def progress(done: int, total: int) -> None:
                self.features_done = self.features_total - total + done

            table = ensure_features(self.store, net, key, progress=progress)
            selector = Selector(table.pooled, table.embedding, net.score_head, self.strategy, seed=self.seed)
            order = {sha: i for i, sha in enumerate(table.sha256)}
            with self._lock:
                for j in self.store.judgements():
                    if j.kind == "grade" and j.sha256 in order:
                        selector.observe_grade(order[j.sha256])
                    elif j.kind == "pair" and j.sha256 in order and j.other_sha256 in order:
                        selector.observe_pair(order[j.sha256], order[str(j.other_sha256)])
                self._selector_order = table.sha256
                self._selector_index = order
                self._selector = selector
            self.features_done = self.features_total
        except Exception as exc:  # the page still works, in random order
            log.exception("features for active selection failed; using random order")
            self.features_error = str(exc)

    # -- leases ------------------------------------------------------------------------------------------------
    def _leased_to_others(self, annotator: str) -> set[str]:
        now = time.monotonic()
        self._leases = {k: v for k, v in self._leases.items() if v.until > now}
        return {sha for sha, lease in self._leases.items() if lease.annotator != annotator}

    def _lease(self, annotator: str, shas: Sequence[str]) -> None:
        until = time.monotonic() + self.lease_s
        for sha in shas:
            self._leases[sha] = _Lease(annotator, until)

    # -- choosing ------------------------------------------------------------------------------------------------
    def next_item(self, annotator: str, mode: str | None = None) -> NextItem:
        """The next image (grades) or pair (pairs) for ``annotator``."""
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            item = self._next_grade(annotator) if mode == "grades" else self._next_pair(annotator)
            self._lease(annotator, item.images)
            return item

    def _next_grade(self, annotator: str) -> NextItem:
        mine = self.store.seen_by(annotator)
        busy = self._leased_to_others(annotator)
        graded_by_others = {j.sha256 for j in self.store.judgements(kind="grade") if j.annotator != annotator}
        if graded_by_others - mine and self.rng.random() < self.overlap:
            choices = sorted(graded_by_others - mine - busy)
            if choices:
                return NextItem("grade", [choices[int(self.rng.integers(len(choices)))]], "overlap")
        blocked = mine | busy | graded_by_others
        selector = self._selector
        if selector is not None:
            exclude = [self._selector_index[s] for s in blocked if s in self._selector_index]
            pick = selector.next_image(exclude)
            if pick is not None:
                return NextItem("grade", [self._selector_order[pick]], self.strategy)
        free = [sha for sha, _ in self.images if sha not in blocked]
        if not free:
            left = [sha for sha, _ in self.images if sha not in mine and sha not in busy]
            if not left:
                return NextItem("grade", [], "done")
            return NextItem("grade", [left[int(self.rng.integers(len(left)))]], "overlap")
        return NextItem("grade", [free[int(self.rng.integers(len(free)))]], "random")

    def _next_pair(self, annotator: str) -> NextItem:
        seen_sha = self.store.pairs_seen_by(annotator)
        busy = self._leased_to_others(annotator)
        selector = self._selector
        if selector is not None:
            idx = self._selector_index
            seen = {frozenset(idx[s] for s in pair if s in idx) for pair in seen_sha}
            exclude = [idx[s] for s in busy if s in idx]
            pick = selector.next_pair(seen, exclude)
            if pick is not None:
                return NextItem("pair", [self._selector_order[pick[0]], self._selector_order[pick[1]]], self.strategy)
        free = [sha for sha, _ in self.images if sha not in busy]
        for _ in range(100):
            if len(free) < 2:
                break
            a, b = (free[int(i)] for i in self.rng.choice(len(free), 2, replace=False))
            if frozenset((a, b)) not in seen_sha:
                return NextItem("pair", [a, b], "random")
        return NextItem("pair", [], "done")

    # -- recording -------------------------------------------------------------------------------------------------
    def record(
        self, annotator: str, kind: str, sha256: str, value: float | None = None, other_sha256: str | None = None
    ) -> int:
        """Store a judgement now; returns its id.

        Raises:
            KeyError: an image that is not registered for labelling.
            ValueError: a bad kind or value (see :meth:`JudgementStore.add`).
        """
        for sha in (sha256, other_sha256):
            if sha is not None and sha not in self.index:
                raise KeyError(f"image {sha} is not in this catalogue's labelling set")
        ident = self.store.add(annotator, kind, sha256, value, other_sha256)
        with self._lock:
            self._leases.pop(sha256, None)
            if other_sha256:
                self._leases.pop(other_sha256, None)
            selector = self._selector
            if selector is not None:
                idx = self._selector_index
                if kind == "grade" and sha256 in idx:
                    selector.observe_grade(idx[sha256])
                elif kind == "pair" and sha256 in idx and other_sha256 in idx:
                    selector.observe_pair(idx[sha256], idx[str(other_sha256)])
        return ident

    def undo(self, annotator: str) -> Judgement | None:
        """Withdraw ``annotator``'s latest judgement (it is kept, marked undone); returns it."""
        return self.store.undo(annotator)

    # -- reporting -------------------------------------------------------------------------------------------------
    def status(self, annotator: str | None = None) -> dict[str, Any]:
        """Progress (overall and the annotator's), feature state, and the annotator's latest judgements."""
        judgements = self.store.judgements()
        graded = {j.sha256 for j in judgements if j.kind == "grade"}
        compared = {s for j in judgements if j.kind == "pair" for s in (j.sha256, j.other_sha256)}
        out: dict[str, Any] = {
            "mode": self.mode,
            "strategy": self.strategy if self._selector is not None else "random",
            "images": len(self.images),
            "graded_images": len(graded),
            "to_grade": len(self.images) - len(graded),
            "compared_images": len(compared),
            "judgements": self.store.counts(),
            "annotators": self.store.annotators(),
            "features": {
                "ready": self._selector is not None,
                "done": self.features_done,
                "total": self.features_total,
                "error": self.features_error,
            },
        }
        if annotator:
            mine = [j for j in judgements if j.annotator == annotator]
            out["mine"] = {
                "grades": sum(j.kind == "grade" for j in mine),
                "pairs": sum(j.kind == "pair" for j in mine),
                "skips": sum(j.kind == "skip" for j in mine),
                "recent": [
                    {"kind": j.kind, "sha256": j.sha256, "other_sha256": j.other_sha256, "value": j.value}
                    for j in reversed(mine[-10:])
                ],
            }
        return out

    def agreement(self) -> list[dict[str, Any]]:
        """The agreement report (:func:`pixgrade.label.scale.agreement_report`) as plain dicts."""
        return [r.to_dict() for r in agreement_report(self.store.judgements())]

    def path_of(self, sha256: str) -> Path | None:
        """The file of a registered image."""
        path = self.store.path_of(sha256)
        return None if path is None else Path(path)
