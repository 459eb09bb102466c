"""Near-duplicate detection at catalogue scale: candidates from a perceptual-hash and content-embedding index,
verified pair by pair, clustered by connected components.

1. **Candidates.** Each image's ``neighbours`` nearest hashes and embeddings in a :class:`DuplicateIndex`
   (FAISS; exact up to 20 000 images, inverted files beyond, so time and memory grow about linearly).
2. **Verification.** A pair is a duplicate when its 256-bit pHash differ in at most ``hash_distance`` bits or its
   content embeddings (:func:`pixgrade.dedupe.features.content_embedding`) have a cosine of at least
   ``embedding_similarity``; a looser pair (``candidate_hash_distance``, ``candidate_similarity``) is a duplicate
   when ORB keypoints of both images agree on one similarity transform (:func:`geometric_match`; needs the
   pixels, from ``loader``). That is what finds crops and re-framings, which move the hash far.
3. **Clusters.** The connected components of the verified pairs (``scipy.sparse.csgraph``). Within a cluster the
   best-scoring image is kept and the others are its duplicates; each verified pair says its kind of match.
   ``pixgrade filter`` instead keeps each cluster's best copy by its ranking (a passing copy first, see
   :mod:`pixgrade.policy.decisions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from pixgrade.dedupe.features import (
    LOCAL_SIDE,
    GeometricMatch,
    LocalFeatures,
    colour_signature,
    geometric_match,
    local_features,
)
from pixgrade.dedupe.index import DuplicateIndex, hamming, hashes_to_bytes
from pixgrade.facts.phash import hash_distance, perceptual_hash
from pixgrade.io.arrays import resize_longest_side

__all__ = [
    "MATCH_KINDS",
    "DuplicateCluster",
    "DuplicateSettings",
    "PairMatch",
    "PairPixels",
    "find_duplicates",
    "hash_distance",
    "match_kind",
    "perceptual_hash",
    "verify_pair",
]

MATCH_KINDS = ("identical", "recompressed", "resized", "colour-shifted", "crop", "similar")
"""How a copy differs from the image it matches: ``identical`` (same pixels up to rounding), ``recompressed``
(same size, same colours, small differences), ``resized``, ``colour-shifted``, ``crop`` (shows part of the other
image, or the other shows part of it: crops, re-framings, added margins) and ``similar`` (the embeddings agree but
the pixels were not compared)."""


@dataclass(frozen=True)
class DuplicateSettings:
    """Thresholds for linking two images as near-duplicates."""

    hash_distance: int = 32
    """Largest pHash Hamming distance (bits of the default 256) that counts as a duplicate without looking at the
    pixels; negative disables hashes."""
    embedding_similarity: float | None = 0.97
    """Smallest content-embedding cosine that counts as a duplicate without looking at the pixels; None disables
    embeddings."""
    require_both: bool = False
    """Link only when both tests agree (higher precision, lower recall) instead of either."""
    candidate_hash_distance: int = 64
    """Pairs up to this pHash distance are checked by local features (when the pixels can be loaded)."""
    candidate_similarity: float = 0.86
    """Pairs from this embedding cosine on are checked by local features (when the pixels can be loaded)."""
    verify: bool = True
    """Check the candidate pairs with ORB keypoints (see :func:`geometric_match`)."""
    min_inliers: int = 25
    """Keypoint pairs that must agree on one transform for a verified match."""
    min_correlation: float = 0.85
    """Smallest blockwise pixel correlation of the two images once aligned by that transform (see
    :class:`GeometricMatch`; in the benchmark copies of one photo: 0.89 and above; two photos of one shelf or
    look-alike studio shots: 0.80 and below, save one re-coloured shot of one model in one pose at 0.86-0.89)."""
    neighbours: int = 10
    """Nearest entries fetched per image from each index."""


@dataclass(frozen=True)
class PairMatch:
    """One verified near-duplicate pair: images ``a`` and ``b`` (indices, ``a < b``)."""

    a: int
    b: int
    kind: str
    """One of :data:`MATCH_KINDS`."""
    similarity: float
    """How alike the two are, in [0, 1]: 1 - hash distance / bits for hash matches, the embedding cosine for
    embedding matches, the share of ratio-test matches that are inliers times the coverage for local matches."""
    evidence: str
    """What decided it: ``hash``, ``embedding`` or ``keypoints``."""


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of near-identical images: ``keep`` is the best one, ``duplicates`` the others (indices).

    ``matches`` are the verified pairs that joined the cluster (a spanning set: every member is linked to the
    others through them); ``cluster_id`` names the cluster in decisions and reports.
    """

    keep: int
    duplicates: tuple[int, ...]
    matches: tuple[PairMatch, ...] = field(default=(), compare=False)
    cluster_id: str = field(default="", compare=False)

    @property
    def members(self) -> tuple[int, ...]:
        """All indices of the cluster, the kept one first."""
        return (self.keep, *self.duplicates)

    def kind_of(self, index: int) -> str | None:
        """The kind of match that links member ``index`` into the cluster (the strongest of its pairs)."""
        kinds = [m.kind for m in self.matches if index in (m.a, m.b)]
        return min(kinds, key=MATCH_KINDS.index) if kinds else None


