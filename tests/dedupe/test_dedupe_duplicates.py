"""Near-duplicate clustering and product grouping on generated images."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixgrade.dedupe import (
    DuplicateSettings,
    find_duplicates,
    group_by_csv,
    group_by_folder,
    group_by_pattern,
    grouper_from_spec,
    hash_distance,
    perceptual_hash,
)
from pixgrade.errors import ConfigError


def scene(seed: int, size: int = 256) -> np.ndarray:
    """A product-like picture: coloured shapes with edges and texture on white (distinct per seed)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, size * 3 // 4, 2)
        w, h = rng.integers(size // 8, size // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 230, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=colour)
    arr = np.asarray(image).astype(np.int16) + rng.integers(-6, 7, (size, size, 3))
    return np.clip(arr, 0, 255).astype(np.uint8)


def recompress(rgb: np.ndarray, quality: int = 40, size: int | None = None) -> np.ndarray:
    image = Image.fromarray(rgb)
    if size:
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_hash_survives_resize_and_recompression() -> None:
    a = scene(1)
    assert len(perceptual_hash(a)) == 64  # 256 bits as hex
    assert hash_distance(perceptual_hash(a), perceptual_hash(recompress(a, 30, 120))) <= 32
    assert hash_distance(perceptual_hash(a), perceptual_hash(scene(2))) > 64


def test_hash_distance_checks_lengths() -> None:
    assert hash_distance("ff00", "ff01") == 1
    with pytest.raises(ValueError, match="different lengths"):
        hash_distance("ff", "ff00")


def test_clusters_keep_best_score() -> None:
    a, b = scene(1), scene(2)
    hashes = [perceptual_hash(x) for x in (a, recompress(a), b, recompress(a, 60, 180))]
    clusters = find_duplicates(hashes, scores=[3.0, 2.0, 4.0, 3.5])
    assert len(clusters) == 1
    assert clusters[0].keep == 3 and set(clusters[0].duplicates) == {0, 1}


def test_embeddings_link_what_hashes_miss() -> None:
    hashes = ["0" * 64, "f" * 64, "0f" * 32]
    e = np.eye(3, dtype=np.float32)
    embeddings = [e[0], (e[0] + 0.01 * e[1]) / np.linalg.norm(e[0] + 0.01 * e[1]), e[2]]
    assert find_duplicates(hashes, embeddings, settings=DuplicateSettings(embedding_similarity=None)) == []
    clusters = find_duplicates(hashes, embeddings, settings=DuplicateSettings(embedding_similarity=0.99))
    assert [c.members for c in clusters] == [(0, 1)]
    both = find_duplicates(hashes, embeddings, settings=DuplicateSettings(embedding_similarity=0.99, require_both=True))
    assert both == []


def test_groups_limit_comparisons_and_none_is_skipped() -> None:
    h = perceptual_hash(scene(3))
    assert find_duplicates([h, h, None], groups=["p1", "p2", "p1"]) == []
    assert [c.members for c in find_duplicates([h, h, None], groups=["p1", "p1", "p1"])] == [(0, 1)]


def test_grouping_by_folder_pattern_and_csv(tmp_path: Path) -> None:
    paths = [tmp_path / "SKU1" / "a.jpg", tmp_path / "SKU1" / "b.jpg", tmp_path / "SKU2" / "a.jpg", tmp_path / "c.jpg"]
    for p in paths:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    assert list(group_by_folder(paths, tmp_path).values()) == ["SKU1", "SKU1", "SKU2", "."]
    named = [tmp_path / n for n in ("AB12_1.jpg", "AB12_2.jpg", "CD9_front.jpg", "misc.png")]
    groups = group_by_pattern(named, r"^(?P<product>[A-Z]+\d+)_")
    assert list(groups.values()) == ["AB12", "AB12", "CD9", "misc"]
    mapping = tmp_path / "map.csv"
    mapping.write_text("image,sku\nSKU1/a.jpg,X\nSKU2/a.jpg,Y\nb.jpg,X\n")
    assert list(group_by_csv(paths, mapping, tmp_path).values()) == ["X", "X", "Y", "c"]


def test_group_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="capturing group"):
        grouper_from_spec("pattern:abc")
    with pytest.raises(ConfigError, match="not found"):
        grouper_from_spec(f"csv:{tmp_path / 'nope.csv'}")
    with pytest.raises(ConfigError, match="unknown --group-by"):
        grouper_from_spec("colour")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,colour\na,b\n")
    with pytest.raises(ConfigError, match="image column"):
        group_by_csv([tmp_path / "a.jpg"], bad)


def textured_scene(seed: int, size: int = 320) -> np.ndarray:
    """A photo-like picture with detail everywhere (keypoints to match)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(60, 200, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(4, size // 6, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=colour)
    return np.asarray(image)


def test_crops_are_found_by_keypoints_and_named() -> None:
    from pixgrade.dedupe import MATCH_KINDS

    a, b = textured_scene(1), textured_scene(2)
    crop = np.ascontiguousarray(a[30:290, 10:270])  # keeps 66 % of the area, off centre
    images = [a, crop, b, recompress(b, 40, 200)]
    hashes = [perceptual_hash(x) for x in images]
    assert hash_distance(hashes[0], hashes[1]) > 32  # the hash alone misses the crop
    sizes = [(x.shape[1], x.shape[0]) for x in images]
    settings = DuplicateSettings(candidate_hash_distance=256)  # no embeddings here: every pair is a candidate
    without = find_duplicates(hashes, settings=settings, sizes=sizes)
    assert [c.members for c in without] == [(2, 3)]
    clusters = find_duplicates(hashes, settings=settings, loader=lambda i: images[i], sizes=sizes)
    assert sorted(sorted(c.members) for c in clusters) == [[0, 1], [2, 3]]
    kinds = {c.members: {m.kind for m in c.matches} for c in clusters}
    assert kinds[(0, 1)] == {"crop"} or kinds[(1, 0)] == {"crop"}
    assert all(m.kind in MATCH_KINDS and 0 < m.similarity <= 1 for c in clusters for m in c.matches)
    assert all(c.cluster_id for c in clusters)


def test_look_alike_scenes_are_not_linked_by_keypoints() -> None:
    images = [textured_scene(s) for s in range(4)]
    hashes = [perceptual_hash(x) for x in images]
    settings = DuplicateSettings(candidate_hash_distance=256)
    assert find_duplicates(hashes, settings=settings, loader=lambda i: images[i]) == []
