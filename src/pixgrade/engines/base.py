"""The engine interface: what every engine (local worker processes, a Ray cluster) offers its callers.

An engine is built once with the :class:`~pixgrade.pipeline.Scorer` options it scores with and where it runs
(:func:`pixgrade.engines.create_engine` is the only place the choice is made); the commands then call it without
knowing which one it is. Inputs are what :func:`pixgrade.io.sources.list_sources` lists: local paths or URIs
(``s3://``, ``gs://``, ``file://``…), read by :func:`pixgrade.io.sources.read_source` wherever the image is
analysed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pixgrade.catalog.filtering import FileEngine
    from pixgrade.pipeline import ImageResult, Scorer

__all__ = ["ENGINES", "Engine", "ParquetFolderEngine"]

ENGINES: tuple[str, ...] = ("local", "ray")
"""The names :func:`pixgrade.engines.create_engine` knows (``--engine``)."""


@runtime_checkable
class Engine(Protocol):
    """Scores images somewhere, the same way everywhere (one :func:`~pixgrade.pipeline.analysis.analyse` per
    image, then :meth:`~pixgrade.pipeline.Scorer.score_batch`), so every engine gives the same rows."""

    name: str
    """The engine's name in :data:`ENGINES`."""

    @property
    def scorer(self) -> Scorer:
        """A :class:`~pixgrade.pipeline.Scorer` with the engine's options, loaded in this process on first use:
        the local engine scores with it; the Ray engine uses it for nothing but what the caller asks of it (the
        model's description, provenance), since its actors load their own."""
        ...

    def score(self, sources: Sequence[str]) -> Iterator[ImageResult]:
        """One :class:`ImageResult` per source (a local path or URI), streamed in input order; an unreadable
        image gives a result with ``error`` set, never an exception."""
        ...

    def file_engine(self) -> FileEngine | None:
        """What :attr:`pixgrade.catalog.FilterSettings.engine` should be for ``pixgrade filter`` on this engine:
        a :data:`~pixgrade.catalog.filtering.FileEngine`, or ``None`` for :func:`~pixgrade.catalog.run_filter`'s
        own scoring in worker processes on this machine (which shares its Scorer with the duplicate step, so the
        model is loaded once)."""
        ...


@runtime_checkable
class ParquetFolderEngine(Engine, Protocol):
    """An engine whose workers write partitioned Parquet themselves (``score -o OUT.parquet`` on Ray)."""

    def write_parquet(
        self,
        sources: Sequence[str],
        output: str | Path,
        *,
        overwrite: bool = False,
        lock_wait: float = 0.0,
        provenance: Mapping[str, Any] | None = None,
    ) -> Any:
        """Score ``sources`` and write the rows as a folder of Parquet files at ``output`` (a folder or URI
        prefix); returns a summary with ``output``, ``n_images``, ``n_failed``, ``n_recovered`` and ``files``."""
        ...
