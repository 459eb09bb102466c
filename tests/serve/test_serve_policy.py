"""Policy verdicts in the API: presets by name, custom files, facts-based rules, unknown names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serve_testkit import FakePredictor, encode, make_rgb

from pixgrade.errors import ConfigError
from pixgrade.pipeline.scorer import Scorer
from pixgrade.policy import load_policy
from pixgrade.serve.app import create_app


def _post(client: TestClient, data: bytes) -> dict:
    r = client.post("/v1/score", files=[("files", ("p.jpg", data, "image/jpeg"))])
    assert r.status_code == 200, r.text
    return r.json()


def test_preset_verdict_matches_the_policy_package(make_client: Callable[..., TestClient]) -> None:
    client = make_client(policy="generic")
    body = _post(client, encode(make_rgb()))
    assert body["policy"] == "generic"
    verdict = body["results"][0]["policy"]
    preset = load_policy("generic")
    assert verdict["name"] == "generic"
    assert [r["rule"] for r in verdict["rules"]] == [r.id for r in preset.rules]
    hard_failures = [r for r in verdict["rules"] if r["passed"] is False and r["action"] == "reject"]
    assert verdict["decision"] == ("reject" if hard_failures else "accept")
    assert verdict["passed"] is (not hard_failures)
    assert verdict["reasons"] == [r["message"] for r in hard_failures]
    assert client.get("/v1/health").json()["policy"] == "generic"


def test_custom_policy_file_rejects_with_a_reason(make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(
        "name: shop\nrules:\n"
        "  - {id: big, metric: width, op: '>=', value: 1000, message: 'too narrow: {value}; needs {threshold}'}\n"
        "  - {id: white, metric: white_background, op: '>=', value: 0.9, action: warn}\n",
        encoding="utf-8",
    )
    client = make_client(policy=str(path))
    verdict = _post(client, encode(make_rgb()))["results"][0]["policy"]
    assert verdict["decision"] == "reject" and verdict["passed"] is False
    assert verdict["reasons"] and "too narrow" in verdict["reasons"][0]
    white = next(r for r in verdict["rules"] if r["rule"] == "white")
    assert white["passed"] is not None  # the facts were measured on the pixels
    assert white["value"] > 0.5  # the generated picture has a near-white backdrop


def test_failed_images_get_no_policy_verdict(make_client: Callable[..., TestClient], jpeg_bytes: bytes) -> None:
    client = make_client(policy="generic")
    r = client.post(
        "/v1/score",
        files=[("files", ("ok.jpg", jpeg_bytes, "image/jpeg")), ("files", ("bad.jpg", b"nope", "image/jpeg"))],
    )
    ok, bad = r.json()["results"]
    assert ok["policy"] is not None and bad["policy"] is None and bad["error"]["status"] == 415


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown policy"):
        create_app(Scorer(model=FakePredictor()), policy="no-such-marketplace")
