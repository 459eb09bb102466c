"""The local engine: :class:`pixgrade.pipeline.Scorer` over worker processes on this machine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pixgrade.pipeline import ImageResult, Scorer

__all__ = ["score_local"]


def score_local(
    paths: Iterable[str | Path],
    scorer_kwargs: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    batch_size: int = 16,
) -> Iterator[ImageResult]:
    """Score files on this machine, streaming one :class:`ImageResult` per path in input order.

    ``scorer_kwargs`` are the keyword arguments of :class:`pixgrade.pipeline.Scorer` (``model``, ``backend``,
    ``factors``, ``max_pixels``); ``workers`` and ``batch_size`` are those of :meth:`Scorer.score_paths`.
    """
    scorer = Scorer(**dict(scorer_kwargs or {}))
    yield from scorer.score_paths(paths, workers=workers, batch_size=batch_size)
