"""One way through the code for every image: the same bytes give the same row, facts and score through the local
engine, the Ray engine, the HTTP service and ``pixgrade filter`` (and ``explain``/``?heatmap=true`` give the
score of ``score``)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.slow]

FRAME = 24  # px of an added dark frame, in the file's pixels
FACT_METRICS = ("border", "border_px", "white_background", "background_fraction", "product_fill", "text_regions")


def _framed_photo(width: int, height: int, seed: int) -> bytes:
    """A product on white inside a dark frame of FRAME px, larger than every decode size (so it is reduced)."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 250.0)
    yy, xx = np.mgrid[0:height, 0:width]
    inside = ((yy - height / 2) / (height / 3)) ** 2 + ((xx - width / 2) / (width / 4)) ** 2 <= 1
    image[inside] = rng.uniform(30, 200, 3)
    image += rng.normal(0, 3, image.shape)
    image[:FRAME], image[-FRAME:], image[:, :FRAME], image[:, -FRAME:] = 20, 20, 20, 20
    buffer = io.BytesIO()
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parity") / "shop"
    (root / "mug").mkdir(parents=True)
    (root / "mug" / "front.jpg").write_bytes(_framed_photo(2000, 1500, 0))
    (root / "mug" / "side.jpg").write_bytes(_framed_photo(1300, 1700, 1))
    (root / "mug" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def _policy_file(tmp_path: Path) -> Path:
    """A policy that only warns, on every fact, so the service reports each measured value."""
    rules = "".join(
        f"  - {{id: {m}, metric: {m}, op: '>=', value: 0, action: warn}}\n" for m in FACT_METRICS if m != "border"
    )
    path = tmp_path / "facts.yaml"
    path.write_text(f"name: facts\nrules:\n{rules}", encoding="utf-8")
    return path


def test_local_ray_service_and_filter_agree(
    shop: Path, tiny_checkpoint: Path, ray_instance: Any, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from pixgrade.catalog import Catalog, FilterSettings, run_filter
    from pixgrade.catalog.filtering import scorer_options
    from pixgrade.dedupe import DuplicateSettings
    from pixgrade.engines.ray import score_with_ray
    from pixgrade.io.sources import list_sources
    from pixgrade.pipeline import Scorer
    from pixgrade.policy import load_policy
    from pixgrade.serve.app import create_app

    paths = list_sources([shop])
    policy = load_policy(_policy_file(tmp_path))
    settings = FilterSettings(
        policy=policy, model=str(tiny_checkpoint), backend="torch", workers=2, text_detector="classical"
    )
    settings.duplicates = DuplicateSettings()
    options = scorer_options(settings, "classical")

    local = list(Scorer(**options).score_paths(paths, workers=2))
    on_ray = list(score_with_ray(paths, options, batch_size=2))
    with Catalog(":memory:") as catalog:
        filtered = {Path(r.path).name: r for r in run_filter([shop], settings, catalog).records}

    assert [r.to_row() for r in on_ray] == [r.to_row() for r in local]
    assert [(r.facts, r.phash) for r in on_ray] == [(r.facts, r.phash) for r in local]
    front = next(r for r in local if r.path.endswith("front.jpg"))
    assert front.ok and front.facts is not None and front.facts.border
    assert abs(front.facts.border_px - FRAME) <= 1  # in the file's pixels, not the decoded copy's
    for result in local:
        record = filtered[Path(result.path).name]
        assert record.result.to_row() | {"path": None} == result.to_row() | {"path": None}
        assert (record.facts, record.phash) == ((result.facts, result.phash) if result.ok else (None, None))

    service_scorer = Scorer(model=str(tiny_checkpoint), backend="torch", text_detector="classical")
    with TestClient(create_app(service_scorer, policy=policy)) as client:
        for result in local:
            data = Path(result.path).read_bytes()
            response = client.post("/v1/score", files=[("files", ("x.jpg", data, "image/jpeg"))])
            [item] = response.json()["results"]
            if not result.ok:
                assert response.status_code >= 400 and item["error"]["code"] == result.error_kind
                continue
            assert result.score is not None
            assert item["score"] == round(result.score, 3)
            assert result.facts is not None
            values = {rule["rule"]: rule["value"] for rule in item["policy"]["rules"]}
            facts = dataclasses.asdict(result.facts)
            assert values == pytest.approx({m: facts[m] for m in values})


def test_explain_and_heatmap_give_the_score_of_score(shop: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from pixgrade.pipeline import Scorer
    from pixgrade.serve.app import create_app

    photo = shop / "mug" / "front.jpg"
    scorer = Scorer(model=str(tiny_checkpoint), backend="auto")
    expected = scorer.score_image(photo).score
    assert expected is not None
    with TestClient(create_app(scorer)) as client:
        data = photo.read_bytes()
        response = client.post("/v1/score?heatmap=true", files=[("files", ("x.jpg", data, "image/jpeg"))])
        [item] = response.json()["results"]
    assert item["heatmap"]["png_base64"]
    assert item["score"] == round(expected, 3)
    command = [sys.executable, "-m", "pixgrade", "explain", str(photo), "-o", str(tmp_path / "h.png"), "--json"]
    out = subprocess.run(
        [*command, "--model", str(tiny_checkpoint)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["score"] == pytest.approx(expected, abs=1e-6)
