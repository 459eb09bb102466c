"""INT8 quantisation: the quantised model still agrees with fp32 within a documented bound."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from pixgrade.export import quantize_int8, read_onnx_metadata
from pixgrade.export.quantize import quantisable_nodes
from pixgrade.model.onnx_predictor import OnnxPredictor, session_options

# Bounds for the small random test model (docs/performance.md): INT8 scores within 0.1 of fp32 on the 0–5 scale
# and embeddings with cosine similarity >= 0.99. The real accuracy criterion (SRCC against human opinion) is
# measured by benchmarks/int8_accuracy.py on the trained model.
INT8_SCORE_TOLERANCE = 0.1
INT8_MIN_COSINE = 0.99


@pytest.fixture(scope="module")
def calibration(make_photo: Callable[[int, int, int], np.ndarray]) -> list[np.ndarray]:
    return [make_photo(90 + 9 * i, 120, 100 + i) for i in range(6)]


def _compare(fp32: Path, int8: Path, images: list[np.ndarray]) -> None:
    reference = OnnxPredictor(fp32).predict(images)
    quantised = OnnxPredictor(int8).predict(images)
    for r, q in zip(reference, quantised, strict=True):
        assert abs(r.score - q.score) <= INT8_SCORE_TOLERANCE
        assert max(abs(r.severities[k] - q.severities[k]) for k in r.severities) <= INT8_SCORE_TOLERANCE
        assert r.embedding is not None and q.embedding is not None
        assert float(r.embedding @ q.embedding) >= INT8_MIN_COSINE


def _runtime_ops(path: Path, tmp_path: Path) -> Counter[str]:
    """Operator counts of the graph ONNX Runtime actually runs (after its optimisations and QDQ fusions)."""
    import onnx
    import onnxruntime as ort

    options = session_options(1)
    options.optimized_model_filepath = str(tmp_path / f"{path.stem}.optimised.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    optimised = onnx.load(options.optimized_model_filepath)
    Path(options.optimized_model_filepath).unlink()
    return Counter(node.op_type for node in optimised.graph.node)


def test_only_the_convolutional_trunk_is_quantised(fp32_onnx: Path) -> None:
    import onnx

    graph = onnx.load(str(fp32_onnx)).graph
    by_name = {node.name: node for node in graph.node}
    producer = {out: node for node in graph.node for out in node.output}
    trunk = [by_name[name] for name in quantisable_nodes(onnx.load(str(fp32_onnx)))]
    ops = Counter(node.op_type for node in trunk)
    assert ops["Conv"] == sum(node.op_type == "Conv" for node in graph.node)  # every convolution, normalisation too
    assert set(ops) <= {"Conv", "Clip", "Add"}
    # the ReLU6 activations are in, the clamps of the standard-deviation pooling and of the embedding norm are not
    assert all(producer[node.input[0]].op_type == "Conv" for node in trunk if node.op_type == "Clip")
    names = {node.name for node in trunk}
    assert any(node.op_type == "Clip" and node.name not in names for node in graph.node)


@pytest.mark.slow
def test_static_int8_close_to_fp32(
    fp32_onnx: Path, sample_images: list[np.ndarray], calibration: list[np.ndarray], tmp_path: Path
) -> None:
    out = quantize_int8(fp32_onnx, tmp_path / "int8.onnx", calibration, method="static")
    info = read_onnx_metadata(out)
    assert info["onnx"]["quantization"] == "int8-static-qdq-per-channel"
    assert info["note"] == "test model" and info["config"]["max_side"] == 128
    import onnx

    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # What runs: every convolution as an 8-bit QLinearConv (none left in float), heads in float
    fp32_convs = sum(node.op_type == "Conv" for node in onnx.load(str(fp32_onnx)).graph.node)
    runtime = _runtime_ops(out, tmp_path)
    assert runtime["QLinearConv"] == fp32_convs and runtime["Conv"] == 0
    assert runtime["QGemm"] == 0 and runtime["Gemm"] + runtime["FusedGemm"] > 0
    _compare(fp32_onnx, out, sample_images)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["int8.onnx"], "temporary files must be removed"


def test_dynamic_int8_close_to_fp32(fp32_onnx: Path, sample_images: list[np.ndarray], tmp_path: Path) -> None:
    out = quantize_int8(fp32_onnx, tmp_path / "int8-dynamic.onnx", method="dynamic")
    assert read_onnx_metadata(out)["onnx"]["quantization"] == "int8-dynamic-per-channel"
    _compare(fp32_onnx, out, sample_images)


def test_quantise_argument_errors(fp32_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="calibration images"):
        quantize_int8(fp32_onnx, tmp_path / "a.onnx", method="static")
    with pytest.raises(ValueError, match="unknown quantisation method"):
        quantize_int8(fp32_onnx, tmp_path / "a.onnx", method="fp8")
    dynamic = quantize_int8(fp32_onnx, tmp_path / "d.onnx", method="dynamic")
    with pytest.raises(ValueError, match="already quantised"):
        quantize_int8(dynamic, tmp_path / "dd.onnx", method="dynamic")
