"""The local engine: :class:`pixgrade.pipeline.Scorer` over worker processes on this machine."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pixgrade.pipeline import ImageResult, Scorer

if TYPE_CHECKING:
    from pixgrade.catalog.filtering import FileEngine

__all__ = ["LocalEngine"]


class LocalEngine:
    """Scores in worker processes on this machine (:meth:`Scorer.score_paths`): local paths and URIs alike.

    Args:
        scorer_kwargs: keyword arguments of :class:`pixgrade.pipeline.Scorer` (``model``, ``backend``,
            ``factors``, ``max_pixels``, ``max_image_bytes``, ``max_file_bytes``…).
        workers: worker processes decoding and measuring (``0``: in this process; ``None``: one per CPU).
        batch_size: images per model batch.
        scorer: a Scorer already loaded with these options, used instead of loading another.
    """

    name = "local"

    def __init__(
        self,
        scorer_kwargs: Mapping[str, Any] | None = None,
        *,
        workers: int | None = None,
        batch_size: int = 16,
        scorer: Scorer | None = None,
    ) -> None:
        self.scorer_kwargs = dict(scorer_kwargs or {})
        self.workers = workers
        self.batch_size = batch_size
        self._scorer = scorer

    @property
    def scorer(self) -> Scorer:
        """The Scorer the engine scores with (loaded on first use)."""
        if self._scorer is None:
            self._scorer = Scorer(**self.scorer_kwargs)
        return self._scorer

    def score(self, sources: Sequence[str]) -> Iterator[ImageResult]:
        """One result per source, in input order (see :meth:`Scorer.score_paths`)."""
        yield from self.scorer.score_paths(sources, workers=self.workers, batch_size=self.batch_size)

    def file_engine(self) -> FileEngine | None:
        """``None``: :func:`pixgrade.catalog.run_filter` scores in its own worker processes on this machine."""
        return None
