"""Exclusive locks on the outputs a run writes (results files, catalogues, output folders).

A lock is an advisory ``fcntl.flock`` on a small hidden file beside the output (``.NAME.pixgrade-lock``; for a
folder, ``FOLDER/.pixgrade-lock``) that holds who took it (process id, host, command, start time). The operating
system releases it when the holder exits, however it exits (``kill -9`` included), so a lock is never stale: the
next run simply takes it. A second run on the same output waits up to ``wait`` seconds, then fails with
:class:`OutputLockedError` naming the holder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from pixgrade.errors import ConfigError

__all__ = ["OutputLock", "OutputLockedError", "lock_path"]

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking (documented in docs/reliability.md)
    fcntl = None  # type: ignore[assignment]


class OutputLockedError(ConfigError):
    """Another run holds the lock on an output (a usage error: exit status 2)."""


def lock_path(target: str | Path) -> Path:
    """The lock file of an output file (``.NAME.pixgrade-lock`` beside it) or folder (``FOLDER/.pixgrade-lock``)."""
    target = Path(target)
    if target.is_dir():
        return target / ".pixgrade-lock"
    return target.with_name(f".{target.name}.pixgrade-lock")


def _holder_text(fd: int) -> str:
    """Who holds the lock, read from the open lock file ``fd`` (readable even once its holder removed it)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return "another pixgrade run"
    if not isinstance(info, dict):
        return "another pixgrade run"
    parts = [f"pid {info.get('pid', '?')}"]
    if info.get("host") and info["host"] != socket.gethostname():
        parts.append(f"on {info['host']}")
    if info.get("command"):
        parts.append(f"`{info['command']}`")
    if info.get("since"):
        parts.append(f"since {info['since']}")
    return "another pixgrade run (" + ", ".join(parts) + ")"


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (a finished holder removes its lock file)."""
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


class OutputLock:
    """An exclusive lock on one output; a context manager (released on exit, or when the process ends).

    Args:
        target: the output file or folder (the folder must exist for a folder lock).
        what: how the output is named in the error (e.g. ``"results file"``).
        wait: seconds to wait for another holder to finish (0: fail at once).

    Raises:
        OutputLockedError: another process holds it after ``wait`` seconds.
    """

    def __init__(self, target: str | Path, *, what: str = "output", wait: float = 0.0) -> None:
        self.target = Path(target)
        self.path = lock_path(self.target)
        self.what = what
        self.wait = wait
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        """Take the lock (see the class)."""
        if fcntl is None:  # pragma: no cover
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + max(0.0, self.wait)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder_text(fd)
                gone = not _same_file(fd, self.path)
                os.close(fd)
                if gone:  # the holder finished and removed its lock file as we tried it: try the new one
                    continue
                if time.monotonic() >= deadline:
                    raise OutputLockedError(
                        f"{self.target}: this {self.what} is being written by {holder}; "
                        "wait for it to finish (or stop it) and run again"
                    ) from None
                time.sleep(0.2)
                continue
            if not _same_file(fd, self.path):  # the holder removed this lock file as we opened it: take the new one
                os.close(fd)
                continue
            break
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300],
            "since": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info, ensure_ascii=True).encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the lock up and remove the lock file (idempotent)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # while still holding it, so no process keeps a lock on a removed file
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