def match_kind(
    distance: int | None,
    size_a: tuple[int, int] | None,
    size_b: tuple[int, int] | None,
    colour_a: np.ndarray | None = None,
    colour_b: np.ndarray | None = None,
    geometry: GeometricMatch | None = None,
) -> str:
    """Name how two matched images differ (one of :data:`MATCH_KINDS`) from their hash distance, sizes, colour
    signatures and keypoint transform, whichever are known."""
    if geometry is not None and min(geometry.coverage_a, geometry.coverage_b) < 0.85:
        return "crop"
    if size_a and size_b and size_a[0] * size_b[1] and size_b[0] * size_a[1]:
        aspect = (size_a[0] * size_b[1]) / (size_b[0] * size_a[1])
        if not 0.95 <= aspect <= 1.05:
            return "crop"
    if colour_a is not None and colour_b is not None:
        diff = np.abs(colour_a.reshape(-1, 3) - colour_b.reshape(-1, 3)).mean(axis=0)
        # Mean CIELAB differences of the 4x4 grid: JPEG down to quality 15 and resizing stay below 0.5 (L*) and
        # 0.9 (a* + b*); the benchmark's colour shifts (hue 15-35 degrees, brightness, saturation) start at 1.4.
        if diff[1] + diff[2] > 1.2 or diff[0] > 1.2:
            return "colour-shifted"
    if size_a and size_b and abs(max(size_a) / max(1, max(size_b)) - 1.0) > 0.05:
        return "resized"
    if distance is None and geometry is None:
        return "similar"
    if distance == 0 and size_a == size_b:
        return "identical"
    return "recompressed"


