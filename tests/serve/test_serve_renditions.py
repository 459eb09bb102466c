"""``POST /v1/renditions``: one upload, each size x format at the smallest quality keeping the SSIM target."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_testkit import FakePredictor, encode, make_rgb

from pixgrade.fullref.images import srgb_profile_bytes
from pixgrade.fullref.metrics import luminance, ssim
from pixgrade.model.predictor import ModelOutput


def _file(name: str, data: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, data, "application/octet-stream")}


def test_renditions_answer_each_size_and_format_with_its_bytes(client: TestClient) -> None:
    source = make_rgb(240, 160, seed=4)  # 160 wide, 240 high (make_rgb(h, w))
    data = encode(source, "PNG")
    r = client.post("/v1/renditions?sizes=120,400&formats=jpeg,webp&min_ssim=0.95", files=_file("shoe.png", data))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["width"], body["height"]) == ("shoe.png", 160, 240)
    got = {(x["size"], x["format"]): x for x in body["renditions"]}
    assert set(got) == {(400, "jpeg"), (400, "webp"), (120, "jpeg"), (120, "webp")}
    assert got[(400, "jpeg")]["status"] == "skipped" and got[(400, "jpeg")]["data_base64"] is None  # no upscale
    reference = Image.fromarray(source).resize((80, 120), Image.Resampling.LANCZOS, reducing_gap=3.0)
    for fmt in ("jpeg", "webp"):
        item = got[(120, fmt)]
        assert item["status"] == "ok" and item["ssim"] >= 0.95
        assert item["name"] == {"jpeg": "shoe-120.jpg", "webp": "shoe-120.webp"}[fmt]
        encoded = base64.b64decode(item["data_base64"])
        assert len(encoded) == item["bytes"]
        with Image.open(io.BytesIO(encoded)) as im:
            assert im.format == fmt.upper() and im.size == (80, 120) and not im.getexif()
            decoded = np.asarray(im.convert("RGB"))
        assert ssim(luminance(np.asarray(reference)), luminance(decoded)) >= 0.95  # the answer's claim holds


def test_renditions_refuse_bad_requests(client: TestClient, make_client: Callable[..., TestClient]) -> None:
    png = encode(make_rgb(64, 64, seed=1), "PNG")
    assert client.post("/v1/renditions?formats=gif", files=_file("a.png", png)).status_code == 422
    assert client.post("/v1/renditions?sizes=8", files=_file("a.png", png)).status_code == 422
    assert client.post("/v1/renditions?min_ssim=1.5", files=_file("a.png", png)).status_code == 422
    too_many = "sizes=100,200,300,400,500&formats=jpeg,webp,jpeg"
    assert client.post(f"/v1/renditions?{too_many}", files=_file("a.png", png)).status_code == 422
    r = client.post("/v1/renditions", files=_file("notes.txt", b"not an image at all"))
    assert r.status_code == 415 and "notes.txt" in r.json()["detail"]
    two = [("file", ("a.png", png, "image/png")), ("file", ("b.png", png, "image/png"))]
    assert client.post("/v1/renditions", files=two).status_code == 413  # one image per request
    small = make_client(max_upload_bytes=1000)
    assert (
        small.post("/v1/renditions", files=_file("a.png", encode(make_rgb(200, 200, seed=2), "PNG"))).status_code == 413
    )
    assert "/v1/renditions" in client.get("/openapi.json").json()["paths"]


class _DetailPredictor(FakePredictor):
    """Scores the fine texture a strong compression smooths away: the mean absolute horizontal step (0-5)."""

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        self.batches.append(len(images))
        return [
            ModelOutput(
                score=min(5.0, float(np.abs(np.diff(rgb.astype(np.int16), axis=1)).mean()) / 4.0), severities={}
            )
            for rgb in images
        ]


def test_renditions_grade_bound_scores_through_the_model_and_raises_the_quality(
    make_client: Callable[..., TestClient],
) -> None:
    predictor = _DetailPredictor()
    client = make_client(predictor=predictor)
    data = encode(make_rgb(200, 240, seed=3), "PNG")
    query = "/v1/renditions?sizes=200&formats=jpeg&min_ssim=0.3"
    plain = client.post(query, files=_file("box.png", data)).json()
    (free,) = plain["renditions"]
    assert plain["max_grade_drop"] is None and free["score"] is None and free["score_drop"] is None
    assert not predictor.batches  # no grade bound: the model is not asked
    r = client.post(f"{query}&max_grade_drop=0.05", files=_file("box.png", data))
    assert r.status_code == 200, r.text
    body = r.json()
    (bound,) = body["renditions"]
    assert body["max_grade_drop"] == 0.05 and bound["status"] == "ok"
    assert bound["score_drop"] == pytest.approx(bound["reference_score"] - bound["score"])
    assert bound["score_drop"] <= 0.05 and bound["grade"] is not None
    assert bound["quality"] > free["quality"]  # the bound bites: SSIM 0.3 alone lets the texture go
    assert predictor.batches  # scored by the model worker
    with Image.open(io.BytesIO(base64.b64decode(bound["data_base64"]))) as im:
        decoded = np.asarray(im.convert("RGB"))
    assert len(base64.b64decode(bound["data_base64"])) == bound["bytes"] and decoded.shape[:2] == (167, 200)


def test_renditions_keep_icc_embeds_srgb_only_when_asked(client: TestClient) -> None:
    data = encode(make_rgb(64, 80, seed=5), "PNG")
    for keep, expected in (("true", srgb_profile_bytes()), ("false", None)):
        r = client.post(f"/v1/renditions?sizes=64&formats=jpeg,webp&keep_icc={keep}", files=_file("a.png", data))
        assert r.status_code == 200, r.text
        assert r.json()["keep_icc"] is (keep == "true")
        for item in r.json()["renditions"]:
            with Image.open(io.BytesIO(base64.b64decode(item["data_base64"]))) as im:
                assert im.info.get("icc_profile") == expected and not im.getexif()


def test_renditions_validate_the_grade_bound_and_document_the_new_fields(client: TestClient) -> None:
    png = encode(make_rgb(64, 64, seed=1), "PNG")
    for bad in ("max_grade_drop=-0.1", "max_grade_drop=much", "max_grade_drop=nan", "keep_icc=perhaps"):
        r = client.post(f"/v1/renditions?{bad}", files=_file("a.png", png))
        assert r.status_code == 422, (bad, r.text)
    params = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/v1/renditions"]["post"]["parameters"]}
    assert {"sizes", "formats", "min_ssim", "max_grade_drop", "keep_icc"} <= set(params)
    assert params["max_grade_drop"]["schema"]["anyOf"][0].get("minimum") == 0.0
    assert params["keep_icc"]["schema"]["type"] == "boolean"
