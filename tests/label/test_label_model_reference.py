"""The labelling code reads model names through the one resolver (pixgrade.model.reference.resolve_model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixgrade.errors import ConfigError
from pixgrade.label.features import model_reference
from pixgrade.model.loader import DEFAULT_MODEL_PATH


def test_default_is_the_shipped_checkpoint() -> None:
    assert model_reference("default") == DEFAULT_MODEL_PATH


def test_none_is_refused_with_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="need a model"):
        model_reference("none")


def test_missing_checkpoint_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(ConfigError, match=r"nope\.safetensors: model checkpoint not found"):
        model_reference(missing)


def test_onnx_export_is_refused(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"not read")
    with pytest.raises(ConfigError, match=r"model\.onnx: labelling and adaptation need a \.safetensors"):
        model_reference(onnx)
