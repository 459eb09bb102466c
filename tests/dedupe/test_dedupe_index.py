"""The FAISS near-duplicate index: exact and inverted-file search, removal, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixgrade.dedupe.index import DuplicateIndex, hamming, hashes_to_bytes


def flip(codes: np.ndarray, bits: int, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``codes`` with ``bits`` random bits flipped in each row."""
    out = np.unpackbits(codes, axis=1)
    for row in out:
        row[rng.choice(row.size, bits, replace=False)] ^= 1
    return np.packbits(out, axis=1)


def test_hex_hashes_become_rows_and_distances_match() -> None:
    rows = hashes_to_bytes(["ff00", "ff01"])
    assert rows.shape == (2, 2)
    assert hamming(rows[0], rows[1]) == 1
    with pytest.raises(ValueError, match="different lengths"):
        hashes_to_bytes(["ff", "ff00"])


@pytest.mark.parametrize("exact_limit", [10_000, 500])
def test_near_hashes_and_embeddings_are_found(exact_limit: int) -> None:
    rng = np.random.default_rng(0)
    n = 1500
    codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    vectors = rng.normal(size=(n, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DuplicateIndex(exact_limit=exact_limit)
    ids = np.arange(n) + 1000
    for start in range(0, n, 400):  # incremental: past exact_limit it turns into inverted files
        index.add_hashes(ids[start : start + 400], codes[start : start + 400])
        index.add_embeddings(ids[start : start + 400], vectors[start : start + 400])
    assert index.exact == (exact_limit > n)
    queries = rng.choice(n, 50, replace=False)
    near_codes = flip(codes[queries], 20, rng)
    near_vectors = vectors[queries] + 0.05 * rng.normal(size=(50, 64)).astype(np.float32)
    found = index.search(near_codes, near_vectors, k=5)
    hash_hits = np.mean([ids[q] in row for q, row in zip(queries, found.hash_ids, strict=True)])
    emb_hits = np.mean([ids[q] in row for q, row in zip(queries, found.embedding_ids, strict=True)])
    assert hash_hits >= 0.9 and emb_hits >= 0.9
    assert found.hash_distances[:, 0].max() <= 20  # the copy is nearer than any unrelated random hash


def test_removed_entries_are_not_returned_and_files_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 256, (20, 32), dtype=np.uint8)
    index = DuplicateIndex()
    index.add_hashes(np.arange(20), codes, keys=np.arange(20) * 7)
    index.add_embeddings(np.arange(3), np.eye(3, 8, dtype=np.float32))
    index.remove({4}, part="hash")
    index.meta = {"model": "m"}
    assert 4 not in index.search(codes[4:5], None, k=3).hash_ids[0]
    index.save(tmp_path / "idx")
    loaded = DuplicateIndex.load(tmp_path / "idx")
    assert loaded.meta == {"model": "m"} and loaded.dim == 8
    assert loaded.live_keys("hash") == {i: 7 * i for i in range(20) if i != 4}
    assert loaded.search(None, np.eye(3, 8, dtype=np.float32)[1:2], k=1).embedding_ids[0, 0] == 1
    (tmp_path / "idx" / "hashes.faiss").write_bytes(b"broken")
    with pytest.raises(ValueError, match="not a complete duplicate index"):
        DuplicateIndex.load(tmp_path / "idx")
