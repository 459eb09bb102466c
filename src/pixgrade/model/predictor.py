"""Run a trained :class:`QualityNet` on RGB images: resizing per the model's input policy, outputs, and the choice
of backend (:func:`load_predictor`).

This module does not import PyTorch: the torch backend (:class:`Predictor`, :func:`prepare_input`) imports it when
used, so scoring with ONNX Runtime (``backend="int8"``/``"onnx"``, or ``"auto"`` with an exported model) starts
without loading torch (about 1.3 s and 300 MB saved; docs/performance.md).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import cv2
import numpy as np

from pixgrade.errors import ConfigError, PixgradeError
from pixgrade.io.files import sha256_file

if TYPE_CHECKING:
    import torch

    from pixgrade.model.net import QualityNet
    from pixgrade.model.onnx_predictor import OnnxPredictor

__all__ = [
    "BACKENDS",
    "DEFAULT_INT8_PATH",
    "DEFAULT_MODEL_PATH",
    "BackendUnavailableError",
    "ModelOutput",
    "Predictor",
    "PredictorBase",
    "int8_mismatch",
    "int8_path_for",
    "load_predictor",
    "prepare_input",
    "resize_for_model",
    "set_torch_threads",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).parent / "weights" / "pixgrade_mnv2.safetensors"
DEFAULT_INT8_PATH = DEFAULT_MODEL_PATH.with_name("pixgrade_mnv2.int8.onnx")
"""The shipped static INT8 export of :data:`DEFAULT_MODEL_PATH` (``make int8-model`` rebuilds it)."""

BACKENDS: tuple[str, ...] = ("auto", "int8", "onnx", "fp32", "torch")
"""Backends :func:`load_predictor` accepts (see its docstring)."""

_P = TypeVar("_P", bound="PredictorBase")


class BackendUnavailableError(PixgradeError, ImportError):
    """The requested backend needs a package that is not installed (onnxruntime)."""


@dataclass
class ModelOutput:
    """What the model says about one image."""

    score: float
    """Overall quality on 0–5, higher is better."""
    severities: dict[str, float]
    """Per-factor severity in [0, 1], 1 = severe."""
    embedding: np.ndarray | None = None
    """L2-normalised image embedding (for near-duplicate search)."""


def resize_for_model(rgb: np.ndarray, max_side: int, min_side: int = 64) -> np.ndarray:
    """Resize so the longest side is at most ``max_side`` (area interpolation) and the shortest at least
    ``min_side``; images already within bounds are returned unchanged (never upscaled needlessly)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 array of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    scale = max(scale, min_side / min(height, width))
    if scale == 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, size, interpolation=interpolation)


def prepare_input(rgb: np.ndarray, max_side: int, min_side: int = 64) -> torch.Tensor:
    """RGB uint8 ``(H, W, 3)`` → ImageNet-normalised float tensor ``(1, 3, H', W')`` per the input policy
    (the torch backend's input; imports torch)."""
    import torch

    from pixgrade.model.net import IMAGENET_MEAN, IMAGENET_STD

    resized = resize_for_model(rgb, max_side, min_side)
    if not resized.flags.writeable:
        resized = resized.copy()
    x = torch.from_numpy(np.ascontiguousarray(resized)).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class PredictorBase:
    """What every backend shares: ``predict`` and ``embed`` over a per-image ``_run`` that returns the raw
    ``score``, ``severities`` and ``embedding`` arrays of one image."""

    backend = "none"
    input_max_side: int
    min_side: int
    severity_names: tuple[str, ...]

    @property
    def description(self) -> str:
        """What runs the model, in words (for logs and messages), e.g. ``"int8 (ONNX Runtime, ...)"``."""
        return self.backend

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def predict(self, images: Sequence[np.ndarray]) -> list[ModelOutput]:
        """Score each RGB uint8 ``(H, W, 3)`` image of any size.

        Images are run one at a time at their own (policy-capped) resolution: on CPU a batch of one is as
        fast per image as larger batches, and no padding or cropping distorts the statistics.
        """
        results = []
        for rgb in images:
            out = self._run(rgb)
            results.append(
                ModelOutput(
                    score=float(np.clip(out["score"], 0.0, 5.0)),
                    severities={n: float(s) for n, s in zip(self.severity_names, out["severities"], strict=True)},
                    embedding=out["embedding"].astype(np.float32),
                )
            )
        return results

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """``(N, E)`` L2-normalised embeddings."""
        return np.stack([self._run(rgb)["embedding"] for rgb in images]).astype(np.float32)


