"""Re-scoring the files whose rows Ray lost because their worker died, isolating the file that killed it.

See :mod:`pixgrade.engines.ray` ("Worker crashes") for how the job is set up so that a death loses one batch.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pixgrade.engines.ray.actor import ScoreBatch
from pixgrade.errors import PixgradeError
from pixgrade.pipeline import ImageResult
from pixgrade.pipeline.parallel import CRASH_MESSAGE

__all__ = ["MAX_CONSECUTIVE_CRASHES", "Recovery"]

logger = logging.getLogger(__name__)

MAX_CONSECUTIVE_CRASHES = 20
"""Worker deaths in a row (no successful call in between) after which re-scoring lost rows gives up: a crashing
file costs two deaths in a row (its batch, then itself), so 20 allows ten crashing files side by side, while a
worker that dies on every call (a broken environment) is reported instead of being restarted once per file."""


def _crashed(path: str) -> ImageResult:
    """The result of a file whose worker died: the local engine's crash row."""
    return ImageResult(path=path, error=CRASH_MESSAGE, error_kind="worker_crashed")


def _failed(path: str, message: str) -> ImageResult:
    return ImageResult(path=path, error=message, error_kind="measure_failed")


class Recovery:
    """Re-scores files whose rows Ray lost (their worker died) in one extra actor, isolating the culprits.

    The lost files are sent in groups of ``batch_size`` (a group usually comes back: the death may have had
    another cause, such as the memory monitor); when the actor dies on a group, a new actor gets the group's files
    one at a time, and a file that kills it alone gets the crash row. Calls are never retried by Ray
    (``max_task_retries=0``): a crashing file costs two worker deaths, whatever the size of its group.
    """

    def __init__(
        self,
        ray: Any,
        constructor_kwargs: Mapping[str, Any],
        batch_size: int = 16,
        max_consecutive_crashes: int = MAX_CONSECUTIVE_CRASHES,
    ) -> None:
        self.ray = ray
        self.kwargs = dict(constructor_kwargs)
        self.batch_size = max(1, batch_size)
        self.max_consecutive_crashes = max_consecutive_crashes
        self.actor: Any = None
        self.crashes = 0
        self.recovered = 0
        self._in_a_row = 0

    def _actor(self) -> Any:
        if self.actor is None:
            # A new actor after each death (calls to a new actor wait until it is up; calls to one Ray is
            # restarting may fail at once). 0 logical CPUs: the scoring actors may hold every CPU of the cluster.
            remote = self.ray.remote(ScoreBatch).options(num_cpus=0, max_restarts=0, max_task_retries=0)
            self.actor = remote.remote(**self.kwargs)
        return self.actor

    def _call(self, paths: Sequence[str]) -> list[Any] | None:
        """Results for ``paths``, or None when the actor died on them."""
        from ray.exceptions import RayActorError, RayTaskError

        try:
            got: list[Any] = self.ray.get(self._actor().results.remote(list(paths)))
        except RayActorError:  # the actor died (ActorDiedError) or dropped the call (ActorUnavailableError)
            self.close()
            self.crashes += 1
            self._in_a_row += 1
            if self._in_a_row > self.max_consecutive_crashes:
                raise PixgradeError(
                    f"Ray workers died {self._in_a_row} times in a row while re-scoring files whose worker had "
                    "died; they cannot score anything (see the worker logs: `ray logs` or /tmp/ray/session_latest)"
                ) from None
            return None
        except RayTaskError as exc:  # a Python exception escaped the scorer (it catches per-image errors)
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            message = f"internal error: {type(cause).__name__}: {cause}"
            got = [_failed(path, message) for path in paths]
        self._in_a_row = 0
        return got

    def __call__(self, paths: Sequence[str]) -> list[Any]:
        """One result per path, in order."""
        logger.warning(
            "%d file(s) came back from no Ray worker (a worker died); re-scoring them to isolate the cause",
            len(paths),
        )
        self.recovered += len(paths)
        out: list[Any] = []
        for start in range(0, len(paths), self.batch_size):
            group = paths[start : start + self.batch_size]
            got = self._call(group) if len(group) > 1 else None
            if got is None:
                got = []
                for path in group:
                    single = self._call([path])
                    if single is None:
                        logger.warning("%s: %s", path, CRASH_MESSAGE)
                        single = [_crashed(path)]
                    got.extend(single)
            out.extend(got)
        return out

    def close(self) -> None:
        """Stop the actor (if any)."""
        if self.actor is not None:
            with contextlib.suppress(Exception):  # already dead
                self.ray.kill(self.actor, no_restart=True)
            self.actor = None
