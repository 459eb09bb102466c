"""``POST /v1/duplicates``: uploads looked up in the server's catalogue."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from pixgrade.catalog import Catalog
from pixgrade.dedupe import perceptual_hash
from pixgrade.pipeline import ImageResult


def scene(seed: int, size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x0, y0 = (int(v) for v in rng.integers(0, size, 2))
        w, h = (int(v) for v in rng.integers(4, size // 5, 2))
        draw.rectangle([x0, y0, x0 + w, y0 + h], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return np.asarray(image)


def jpeg(rgb: np.ndarray, size: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((size, size)).save(buf, "JPEG", quality=70)
    return buf.getvalue()


def test_duplicates_endpoint(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    db = tmp_path / "catalog.sqlite"
    with Catalog(db) as catalog:
        for i in range(2):
            path = tmp_path / f"stored{i}.png"
            Image.fromarray(scene(i)).save(path)
            result = ImageResult(path=str(path), sha256=f"{i:064x}", width=256, height=256, score=3.0)
            catalog.save_analysis(result, model_key="none|v", facts=None, phash=perceptual_hash(scene(i)), size_bytes=1)

    assert make_client().post("/v1/duplicates", files=[("files", ("a.jpg", jpeg(scene(0), 200)))]).status_code == 404
    client = make_client(catalog=str(db))
    files = [
        ("files", ("copy.jpg", jpeg(scene(0), 200))),
        ("files", ("new.jpg", jpeg(scene(5), 256))),
        ("files", ("broken.jpg", b"not an image")),
    ]
    answer = client.post("/v1/duplicates", files=files)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["catalog_images"] == 2
    copy, new, broken = body["results"]
    assert [(Path(m["path"]).name, m["kind"]) for m in copy["matches"]] == [("stored0.png", "resized")]
    assert 0 < copy["matches"][0]["similarity"] <= 1 and copy["error"] is None
    assert new["matches"] == [] and broken["error"] and broken["matches"] == []
    with Catalog(db) as catalog:  # a later addition to the catalogue is seen without restarting the server
        path = tmp_path / "stored5.png"
        Image.fromarray(scene(5)).save(path)
        result = ImageResult(path=str(path), sha256=f"{5:064x}", width=256, height=256, score=3.0)
        catalog.save_analysis(result, model_key="none|v", facts=None, phash=perceptual_hash(scene(5)), size_bytes=1)
    again = client.post("/v1/duplicates", files=[("files", ("new.jpg", jpeg(scene(5), 256)))]).json()
    assert [Path(m["path"]).name for m in again["results"][0]["matches"]] == ["stored5.png"]
