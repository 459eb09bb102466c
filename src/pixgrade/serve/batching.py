"""Micro-batching: one worker thread drains a bounded queue in batches and runs a batch function on each.

Requests from many concurrent clients are gathered for at most ``max_wait_s`` (or until ``max_batch`` items are
waiting) and handed to the model together, so the model runs in exactly one thread (no contention for the CPU
cores or the model's state) while the event loop stays free.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BatchStats", "MicroBatcher", "QueueFullError"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class QueueFullError(RuntimeError):
    """The batcher's queue is full: the caller should shed load (HTTP 503) instead of waiting."""


@dataclass(frozen=True)
class BatchStats:
    """What one batch looked like (passed to the ``on_batch`` hook, e.g. for metrics)."""

    size: int
    seconds: float
    """Wall time of the batch function."""
    waited: float
    """Time the oldest item of the batch spent in the queue."""


class _Stop:
    pass


_STOP = _Stop()


class MicroBatcher(Generic[T, R]):
    """Run ``fn(items) -> results`` on batches of submitted items in a single worker thread.

    Args:
        fn: called with a list of 1..``max_batch`` items; must return one result per item, in order. If it
            raises, each item of the batch is retried alone so one bad item cannot fail the others.
        max_batch: largest batch handed to ``fn``.
        max_wait_s: how long the first item of a batch may wait for companions.
        max_queue: capacity of the queue; :meth:`submit` raises :class:`QueueFullError` beyond it.
        on_batch: optional hook called after each batch with its :class:`BatchStats`.
        name: name of the worker thread.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 8,
        max_wait_s: float = 0.01,
        max_queue: int = 64,
        on_batch: Callable[[BatchStats], None] | None = None,
        name: str = "pixgrade-model",
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must be >= 0, got {max_wait_s}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.name = name
        self._queue: queue.Queue[tuple[T, Future[R], float] | _Stop] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running_batch = 0

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Finish the items already queued, then stop the worker thread."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        """True while the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- submission ------------------------------------------------------------------------------------------------
    def submit(self, item: T) -> Future[R]:
        """Queue one item; the returned future gets its result (or the exception ``fn`` raised for it).

        Raises:
            QueueFullError: ``max_queue`` items are already waiting.
            RuntimeError: the batcher was not started.
        """
        if not self.running:
            raise RuntimeError("the micro-batcher is not running (call start() first)")
        future: Future[R] = Future()
        with self._lock:
            if self._pending >= self.max_queue:
                raise QueueFullError(f"model queue is full ({self.max_queue} images waiting)")
            self._pending += 1
        self._queue.put((item, future, time.monotonic()))
        return future

    @property
    def depth(self) -> int:
        """Items waiting in the queue (not yet taken into a batch)."""
        return self._pending

    @property
    def busy(self) -> int:
        """Items in the batch being run now."""
        return self._running_batch

    # -- worker ----------------------------------------------------------------------------------------------------
    def _take(self, entry: tuple[T, Future[R], float]) -> tuple[T, Future[R], float] | None:
        with self._lock:
            self._pending -= 1
        # A caller that gave up (request cancelled) cancelled its future: skip the work.
        return entry if entry[1].set_running_or_notify_cancel() else None

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if isinstance(first, _Stop):
                break
            batch: list[tuple[T, Future[R], float]] = []
            taken = self._take(first)
            if taken is not None:
                batch.append(taken)
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(entry, _Stop):
                    stopping = True
                    break
                taken = self._take(entry)
                if taken is not None:
                    batch.append(taken)
            if batch:
                self._run(batch)
        # Drain what is left after a stop so no caller waits forever.
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(entry, _Stop):
                taken = self._take(entry)
                if taken is not None:
                    taken[1].set_exception(RuntimeError("the service is shutting down"))

    def _run(self, batch: list[tuple[T, Future[R], float]]) -> None:
        items = [entry[0] for entry in batch]
        waited = time.monotonic() - min(entry[2] for entry in batch)
        self._running_batch = len(batch)
        start = time.perf_counter()
        try:
            try:
                results = list(self.fn(items))
                if len(results) != len(items):
                    raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")
                for (_, future, _), result in zip(batch, results, strict=True):
                    future.set_result(result)
            except Exception:
                if len(batch) == 1:
                    raise
                logger.warning("a batch of %d failed; retrying its items one by one", len(batch), exc_info=True)
                for item, future, _ in batch:
                    try:
                        future.set_result(next(iter(self.fn([item]))))
                    except Exception as exc:
                        future.set_exception(exc)
        except Exception as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._running_batch = 0
            if self.on_batch is not None:
                try:
                    self.on_batch(BatchStats(size=len(batch), seconds=time.perf_counter() - start, waited=waited))
                except Exception:  # metrics must never break serving
                    logger.debug("on_batch hook failed", exc_info=True)
