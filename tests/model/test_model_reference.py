"""One interpretation of "which model?": resolve_model and the picklable ModelRef."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pixgrade.errors import ConfigError
from pixgrade.model.reference import ModelNotFoundError, ModelRef, resolve_model


def test_none_in_every_spelling_is_no_model() -> None:
    for spec in (None, "none", "None", "NONE"):
        ref = resolve_model(spec)
        assert ref.is_none and ref.path is None and ref.load() is None


def test_a_missing_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(ModelNotFoundError, match=r"nope\.safetensors") as info:
        resolve_model(missing)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, FileNotFoundError)
    assert "--model default" in str(info.value) and "--model none" in str(info.value)


def test_default_weights_missing_say_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pixgrade.model.loader

    monkeypatch.setattr(pixgrade.model.loader, "DEFAULT_MODEL_PATH", tmp_path / "absent.safetensors")
    with pytest.raises(ModelNotFoundError, match="--model none"):
        resolve_model("default")


def test_a_reference_is_picklable_and_keeps_its_backend(tmp_path: Path) -> None:
    checkpoint = tmp_path / "m.safetensors"
    checkpoint.write_bytes(b"x")
    ref = resolve_model(checkpoint, "onnx")
    assert ref == ModelRef(str(checkpoint), "onnx") and ref.path == checkpoint and not ref.is_onnx
    assert pickle.loads(pickle.dumps(ref)) == ref
    assert resolve_model(ref) is ref  # a reference is kept as it is
    assert resolve_model(ref, "torch").backend == "torch"
    with pytest.raises(ConfigError, match="unknown backend"):
        resolve_model(checkpoint, "tpu")
