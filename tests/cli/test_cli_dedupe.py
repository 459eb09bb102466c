"""``pixgrade dedupe``: looking new images up in a filter catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixgrade.catalog import Catalog
from pixgrade.cli.main import main
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


def test_dedupe_names_the_matching_catalogue_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "catalog.sqlite"
    with Catalog(db) as catalog:
        for i in range(3):
            rgb = scene(i)
            path = tmp_path / f"stored{i}.png"
            Image.fromarray(rgb).save(path)
            result = ImageResult(path=str(path), sha256=f"{i:064x}", width=256, height=256, score=3.0)
            catalog.save_analysis(result, model_key="none|v", facts=None, phash=perceptual_hash(rgb), size_bytes=1)
    query = tmp_path / "upload.jpg"
    Image.fromarray(scene(1)).resize((180, 180)).save(query, quality=60)
    other = tmp_path / "other.png"
    Image.fromarray(scene(7)).save(other)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")

    assert main(["dedupe", "--catalog", str(db), "--model", "none", str(query), str(other)]) == 0
    out = capsys.readouterr().out
    assert f"{query}: resized of {tmp_path / 'stored1.png'}" in out
    assert f"{other}: no near-duplicate" in out
    assert main(["dedupe", "--catalog", str(db), "--model", "none", "--json", str(query), str(broken)]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    assert [Path(m["path"]).name for m in results[0]["matches"]] == ["stored1.png"]
    assert results[1]["error"] and results[1]["matches"] == []


def test_dedupe_refuses_a_missing_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dedupe", "--catalog", str(tmp_path / "none.sqlite"), "--model", "none", "x.jpg"]) != 0
    assert "catalogue not found" in capsys.readouterr().err
