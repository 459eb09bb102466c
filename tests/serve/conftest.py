"""Fixtures of the service tests: random-weights predictor, generated images, app factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch
from fastapi.testclient import TestClient
from serve_testkit import FakePredictor, encode, make_rgb

from pixgrade.model import create_model
from pixgrade.model.predictor import TorchPredictor
from pixgrade.pipeline.scorer import Scorer
from pixgrade.serve.app import create_app


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a busy 2-core machine, torch's thread pool spins and runs many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def random_predictor() -> TorchPredictor:
    """The real QualityNet architecture with random weights (trained weights are not needed for mechanics)."""
    torch.manual_seed(0)
    return TorchPredictor(create_model(pretrained_backbone=False))


@pytest.fixture
def jpeg_bytes() -> bytes:
    return encode(make_rgb())


@pytest.fixture
def png_bytes() -> bytes:
    return encode(make_rgb(80, 60, seed=1), "PNG")


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Factory: ``make_client(predictor=..., **create_app_kwargs)`` -> a started TestClient (closed after)."""
    clients: list[TestClient] = []

    def factory(predictor: object | None = None, **kwargs: object) -> TestClient:
        scorer = Scorer(model=predictor if predictor is not None else FakePredictor())
        client = TestClient(create_app(scorer, **kwargs))  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
