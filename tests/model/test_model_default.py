"""The model shipped inside the package."""

from __future__ import annotations

import socket

import cv2
import numpy as np
import pytest

from pixgrade.model.predictor import DEFAULT_MODEL_PATH, load_predictor

pytestmark = pytest.mark.skipif(not DEFAULT_MODEL_PATH.is_file(), reason="default weights not built yet")


def _product_photo(seed: int = 0) -> np.ndarray:
    """A textured object with sharp edges on white, 480x480."""
    rng = np.random.default_rng(seed)
    image = np.full((480, 480, 3), 255, np.uint8)
    cv2.rectangle(image, (90, 70), (390, 410), (40, 70, 160), -1)
    texture = rng.integers(0, 60, size=(340, 300, 1), dtype=np.uint8)
    image[70:410, 90:390] = np.clip(image[70:410, 90:390].astype(int) + texture - 30, 0, 255).astype(np.uint8)
    for y in range(90, 400, 24):
        cv2.line(image, (100, y), (380, y), (230, 230, 240), 2)
    cv2.putText(image, "PIX", (150, 260), cv2.FONT_HERSHEY_SIMPLEX, 3, (250, 250, 250), 6)
    return image


def test_default_model_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the default model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    predictor = load_predictor("default")
    assert predictor.metadata["config"]["name"]
    assert "metrics" in predictor.metadata


def test_default_model_ranks_a_blurred_copy_below_its_original() -> None:
    predictor = load_predictor("default")
    original = _product_photo()
    blurred = cv2.GaussianBlur(original, (0, 0), 4)
    sharp_out, blurred_out = predictor.predict([original, blurred])
    assert blurred_out.score < sharp_out.score
    assert blurred_out.severities["blur"] > sharp_out.severities["blur"]
