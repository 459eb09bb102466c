"""pixgrade.export: the model as ONNX (fp32 or INT8) for ONNX Runtime and other runtimes.

Public API: :func:`export_model` (checkpoint → ONNX file, optionally INT8), :func:`quantize_int8`,
:func:`export_onnx` and :func:`read_onnx_metadata` (from :mod:`pixgrade.model.onnx_predictor`, where the ONNX
Runtime predictor lives so that the model layer can use it without importing this package).
"""

from pixgrade.export.onnx import export_model
from pixgrade.export.quantize import QUANT_METHODS, quantize_int8
from pixgrade.model.onnx_predictor import OnnxPredictor, export_onnx, read_onnx_metadata

__all__ = ["QUANT_METHODS", "OnnxPredictor", "export_model", "export_onnx", "quantize_int8", "read_onnx_metadata"]
