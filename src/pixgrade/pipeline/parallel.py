"""Order-preserving, memory-bounded map over worker processes that survives worker crashes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, Generic, TypeVar

from pixgrade.errors import PixgradeError

__all__ = ["CRASH_MESSAGE", "ChunkMap", "WorkerStartError", "usable_cpus"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Error recorded for a file whose worker process died while handling it.
CRASH_MESSAGE = "the worker process died while processing this file (decoder crash or out of memory)"


class WorkerStartError(PixgradeError):
    """Worker processes die before they can run any task (their start-up or initializer fails)."""


#: How often a worker checks that its parent is still alive (seconds).
PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent_pid: int) -> None:
    """In a worker process: end it as soon as ``parent_pid`` is no longer its parent (the parent died, e.g. killed
    by the out-of-memory killer, and the worker was re-parented), so no orphan keeps its memory for ever. A daemon
    thread polls ``os.getppid()`` (portable, and independent of which parent thread started the worker, unlike
    Linux's parent-death signal)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died while this worker was starting
        os._exit(1)
    threading.Thread(target=watch, name="pixgrade-parent-watch", daemon=True).start()


def _init_worker(parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    """Worker start-up: the parent watch, then the caller's initializer."""
    _exit_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def _probe() -> bool:
    """A task that only succeeds if a worker process can start (run after a restart)."""
    return True


def usable_cpus() -> int:
    """CPUs this process may run on (respects affinity masks, e.g. in containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ChunkMap(Generic[T, R]):
    """Apply ``fn(chunk, *args) -> list[R]`` to chunks of ``items`` in worker processes; yield results in order.

    At most ``max_pending`` chunks are queued or running at any time, so memory does not grow with the number of
    items (the input is consumed lazily). Workers are started with the ``spawn`` method (no inherited locks or
    thread pools from the parent; the same on every OS). Each worker ends itself within
    :data:`PARENT_CHECK_SECONDS` when this process dies, however it dies (``kill -9`` included).

    If a worker process dies (segfault in a decoder, killed for memory), the pool is restarted, the chunk that
    was being waited on is re-run one item at a time to find the culprit, and the culprit gets
    ``on_failure(item, CRASH_MESSAGE)``; everything else is recomputed and goes on. An exception raised by
    ``fn`` itself marks the whole chunk with ``on_failure(item, "internal error: ...")``.
    """

    def __init__(
        self,
        fn: Callable[..., list[R]],
        args: tuple[Any, ...],
        *,
        workers: int,
        chunk_size: int,
        max_pending: int,
        on_failure: Callable[[T, str], R],
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        if workers < 1 or chunk_size < 1 or max_pending < 1:
            raise ValueError("workers, chunk_size and max_pending must be >= 1")
        self.fn = fn
        self.args = args
        self.workers = workers
        self.chunk_size = chunk_size
        self.max_pending = max_pending
        self.on_failure = on_failure
        self.initializer = initializer
        self.initargs = initargs
        self.restarts = 0
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(), self.initializer, self.initargs),
        )

    def _restart(self) -> ProcessPoolExecutor:
        """Replace a broken pool, checking that fresh workers can run at all (else nothing could be scored)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self.restarts += 1
        logger.warning("a worker process died; restarting the pool (restart %d)", self.restarts)
        self._pool = self._new_pool()
        try:
            self._pool.submit(_probe).result()
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise WorkerStartError(
                "worker processes die as soon as they start (see the messages above); "
                "run in one process with --workers 0, or check that the calling script has an "
                "`if __name__ == '__main__':` guard (required by the spawn start method)"
            ) from None
        return self._pool

    def _submit(self, chunk: list[T]) -> Future[list[R]]:
        assert self._pool is not None
        try:
            return self._pool.submit(self.fn, chunk, *self.args)
        except BrokenProcessPool as exc:  # the pool broke since the last result: fail this future, handled later
            future: Future[list[R]] = Future()
            future.set_exception(exc)
            return future

    def _isolate(self, chunk: list[T]) -> list[R]:
        """Re-run ``chunk`` one item per task on a fresh pool; an item that kills its worker is marked failed."""
        results: list[R] = []
        for item in chunk:
            try:
                results.extend(self._submit([item]).result())
            except BrokenProcessPool:
                results.append(self.on_failure(item, CRASH_MESSAGE))
                self._restart()
            except Exception as exc:
                results.append(self.on_failure(item, f"internal error: {type(exc).__name__}: {exc}"))
        return results

    def __call__(self, items: Iterable[T]) -> Iterator[R]:
        """Results for ``items`` in input order, one per item."""
        self._pool = self._new_pool()
        chunks = _chunks(items, self.chunk_size)
        pending: deque[tuple[list[T], Future[list[R]]]] = deque()
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.max_pending:
                    chunk = next(chunks, None)
                    if chunk is None:
                        exhausted = True
                    else:
                        pending.append((chunk, self._submit(chunk)))
                if not pending:
                    break
                chunk, future = pending.popleft()
                try:
                    results = future.result()
                except BrokenProcessPool:
                    self._restart()
                    results = self._isolate(chunk)
                    # Chunks that finished before the crash keep their results; the others run again.
                    pending = deque(
                        (c, f if f.done() and not f.cancelled() and f.exception() is None else self._submit(c))
                        for c, f in pending
                    )
                except Exception as exc:
                    results = [self.on_failure(item, f"internal error: {type(exc).__name__}: {exc}") for item in chunk]
                if len(results) != len(chunk):
                    raise RuntimeError(f"worker returned {len(results)} results for {len(chunk)} items")
                yield from results
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
