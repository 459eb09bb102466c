"""ChunkMap: order, bounded work, and surviving a worker that dies."""

from __future__ import annotations

import pytest
from pipeline_helpers import broken_initializer, crash_on_13, double_chunk, failure, raise_on_7

from pixgrade.pipeline.parallel import ChunkMap, WorkerStartError


def consumed_lazily(n: int, log: list[int]):  # type: ignore[no-untyped-def]
    for i in range(n):
        log.append(i)
        yield i


def test_results_in_order_and_input_consumed_lazily() -> None:
    log: list[int] = []
    mapper: ChunkMap[int, int] = ChunkMap(
        double_chunk, (1,), workers=2, chunk_size=3, max_pending=2, on_failure=failure
    )
    results = mapper(consumed_lazily(40, log))
    first = next(results)
    assert first == 1
    assert len(log) <= 3 * 3  # at most max_pending chunks (+ the one being refilled) taken from the input
    assert [first, *results] == [2 * i + 1 for i in range(40)]


def test_a_crashing_item_is_isolated_and_the_rest_go_on() -> None:
    mapper: ChunkMap[int, int] = ChunkMap(crash_on_13, (0,), workers=1, chunk_size=4, max_pending=2, on_failure=failure)
    results = list(mapper(range(18)))
    expected = [2 * i for i in range(18)]
    expected[13] = -1  # failure() returns -1 for the crash message
    assert results == expected
    assert mapper.restarts >= 1


def test_an_exception_in_the_worker_fails_only_its_chunk() -> None:
    mapper: ChunkMap[int, int] = ChunkMap(raise_on_7, (0,), workers=1, chunk_size=4, max_pending=2, on_failure=failure)
    results = list(mapper(range(12)))
    assert results[4:8] == [-2, -2, -2, -2]  # the chunk holding 7
    assert results[:4] == [0, 2, 4, 6] and results[8:] == [16, 18, 20, 22]


def test_workers_that_cannot_start_stop_the_run_with_a_clear_error() -> None:
    mapper: ChunkMap[int, int] = ChunkMap(
        double_chunk, (0,), workers=1, chunk_size=2, max_pending=2, on_failure=failure, initializer=broken_initializer
    )
    with pytest.raises(WorkerStartError, match="--workers 0"):
        list(mapper(range(10)))
    assert mapper.restarts == 1  # gave up after one restart, instead of marking every item as a crash
