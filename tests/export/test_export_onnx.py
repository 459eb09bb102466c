"""ONNX export and the ONNX Runtime predictor: parity with torch, metadata, dynamic sizes, backend dispatch."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

from pixgrade.model import QualityNet
from pixgrade.model.onnx_predictor import (
    OnnxModelError,
    OnnxPredictor,
    cached_onnx_path,
    export_onnx,
    read_onnx_metadata,
)
from pixgrade.model.predictor import TorchPredictor, load_predictor

FP32_SCORE_TOLERANCE = 1e-3  # stricter than the 0.02 the docs promise; fp32 ORT and torch differ by ~1e-6


def test_fp32_outputs_match_torch(small_net: QualityNet, fp32_onnx: Path, sample_images: list[np.ndarray]) -> None:
    torch_out = TorchPredictor(small_net).predict(sample_images)
    onnx_out = OnnxPredictor(fp32_onnx).predict(sample_images)
    scores = np.array([o.score for o in torch_out])
    assert np.ptp(scores) > 0.01, "test model gives the same score to every image: parity would prove nothing"
    for t, o in zip(torch_out, onnx_out, strict=True):
        assert abs(t.score - o.score) <= FP32_SCORE_TOLERANCE
        assert set(o.severities) == set(t.severities)
        for name, value in t.severities.items():
            assert abs(value - o.severities[name]) <= FP32_SCORE_TOLERANCE
        assert o.embedding is not None and t.embedding is not None
        assert o.embedding.shape == t.embedding.shape
        assert float(o.embedding @ t.embedding) > 0.9999


def test_embed_matches_predict(fp32_onnx: Path, sample_images: list[np.ndarray]) -> None:
    predictor = OnnxPredictor(fp32_onnx)
    embeddings = predictor.embed(sample_images)
    assert embeddings.dtype == np.float32 and embeddings.shape[0] == len(sample_images)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-4)
    first = predictor.predict(sample_images[:1])[0].embedding
    np.testing.assert_allclose(embeddings[0], first, atol=1e-6)


def test_predictor_is_a_drop_in(small_net: QualityNet, fp32_onnx: Path) -> None:
    torch_predictor, onnx_predictor = TorchPredictor(small_net), OnnxPredictor(fp32_onnx)
    assert onnx_predictor.backend == "onnx" and torch_predictor.backend == "torch"
    for attribute in ("input_max_side", "min_side", "severity_names"):
        assert getattr(onnx_predictor, attribute) == getattr(torch_predictor, attribute)
    assert onnx_predictor.metadata["note"] == "test model"


def test_export_has_dynamic_size_opset_and_metadata(fp32_onnx: Path, small_net: QualityNet) -> None:
    model = onnx.load(str(fp32_onnx))
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    (graph_input,) = model.graph.input
    dims = graph_input.type.tensor_type.shape.dim
    assert graph_input.name == "image" and graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param for d in dims[:3]] == ["batch", "height", "width"] and dims[3].dim_value == 3
    assert [o.name for o in model.graph.output] == ["score", "severities", "embedding"]
    info = read_onnx_metadata(fp32_onnx)
    assert info["config"] == small_net.config.to_dict() | {
        "pooled_stages": list(small_net.config.pooled_stages),
        "severity_names": list(small_net.config.severity_names),
    }
    assert info["onnx"]["quantization"] is None and info["onnx"]["input_policy"]["max_side"] == 128


def test_export_runs_on_any_size_and_batch(fp32_onnx: Path) -> None:
    predictor = OnnxPredictor(fp32_onnx)
    for shape in [(1, 64, 64, 3), (2, 97, 131, 3), (1, 128, 40, 3)]:
        image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        score, severities, embedding = predictor.session.run(None, {"image": image})
        assert score.shape == (shape[0],) and severities.shape == (shape[0], 8) and embedding.shape[0] == shape[0]


def test_export_rejects_old_opset(small_net: QualityNet, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="opset"):
        export_onnx(small_net, tmp_path / "m.onnx", opset=13)
    assert not any(tmp_path.iterdir()), "a failed export must leave nothing behind"


def test_bad_onnx_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(OnnxModelError, match="not found"):
        OnnxPredictor(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(OnnxModelError, match=r"garbage\.onnx"):
        OnnxPredictor(garbage)
    foreign = tmp_path / "foreign.onnx"
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    graph = onnx.helper.make_graph([node], "g", [value], [onnx.helper.make_tensor_value_info("y", 1, [1])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)]), str(foreign))
    with pytest.raises(OnnxModelError, match="no pixgrade metadata"):
        OnnxPredictor(foreign)


# ------------------------------------------------------------------ load_predictor dispatch and the cache


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("PIXGRADE_CACHE_DIR", str(cache))
    return cache


def _copy_checkpoint(checkpoint: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / checkpoint.name
    target.write_bytes(checkpoint.read_bytes())
    return target


def test_onnx_backend_exports_once_next_to_checkpoint(
    checkpoint: Path, tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pixgrade.model.onnx_predictor as onnx_module

    ckpt = _copy_checkpoint(checkpoint, tmp_path / "models")
    predictor = load_predictor(ckpt, backend="onnx")
    assert isinstance(predictor, OnnxPredictor)
    name, folders = cached_onnx_path(ckpt)
    assert folders[0] == ckpt.parent.resolve()
    assert predictor.path == folders[0] / name and predictor.path.is_file()
    digest = predictor.metadata["onnx"]["source_sha256"]
    assert len(digest) == 64 and digest[:16] in name.name
    assert sorted(p.name for p in ckpt.parent.iterdir()) == sorted([ckpt.name, name.name]), "no temporary files left"
    assert not isolated_cache.exists()

    real_export = onnx_module.export_onnx
    calls: list[Path] = []

    def counting_export(net: QualityNet, path: Path, *args: object, **kwargs: object) -> Path:
        calls.append(Path(path))
        return real_export(net, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(onnx_module, "export_onnx", counting_export)
    again = load_predictor(ckpt, backend="auto")
    assert isinstance(again, OnnxPredictor) and again.path == predictor.path
    assert calls == [], "a valid cached export must be reused"

    predictor.path.write_bytes(b"truncated by a crash")  # a damaged cache file is exported again, in place
    repaired = load_predictor(ckpt, backend="onnx")
    assert calls == [predictor.path]
    assert isinstance(repaired, OnnxPredictor) and read_onnx_metadata(repaired.path)["note"] == "test model"


def test_cache_key_follows_checkpoint_content(checkpoint: Path, tmp_path: Path, isolated_cache: Path) -> None:
    ckpt = _copy_checkpoint(checkpoint, tmp_path / "models")
    before, _ = cached_onnx_path(ckpt)
    data = bytearray(ckpt.read_bytes())
    data[-1] ^= 1  # one changed weight bit
    ckpt.write_bytes(bytes(data))
    after, _ = cached_onnx_path(ckpt)
    assert before != after and before.name.split(".")[0] == after.name.split(".")[0] == "small"


def test_package_weights_folder_is_never_the_cache(isolated_cache: Path) -> None:
    from pixgrade.model.predictor import DEFAULT_MODEL_PATH

    _, folders = cached_onnx_path(DEFAULT_MODEL_PATH, sha256="0" * 64)
    assert folders == [isolated_cache]


def test_backend_choices(checkpoint: Path, fp32_onnx: Path, tmp_path: Path, isolated_cache: Path) -> None:
    ckpt = _copy_checkpoint(checkpoint, tmp_path / "models")
    assert isinstance(load_predictor(ckpt, backend="torch"), TorchPredictor)
    assert isinstance(load_predictor(fp32_onnx, backend="auto"), OnnxPredictor)
    assert isinstance(load_predictor(fp32_onnx, backend="onnx"), OnnxPredictor)
    with pytest.raises(ValueError, match="ONNX model needs backend"):
        load_predictor(fp32_onnx, backend="torch")
    with pytest.raises(ValueError, match="unknown backend"):
        load_predictor(ckpt, backend="tensorrt")
    with pytest.raises(FileNotFoundError, match="missing"):
        load_predictor(tmp_path / "missing.safetensors", backend="onnx")


def test_auto_falls_back_to_torch_when_export_fails(
    checkpoint: Path, tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    import pixgrade.model.onnx_predictor as onnx_module

    def broken_export(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_module, "export_onnx", broken_export)
    ckpt = _copy_checkpoint(checkpoint, tmp_path / "models")
    with caplog.at_level(logging.WARNING, logger="pixgrade.model.loader"):
        predictor = load_predictor(ckpt, backend="auto")
    assert isinstance(predictor, TorchPredictor)
    assert "exporter exploded" in caplog.text and "using torch" in caplog.text
    with pytest.raises(RuntimeError, match="exporter exploded"):
        load_predictor(ckpt, backend="onnx")
