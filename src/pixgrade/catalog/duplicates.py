"""Near-duplicate search over a catalogue: the index kept beside the SQLite file, its incremental update, and the
query "which catalogue images is this new image a copy of?" without rescanning the catalogue.

The index (:class:`pixgrade.dedupe.index.DuplicateIndex`) lives in the folder ``CATALOGUE.dupindex`` next to the
catalogue file. It is derived data: :func:`sync_index` adds the images stored since it was last written, drops
those whose content changed or that left the catalogue, and rebuilds it when it is missing, damaged, built for
another model, or holds too many dropped entries. The catalogue's pHash (``images.phash``) and content embeddings
(table ``content_embeddings``, written by ``pixgrade filter``) are what it indexes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.catalog.store import Catalog
from pixgrade.dedupe.duplicates import DuplicateSettings, perceptual_hash, verify_pair
from pixgrade.dedupe.duplicates import PairPixels as Pixels
from pixgrade.dedupe.features import content_embedding
from pixgrade.dedupe.index import DuplicateIndex, hamming, hashes_to_bytes
from pixgrade.errors import ImageLoadError
from pixgrade.io import load_image
from pixgrade.io.arrays import fit_longest_side
from pixgrade.pipeline.content import PIXEL_SIDE

__all__ = [
    "CatalogMatch",
    "content_model_name",
    "find_in_catalog",
    "index_folder",
    "load_pixels",
    "sync_index",
]


def index_folder(catalog_path: str | Path) -> Path:
    """Where the duplicate index of a catalogue file lives."""
    return Path(f"{catalog_path}.dupindex")


def content_model_name(model_key: str) -> str:
    """The part of a catalogue model key that names the model (content embeddings are comparable when it is equal)."""
    return model_key.split("|", 1)[0]


def load_pixels(path: str | Path) -> np.ndarray | None:
    """RGB pixels of a file decoded small enough for embeddings and keypoints, or None when it cannot be read."""
    try:
        return load_image(path, max_side=PIXEL_SIDE).rgb
    except (ImageLoadError, OSError, ValueError):
        return None


def _key(sha256: str | None) -> int:
    """A 56-bit fingerprint of a content hash (what the index keeps to notice changed files)."""
    return int(hashlib.blake2b(sha256.encode(), digest_size=7).hexdigest(), 16) if sha256 else -1


def sync_index(catalog: Catalog, model: str | None, *, save: bool = True) -> DuplicateIndex:
    """The catalogue's duplicate index, brought up to date with what the catalogue holds now.

    Args:
        catalog: an open catalogue (a file; ``:memory:`` catalogues get an index that is not saved).
        model: the model name of the content embeddings to index (:func:`content_model_name`); None: hashes only.
        save: write the updated index back beside the catalogue.

    Raises:
        OutputLockedError: another process kept the index locked for :data:`INDEX_LOCK_WAIT` seconds.
    """
    if catalog.path == ":memory:":
        return _sync_index(catalog, model, save=False)
    from pixgrade.io.locks import OutputLock

    folder = index_folder(catalog.path)
    folder.mkdir(parents=True, exist_ok=True)
    # one process at a time reads and rewrites the index files (filter, dedupe --catalog and the service may
    # share a catalogue): another waits for it rather than reading a half-replaced set
    with OutputLock(folder, what="duplicate index", wait=INDEX_LOCK_WAIT):
        return _sync_index(catalog, model, save=save)


INDEX_LOCK_WAIT = 600.0
"""Seconds :func:`sync_index` waits for another process updating the same index before it gives up."""


def _sync_index(catalog: Catalog, model: str | None, *, save: bool) -> DuplicateIndex:
    """The body of :func:`sync_index`, with the index's lock held (file catalogues)."""
    folder = index_folder(catalog.path)
    index: DuplicateIndex | None = None
    if catalog.path != ":memory:" and folder.exists():
        try:
            index = DuplicateIndex.load(folder)
        except ValueError:
            index = None
        if index is not None and (index.meta.get("model") != model or index.removed_share > 0.3):
            index = None
    changed = index is None
    if index is None:
        index = DuplicateIndex()
        index.meta = {"model": model}
    live_hashes = index.live_keys("hash")
    seen: set[int] = set()
    stale: set[int] = set()
    batch_ids: list[int] = []
    batch_keys: list[int] = []
    batch_hashes: list[str] = []

    def flush_hashes() -> None:
        if batch_ids:
            index.add_hashes(np.array(batch_ids), hashes_to_bytes(batch_hashes), keys=np.array(batch_keys))
            batch_ids.clear()
            batch_keys.clear()
            batch_hashes.clear()

    for image_id, _path, sha256, phash, _w, _h in catalog.duplicate_entries():
        seen.add(image_id)
        key = _key(sha256)
        if live_hashes.get(image_id) == key or phash is None:
            continue
        if image_id in live_hashes:
            stale.add(image_id)
        batch_ids.append(image_id)
        batch_keys.append(key)
        batch_hashes.append(phash)
        if len(batch_ids) >= 50_000:
            index.remove(stale & set(live_hashes), part="hash")
            flush_hashes()
    removed = (set(live_hashes) - seen) | stale
    index.remove(removed, part="hash")
    changed |= bool(removed) or bool(batch_ids)
    flush_hashes()
    if model is not None:
        live_emb = index.live_keys("embedding")
        seen_emb: set[int] = set()
        ids: list[int] = []
        keys: list[int] = []
        vectors: list[np.ndarray] = []
        stale_emb: set[int] = set()
        for image_id, sha256, vector in catalog.content_embeddings_of(model):
            seen_emb.add(image_id)
            key = _key(sha256)
            if live_emb.get(image_id) == key:
                continue
            if image_id in live_emb:
                stale_emb.add(image_id)
            ids.append(image_id)
            keys.append(key)
            vectors.append(vector)
        gone = (set(live_emb) - seen_emb) | stale_emb
        index.remove(gone, part="embedding")
        if ids:
            index.add_embeddings(np.array(ids), np.stack(vectors), keys=np.array(keys))
        changed |= bool(gone) or bool(ids)
    if changed and save and catalog.path != ":memory:":
        index.save(folder)
    return index


