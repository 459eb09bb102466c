"""Output locks: a holder that finishes while another run tries its lock does not make that run fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixgrade.io import locks
from pixgrade.io.locks import OutputLock, OutputLockedError

pytestmark = pytest.mark.skipif(locks.fcntl is None, reason="no fcntl: locking is off on this platform")


def test_a_held_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    with OutputLock(target, what="results file"), pytest.raises(OutputLockedError, match=r"another pixgrade run \(pid"):
        OutputLock(target, what="results file").acquire()


def test_a_lock_released_while_another_run_tries_it_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.csv"
    holder = OutputLock(target).acquire()
    real_flock = locks.fcntl.flock
    tried: list[int] = []

    def flock_then_holder_finishes(fd: int, operation: int) -> None:
        if not tried:  # the first try meets the holder's lock; the holder finishes (removes its file) right then
            tried.append(fd)
            try:
                real_flock(fd, operation)
            except BlockingIOError:
                holder.release()
                raise
        real_flock(fd, operation)

    monkeypatch.setattr(locks.fcntl, "flock", flock_then_holder_finishes)
    with OutputLock(target, wait=0) as second:
        assert second.held and tried
        assert locks.lock_path(target).exists()
    assert not locks.lock_path(target).exists()