class PairPixels:
    """What verification needs of one image's pixels: its colour signature and (computed on first use) its
    keypoints. Keeps only a copy of :data:`LOCAL_SIDE` pixels."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.small = resize_longest_side(rgb, LOCAL_SIDE)
        self.colour = colour_signature(self.small)
        self._local: LocalFeatures | None = None

    @property
    def local(self) -> LocalFeatures:
        """ORB keypoints (see :func:`local_features`)."""
        if self._local is None:
            self._local = local_features(self.small)
        return self._local


def verify_pair(
    distance: int | None,
    similarity: float | None,
    settings: DuplicateSettings,
    pixels: Callable[[], tuple[PairPixels | None, PairPixels | None]] | None,
    sizes: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None),
    bits: int = 256,
) -> tuple[str, float, str] | None:
    """Decide one candidate pair: ``(kind, similarity, evidence)`` when it is a near-duplicate, else None.

    ``pixels`` gives both images' local features and colour signatures (loaded on demand; None for an image
    that cannot be loaded)."""
    by_hash = settings.hash_distance >= 0 and distance is not None and distance <= settings.hash_distance
    by_embedding = (
        settings.embedding_similarity is not None
        and similarity is not None
        and similarity >= settings.embedding_similarity
    )
    both_known = distance is not None and similarity is not None and settings.embedding_similarity is not None
    strong = (by_hash and (by_embedding or not both_known)) if settings.require_both else (by_hash or by_embedding)
    loose = (distance is not None and distance <= settings.candidate_hash_distance) or (
        similarity is not None and similarity >= settings.candidate_similarity
    )
    can_look = settings.verify and pixels is not None
    if not strong and not (loose and can_look):
        return None
    a, b = pixels() if pixels is not None else (None, None)
    geometry = None
    # Hash matches need no keypoints (unless the embeddings must agree too); the colours still name the kind.
    if a is not None and b is not None and settings.verify and not (by_hash and not settings.require_both):
        geometry = geometric_match(a.local, b.local, min_inliers=settings.min_inliers)
        if geometry is not None and geometry.correlation < settings.min_correlation:
            geometry = None
        # The embedding alone links distinct look-alikes now and then (precision 0.95 at 0.97 in the benchmark):
        # where the pixels can be compared, an embedding match must also align.
        if geometry is None and not by_hash:
            return None
    colours = (a.colour if a else None, b.colour if b else None)
    kind = match_kind(distance if by_hash else None, *sizes, *colours, geometry=geometry)
    if by_hash and distance is not None:
        return kind, 1.0 - distance / bits, "hash"
    if by_embedding and similarity is not None:
        return kind, float(similarity), "embedding"
    assert geometry is not None
    return kind, float(min(1.0, geometry.inliers / 100.0)), "keypoints"


def find_duplicates(
    hashes: Sequence[str | None],
    embeddings: Sequence[np.ndarray | None] | None = None,
    scores: Sequence[float | None] | None = None,
    settings: DuplicateSettings | None = None,
    groups: Sequence[str] | None = None,
    *,
    loader: Callable[[int], np.ndarray | None] | None = None,
    sizes: Sequence[tuple[int, int] | None] | None = None,
) -> list[DuplicateCluster]:
    """Cluster near-duplicates and pick the image to keep in each cluster.

    Args:
        hashes: one pHash hex string per image (None for unreadable images, which are never linked).
        embeddings: one L2-normalised content embedding per image, or None.
        scores: quality scores; the highest-scoring member is kept (ties: the first).
        settings: thresholds.
        groups: when given, only images of the same group (e.g. product) are compared.
        loader: gives the RGB pixels of image ``i`` (None when it cannot), for keypoint verification of the
            candidates; without it only the hash and embedding thresholds decide.
        sizes: (width, height) of each image as stored (for naming the kind of match).

    Returns:
        Clusters with at least two members, ordered by their kept index.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    settings = settings or DuplicateSettings()
    n = len(hashes)
    for name, seq in (("embeddings", embeddings), ("scores", scores), ("groups", groups), ("sizes", sizes)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries for {n} hashes")
    valid = [i for i in range(n) if hashes[i] is not None]
    if len(valid) < 2:
        return []
    buckets: dict[str, list[int]] = {}
    for i in valid:
        buckets.setdefault("" if groups is None else str(groups[i]), []).append(i)

    @lru_cache(maxsize=1024)
    def pixels_of(i: int) -> PairPixels | None:
        rgb = loader(i) if loader is not None else None
        if rgb is None:
            return None
        return PairPixels(rgb)

    bits = len(str(hashes[valid[0]])) * 4
    matches: dict[tuple[int, int], PairMatch] = {}
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for idx in buckets.values():
        if len(idx) < 2:
            continue
        pairs = _candidate_pairs(idx, hashes, embeddings, settings)
        # Hash matches first (no pixels needed), then by similarity: a weak pair whose images are already joined
        # through others needs no keypoint check.
        pairs.sort(key=lambda p: (p[2] is None or p[2] > settings.hash_distance, -(p[3] or 0.0), p[2] or 0))
        for a, b, distance, similarity in pairs:
            by_hash = distance is not None and 0 <= distance <= settings.hash_distance
            if not by_hash and root(a) == root(b):
                continue
            size_pair = (sizes[a], sizes[b]) if sizes is not None else (None, None)

            def both(a: int = a, b: int = b) -> tuple[PairPixels | None, PairPixels | None]:
                return pixels_of(a), pixels_of(b)

            decided = verify_pair(distance, similarity, settings, both if loader is not None else None, size_pair, bits)
            if decided is not None:
                matches[(a, b)] = PairMatch(a, b, *decided)
                parent[root(a)] = root(b)
    if not matches:
        return []
    rows = np.array([a for a, _ in matches], np.int64)
    cols = np.array([b for _, b in matches], np.int64)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    members: dict[int, list[int]] = {}
    for i in sorted({*rows.tolist(), *cols.tolist()}):
        members.setdefault(int(labels[i]), []).append(i)
    by_label: dict[int, list[PairMatch]] = {}
    for match in matches.values():
        by_label.setdefault(int(labels[match.a]), []).append(match)
    clusters = []
    for label, group in members.items():
        keep = max(group, key=lambda i: (-1e9 if scores is None or scores[i] is None else scores[i], -i))
        clusters.append(
            DuplicateCluster(
                keep,
                tuple(i for i in group if i != keep),
                tuple(sorted(by_label[label], key=lambda m: (m.a, m.b))),
                f"dup-{min(group)}",
            )
        )
    return sorted(clusters, key=lambda c: c.keep)


def _candidate_pairs(
    idx: list[int],
    hashes: Sequence[str | None],
    embeddings: Sequence[np.ndarray | None] | None,
    settings: DuplicateSettings,
) -> list[tuple[int, int, int | None, float | None]]:
    """``(a, b, hash distance, embedding cosine)`` for each candidate pair among the images ``idx`` (``a < b``),
    exact values for both measures where both images have them."""
    codes = hashes_to_bytes([str(hashes[i]) for i in idx])
    index = DuplicateIndex(codes.shape[1] * 8)
    index.add_hashes(np.arange(len(idx)), codes)
    matrix: np.ndarray | None = None
    has_embedding = np.zeros(len(idx), bool)
    use_embeddings = embeddings is not None and settings.embedding_similarity is not None
    if use_embeddings:
        assert embeddings is not None
        rows = [r for r, i in enumerate(idx) if embeddings[i] is not None]
        if rows:
            dim = np.asarray(embeddings[idx[rows[0]]]).size
            matrix = np.zeros((len(idx), dim), np.float32)
            for r in rows:
                matrix[r] = np.asarray(embeddings[idx[r]], np.float32).ravel()
            has_embedding[rows] = True
            index.add_embeddings(np.array(rows), matrix[rows])
    k = min(settings.neighbours + 1, len(idx))
    found = index.search(codes, matrix, k)
    loose_hash = max(settings.hash_distance, settings.candidate_hash_distance if settings.verify else -1)
    loose_sim = settings.candidate_similarity if settings.verify else (settings.embedding_similarity or 1.0)
    if settings.embedding_similarity is not None:
        loose_sim = min(loose_sim, settings.embedding_similarity)
    pairs: set[tuple[int, int]] = set()
    query = np.arange(len(idx))[:, None]
    for ids, keep in (
        (found.hash_ids, found.hash_distances <= loose_hash),
        (found.embedding_ids, found.embedding_similarities >= loose_sim - 0.02),
    ):
        hit = keep & (ids >= 0) & (ids != query)
        for q, other in zip(np.broadcast_to(query, ids.shape)[hit], ids[hit], strict=True):
            pairs.add((min(int(q), int(other)), max(int(q), int(other))))
    if not pairs:
        return []
    first = np.array([p[0] for p in pairs])
    second = np.array([p[1] for p in pairs])
    distances = hamming(codes[first], codes[second])
    sims = None
    if matrix is not None:
        sims = np.einsum("ij,ij->i", matrix[first], matrix[second])
    out = []
    for j, (ra, rb) in enumerate(zip(first.tolist(), second.tolist(), strict=True)):
        similarity = float(sims[j]) if sims is not None and has_embedding[ra] and has_embedding[rb] else None
        out.append((idx[ra], idx[rb], int(distances[j]), similarity))
    return sorted(out)
