"""``load_predictor``'s choice of backend: auto prefers an up-to-date INT8 export, then fp32 ONNX, then torch."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import pixgrade.model.loader as loader_module
import pixgrade.model.torch_backend as torch_backend_module
from pixgrade.export import read_onnx_metadata
from pixgrade.model.onnx_predictor import OnnxModelError, OnnxPredictor
from pixgrade.model.predictor import TorchPredictor, int8_path_for, load_predictor


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("PIXGRADE_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="module")
def int8_file(
    checkpoint: Path, make_photo: Callable[[int, int, int], np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A static INT8 export of the test checkpoint, recording its SHA-256 like ``pixgrade export --int8`` does."""
    import hashlib

    from pixgrade.export import export_model

    calibration = [make_photo(100, 120, 50 + i) for i in range(3)]
    out = tmp_path_factory.mktemp("int8") / "small.int8.onnx"
    export_model(checkpoint, out, int8=True, calibration_images=calibration)
    info = read_onnx_metadata(out)["onnx"]
    assert info["source_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert info["quantization"].startswith("int8-static")
    return out


def _models_folder(checkpoint: Path, folder: Path, int8: Path | None = None) -> Path:
    """A copy of the checkpoint in ``folder``, with ``int8`` beside it under the name auto looks for."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / checkpoint.name
    target.write_bytes(checkpoint.read_bytes())
    if int8 is not None:
        int8_path_for(target).write_bytes(int8.read_bytes())
    return target


def test_int8_file_name_convention() -> None:
    assert int8_path_for(Path("m/pixgrade_mnv2.safetensors")) == Path("m/pixgrade_mnv2.int8.onnx")


def test_auto_prefers_an_up_to_date_int8_export(checkpoint: Path, int8_file: Path, tmp_path: Path, caplog) -> None:
    ckpt = _models_folder(checkpoint, tmp_path / "models", int8_file)
    with caplog.at_level(logging.INFO, logger="pixgrade.model.loader"):
        predictor = load_predictor(ckpt, backend="auto")
    assert isinstance(predictor, OnnxPredictor) and predictor.backend == "int8"
    assert predictor.path == int8_path_for(ckpt)
    assert "chose int8" in caplog.text
    assert load_predictor(ckpt, backend="int8").backend == "int8"


def test_auto_without_int8_export_runs_fp32_onnx(checkpoint: Path, tmp_path: Path) -> None:
    ckpt = _models_folder(checkpoint, tmp_path / "models")
    predictor = load_predictor(ckpt, backend="auto")
    assert isinstance(predictor, OnnxPredictor) and predictor.backend == "onnx" and predictor.quantization is None
    with pytest.raises(OnnxModelError, match=r"no INT8 export small\.int8\.onnx"):
        load_predictor(ckpt, backend="int8")


def test_a_stale_int8_export_is_never_used(checkpoint: Path, int8_file: Path, tmp_path: Path, caplog) -> None:
    ckpt = _models_folder(checkpoint, tmp_path / "models", int8_file)
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 1  # the weights change (e.g. retrained) but the INT8 file is the old one
    ckpt.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="pixgrade.model.loader"):
        predictor = load_predictor(ckpt, backend="auto")
    assert isinstance(predictor, OnnxPredictor) and predictor.backend == "onnx"
    assert "stale" in caplog.text and "pixgrade export --int8" in caplog.text
    with pytest.raises(OnnxModelError, match="stale"):
        load_predictor(ckpt, backend="int8")


def test_fp32_ignores_the_int8_export(checkpoint: Path, int8_file: Path, tmp_path: Path) -> None:
    ckpt = _models_folder(checkpoint, tmp_path / "models", int8_file)
    predictor = load_predictor(ckpt, backend="fp32")
    assert isinstance(predictor, OnnxPredictor) and predictor.quantization is None
    assert isinstance(load_predictor(ckpt, backend="onnx"), OnnxPredictor)
    assert load_predictor(ckpt, backend="onnx").quantization is None
    assert isinstance(load_predictor(ckpt, backend="torch"), TorchPredictor)


def test_without_onnxruntime_auto_and_fp32_run_torch(
    checkpoint: Path, int8_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ckpt = _models_folder(checkpoint, tmp_path / "models", int8_file)
    monkeypatch.setattr(loader_module, "_runtime_available", lambda: False)
    assert isinstance(load_predictor(ckpt, backend="auto"), TorchPredictor)
    assert isinstance(load_predictor(ckpt, backend="fp32"), TorchPredictor)
    for backend in ("int8", "onnx"):
        with pytest.raises(ImportError, match="onnxruntime"):
            load_predictor(ckpt, backend=backend)


def test_onnx_files_run_as_they_are(fp32_onnx: Path, int8_file: Path) -> None:
    assert load_predictor(int8_file, backend="auto").backend == "int8"
    assert load_predictor(int8_file, backend="onnx").backend == "int8"
    assert load_predictor(fp32_onnx, backend="fp32").backend == "onnx"
    with pytest.raises(ValueError, match="not INT8"):
        load_predictor(fp32_onnx, backend="int8")
    with pytest.raises(ValueError, match="not fp32"):
        load_predictor(int8_file, backend="fp32")
    with pytest.raises(ValueError, match="not 'torch'"):
        load_predictor(int8_file, backend="torch")


def test_torch_threads_apply_when_the_torch_backend_loads(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    ckpt = _models_folder(checkpoint, tmp_path / "models")
    monkeypatch.setattr(torch_backend_module, "_TORCH_THREADS", None)
    before = torch.get_num_threads()
    try:
        torch_backend_module.set_torch_threads(1)
        torch.set_num_threads(2)  # changed behind pixgrade's back: the torch backend sets it again when it loads
        load_predictor(ckpt, backend="torch")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match=">= 1"):
        torch_backend_module.set_torch_threads(0)


def test_the_cli_offers_exactly_the_backends_load_predictor_accepts() -> None:
    from pixgrade.cli.options import BACKEND_CHOICES
    from pixgrade.model.predictor import BACKENDS

    assert BACKEND_CHOICES == BACKENDS
