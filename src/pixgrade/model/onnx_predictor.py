"""ONNX Runtime backend of the predictor: export a :class:`QualityNet` to ONNX, cache it, and run it.

The exported graph is self-contained: its input ``image`` is the RGB uint8 picture itself, ``(N, H, W, 3)``
(NHWC, as decoded), already resized by the caller per the model's input policy; the ImageNet normalisation
runs inside the graph. Outputs are ``score`` ``(N,)`` on 0–5 (before clipping), ``severities`` ``(N, K)`` and
``embedding`` ``(N, E)`` — the same as :meth:`QualityNet.forward`. The model's config, input policy and the
checkpoint's metadata are stored as JSON under the ``pixgrade`` key of the ONNX ``metadata_props``.

:class:`OnnxPredictor` is a drop-in for :class:`pixgrade.model.torch_backend.TorchPredictor` (same attributes and
methods, ``backend = "onnx"``). :func:`load_onnx_predictor` exports a checkpoint on first use into a cache keyed
by the checkpoint's SHA-256 and reuses it afterwards.

This module imports ``onnxruntime``, ``onnx`` and PyTorch lazily: importing it never fails when they are missing,
and running an exported file (:class:`OnnxPredictor`, or :func:`load_onnx_predictor` with a cached export) never
imports PyTorch — only exporting does.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixgrade.errors import PixgradeError
from pixgrade.io.files import sha256_file, temp_file_beside
from pixgrade.model.interface import PredictorBase, resize_for_model

if TYPE_CHECKING:
    from torch import nn

    from pixgrade.model.net import QualityNet

__all__ = [
    "EXPORT_FORMAT_VERSION",
    "INPUT_NAME",
    "META_KEY",
    "OUTPUT_NAMES",
    "OnnxModelError",
    "OnnxPredictor",
    "cache_dir",
    "cached_onnx_path",
    "export_onnx",
    "load_onnx_predictor",
    "onnx_available",
    "read_onnx_metadata",
    "session_options",
    "write_onnx_metadata",
]

logger = logging.getLogger(__name__)

EXPORT_FORMAT_VERSION = 2
"""Bumped whenever the exported graph changes (2: normalisation as a 1x1 convolution); part of the cache key."""
INPUT_NAME = "image"
OUTPUT_NAMES: tuple[str, ...] = ("score", "severities", "embedding")
META_KEY = "pixgrade"
DEFAULT_OPSET = 17


class OnnxModelError(PixgradeError):
    """An ONNX file is missing, unreadable or not a pixgrade export."""


def onnx_available() -> bool:
    """True when both ``onnx`` (export) and ``onnxruntime`` (inference) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _export_wrapper(net: QualityNet) -> nn.Module:
    """uint8 NHWC RGB in, ImageNet normalisation inside, the three outputs as a tuple.

    The normalisation ``(x - 255 mean) / (255 std)`` is a fixed 1x1 depthwise convolution on the NCHW tensor rather
    than a broadcast ``Sub``/``Div``: ONNX Runtime's NHWC layout transformer (used by the INT8 model's quantised
    convolutions) would otherwise move those element-wise ops into NHWC, where broadcasting over the last axis of
    size 3 is slow (it took longer than the first convolution), and a convolution is quantised along with the
    backbone. (Built in a function so that importing this module does not import PyTorch.)
    """
    import torch
    from torch import nn

    from pixgrade.model.net import IMAGENET_MEAN, IMAGENET_STD

    class ExportWrapper(nn.Module):
        def __init__(self, net: QualityNet) -> None:
            super().__init__()
            self.net = net
            std255 = torch.tensor(IMAGENET_STD) * 255.0
            mean255 = torch.tensor(IMAGENET_MEAN) * 255.0
            self.normalise = nn.Conv2d(3, 3, kernel_size=1, groups=3, bias=True)
            self.normalise.weight = nn.Parameter((1.0 / std255).view(3, 1, 1, 1), requires_grad=False)
            self.normalise.bias = nn.Parameter(-mean255 / std255, requires_grad=False)

        def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            x = self.normalise(image.permute(0, 3, 1, 2).float())
            stages = self.net.forward_features(x)
            out = self.net.heads(self.net.pool(stages), stages[-1])
            return out["score"], out["severities"], out["embedding"]

    return ExportWrapper(net)


