"""Liveness and readiness probes: no side effects; ready only once the model worker runs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from serve_testkit import FakePredictor

from pixgrade.pipeline.scorer import Scorer
from pixgrade.serve.app import create_app


def test_live_and_ready_without_side_effects() -> None:
    app = create_app(Scorer(model=FakePredictor()))  # type: ignore[arg-type]
    client = TestClient(app)  # not entered: the lifespan (which starts the service) has not run
    assert client.get("/v1/live").status_code == 200
    assert client.get("/v1/live").json()["status"] == "alive"
    for _ in range(2):  # asking twice starts nothing
        not_ready = client.get("/v1/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["status"] == "not ready"
    with client:  # the lifespan starts the service: now ready
        ready = client.get("/v1/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        assert client.get("/v1/live").status_code == 200


def test_probes_need_no_api_key() -> None:
    app = create_app(Scorer(model=FakePredictor()), api_key="secret")  # type: ignore[arg-type]
    with TestClient(app) as client:
        assert client.get("/v1/live").status_code == 200
        assert client.get("/v1/ready").status_code == 200
        assert client.post("/v1/score").status_code == 401
