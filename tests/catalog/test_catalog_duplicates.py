"""The catalogue's duplicate index beside the SQLite file, and querying new images against it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixgrade.catalog import Catalog
from pixgrade.catalog.duplicates import find_in_catalog, index_folder, sync_index
from pixgrade.dedupe import perceptual_hash
from pixgrade.pipeline import ImageResult


def scene(seed: int, size: int = 320) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), tuple(int(c) for c in rng.integers(60, 200, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(120):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(4, size // 6, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x0 + w, y0 + h], fill=colour)
    return np.asarray(image)


def store(catalog: Catalog, path: Path, rgb: np.ndarray, sha: str) -> None:
    Image.fromarray(rgb).save(path)
    result = ImageResult(path=str(path), sha256=sha, width=rgb.shape[1], height=rgb.shape[0], score=3.0)
    catalog.save_analysis(result, model_key="m|v", facts=None, phash=perceptual_hash(rgb), size_bytes=1)


def test_index_is_updated_incrementally_and_answers_queries(tmp_path: Path) -> None:
    db = tmp_path / "catalog.sqlite"
    images = {f"p{i}.png": scene(i) for i in range(3)}
    with Catalog(db) as catalog:
        for i, (name, rgb) in enumerate(images.items()):
            store(catalog, tmp_path / name, rgb, f"{i:064x}")
        index = sync_index(catalog, None)
        assert index.n_hashes == 3 and index_folder(db).is_dir()
        # A copy of p1 (half size) is found by its hash, a crop of p2 by keypoints against the stored file.
        small = np.asarray(Image.fromarray(images["p1.png"]).resize((160, 160)))
        matches = find_in_catalog(catalog, index, small)
        assert [Path(m.path).name for m in matches] == ["p1.png"] and matches[0].kind == "resized"
        crop = np.ascontiguousarray(images["p2.png"][40:300, 20:280])
        from pixgrade.dedupe import DuplicateSettings

        loose = DuplicateSettings(candidate_hash_distance=256)
        matches = find_in_catalog(catalog, index, crop, settings=loose)
        assert [(Path(m.path).name, m.kind, m.evidence) for m in matches] == [("p2.png", "crop", "keypoints")]
        assert find_in_catalog(catalog, index, scene(9), settings=loose) == []

        # p0 changes content, p3 is new: the saved index is brought up to date, not rebuilt from nothing.
        store(catalog, tmp_path / "p0.png", scene(5), f"{5:064x}")
        store(catalog, tmp_path / "p3.png", scene(6), f"{6:064x}")
    with Catalog(db) as catalog:
        index = sync_index(catalog, None)
        assert index.n_hashes == 5 and len(index.live_keys("hash")) == 4
        assert [Path(m.path).name for m in find_in_catalog(catalog, index, scene(6))] == ["p3.png"]
        assert find_in_catalog(catalog, index, scene(0)) == []


def test_filter_takes_content_embeddings_from_the_one_decode(tmp_path: Path, monkeypatch: object) -> None:
    """With a model and duplicates on, the duplicate step gets each new image's content embedding from the
    per-image stage (no second decode of the file), close to the one computed from the file as before."""
    import pytest

    import pixgrade.catalog.duplicates as duplicates
    from pixgrade.catalog import FilterSettings, run_filter
    from pixgrade.dedupe import DuplicateSettings
    from pixgrade.dedupe.features import content_embedding
    from pixgrade.policy import load_policy

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    folder = tmp_path / "shop" / "sku1"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(scene(20 + i, 400)).save(folder / f"p{i}.jpg", quality=92)
    Image.fromarray(scene(20, 400)).resize((300, 300)).save(folder / "p0-small.jpg", quality=85)
    decoded: list[str] = []
    real = duplicates.load_image

    def counting(source: object, **kwargs: object) -> object:
        import traceback

        if any(frame.name == "content_embeddings_for" for frame in traceback.extract_stack()):
            decoded.append(str(source))  # decoded again for its embedding (keypoint verification may decode too)
        return real(source, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(duplicates, "load_image", counting)
    settings = FilterSettings(
        policy=load_policy("generic"),
        group_by="folder",
        model="default",
        workers=0,
        duplicates=DuplicateSettings(),
        text_detector="classical",
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        outcome = run_filter([tmp_path / "shop"], settings, catalog)
        (cluster,) = outcome.clusters  # the half-size copy and its original
        assert sorted(Path(p).name for p in [cluster[0], *cluster[1]]) == ["p0-small.jpg", "p0.jpg"]
        assert decoded == []  # no image decoded a second time for its embedding
        from pixgrade.pipeline import Scorer

        predictor = Scorer(model="default").predictor
        model = duplicates.content_model_name(outcome.model_key)
        for record in outcome.records:
            stored = catalog.content_embedding(record.result.sha256 or "", model)
            assert stored is not None, record.path
            from_file = content_embedding(real(record.path, max_side=duplicates.PIXEL_SIDE).rgb, predictor)
            assert float(stored @ from_file) > 0.99  # the same embedding as computed from the file


def test_index_updates_wait_for_each_other(tmp_path: Path) -> None:
    """A second process updating the same index waits for the first (the index's lock), then goes on."""
    import threading

    from pixgrade.io.locks import OutputLock

    db = tmp_path / "catalog.sqlite"
    with Catalog(db) as catalog:
        for i in range(2):
            store(catalog, tmp_path / f"p{i}.png", scene(i), f"{i:064x}")
    done: list[int] = []

    def update() -> None:
        with Catalog(db) as catalog:
            done.append(sync_index(catalog, None).n_hashes)

    index_folder(db).mkdir()
    with OutputLock(index_folder(db), what="duplicate index"):  # as another process updating it would
        worker = threading.Thread(target=update)
        worker.start()
        worker.join(timeout=1.5)
        assert worker.is_alive() and not done  # waiting, not reading a half-written index
    worker.join(timeout=30)
    assert done == [2]
