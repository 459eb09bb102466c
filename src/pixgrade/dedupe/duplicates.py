"""Near-duplicate detection: perceptual hashes (``imagehash``) and CNN-embedding cosine similarity.

Two images are linked when their 256-bit pHash differ in at most ``hash_distance`` bits, or (when both have a
model embedding) their cosine similarity is at least ``embedding_similarity``; clusters are the connected
components of those links. Within a cluster the best-scoring image is kept and the others are its duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image

__all__ = [
    "DuplicateCluster",
    "DuplicateSettings",
    "find_duplicates",
    "hash_distance",
    "perceptual_hash",
]


def perceptual_hash(rgb: np.ndarray, hash_size: int = 16) -> str:
    """pHash (DCT of the greyscale image resized to ``4 * hash_size`` square, Zauner 2010; ``imagehash.phash``) as
    a hex string of ``hash_size**2`` bits (256 by default: on product photos on white, 64-bit hashes of distinct
    products with the same silhouette collide far more often; see docs/filtering.md).

    Robust to resizing, re-compression and mild colour shifts; not to large crops or rotations.

    Shape:
        - rgb: ``(H, W, 3)`` uint8.
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 array of shape (H, W, 3), got {getattr(rgb, 'shape', None)}")
    return str(imagehash.phash(Image.fromarray(rgb), hash_size=hash_size))


def hash_distance(a: str, b: str) -> int:
    """Hamming distance in bits between two hex hashes of the same length (0 = identical)."""
    if len(a) != len(b):
        raise ValueError(f"hashes of different lengths: {a!r} and {b!r}")
    return int(bin(int(a, 16) ^ int(b, 16)).count("1"))


@dataclass(frozen=True)
class DuplicateSettings:
    """Thresholds for linking two images as near-duplicates."""

    hash_distance: int = 32
    """Largest pHash Hamming distance (bits of the default 256) that still counts as a duplicate; negative
    disables hashes."""
    embedding_similarity: float | None = 0.97
    """Smallest embedding cosine similarity that counts as a duplicate; None disables embeddings."""
    require_both: bool = False
    """Link only when both tests agree (higher precision, lower recall) instead of either."""


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of near-identical images: ``keep`` is the best one, ``duplicates`` the others (indices)."""

    keep: int
    duplicates: tuple[int, ...]

    @property
    def members(self) -> tuple[int, ...]:
        """All indices of the cluster, the kept one first."""
        return (self.keep, *self.duplicates)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _links(
    idx: list[int],
    hashes: Sequence[str | None],
    embeddings: Sequence[np.ndarray | None] | None,
    settings: DuplicateSettings,
) -> np.ndarray:
    """``(k, k)`` bool matrix of linked pairs among the images ``idx``."""
    k = len(idx)
    by_hash = np.zeros((k, k), bool)
    if settings.hash_distance >= 0:
        ints = [int(hashes[i], 16) for i in idx]  # type: ignore[arg-type]
        if max(ints).bit_length() > 64:  # longer hashes: exact Python popcount
            dist = np.array([[bin(a ^ b).count("1") for b in ints] for a in ints])
        else:
            words = np.array(ints, dtype=np.uint64)
            xor = (words[:, None] ^ words[None, :]).view(np.uint8).reshape(k, k, 8)
            dist = _POPCOUNT[xor].sum(axis=-1, dtype=np.int32)
        by_hash = dist <= settings.hash_distance
    has_emb = np.array([embeddings is not None and embeddings[i] is not None for i in idx])
    by_emb = np.zeros((k, k), bool)
    both_emb = has_emb[:, None] & has_emb[None, :]
    if embeddings is not None and settings.embedding_similarity is not None and has_emb.sum() > 1:
        dim = next(np.asarray(embeddings[i]).size for i in idx if embeddings[i] is not None)
        matrix = np.zeros((k, dim), np.float32)
        for row, i in enumerate(idx):
            if embeddings[i] is not None:
                matrix[row] = np.asarray(embeddings[i], dtype=np.float32).ravel()
        by_emb = ((matrix @ matrix.T) >= settings.embedding_similarity) & both_emb
    if settings.require_both:
        # Both tests must agree where both can be made; a pair without embeddings needs the hash alone.
        return by_hash & (by_emb | ~both_emb)
    return by_hash | by_emb


def find_duplicates(
    hashes: Sequence[str | None],
    embeddings: Sequence[np.ndarray | None] | None = None,
    scores: Sequence[float | None] | None = None,
    settings: DuplicateSettings | None = None,
    groups: Sequence[str] | None = None,
) -> list[DuplicateCluster]:
    """Cluster near-duplicates and pick the image to keep in each cluster.

    Args:
        hashes: one pHash hex string per image (None for unreadable images, which are never linked).
        embeddings: one L2-normalised embedding per image, or None.
        scores: quality scores; the highest-scoring member is kept (ties: the first).
        settings: thresholds.
        groups: when given, only images of the same group (e.g. product) are compared.

    Returns:
        Clusters with at least two members, ordered by their kept index.
    """
    settings = settings or DuplicateSettings()
    n = len(hashes)
    for name, seq in (("embeddings", embeddings), ("scores", scores), ("groups", groups)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} hashes")
    parent = list(range(n))
    valid = [i for i in range(n) if hashes[i] is not None]
    buckets: dict[str, list[int]] = {}
    for i in valid:
        buckets.setdefault("" if groups is None else str(groups[i]), []).append(i)
    for idx in buckets.values():
        if len(idx) < 2:
            continue
        linked = _links(idx, hashes, embeddings, settings)
        for a, b in zip(*np.nonzero(np.triu(linked, k=1)), strict=True):
            parent[_find(parent, idx[a])] = _find(parent, idx[b])
    members: dict[int, list[int]] = {}
    for i in valid:
        members.setdefault(_find(parent, i), []).append(i)
    clusters = []
    for group in members.values():
        if len(group) < 2:
            continue
        keep = max(group, key=lambda i: (-1e9 if scores is None or scores[i] is None else scores[i], -i))
        clusters.append(DuplicateCluster(keep, tuple(i for i in group if i != keep)))
    return sorted(clusters, key=lambda c: c.keep)
