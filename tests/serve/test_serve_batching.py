"""MicroBatcher: one worker thread, batches gathered while busy, bounded queue, per-item failure isolation."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from pixgrade.serve.batching import BatchStats, MicroBatcher, QueueFullError


class Recorder:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        self.gate.wait(30)
        if any(i < 0 for i in items):
            raise ValueError("negative item")
        self.batches.append(list(items))
        return [i * 10 for i in items]


def _blocked_batcher(**kwargs: object) -> tuple[MicroBatcher[int, int], Recorder, Future[int]]:
    fn = Recorder()
    batcher: MicroBatcher[int, int] = MicroBatcher(fn, **kwargs)  # type: ignore[arg-type]
    batcher.start()
    first = batcher.submit(0)
    assert fn.entered.wait(30)
    return batcher, fn, first


def test_items_queued_while_busy_are_batched_up_to_max_batch() -> None:
    stats: list[BatchStats] = []
    batcher, fn, first = _blocked_batcher(max_batch=4, max_wait_s=0.0, max_queue=16, on_batch=stats.append)
    try:
        futures = [batcher.submit(i) for i in range(1, 7)]
        assert batcher.depth == 6
        fn.gate.set()
        assert [f.result(30) for f in futures] == [10, 20, 30, 40, 50, 60]
        assert first.result(30) == 0
    finally:
        batcher.stop()
    assert fn.batches == [[0], [1, 2, 3, 4], [5, 6]]
    assert [s.size for s in stats] == [1, 4, 2]
    assert len(fn.threads) == 1  # the model runs in exactly one thread


def test_bounded_queue_refuses_when_full() -> None:
    batcher, fn, _ = _blocked_batcher(max_batch=2, max_wait_s=0.0, max_queue=2)
    try:
        batcher.submit(1)
        batcher.submit(2)
        with pytest.raises(QueueFullError):
            batcher.submit(3)
    finally:
        fn.gate.set()
        batcher.stop()


def test_a_failing_item_does_not_fail_its_batch_mates() -> None:
    batcher, fn, _ = _blocked_batcher(max_batch=8, max_wait_s=0.0, max_queue=8)
    try:
        good, bad, other = batcher.submit(1), batcher.submit(-1), batcher.submit(2)
        fn.gate.set()
        assert good.result(30) == 10 and other.result(30) == 20
        with pytest.raises(ValueError, match="negative"):
            bad.result(30)
    finally:
        batcher.stop()


def test_cancelled_items_are_skipped() -> None:
    batcher, fn, _ = _blocked_batcher(max_batch=8, max_wait_s=0.0, max_queue=8)
    try:
        dropped = batcher.submit(5)
        kept = batcher.submit(6)
        assert dropped.cancel()
        fn.gate.set()
        assert kept.result(30) == 60
    finally:
        batcher.stop()
    assert [5] not in fn.batches and all(5 not in b for b in fn.batches)


def test_submit_requires_start_and_settings_are_checked() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: items)
    with pytest.raises(RuntimeError, match="not running"):
        batcher.submit(1)
    for bad in ({"max_batch": 0}, {"max_wait_s": -1.0}, {"max_queue": 0}):
        with pytest.raises(ValueError):
            MicroBatcher(lambda items: items, **bad)  # type: ignore[arg-type]


def test_wrong_result_count_fails_the_items() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [], max_wait_s=0.0)
    batcher.start()
    try:
        with pytest.raises(RuntimeError, match="returned 0 results"):
            batcher.submit(1).result(30)
    finally:
        batcher.stop()
