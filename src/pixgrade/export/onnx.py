"""Export a pixgrade checkpoint (or model) to an ONNX file, fp32 or INT8."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixgrade.io.files import sha256_file
from pixgrade.model.net import QualityNet
from pixgrade.model.onnx_predictor import DEFAULT_OPSET, export_onnx

__all__ = ["export_model"]


def _resolve_checkpoint(model: str | Path) -> Path:
    """The checkpoint file behind a model name (:func:`pixgrade.model.reference.resolve_model`)."""
    from pixgrade.errors import ConfigError
    from pixgrade.model.reference import resolve_model

    path = resolve_model(model).path  # ModelNotFoundError (a FileNotFoundError) when it does not exist
    if path is None:
        raise ConfigError("export needs a model checkpoint; 'none' has none")
    return path


def export_model(
    model: str | Path | QualityNet,
    output: str | Path,
    *,
    int8: bool = False,
    calibration_images: Sequence[np.ndarray | str | Path] = (),
    quant_method: str = "static",
    opset: int = DEFAULT_OPSET,
    overwrite: bool = False,
    calibration_info: dict[str, Any] | None = None,
    moving_average: bool = True,
) -> Path:
    """Write ``model`` as ONNX to ``output`` (atomically) and return the path.

    Args:
        model: ``"default"`` (the shipped weights), a safetensors checkpoint path, or a :class:`QualityNet`.
        output: the ONNX file to write.
        int8: quantise to INT8 (see :func:`pixgrade.export.quantize_int8`).
        calibration_images: RGB arrays or image paths for static INT8 calibration.
        quant_method: ``"static"`` or ``"dynamic"``.
        opset: ONNX opset (>= 17).
        overwrite: replace an existing ``output``; otherwise an existing file is an error.
        calibration_info: for INT8, stored as ``onnx.calibration`` in the metadata (which images calibrated it).
        moving_average: for static INT8, activation ranges from the mean of the per-image min/max (default) or
            from the min/max over all calibration images (see :func:`pixgrade.export.quantize_int8`).

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        FileNotFoundError: the checkpoint does not exist.
    """
    from pixgrade.export.quantize import quantize_int8
    from pixgrade.model.checkpoint import load_checkpoint

    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output}: already exists (pass overwrite=True / --force to replace it)")
    metadata: dict[str, Any]
    digest: str | None = None
    if isinstance(model, QualityNet):
        net, metadata = model, {}
    else:
        checkpoint = _resolve_checkpoint(model)
        digest = sha256_file(checkpoint)
        net, metadata = load_checkpoint(checkpoint)
        metadata = {**metadata, "source_checkpoint": checkpoint.name}
    if not int8:
        return export_onnx(net, output, metadata, opset=opset, source_sha256=digest)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pixgrade-export-", dir=output.parent) as tmpdir:
        fp32 = export_onnx(net, Path(tmpdir) / "fp32.onnx", metadata, opset=opset, source_sha256=digest)
        return quantize_int8(
            fp32,
            output,
            calibration_images,
            method=quant_method,
            calibration_info=calibration_info,
            moving_average=moving_average,
        )
