"""A near-duplicate index on FAISS (MIT licence): perceptual hashes by Hamming distance and content embeddings
by inner product, searched for the few nearest entries of each query.

Up to ``exact_limit`` entries both parts are exact brute-force indexes (``IndexBinaryFlat``, ``IndexFlatIP``);
past it they become inverted-file indexes, trained once on a sample: ``IndexBinaryIVF`` for the hashes and
``PCA128,IVF,SQ8`` for the embeddings (128 PCA dimensions at 8 bits: 128 bytes an entry, so a million entries take
about 170 MB with the hashes). A query then scans ``nprobe`` of the lists, so its time grows with the list length,
about ``n / nlist``; adding entries costs the same per entry whatever the size, so building is about linear.
Inverted-file search is approximate: what it finds is a *candidate*, checked afterwards on the exact hash and
embedding (see :func:`pixgrade.dedupe.find_duplicates`).

The index can be saved to a folder (:meth:`DuplicateIndex.save`) and loaded back; entries carry caller ids (the
catalogue's image ids) and can be marked removed.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DuplicateIndex", "IndexCandidates", "hashes_to_bytes"]

INDEX_FORMAT = 1

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def hashes_to_bytes(hashes: list[str], n_bytes: int | None = None) -> np.ndarray:
    """Hex hashes → ``(N, bytes)`` uint8 rows (the layout FAISS's binary indexes take)."""
    if not hashes:
        return np.zeros((0, n_bytes or 32), np.uint8)
    rows = np.frombuffer(b"".join(bytes.fromhex(h) for h in hashes), dtype=np.uint8)
    width = len(hashes[0]) // 2
    if any(len(h) != 2 * width for h in hashes):
        raise ValueError("hashes of different lengths")
    return rows.reshape(len(hashes), width).copy()


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distances between two ``(N, bytes)`` uint8 arrays."""
    return _POPCOUNT[np.bitwise_xor(a, b)].sum(axis=-1, dtype=np.int32)


def _faiss() -> Any:
    import faiss

    return faiss


@dataclass
class IndexCandidates:
    """Neighbours of a batch of queries: row ``q`` of each array belongs to query ``q``; ``-1`` ids are empty."""

    hash_ids: np.ndarray
    """``(Q, k)`` int64 ids of the nearest hashes."""
    hash_distances: np.ndarray
    """``(Q, k)`` int32 Hamming distances."""
    embedding_ids: np.ndarray
    """``(Q, k)`` int64 ids of the nearest embeddings."""
    embedding_similarities: np.ndarray
    """``(Q, k)`` float32 inner products (approximate past ``exact_limit``: PCA and 8-bit codes)."""


class DuplicateIndex:
    """Hashes and embeddings of catalogue entries, searchable for near neighbours.

    Args:
        hash_bits: bits of each perceptual hash (256 for pixgrade's pHash).
        exact_limit: entries up to which search is exact brute force.
        nprobe: inverted lists scanned per embedding query once approximate (four times as many for hashes).
    """

    def __init__(self, hash_bits: int = 256, *, exact_limit: int = 20_000, nprobe: int = 24) -> None:
        if hash_bits % 8:
            raise ValueError(f"hash_bits must be a multiple of 8, got {hash_bits}")
        self.hash_bits = hash_bits
        self.exact_limit = exact_limit
        self.nprobe = nprobe
        faiss = _faiss()
        self._hashes: Any = faiss.IndexBinaryFlat(hash_bits)
        self._hash_ids = np.zeros(0, np.int64)
        self._hash_keys = np.zeros(0, np.int64)
        self._embeddings: Any = None
        self._embedding_ids = np.zeros(0, np.int64)
        self._embedding_keys = np.zeros(0, np.int64)
        self.dim: int | None = None
        self.meta: dict[str, Any] = {}
        """Free-form facts the owner keeps with the index (e.g. the model the embeddings come from)."""

    # -- size --------------------------------------------------------------------------------------------------
    @property
    def n_hashes(self) -> int:
        """Hash entries stored (removed ones included)."""
        return int(self._hashes.ntotal)

    @property
    def n_embeddings(self) -> int:
        """Embedding entries stored (removed ones included)."""
        return 0 if self._embeddings is None else int(self._embeddings.ntotal)

    @property
    def exact(self) -> bool:
        """Whether both parts are still brute force."""
        faiss = _faiss()
        flat_embeddings = self._embeddings is None or isinstance(self._embeddings, faiss.IndexFlat)
        return isinstance(self._hashes, faiss.IndexBinaryFlat) and flat_embeddings

    def ids(self) -> set[int]:
        """Ids of the live entries (in either part)."""
        return {int(i) for i in self._hash_ids if i >= 0} | {int(i) for i in self._embedding_ids if i >= 0}

    # -- adding ------------------------------------------------------------------------------------------------
    def live_keys(self, part: str) -> dict[int, int]:
        """``{id: key}`` of the live entries of one part (``hash`` or ``embedding``); keys are the caller's
        content fingerprints given when adding (e.g. a SHA-256 prefix), -1 when none was given."""
        ids, keys = (self._hash_ids, self._hash_keys) if part == "hash" else (self._embedding_ids, self._embedding_keys)
        live = ids >= 0
        return dict(zip(ids[live].tolist(), keys[live].tolist(), strict=True))

    def add_hashes(self, ids: np.ndarray, codes: np.ndarray, keys: np.ndarray | None = None) -> None:
        """Add ``(N, hash_bits / 8)`` uint8 hash rows under ``ids`` (with optional content ``keys``)."""
        ids = np.asarray(ids, np.int64).ravel()
        keys = np.full(len(ids), -1, np.int64) if keys is None else np.asarray(keys, np.int64).ravel()
        codes = np.ascontiguousarray(codes, dtype=np.uint8)
        if codes.shape != (len(ids), self.hash_bits // 8):
            raise ValueError(f"expected hash codes of shape ({len(ids)}, {self.hash_bits // 8}), got {codes.shape}")
        if not len(ids):
            return
        faiss = _faiss()
        if isinstance(self._hashes, faiss.IndexBinaryFlat) and self.n_hashes + len(ids) > self.exact_limit:
            stored = self._hashes.reconstruct_n(0, self.n_hashes) if self.n_hashes else codes[:0]
            everything = np.concatenate([np.asarray(stored, np.uint8).reshape(-1, self.hash_bits // 8), codes])
            quantizer = faiss.IndexBinaryFlat(self.hash_bits)
            ivf = faiss.IndexBinaryIVF(quantizer, self.hash_bits, _nlist(len(everything)))
            ivf.train(_sample(everything))
            ivf.own_fields = True
            quantizer.this.disown()
            for start in range(0, len(everything), 100_000):
                ivf.add(everything[start : start + 100_000])
            self._hashes = ivf
        else:
            self._hashes.add(codes)
        self._hash_ids = np.concatenate([self._hash_ids, ids])
        self._hash_keys = np.concatenate([self._hash_keys, keys])

    def add_embeddings(self, ids: np.ndarray, vectors: np.ndarray, keys: np.ndarray | None = None) -> None:
        """Add ``(N, dim)`` float32 L2-normalised embeddings under ``ids`` (with optional content ``keys``)."""
        ids = np.asarray(ids, np.int64).ravel()
        keys = np.full(len(ids), -1, np.int64) if keys is None else np.asarray(keys, np.int64).ravel()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(ids):
            raise ValueError(f"expected {len(ids)} embeddings as a 2-D array, got shape {vectors.shape}")
        if not len(ids):
            return
        faiss = _faiss()
        if self.dim is None:
            self.dim = int(vectors.shape[1])
            self._embeddings = faiss.IndexFlatIP(self.dim)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"embeddings of {vectors.shape[1]} dimensions for an index of {self.dim}")
        if isinstance(self._embeddings, faiss.IndexFlat) and self.n_embeddings + len(ids) > self.exact_limit:
            stored = self._embeddings.reconstruct_n(0, self.n_embeddings) if self.n_embeddings else vectors[:0]
            everything = np.concatenate([stored, vectors])
            reduced = min(128, self.dim)
            ivf = faiss.index_factory(
                self.dim, f"PCA{reduced},IVF{_nlist(len(everything))},SQ8", faiss.METRIC_INNER_PRODUCT
            )
            ivf.train(_sample(everything))
            for start in range(0, len(everything), 100_000):
                ivf.add(everything[start : start + 100_000])
            self._embeddings = ivf
        else:
            self._embeddings.add(vectors)
        self._embedding_ids = np.concatenate([self._embedding_ids, ids])
        self._embedding_keys = np.concatenate([self._embedding_keys, keys])

    def remove(self, ids: set[int], part: str | None = None) -> None:
        """Mark the entries of ``ids`` removed from one part (``hash``, ``embedding``) or both (None); they are no
        longer returned, and the space is reclaimed when the index is rebuilt."""
        if not ids:
            return
        wanted = np.array(sorted(ids), np.int64)
        if part in (None, "hash"):
            self._hash_ids[np.isin(self._hash_ids, wanted)] = -1
        if part in (None, "embedding"):
            self._embedding_ids[np.isin(self._embedding_ids, wanted)] = -1

    @property
    def removed_share(self) -> float:
        """Share of the stored entries marked removed."""
        total = len(self._hash_ids) + len(self._embedding_ids)
        dead = int((self._hash_ids < 0).sum() + (self._embedding_ids < 0).sum())
        return dead / total if total else 0.0

    # -- searching ---------------------------------------------------------------------------------------------
    def search(self, codes: np.ndarray | None, vectors: np.ndarray | None, k: int = 16) -> IndexCandidates:
        """The ``k`` nearest hashes and embeddings of each query.

        Args:
            codes: ``(Q, hash_bits / 8)`` uint8 query hashes, or None.
            vectors: ``(Q, dim)`` float32 query embeddings, or None.
        """
        faiss = _faiss()
        q = len(codes) if codes is not None else (len(vectors) if vectors is not None else 0)
        empty_ids = np.full((q, k), -1, np.int64)
        hash_ids, hash_dist = empty_ids, np.full((q, k), 1 << 30, np.int32)
        if codes is not None and self.n_hashes:
            if isinstance(self._hashes, faiss.IndexBinaryIVF):
                # Hash lists are cheap to scan (32 bytes an entry) and k-means on bits clusters loosely: probe more.
                self._hashes.nprobe = 4 * self.nprobe
            kk = min(k, self.n_hashes)
            dist, pos = self._hashes.search(np.ascontiguousarray(codes, dtype=np.uint8), kk)
            hash_ids, hash_dist = _pad(_to_ids(pos, self._hash_ids), k, -1), _pad(dist.astype(np.int32), k, 1 << 30)
        emb_ids, emb_sim = empty_ids.copy(), np.full((q, k), -np.inf, np.float32)
        if vectors is not None and self.n_embeddings:
            if not isinstance(self._embeddings, faiss.IndexFlat):
                faiss.extract_index_ivf(self._embeddings).nprobe = self.nprobe
            kk = min(k, self.n_embeddings)
            sim, pos = self._embeddings.search(np.ascontiguousarray(vectors, dtype=np.float32), kk)
            emb_ids, emb_sim = _pad(_to_ids(pos, self._embedding_ids), k, -1), _pad(sim, k, -np.inf)
        return IndexCandidates(hash_ids, hash_dist, emb_ids, emb_sim)

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        """Write the index to ``folder`` (created); each file is replaced atomically, the manifest last."""
        faiss = _faiss()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)

        def replace(name: str, write: Any) -> None:
            tmp = folder / f".{name}.part"
            write(str(tmp))
            os.replace(tmp, folder / name)

        replace("hashes.faiss", lambda p: faiss.write_index_binary(self._hashes, p))
        replace("hash_ids.npy", lambda p: _save_npy(p, np.stack([self._hash_ids, self._hash_keys])))
        if self._embeddings is not None:
            replace("embeddings.faiss", lambda p: faiss.write_index(self._embeddings, p))
            replace("embedding_ids.npy", lambda p: _save_npy(p, np.stack([self._embedding_ids, self._embedding_keys])))
        manifest = {
            "format": INDEX_FORMAT,
            "hash_bits": self.hash_bits,
            "dim": self.dim,
            "n_hashes": self.n_hashes,
            "n_embeddings": self.n_embeddings,
            "exact_limit": self.exact_limit,
            "nprobe": self.nprobe,
            "meta": self.meta,
        }
        replace("manifest.json", lambda p: Path(p).write_text(json.dumps(manifest, indent=1), encoding="utf-8"))

    @classmethod
    def load(cls, folder: str | Path) -> DuplicateIndex:
        """Read an index written by :meth:`save`.

        Raises:
            ValueError: the folder holds no complete index of this format (rebuild it).
        """
        faiss = _faiss()
        folder = Path(folder)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format") != INDEX_FORMAT:
                raise ValueError(f"{folder}: index format {manifest.get('format')}, expected {INDEX_FORMAT}")
            index = cls(manifest["hash_bits"], exact_limit=manifest["exact_limit"], nprobe=manifest["nprobe"])
            index._hashes = faiss.read_index_binary(str(folder / "hashes.faiss"))
            index._hash_ids, index._hash_keys = np.load(folder / "hash_ids.npy")
            if manifest["dim"] is not None:
                index.dim = int(manifest["dim"])
                index._embeddings = faiss.read_index(str(folder / "embeddings.faiss"))
                index._embedding_ids, index._embedding_keys = np.load(folder / "embedding_ids.npy")
            index.meta = dict(manifest.get("meta") or {})
        except (OSError, KeyError, ValueError, json.JSONDecodeError, RuntimeError) as exc:
            raise ValueError(f"{folder}: not a complete duplicate index: {exc}") from exc
        if index.n_hashes != len(index._hash_ids) or index.n_embeddings != len(index._embedding_ids):
            raise ValueError(f"{folder}: index files disagree on the number of entries")
        return index


def _save_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def _nlist(n: int) -> int:
    return int(np.clip(2 ** round(np.log2(max(1.0, 2 * np.sqrt(n)))), 64, 1024))


def _sample(rows: np.ndarray, limit: int = 60_000, seed: int = 0) -> np.ndarray:
    if len(rows) <= limit:
        return rows
    pick = np.random.default_rng(seed).choice(len(rows), limit, replace=False)
    return np.ascontiguousarray(rows[np.sort(pick)])


def _to_ids(positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
    out = np.full(positions.shape, -1, np.int64)
    valid = positions >= 0
    out[valid] = ids[positions[valid]]
    return out


def _pad(values: np.ndarray, k: int, fill: float) -> np.ndarray:
    if values.shape[1] >= k:
        return values
    pad = np.full((values.shape[0], k - values.shape[1]), fill, values.dtype)
    return np.concatenate([values, pad], axis=1)
