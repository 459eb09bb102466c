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


_ORPHAN_SCRIPT = """
import multiprocessing.resource_tracker as rt
import sys
import time

from pixgrade.pipeline.parallel import ChunkMap


def slow(chunk):
    time.sleep(120)
    return chunk


def failed(item, message):
    return None


if __name__ == "__main__":
    mapper = ChunkMap(slow, (), workers=2, chunk_size=1, max_pending=2, on_failure=failed)
    results = mapper(range(4))
    import threading

    threading.Thread(target=lambda: list(results), daemon=True).start()
    while mapper._pool is None or len(mapper._pool._processes) < 2:
        time.sleep(0.05)
    time.sleep(1.0)  # let the workers start their tasks
    print(" ".join(str(p) for p in mapper._pool._processes), rt._resource_tracker._pid, flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    import os

    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


@pytest.mark.slow
def test_workers_and_resource_tracker_end_when_only_the_main_process_is_killed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the out-of-memory killer does: SIGKILL the main process alone. Its workers must not live on."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "orphans.py"
    script.write_text(_ORPHAN_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split() if p != "None"]
        assert len(pids) >= 2 and all(_alive(p) for p in pids)
        os.kill(proc.pid, signal.SIGKILL)  # only the main process
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.1)
        assert not [p for p in pids if _alive(p)], "orphaned worker processes are still running"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in pids if "pids" in locals() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
