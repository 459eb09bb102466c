"""The HTTP API: scoring answers, every 4xx case, overload (503), auth, metrics, health, page and docs."""

from __future__ import annotations

import base64
import dataclasses
import io
import re
import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from serve_testkit import FakePredictor, encode, make_rgb

from pixgrade.measures import FACTOR_NAMES
from pixgrade.serve.app import STATIC_DIR


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


# -- successful scoring --------------------------------------------------------------------------------------------


def test_score_one_image_gives_score_grade_factors_reasons(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score", files=_files(("shoe.jpg", jpeg_bytes)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "FakePredictor"
    (item,) = body["results"]
    assert item["ok"] is True and item["error"] is None
    assert item["filename"] == "shoe.jpg"
    assert 0.0 <= item["score"] <= 5.0
    assert item["grade"] == int(item["score"] + 0.5)
    assert set(item["factors"]) == set(FACTOR_NAMES)
    for factor in item["factors"].values():
        assert 0.0 <= factor["score"] <= 1.0
        assert isinstance(factor["flag"], bool)
        assert (factor["reason"] is not None) == factor["flag"] or factor["reason"] is None
    assert isinstance(item["reasons"], list)
    # presentation (the factor-only judgement: the fake model's embedding is not the shipped weights') and the
    # main score combining it with the grade
    assert 0.0 <= item["presentation"] <= 1.0 and item["presentation_reasons"]
    assert item["main_score"] == pytest.approx((item["score"] / 5 * item["presentation"]) ** 0.5, abs=2e-3)
    assert (item["width"], item["height"], item["format"]) == (128, 96, "JPEG")
    assert item["heatmap"] is None and item["policy"] is None


def test_several_images_answered_in_upload_order(client: TestClient) -> None:
    dark = encode(make_rgb(450, 600, seed=2) // 4)
    bright = encode(make_rgb(450, 600, seed=3), "PNG")
    r = client.post("/v1/score", files=_files(("dark.jpg", dark), ("bright.png", bright)))
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["filename"] for x in results] == ["dark.jpg", "bright.png"]
    assert results[0]["score"] < results[1]["score"]  # the fake model scores brightness
    assert results[1]["format"] == "PNG"


def test_content_decides_not_the_name_or_claimed_type(client: TestClient, png_bytes: bytes) -> None:
    r = client.post("/v1/score", files=[("files", ("notes.txt", png_bytes, "text/plain"))])
    assert r.status_code == 200
    assert r.json()["results"][0]["format"] == "PNG"


def test_mixed_batch_scores_good_images_and_reports_bad_ones(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score", files=_files(("good.jpg", jpeg_bytes), ("bad.jpg", b"this is plain text")))
    assert r.status_code == 200
    good, bad = r.json()["results"]
    assert good["ok"] and good["score"] is not None
    assert not bad["ok"] and bad["score"] is None
    assert bad["error"]["status"] == 415 and bad["error"]["code"] == "not_an_image"
    assert "bad.jpg" in bad["error"]["message"]


def test_heatmap_is_a_png_of_the_image_size(
    make_client: Callable[..., TestClient], random_predictor: object, jpeg_bytes: bytes
) -> None:
    client = make_client(random_predictor)
    r = client.post("/v1/score?heatmap=true", files=_files(("a.jpg", jpeg_bytes)))
    assert r.status_code == 200, r.text
    item = r.json()["results"][0]
    heat = item["heatmap"]
    assert heat["method"] == "gradcam"
    png = Image.open(io.BytesIO(base64.b64decode(heat["png_base64"])))
    assert png.format == "PNG"
    assert png.size == (heat["width"], heat["height"]) == (128, 96)
    assert set(item["factors"]) == set(FACTOR_NAMES)  # factors stay alongside the heatmap
    # The score from the explained forward pass is the model's score.
    plain = client.post("/v1/score", files=_files(("a.jpg", jpeg_bytes))).json()["results"][0]
    assert plain["score"] == pytest.approx(item["score"], abs=1e-3)
    assert (plain["presentation"], plain["main_score"]) == (item["presentation"], item["main_score"])


def test_heatmap_refused_without_a_torch_model(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score?heatmap=true", files=_files(("a.jpg", jpeg_bytes)))
    assert r.status_code == 400
    assert "heatmap" in r.json()["detail"]


# -- 4xx cases -------------------------------------------------------------------------------------------------------


def test_not_an_image_is_415_decided_by_content(client: TestClient) -> None:
    r = client.post("/v1/score", files=[("files", ("photo.jpg", b"GIF? no, just words", "image/jpeg"))])
    assert r.status_code == 415
    body = r.json()
    assert "photo.jpg" in body["detail"] and "not an image" in body["detail"]
    assert body["results"][0]["error"]["code"] == "not_an_image"


def test_corrupt_image_is_422(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score", files=_files(("cut.jpg", jpeg_bytes[:200])))
    assert r.status_code == 422
    assert r.json()["results"][0]["error"]["code"] == "corrupt_image"
    assert "cut.jpg" in r.json()["detail"]


def test_empty_file_is_422(client: TestClient) -> None:
    r = client.post("/v1/score", files=_files(("empty.png", b"")))
    assert r.status_code == 422
    assert r.json()["results"][0]["error"]["code"] == "empty_file"


def test_upload_over_the_size_limit_is_413(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    client = make_client(max_upload_bytes=1000)
    assert len(jpeg_bytes) > 1000
    r = client.post("/v1/score", files=_files(("big.jpg", jpeg_bytes)))
    assert r.status_code == 413
    assert "big.jpg" in r.json()["detail"] and "1,000 bytes" in r.json()["detail"]


def test_too_many_pixels_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    service = client.app.state.service
    service.settings = dataclasses.replace(service.settings, max_pixels=1000)
    r = client.post("/v1/score", files=_files(("huge.png", encode(make_rgb(), "PNG"))))
    assert r.status_code == 413
    assert r.json()["results"][0]["error"]["code"] == "too_many_pixels"


def test_too_many_files_is_413(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    client = make_client(max_files=2)
    r = client.post("/v1/score", files=_files(*[(f"{i}.jpg", jpeg_bytes) for i in range(3)]))
    assert r.status_code == 413
    assert "too many images" in r.json()["detail"]


def test_not_multipart_is_415(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score", json={"url": "http://example.com/a.jpg"})
    assert r.status_code == 415
    assert "multipart/form-data" in r.json()["detail"]


def test_no_image_in_the_form_is_422(client: TestClient) -> None:
    r = client.post("/v1/score", data={"path": "/etc/hostname"}, files={"comment": (None, b"hello")})
    assert r.status_code == 422
    assert "no image" in r.json()["detail"]


def test_a_path_or_url_sent_as_content_is_never_opened(client: TestClient, tmp_path: object) -> None:
    image_path = f"{tmp_path}/real.png"
    Image.fromarray(make_rgb()).save(image_path)
    for text in (image_path, "file://" + image_path, "http://127.0.0.1:1/x.jpg"):
        r = client.post("/v1/score", files=_files(("x.jpg", text.encode())))
        assert r.status_code == 415, text  # treated as (non-image) bytes, never as a path or URL


def test_bad_query_parameter_is_422(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score?heatmap=maybe", files=_files(("a.jpg", jpeg_bytes)))
    assert r.status_code == 422
    assert "heatmap" in r.json()["detail"]


def test_truncated_multipart_body_is_400(client: TestClient) -> None:
    body = b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n\xff\xd8\xff'
    r = client.post("/v1/score", content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400
    assert "multipart" in r.json()["detail"]


# -- authentication ------------------------------------------------------------------------------------------------


def test_api_key_required_when_configured(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    client = make_client(api_key="s3cret-key")
    files = _files(("a.jpg", jpeg_bytes))
    missing = client.post("/v1/score", files=files)
    assert missing.status_code == 401
    assert "API key" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.post("/v1/score", files=files, headers={"X-API-Key": "s3cret-kez"}).status_code == 401
    assert client.post("/v1/score", files=files, headers={"X-API-Key": "s3cret-key-longer"}).status_code == 401
    assert client.post("/v1/score", files=files, headers={"X-API-Key": "s3cret-key"}).status_code == 200
    assert client.post("/v1/score", files=files, headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
    health = client.get("/v1/health")
    assert health.status_code == 200 and health.json()["auth_required"] is True


def test_no_key_needed_when_none_configured(client: TestClient, jpeg_bytes: bytes) -> None:
    r = client.post("/v1/score", files=_files(("a.jpg", jpeg_bytes)), headers={"X-API-Key": "anything"})
    assert r.status_code == 200
    assert client.get("/v1/health").json()["auth_required"] is False


# -- overload, batching, metrics -----------------------------------------------------------------------------------


def test_full_queue_answers_503_with_retry_after(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    gate = threading.Event()
    slow = FakePredictor(gate=gate)
    client = make_client(slow, max_queue=1)
    service = client.app.state.service
    first: dict[str, object] = {}

    def send_first() -> None:
        first["response"] = client.post("/v1/score", files=_files(("a.jpg", jpeg_bytes)))

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert slow.entered.wait(30), "the first request never reached the model"
        assert service.in_flight == 1
        r = client.post("/v1/score", files=_files(("b.jpg", jpeg_bytes)))
        assert r.status_code == 503
        assert int(r.headers["Retry-After"]) >= 1
        assert "capacity" in r.json()["detail"]
        metrics = client.get("/metrics").text
        assert "pixgrade_overload_rejections_total 1.0" in metrics
        assert "pixgrade_images_in_flight 1.0" in metrics
    finally:
        gate.set()
        thread.join(30)
    assert first["response"].status_code == 200  # type: ignore[attr-defined]
    assert service.in_flight == 0
    assert client.post("/v1/score", files=_files(("c.jpg", jpeg_bytes))).status_code == 200


def test_model_failure_is_reported_per_image(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    client = make_client(FakePredictor(fail_on=60))
    odd = encode(make_rgb(80, 60, seed=4))
    r = client.post("/v1/score", files=_files(("ok.jpg", jpeg_bytes), ("boom.jpg", odd)))
    assert r.status_code == 200
    ok, boom = r.json()["results"]
    assert ok["ok"] and not boom["ok"]
    assert boom["error"]["status"] == 500 and boom["error"]["code"] == "model_failed"


def test_metrics_count_requests_and_batches(client: TestClient, jpeg_bytes: bytes) -> None:
    client.post("/v1/score", files=_files(("a.jpg", jpeg_bytes), ("b.jpg", jpeg_bytes)))
    client.post("/v1/score", files=_files(("c.jpg", b"nope")))
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'pixgrade_http_requests_total{method="POST",route="/v1/score",status="200"} 1.0' in text
    assert 'pixgrade_http_requests_total{method="POST",route="/v1/score",status="415"} 1.0' in text
    assert 'pixgrade_images_total{outcome="scored"} 2.0' in text
    assert 'pixgrade_images_total{outcome="415"} 1.0' in text
    assert "pixgrade_queue_depth 0.0" in text
    batches = re.search(r"^pixgrade_model_batch_size_sum (\S+)$", text, re.M)
    assert batches is not None and float(batches.group(1)) == 2.0  # both images went through the model
    assert re.search(r'pixgrade_http_request_duration_seconds_count\{method="POST",route="/v1/score"\} 2.0', text)


def test_health_reports_limits(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_queue=5, max_files=9, max_batch=3)
    body = client.get("/v1/health").json()
    assert body["status"] == "ok"
    assert body["max_queue"] == 5 and body["max_files"] == 5 and body["max_batch"] == 3  # files capped at queue
    assert body["heatmaps"] is False and body["queue_depth"] == 0


def test_factors_endpoint_describes_every_factor(client: TestClient) -> None:
    names = [f["name"] for f in client.get("/v1/factors").json()]
    assert set(names) == set(FACTOR_NAMES)


# -- page and docs ---------------------------------------------------------------------------------------------------


def test_web_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="dropzone"' in page.text and "/static/app.js" in page.text
    for asset in ("app.js", "style.css", "favicon.svg"):
        assert client.get(f"/static/{asset}").status_code == 200
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        external = re.findall(r"https?://[^\s\"')]+", text)
        assert all(url.startswith("http://www.w3.org/") for url in external), (path.name, external)


def test_openapi_schema_documents_the_upload_and_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/v1/score"]["post"]
    assert "multipart/form-data" in op["requestBody"]["content"]
    assert {"200", "401", "413", "415", "422", "503"} <= set(op["responses"])
    assert "/v1/health" in schema["paths"] and "/metrics" in schema["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_docs_use_local_assets_when_the_bundle_is_installed(client: TestClient) -> None:
    pytest.importorskip("swagger_ui_bundle")
    docs = client.get("/docs").text
    if "/docs-assets/" not in docs:
        pytest.skip("installed swagger_ui_bundle is not Swagger UI 5 (swagger-ui-bundle-v2)")
    assert "cdn" not in docs.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