def write_onnx_metadata(model: Any, info: dict[str, Any]) -> None:
    """Store ``info`` as JSON under the ``pixgrade`` key of an ``onnx.ModelProto``'s ``metadata_props``."""
    for prop in list(model.metadata_props):
        if prop.key == META_KEY:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key = META_KEY
    entry.value = json.dumps(info, default=str, sort_keys=True)


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The pixgrade metadata of an exported ONNX file (``config``, ``onnx`` export info, checkpoint metadata).

    Raises:
        OnnxModelError: missing file, not ONNX, or no pixgrade metadata.
    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise OnnxModelError(f"{path}: ONNX model not found")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for non-ONNX content
        raise OnnxModelError(f"{path}: not an ONNX model ({exc})") from exc
    for prop in model.metadata_props:
        if prop.key == META_KEY:
            result: dict[str, Any] = json.loads(prop.value)
            return result
    raise OnnxModelError(f"{path}: ONNX model has no pixgrade metadata (was it exported by `pixgrade export`?)")


def export_onnx(
    net: QualityNet,
    path: str | Path,
    metadata: dict[str, Any] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    source_sha256: str | None = None,
) -> Path:
    """Export ``net`` to an ONNX file at ``path`` (written atomically: temporary file, then rename).

    The graph has dynamic batch, height and width axes (input ``image`` uint8 ``(N, H, W, 3)``), opset
    ``opset`` (>= 17), and the model config plus ``metadata`` stored in ``metadata_props``.

    Raises:
        ValueError: ``opset`` below 17.
    """
    import onnx
    import torch

    if opset < 17:
        raise ValueError(f"opset must be >= 17, got {opset}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _export_wrapper(net).eval()
    dummy = torch.randint(0, 256, (1, 96, 128, 3), dtype=torch.uint8)
    dynamic_axes = {INPUT_NAME: {0: "batch", 1: "height", 2: "width"}}
    dynamic_axes.update({name: {0: "batch"} for name in OUTPUT_NAMES})
    kwargs: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter: no onnxscript dependency, handles dynamic axes
    fd, name = temp_file_beside(path)  # same folder: os.replace is atomic; the permissions open() would give
    os.close(fd)
    tmp = Path(name)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (dummy,),
                str(tmp),
                input_names=[INPUT_NAME],
                output_names=list(OUTPUT_NAMES),
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                **kwargs,
            )
        model = onnx.load(str(tmp))
        info = dict(metadata or {})
        info["config"] = net.config.to_dict()
        info["onnx"] = {
            "format_version": EXPORT_FORMAT_VERSION,
            "opset": opset,
            "input": {"name": INPUT_NAME, "dtype": "uint8", "layout": "NHWC", "colour": "RGB"},
            "input_policy": {"max_side": net.config.max_side, "min_side": net.config.min_side},
            "outputs": list(OUTPUT_NAMES),
            "quantization": None,
            "source_sha256": source_sha256,
            "torch_version": torch.__version__,
        }
        write_onnx_metadata(model, info)
        model.producer_name = "pixgrade"
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _default_num_threads() -> int:
    """Threads for ORT's intra-op pool: ``PIXGRADE_NUM_THREADS``, else ``OMP_NUM_THREADS`` (set by Ray for its
    workers), else the CPUs this process may use."""
    for var in ("PIXGRADE_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def session_options(num_threads: int | None = None) -> Any:
    """ONNX Runtime session options for small CPUs.

    - ``intra_op_num_threads`` = ``num_threads`` (default: :func:`_default_num_threads`), one inter-op thread,
      sequential execution (a MobileNet has no parallel branches worth a second pool);
    - all graph optimisations (constant folding, Conv+BN+activation fusion, and the layout transformer that
      runs quantised convolutions in NHWC);
    - no spin-waiting of idle pool threads, so image decoding in other threads or processes gets the cores.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads or _default_num_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class OnnxPredictor(PredictorBase):
    """Scores RGB images with an exported :class:`QualityNet` on ONNX Runtime (CPU).

    A drop-in for :class:`pixgrade.model.torch_backend.TorchPredictor`: same attributes (``input_max_side``,
    ``min_side``, ``severity_names``, ``metadata``) and methods (``predict``, ``embed``).

    Args:
        path: an ONNX file written by :func:`export_onnx` (fp32) or :func:`pixgrade.export.quantize_int8`.
        num_threads: ONNX Runtime intra-op threads (default: see :func:`session_options`).

    Raises:
        OnnxModelError: the file is missing, not ONNX, or not a pixgrade export.
    """

    backend = "onnx"

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise OnnxModelError(f"{self.path}: ONNX model not found")
        try:
            self.session = ort.InferenceSession(
                str(self.path), session_options(num_threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own exception types (Fail, InvalidProtobuf, ...)
            raise OnnxModelError(f"{self.path}: not an ONNX model ONNX Runtime can load ({exc})") from exc
        raw = self.session.get_modelmeta().custom_metadata_map.get(META_KEY)
        if raw is None:
            raise OnnxModelError(f"{self.path}: ONNX model has no pixgrade metadata (export it with `pixgrade export`)")
        info: dict[str, Any] = json.loads(raw)
        config = info.get("config")
        if not isinstance(config, dict) or not {"max_side", "min_side", "severity_names"} <= set(config):
            raise OnnxModelError(f"{self.path}: the pixgrade metadata has no model config (input policy, severities)")
        self.metadata: dict[str, Any] = info
        self.config: dict[str, Any] = config
        """The model config (:meth:`pixgrade.model.ModelConfig.to_dict`), read without importing PyTorch."""
        self.input_max_side = int(config["max_side"])
        self.min_side = int(config["min_side"])
        self.severity_names = tuple(config["severity_names"])
        self.quantization: str | None = (info.get("onnx") or {}).get("quantization")
        self.backend = "int8" if str(self.quantization or "").startswith("int8") else "onnx"

    @property
    def description(self) -> str:
        kind = self.quantization or "fp32"
        return f"{self.backend} (ONNX Runtime {kind}, {self.path.name})"

    def __repr__(self) -> str:
        quant = f", quantization={self.quantization!r}" if self.quantization else ""
        return f"OnnxPredictor({str(self.path)!r}{quant})"

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        resized = np.ascontiguousarray(resize_for_model(rgb, self.input_max_side, self.min_side))
        outputs = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: resized[None]})
        return {name: value[0] for name, value in zip(OUTPUT_NAMES, outputs, strict=True)}


# --------------------------------------------------------------------------------------------------- caching


def cache_dir() -> Path:
    """The user cache folder for exported models: ``PIXGRADE_CACHE_DIR``, else ``$XDG_CACHE_HOME/pixgrade``,
    else ``~/.cache/pixgrade``."""
    if os.environ.get("PIXGRADE_CACHE_DIR"):
        return Path(os.environ["PIXGRADE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pixgrade"


def _package_weights_dir() -> Path:
    return (Path(__file__).parent / "weights").resolve()


def _candidate_dirs(checkpoint: Path) -> list[Path]:
    """Where an export of ``checkpoint`` may live, in order of preference: next to the checkpoint (when that
    folder is writable and is not the package's own weights folder), then the user cache folder."""
    dirs = []
    parent = checkpoint.resolve().parent
    if parent != _package_weights_dir() and os.access(parent, os.W_OK):
        dirs.append(parent)
    dirs.append(cache_dir())
    return dirs


def cached_onnx_path(checkpoint: str | Path, sha256: str | None = None) -> tuple[Path, list[Path]]:
    """``(name, folders)``: the cache file name of ``checkpoint``'s fp32 export and the folders to look in.

    The name has the checkpoint's stem, the first 16 hex digits of its SHA-256 and the export format version,
    so a changed checkpoint or exporter never reuses a stale export.
    """
    checkpoint = Path(checkpoint)
    digest = sha256 or sha256_file(checkpoint)
    name = f"{checkpoint.stem}.{digest[:16]}.v{EXPORT_FORMAT_VERSION}.onnx"
    return Path(name), _candidate_dirs(checkpoint)


def load_onnx_predictor(checkpoint: str | Path, num_threads: int | None = None) -> OnnxPredictor:
    """An :class:`OnnxPredictor` for a safetensors checkpoint, exporting it on first use.

    Looks for a cached export (see :func:`cached_onnx_path`); when none loads, exports the checkpoint to the
    first writable folder atomically (concurrent processes may both export; the last rename wins and both
    files are complete).

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        OnnxModelError: no cache folder is writable.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"{checkpoint}: model checkpoint not found")
    digest = sha256_file(checkpoint)
    name, folders = cached_onnx_path(checkpoint, digest)
    for folder in folders:
        candidate = folder / name
        if candidate.is_file():
            try:
                predictor = OnnxPredictor(candidate, num_threads=num_threads)
            except OnnxModelError as exc:
                logger.warning("ignoring unreadable cached export %s (%s); exporting again", candidate, exc)
                continue
            if (predictor.metadata.get("onnx") or {}).get("source_sha256") == digest:
                return predictor
    from pixgrade.model.checkpoint import load_checkpoint  # imports torch: only when exporting

    net, metadata = load_checkpoint(checkpoint)
    errors = []
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = export_onnx(net, folder / name, metadata, source_sha256=digest)
        except OSError as exc:
            errors.append(f"{folder}: {exc}")
            continue
        logger.info("exported %s to %s for the ONNX Runtime backend", checkpoint, target)
        return OnnxPredictor(target, num_threads=num_threads)
    raise OnnxModelError(f"{checkpoint}: cannot write an ONNX export to any cache folder ({'; '.join(errors)})")
