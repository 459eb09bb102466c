"""``pixgrade filter --engine ray`` makes the local engine's decisions, row by row (local Ray instance: conftest)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]
pytest.importorskip("ray")
pytest.importorskip("ray.data")

from PIL import Image, ImageDraw, ImageFilter, ImageOps  # noqa: E402

from pixgrade.cli.main import main  # noqa: E402

N_PRODUCTS = 8


def _product(size: int, colour: tuple[int, int, int], fill: float) -> Image.Image:
    image = Image.new("RGB", (size, size), "white")
    m = int(size * (1 - fill) / 2)
    ImageDraw.Draw(image).rounded_rectangle([m, m, size - m, size - m], radius=size // 8, fill=colour)
    return image


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight products of four or five photos each (37 files): a good shot, a smaller recompressed near-duplicate of
    it, a framed one, a blurred one, a thumbnail for some, and one broken file."""
    root = tmp_path_factory.mktemp("shop")
    for i in range(N_PRODUCTS):
        folder = root / f"SKU{i}"
        folder.mkdir()
        colour = (40 + 25 * i, 200 - 20 * i, 90 + 15 * (i % 4))
        good = _product(520 + 20 * i, colour, 0.75 + 0.02 * i)
        good.save(folder / "a_front.jpg", quality=92)
        good.resize((460, 460)).save(folder / "b_copy.jpg", quality=60)  # near-duplicate, smaller and worse
        ImageOps.expand(good.resize((440, 440)), border=24, fill=(20, 20, 20)).save(folder / "c_framed.jpg")
        good.filter(ImageFilter.GaussianBlur(4 + i)).save(folder / "d_blurred.jpg", quality=85)
        if i % 2 == 0:
            _product(180, colour, 0.8).save(folder / "e_thumb.png")
    (root / "SKU3" / "f_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    return root


def _decisions(out: Path) -> tuple[list[dict[str, str]], dict[str, Any]]:
    with (out / "decisions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return rows, json.loads((out / "decisions.json").read_text())


def test_filter_engine_ray_makes_the_local_decisions(
    ray_instance: Any, shop: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    common = ["--policy", "amazon-main", "--model", str(tiny_checkpoint), "--backend", "onnx"]
    common += ["--text-detector", "classical", "--no-files"]
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    assert main(["filter", str(shop), "-o", str(local_out), "--workers", "0", *common]) == 1  # the broken file
    assert main(["filter", str(shop), "-o", str(ray_out), "--engine", "ray", "--workers", "2", *common]) == 1

    local_rows, local_doc = _decisions(local_out)
    ray_rows, ray_doc = _decisions(ray_out)
    assert len(ray_rows) == len(local_rows) == 37
    assert [r["path"] for r in ray_rows] == [r["path"] for r in local_rows]
    for mine, theirs in zip(ray_rows, local_rows, strict=True):
        assert mine == theirs, mine["path"]
    for key in ("images", "products", "duplicate_clusters", "summary"):
        assert ray_doc[key] == local_doc[key], key

    # the comparison means something: every kind of decision occurs, duplicates come from the embeddings
    decisions = {r["decision"] for r in ray_rows}
    assert decisions >= {"main", "reject", "duplicate"}
    assert ray_doc["duplicate_clusters"] and ray_doc["summary"]["products"] == N_PRODUCTS
    broken = next(r for r in ray_rows if r["path"].endswith("f_broken.jpg"))
    assert broken["decision"] == "reject" and broken["error"] and broken["score"] == ""
    assert all(r["score"] for r in ray_rows if not r["error"])

    # a re-run reuses the catalogue's stored scores (only the unreadable file is tried again) and decides the same
    assert main(["filter", str(shop), "-o", str(ray_out), "--engine", "ray", "--workers", "1", *common]) == 1
    again_rows, again_doc = _decisions(ray_out)
    assert again_doc["summary"]["reused"] == 36 and again_rows == ray_rows


def test_ray_actors_send_the_content_embeddings_of_the_one_decode(
    ray_instance: Any, shop: Path, tiny_checkpoint: Path
) -> None:
    """With duplicates on, the duplicate step needs no second decode on the driver: each result from an actor
    carries the content embedding the local engine computes."""
    import numpy as np

    from pixgrade.catalog import FilterSettings
    from pixgrade.dedupe import DuplicateSettings
    from pixgrade.engines.ray import filter_with_ray
    from pixgrade.pipeline import Scorer
    from pixgrade.pipeline.analysis import analyse
    from pixgrade.policy import load_policy

    paths = sorted(str(p) for p in (shop / "SKU1").iterdir())
    settings = FilterSettings(
        policy=load_policy("generic"), model=str(tiny_checkpoint), backend="onnx", duplicates=DuplicateSettings()
    )
    results = list(filter_with_ray(paths, settings, "classical", num_actors=1))
    local = Scorer(str(tiny_checkpoint), backend="onnx", facts=True, phash=True, content=True)
    for path, result in zip(paths, results, strict=True):
        assert result.content_embedding is not None, path
        (expected,) = local.score_batch([analyse(path, local.settings)])
        assert np.allclose(result.content_embedding, expected.content_embedding, atol=1e-5), path