_TORCH_THREADS: int | None = None


def set_torch_threads(num_threads: int) -> None:
    """PyTorch's intra-op threads for the torch backend (and Grad-CAM): applied at once when PyTorch is already
    imported, else when a :class:`Predictor` is first created — so setting it never imports PyTorch itself."""
    global _TORCH_THREADS
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    _TORCH_THREADS = num_threads
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(num_threads)


class Predictor(PredictorBase):
    """Scores RGB images with a :class:`QualityNet` (PyTorch backend)."""

    backend = "torch"

    @property
    def description(self) -> str:
        return "torch (PyTorch, fp32)"

    def __init__(self, model: QualityNet, metadata: dict | None = None) -> None:
        if _TORCH_THREADS is not None:
            import torch

            torch.set_num_threads(_TORCH_THREADS)
        self.model = model.eval()
        self.metadata = metadata or {}
        self.input_max_side = model.config.max_side
        self.min_side = model.config.min_side
        self.severity_names = model.config.severity_names

    def _run(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.model(prepare_input(rgb, self.input_max_side, self.min_side))
        return {k: v[0].numpy() for k, v in out.items()}


def int8_path_for(checkpoint: str | Path) -> Path:
    """Where ``backend="auto"``/``"int8"`` look for the INT8 export of a safetensors checkpoint: the same name with
    ``.int8.onnx`` next to it (``pixgrade_mnv2.safetensors`` → ``pixgrade_mnv2.int8.onnx``)."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}.int8.onnx")


def int8_mismatch(info: dict[str, Any], weights_sha256: str) -> str | None:
    """Why an ONNX file whose ``onnx`` metadata is ``info`` is not a static INT8 export of the weights with that
    SHA-256 (``None`` when it is): what ``backend="auto"``/``"int8"`` and ``make int8-model`` both check."""
    quantization = str(info.get("quantization") or "")
    if not quantization.startswith("int8-static"):
        return f"it is not a static INT8 export (quantization: {quantization or None})"
    source = info.get("source_sha256")
    if source != weights_sha256:
        return f"it was made from other weights (SHA-256 {str(source)[:12]}…, the checkpoint is {weights_sha256[:12]}…)"
    return None


def _runtime_available() -> bool:
    """True when ONNX Runtime can be imported (enough to run an existing ONNX file; exporting also needs onnx)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _int8_rebuild_hint(checkpoint: Path) -> str:
    if checkpoint.resolve() == DEFAULT_MODEL_PATH.resolve():
        return "rebuild it with `make int8-model` (python tools/build_int8_model.py)"
    return (
        f"make one with `pixgrade export --int8 --model {checkpoint} -o {int8_path_for(checkpoint)} "
        "--calibration PHOTOS`"
    )


def _load_int8(checkpoint: Path, digest: str, num_threads: int | None) -> tuple[OnnxPredictor | None, str, bool]:
    """The INT8 export of ``checkpoint`` (see :func:`int8_path_for`) when it exists, is a static INT8 pixgrade export
    and was made from exactly these weights (its ``onnx.source_sha256`` metadata equals ``digest``); else ``None``,
    why not, and whether that deserves a warning (a file is there but unusable) rather than a note (no file)."""
    from pixgrade.model.onnx_predictor import OnnxModelError, OnnxPredictor

    path = int8_path_for(checkpoint)
    if not path.is_file():
        return None, f"no INT8 export {path.name} next to {checkpoint.name}", False
    try:
        predictor = OnnxPredictor(path, num_threads=num_threads)
    except OnnxModelError as exc:
        return None, f"unreadable INT8 export ({exc})", True
    mismatch = int8_mismatch(predictor.metadata.get("onnx") or {}, digest)
    if mismatch is not None:
        return None, f"{path} is stale: {mismatch}; {_int8_rebuild_hint(checkpoint)}", True
    return predictor, "", False


def load_predictor(
    model: str | Path = "default", backend: str = "auto", num_threads: int | None = None
) -> Predictor | OnnxPredictor:
    """Load a predictor: ``"default"`` is the model shipped inside the package, else a checkpoint path
    (safetensors) or an ONNX file written by ``pixgrade export``.

    ``backend`` (:data:`BACKENDS`), for a safetensors checkpoint:

    - ``"auto"`` (default): the fastest available — the checkpoint's static INT8 export
      (:func:`int8_path_for`: ``<name>.int8.onnx`` next to it, shipped for the default model) when ONNX Runtime is
      installed and that file was made from exactly these weights (SHA-256 in its metadata); else fp32 ONNX
      Runtime (exported on first use, needs ``onnx``); else PyTorch. A stale INT8 file is skipped with a warning.
      Nothing is calibrated implicitly: a checkpoint without an INT8 export runs in fp32.
    - ``"int8"``: that INT8 export; :class:`~pixgrade.model.onnx_predictor.OnnxModelError` when it is missing or stale.
    - ``"onnx"``: fp32 ONNX Runtime; the checkpoint is exported on first use and cached (next to the checkpoint when
      writable, else in ``~/.cache/pixgrade``; keyed by the checkpoint's SHA-256).
    - ``"fp32"``: the exact (unquantised) model on the fastest runtime: fp32 ONNX Runtime when installed, else
      PyTorch (what ``pixgrade evaluate`` uses by default).
    - ``"torch"``: PyTorch.

    An ONNX file runs as it is with ``auto``/``onnx``; ``int8`` requires it to be quantised and ``fp32`` requires
    it not to be; ``torch`` is refused. The choice is logged (logger ``pixgrade.model.predictor``, INFO).

    ``num_threads`` sets ONNX Runtime's intra-op threads (default: ``PIXGRADE_NUM_THREADS``, ``OMP_NUM_THREADS``
    or all CPUs of the process); the torch backend ignores it.

    Only the torch backend (and exporting a checkpoint to fp32 ONNX on first use) imports PyTorch.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        ConfigError: (a ``ValueError``) unknown backend, or a backend that cannot run the given ONNX file.
        BackendUnavailableError: (an ``ImportError``) ``backend="onnx"``/``"int8"``, or an ONNX file, without
            onnxruntime installed.
        OnnxModelError: ``backend="int8"`` and the checkpoint has no up-to-date INT8 export.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    path = DEFAULT_MODEL_PATH if str(model) == "default" else Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: model checkpoint not found")
    runtime = _runtime_available()
    if backend in ("onnx", "int8") and not runtime:
        raise BackendUnavailableError(
            f"backend {backend!r} needs onnxruntime (a dependency of pixgrade): pip install onnxruntime"
        )

    if path.suffix.lower() == ".onnx":
        if backend == "torch":
            raise ConfigError(f"{path}: an ONNX model needs backend 'auto', 'onnx', 'int8' or 'fp32', not 'torch'")
        if not runtime:
            raise BackendUnavailableError(
                f"{path}: running an ONNX model needs onnxruntime (a dependency of pixgrade): pip install onnxruntime"
            )
        from pixgrade.model.onnx_predictor import OnnxPredictor

        onnx_predictor = OnnxPredictor(path, num_threads=num_threads)
        if backend == "int8" and onnx_predictor.quantization is None:
            raise ConfigError(f"{path}: an fp32 ONNX model, not INT8; use backend 'onnx' or 'auto'")
        if backend == "fp32" and onnx_predictor.quantization is not None:
            raise ConfigError(
                f"{path}: a quantised model ({onnx_predictor.quantization}), not fp32; use backend 'int8' or 'auto'"
            )
        return _chosen(onnx_predictor, path, backend)

    if backend in ("auto", "int8") and runtime:
        int8, why_not, warn = _load_int8(path, sha256_file(path), num_threads)
        if int8 is not None:
            return _chosen(int8, path, backend)
        if backend == "int8":
            from pixgrade.model.onnx_predictor import OnnxModelError

            raise OnnxModelError(f"{path}: backend 'int8' needs an up-to-date INT8 export: {why_not}")
        if warn:
            logger.warning("%s; using fp32", why_not)
        else:
            logger.info("%s: %s; using fp32", path, why_not)
    if backend == "onnx" or (backend in ("auto", "fp32") and runtime):
        from pixgrade.model.onnx_predictor import load_onnx_predictor

        try:
            return _chosen(load_onnx_predictor(path, num_threads=num_threads), path, backend)
        except Exception as exc:  # any export/ORT failure: torch still works, so fall back loudly
            if backend == "onnx":
                raise
            logger.warning("%s: ONNX Runtime backend unavailable (%s); using torch", path, exc)
    from pixgrade.model.checkpoint import load_checkpoint

    net, metadata = load_checkpoint(path)
    return _chosen(Predictor(net, metadata), path, backend)


def _chosen(predictor: _P, path: Path, requested: str) -> _P:
    logger.info("model %s: backend %r chose %s", path, requested, predictor.description)
    return predictor