@dataclass(frozen=True)
class CatalogMatch:
    """A catalogue image that a queried image nearly duplicates."""

    path: str
    image_id: int
    kind: str
    """One of :data:`pixgrade.dedupe.MATCH_KINDS`: how the query differs from this catalogue image."""
    similarity: float
    """In [0, 1]; see :class:`pixgrade.dedupe.PairMatch`."""
    evidence: str
    """``hash``, ``embedding`` or ``keypoints``."""
    hash_distance: int | None
    embedding_similarity: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "path": self.path,
            "kind": self.kind,
            "similarity": round(self.similarity, 4),
            "evidence": self.evidence,
            "hash_distance": self.hash_distance,
            "embedding_similarity": None if self.embedding_similarity is None else round(self.embedding_similarity, 4),
        }


def find_in_catalog(
    catalog: Catalog,
    index: DuplicateIndex,
    rgb: np.ndarray,
    *,
    predictor: Any = None,
    settings: DuplicateSettings | None = None,
    pixels_of: Callable[[str], np.ndarray | None] = load_pixels,
) -> list[CatalogMatch]:
    """The catalogue images that ``rgb`` nearly duplicates, most similar first.

    Candidates come from the index; each is checked on its exact stored hash and embedding and, for the looser
    ones, by keypoints against the catalogue file (``pixels_of(path)``; a file that moved or cannot be read is
    judged on its hash and embedding alone).

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    settings = settings or DuplicateSettings()
    model = index.meta.get("model")
    phash = perceptual_hash(rgb)
    codes = hashes_to_bytes([phash])
    vector = None
    if predictor is not None and model is not None and index.dim is not None:
        vector = content_embedding(rgb, predictor)[None]
    found = index.search(codes, vector, settings.neighbours)
    candidates = {int(i) for i in found.hash_ids[0] if i >= 0} | {int(i) for i in found.embedding_ids[0] if i >= 0}
    query_pixels: Pixels | None = None
    small = None

    def query_side() -> Pixels:
        nonlocal query_pixels, small
        if query_pixels is None:
            small = fit_longest_side(rgb, PIXEL_SIDE)
            query_pixels = Pixels(small)
        return query_pixels

    matches = []
    for image_id in sorted(candidates):
        entry = catalog.entry(image_id)
        if entry is None or entry[2] is None:
            continue
        path, sha256, stored_hash, width, height = entry
        distance = int(hamming(codes[0], hashes_to_bytes([str(stored_hash)])[0]))
        similarity = None
        if vector is not None and sha256 is not None and model is not None:
            stored = catalog.content_embedding(sha256, model)
            if stored is not None and stored.size == vector.shape[1]:
                similarity = float(stored @ vector[0])

        def both(path: str = path) -> tuple[Pixels | None, Pixels | None]:
            other = pixels_of(path)
            theirs = None if other is None else Pixels(other)
            return theirs, query_side()

        sizes = ((width, height) if width and height else None, (rgb.shape[1], rgb.shape[0]))
        decided = verify_pair(distance, similarity, settings, both, sizes)
        if decided is not None:
            matches.append(CatalogMatch(path, image_id, *decided, distance, similarity))
    return sorted(matches, key=lambda m: -m.similarity)


def content_embeddings_for(
    catalog: Catalog,
    items: Sequence[tuple[str, str | None]],
    predictor: Any,
    model: str,
    pixels_of: Callable[[str], np.ndarray | None] = load_pixels,
    *,
    fresh: Mapping[str, np.ndarray] | None = None,
) -> list[np.ndarray | None]:
    """Content embeddings of ``(path, sha256)`` items: ``fresh`` ones (by path: computed by the per-image stage
    from the image's one decode) and stored ones reused, the others computed from the file (``pixels_of``); new
    ones stored (None for a file that cannot be read)."""
    out: list[np.ndarray | None] = []
    new: list[tuple[str, str, str, np.ndarray]] = []
    fresh = fresh or {}
    for path, sha256 in items:
        stored = catalog.content_embedding(sha256, model) if sha256 else None
        if stored is None and sha256 and path in fresh:
            stored = np.asarray(fresh[path], dtype=np.float32)
            new.append((path, sha256, model, stored))
        elif stored is None and sha256:
            rgb = pixels_of(path)
            if rgb is not None:
                stored = content_embedding(rgb, predictor)
                new.append((path, sha256, model, stored))
        out.append(stored)
        if len(new) >= 500:
            catalog.save_content_embeddings(new)
            new = []
    if new:
        catalog.save_content_embeddings(new)
    return out
