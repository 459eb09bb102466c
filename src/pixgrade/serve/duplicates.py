"""The service side of ``POST /v1/duplicates``: a catalogue's duplicate index held in memory, brought up to date
when the catalogue changes, and the lookup of uploaded images against it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from pixgrade.catalog import Catalog
from pixgrade.catalog.duplicates import find_in_catalog, sync_index
from pixgrade.dedupe import DuplicateSettings
from pixgrade.dedupe.index import DuplicateIndex
from pixgrade.errors import ConfigError, ImageLoadError
from pixgrade.io import load_image

__all__ = ["CatalogDuplicates"]


class CatalogDuplicates:
    """Looks uploads up in one catalogue file.

    Args:
        catalog_path: a catalogue written by ``pixgrade filter``.
        predictor: the model for content embeddings (None: hashes and keypoints only).
        model_name: the catalogue's name of that model (:func:`pixgrade.catalog.filtering.model_base_key`).

    Raises:
        ConfigError: the file is missing or not a catalogue.
    """

    def __init__(self, catalog_path: str | Path, predictor: Any = None, model_name: str | None = None) -> None:
        if not Path(catalog_path).is_file():
            raise ConfigError(f"{catalog_path}: catalogue not found")
        self.catalog_path = str(catalog_path)
        self.predictor = predictor
        self.model_name = model_name if predictor is not None else None
        self.settings = DuplicateSettings()
        self._lock = threading.Lock()
        self._index: DuplicateIndex | None = None
        self._version: tuple[float, int] | None = None
        with Catalog(self.catalog_path) as catalog:  # validates the file now, not on the first request
            self._refresh(catalog)

    def _stamp(self) -> tuple[float, int]:
        path = Path(self.catalog_path)
        wal = Path(f"{self.catalog_path}-wal")
        return (path.stat().st_mtime, wal.stat().st_size if wal.exists() else -1)

    def _refresh(self, catalog: Catalog) -> DuplicateIndex:
        stamp = self._stamp()
        if self._index is None or stamp != self._version:
            self._index = sync_index(catalog, self.model_name)
            self._version = stamp
        return self._index

    @property
    def size(self) -> int:
        """Catalogue images in the index."""
        return 0 if self._index is None else len(self._index.live_keys("hash"))

    def lookup(self, uploads: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
        """``{filename, matches, error}`` for each ``(filename, bytes)`` upload (blocking; run it off the event
        loop)."""
        out: list[dict[str, Any]] = []
        with self._lock:
            try:
                catalog = Catalog(self.catalog_path)
            except (ConfigError, sqlite3.Error) as exc:
                raise ConfigError(f"{self.catalog_path}: cannot open the catalogue: {exc}") from exc
            with catalog:
                index = self._refresh(catalog)
                for filename, data in uploads:
                    try:
                        rgb = load_image(data, max_side=1024).rgb
                    except ImageLoadError as exc:
                        out.append({"filename": filename, "matches": [], "error": exc.cause})
                        continue
                    matches = find_in_catalog(catalog, index, rgb, predictor=self.predictor, settings=self.settings)
                    out.append({"filename": filename, "matches": [m.to_dict() for m in matches], "error": None})
        return out
