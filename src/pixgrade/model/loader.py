"""Choosing and loading a backend for a model file: :func:`load_predictor` (PyTorch, fp32 ONNX Runtime or the
static INT8 export), the shipped weights' paths, and the INT8 freshness check. Imports no backend until one is
chosen, so scoring with ONNX Runtime starts without loading PyTorch (about 1.3 s and 300 MB saved;
docs/performance.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pixgrade.errors import ConfigError
from pixgrade.io.files import sha256_file
from pixgrade.model.interface import BackendUnavailableError, PredictorBase

if TYPE_CHECKING:
    from pixgrade.model.onnx_predictor import OnnxPredictor
    from pixgrade.model.torch_backend import TorchPredictor

__all__ = [
    "BACKENDS",
    "DEFAULT_INT8_PATH",
    "DEFAULT_MODEL_PATH",
    "int8_mismatch",
    "int8_path_for",
    "load_predictor",
]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).parent / "weights" / "pixgrade_mnv2.safetensors"
DEFAULT_INT8_PATH = DEFAULT_MODEL_PATH.with_name("pixgrade_mnv2.int8.onnx")
"""The shipped static INT8 export of :data:`DEFAULT_MODEL_PATH` (``make int8-model`` rebuilds it)."""

BACKENDS: tuple[str, ...] = ("auto", "int8", "onnx", "fp32", "torch")
"""Backends :func:`load_predictor` accepts (see its docstring)."""

_P = TypeVar("_P", bound=PredictorBase)


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
) -> TorchPredictor | OnnxPredictor:
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
    it not to be; ``torch`` is refused. The choice is logged (logger ``pixgrade.model.loader``, INFO).

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
    from pixgrade.model.torch_backend import TorchPredictor

    net, metadata = load_checkpoint(path)
    return _chosen(TorchPredictor(net, metadata), path, backend)


def _chosen(predictor: _P, path: Path, requested: str) -> _P:
    logger.info("model %s: backend %r chose %s", path, requested, predictor.description)
    return predictor
