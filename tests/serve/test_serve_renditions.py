"""``POST /v1/renditions``: one upload, each size x format at the smallest quality keeping the SSIM target."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image
from serve_testkit import encode, make_rgb

from pixgrade.fullref.metrics import luminance, ssim


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
