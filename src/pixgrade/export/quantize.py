"""INT8 quantisation of an exported pixgrade ONNX model with ONNX Runtime's quantisation tools.

Two methods:

- ``"static"`` (default): activations and weights in 8 bits, QDQ format, per-channel symmetric int8 weights,
  uint8 activations whose ranges are calibrated on real-looking images given by the caller (the mean over the
  images of each activation's per-image min and max). ONNX Runtime fuses
  each ``DequantizeLinear -> Conv -> Clip -> QuantizeLinear`` group into one ``QLinearConv`` (NHWC, VNNI
  instructions where the CPU has them) and each residual ``Add`` into ``QLinearAdd``, so the backbone runs in 8 bits
  from the first convolution to the last.
- ``"dynamic"``: weights in 8 bits, activation ranges computed per run; no calibration images, but on CPU the
  ``ConvInteger`` kernels are slower than fp32 for a MobileNet (see docs/performance.md).

Only the convolutional trunk is quantised (:func:`quantisable_nodes`: the ``Conv``, ``Clip``/``Relu`` and ``Add``
nodes fed only by each other and the input): the mean/standard-deviation pooling, the feature standardisation
and the heads stay in float, since squares, square roots and the heads' small inputs lose too much in 8 bits and
cost almost nothing in float.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.model.interface import resize_for_model
from pixgrade.model.onnx_predictor import INPUT_NAME, read_onnx_metadata, write_onnx_metadata

__all__ = ["QUANT_METHODS", "CalibrationImages", "quantisable_nodes", "quantize_int8"]

logger = logging.getLogger(__name__)

QUANT_METHODS = ("static", "dynamic")
#: Operators of the convolutional trunk that are quantised (Clip/Relu are fused into the convolution before them).
_TRUNK_OPS = frozenset({"Conv", "Clip", "Relu", "Add"})
#: Operators between the graph input and the first convolution (layout and dtype only).
_INPUT_OPS = frozenset({"Transpose", "Cast"})


@dataclass
class CalibrationImages:
    """Calibration inputs for static quantisation: RGB uint8 arrays or image paths, resized per the model's
    input policy (``max_side``/``min_side`` from the model metadata) exactly as at inference time."""

    images: Sequence[np.ndarray | str | Path]
    max_side: int
    min_side: int

    def __iter__(self) -> Iterator[np.ndarray]:
        from pixgrade.io import load_image

        for item in self.images:
            rgb = item if isinstance(item, np.ndarray) else load_image(item, max_side=self.max_side).rgb
            yield np.ascontiguousarray(resize_for_model(rgb, self.max_side, self.min_side))[None]


def _reader(calibration: CalibrationImages) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self._iter = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._iter, None)
            return None if batch is None else {INPUT_NAME: batch}

    return _Reader()


def quantisable_nodes(model: Any) -> list[str]:
    """Names of the nodes of the convolutional trunk of an ``onnx.ModelProto``, in graph order.

    A node belongs to the trunk when it is a ``Conv``, ``Clip``, ``Relu`` or ``Add`` and each of its inputs is a
    constant (an initializer, or computed from initializers only), the output of a trunk node, or the graph input
    reached through ``Transpose``/``Cast`` only. The pooling, the standardisation and the heads, downstream of the
    first non-trunk node, are thereby left in float — found from the graph's structure, not from node names.

    Raises:
        ValueError: the graph has no ``Conv`` node in its trunk (not a convolutional pixgrade export).
    """
    graph = model.graph
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    reached = {value.name for value in graph.input}  # tensors computed from the input by layout/trunk ops only
    trunk: list[str] = []
    for node in graph.node:  # ONNX graphs are stored in topological order
        inputs = [name for name in node.input if name and name not in constants]
        if not inputs:  # computed from constants only (e.g. an Identity sharing a weight): a constant too
            constants.update(node.output)
            continue
        if not all(name in reached for name in inputs):
            continue
        if node.op_type in _TRUNK_OPS:
            trunk.append(node.name)
            reached.update(node.output)
        elif node.op_type in _INPUT_OPS and not trunk:
            reached.update(node.output)
    convs = {node.name for node in graph.node if node.op_type == "Conv"}
    if not convs & set(trunk):
        raise ValueError("no convolution found after the model input: not a convolutional pixgrade export")
    return trunk


def quantize_int8(
    fp32_model: str | Path,
    output: str | Path,
    calibration_images: Sequence[np.ndarray | str | Path] = (),
    *,
    method: str = "static",
    per_channel: bool = True,
    calibration_info: dict[str, Any] | None = None,
    moving_average: bool = True,
) -> Path:
    """Quantise an fp32 pixgrade ONNX export to INT8; writes ``output`` atomically and returns it.

    Args:
        fp32_model: an ONNX file written by :func:`pixgrade.model.onnx_predictor.export_onnx`.
        output: where to write the INT8 model (the pixgrade metadata is carried over, with
            ``onnx.quantization`` set to e.g. ``"int8-static-qdq-per-channel"``).
        calibration_images: RGB uint8 arrays or image paths (static only); use a few dozen photographs like the
            ones to be scored (product photos, camera pictures), not synthetic noise.
        method: ``"static"`` or ``"dynamic"``.
        per_channel: per-output-channel weight scales (more accurate for depthwise convolutions).
        calibration_info: stored as ``onnx.calibration`` in the metadata (e.g. which images calibrated it).
        moving_average: each activation's range is the mean over the images of their per-image min and max
            (default); false: the min and max over all images (what the shipped INT8 file uses: its calibration set
            mixes 500-px camera photos, 224-px studio shots and degraded copies, whose per-image ranges differ
            widely, and the mean clipped the product photos' activations; docs/performance.md).

    Raises:
        ValueError: unknown method, or static quantisation without calibration images.
        OnnxModelError: ``fp32_model`` is not a pixgrade export.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in QUANT_METHODS:
        raise ValueError(f"unknown quantisation method {method!r}; choose one of {', '.join(QUANT_METHODS)}")
    if method == "static" and not calibration_images:
        raise ValueError("static INT8 quantisation needs calibration images (a few dozen typical photographs)")
    fp32_model, output = Path(fp32_model), Path(output)
    info = read_onnx_metadata(fp32_model)
    if (info.get("onnx") or {}).get("quantization"):
        raise ValueError(f"{fp32_model}: already quantised ({info['onnx']['quantization']}); give the fp32 export")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pixgrade-quant-", dir=output.parent) as tmpdir:
        prepared = Path(tmpdir) / "prepared.onnx"
        quantised = Path(tmpdir) / "quantised.onnx"
        # Shape inference + graph optimisation (BatchNorm folding) first, as ONNX Runtime recommends.
        quant_pre_process(str(fp32_model), str(prepared), skip_symbolic_shape=False)
        nodes = quantisable_nodes(onnx.load(str(prepared)))
        if method == "static":
            config = info["config"]
            calibration = CalibrationImages(calibration_images, config["max_side"], config["min_side"])
            quantize_static(
                str(prepared),
                str(quantised),
                _reader(calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=sorted(_TRUNK_OPS),
                nodes_to_quantize=nodes,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                # By default each activation's range is the mean over the calibration images of its per-image min
                # and max (CalibMovingAverage; all images are merged at once, so the order does not matter). On the
                # livec-train folds this halved the score drift from fp32 against the global min/max, at the same
                # SRCC (docs/performance.md). ONNX Runtime's histogram calibrators (percentile, entropy) keep every
                # activation of every calibration image in memory (~10 GB for 32 images at 512 px).
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={
                    "ActivationSymmetric": False,
                    "WeightSymmetric": True,
                    "CalibMovingAverage": moving_average,
                },
            )
            label = f"int8-static-qdq{'-per-channel' if per_channel else ''}"
        else:
            quantize_dynamic(
                str(prepared),
                str(quantised),
                op_types_to_quantize=["Conv"],
                nodes_to_quantize=nodes,
                per_channel=per_channel,
                weight_type=QuantType.QInt8,
            )
            label = f"int8-dynamic{'-per-channel' if per_channel else ''}"
        model = onnx.load(str(quantised))
        info["onnx"] = {**info["onnx"], "quantization": label, "calibration_images": len(calibration_images)}
        if method == "static":
            info["onnx"]["calibration_range"] = "mean-per-image-min-max" if moving_average else "global-min-max"
        if calibration_info is not None:
            info["onnx"]["calibration"] = calibration_info
        write_onnx_metadata(model, info)
        model.producer_name = "pixgrade"
        staged = Path(tmpdir) / "final.onnx"
        onnx.save(model, str(staged))
        os.replace(staged, output)
    logger.info("wrote %s (%s)", output, label)
    return output
