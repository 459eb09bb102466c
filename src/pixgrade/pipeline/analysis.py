"""The per-image work that runs in worker processes: read, fingerprint, decode, measure, shrink for the model.

This module never imports torch, so worker processes start fast and stay small; only when the model runs in
the workers (``Scorer(model_in_workers=True)``) does a worker load it.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pixgrade.errors import ImageLoadError
from pixgrade.io import load_image, sha256_bytes
from pixgrade.io.loading import DEFAULT_MAX_IMAGE_BYTES, check_file_size
from pixgrade.measures import Factor, measure_all

__all__ = ["Analysis", "AnalysisSettings", "analyse", "analyse_chunk", "shrink_to"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisSettings:
    """What a worker needs to know to analyse one image.

    Attributes:
        factor_names: factors to measure (``None``: all).
        max_pixels: decompression-bomb limit passed to :func:`pixgrade.io.load_image`.
        max_image_bytes: memory budget for decoding one image, passed to :func:`~pixgrade.io.load_image`
            (``None``: none).
        max_file_bytes: largest file read (checked before reading; ``None``: no limit).
        analysis_max_side: decode so the longest side is at most this (``None``: full resolution); the factors
            are measured on this decoded image, except those that read ``original_size`` (resolution, aspect).
        model_max_side: when a model will score the image, the decoded image is area-downscaled so its longest
            side is at most this before it is sent back (the model's own input policy caps at the same size);
            ``None`` when there is no model.
    """

    factor_names: tuple[str, ...] | None = None
    max_pixels: int = 100_000_000
    analysis_max_side: int | None = None
    model_max_side: int | None = None
    max_image_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES
    max_file_bytes: int | None = None


@dataclass
class Analysis:
    """Result of :func:`analyse` for one image (picklable; sent from a worker to the main process)."""

    path: str
    factors: dict[str, Factor] = field(default_factory=dict)
    error: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None
    model_rgb: np.ndarray | None = None
    """RGB uint8 ``(H, W, 3)`` for the model (``None`` without a model or on error)."""
    model_output: Any = None
    """A ``pixgrade.model.predictor.ModelOutput`` when the model ran in the worker."""


def shrink_to(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Area-downscale so the longest side is at most ``max_side`` (same rounding as the model's input policy);
    smaller images are returned unchanged."""
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _read(source: str | Path | bytes, max_file_bytes: int | None = None) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    check_file_size(Path(source), str(source), max_file_bytes)
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise ImageLoadError(source, "no such file (it was removed or renamed during the run)") from None
    except IsADirectoryError:
        raise ImageLoadError(source, "is a directory, not an image file") from None
    except PermissionError:
        raise ImageLoadError(source, "permission denied") from None
    except OSError as exc:
        raise ImageLoadError(source, f"cannot read the file: {exc.strerror or exc}") from None


def analyse(source: str | Path | bytes, settings: AnalysisSettings, label: str | None = None) -> Analysis:
    """Read, fingerprint, decode and measure one image. Never raises for a bad image: the cause goes in
    ``error`` (only ``KeyboardInterrupt``/``SystemExit`` propagate)."""
    if label is None:
        label = "<bytes>" if isinstance(source, bytes | bytearray | memoryview) else str(source)
    result = Analysis(path=label)
    try:
        data = _read(source, settings.max_file_bytes)
        result.sha256 = sha256_bytes(data)
        if not data:
            result.error = "empty file (0 bytes)" if label != "<bytes>" else "empty input (0 bytes)"
            return result
        image = load_image(
            data,
            max_pixels=settings.max_pixels,
            max_side=settings.analysis_max_side,
            max_image_bytes=settings.max_image_bytes,
        )
    except ImageLoadError as exc:
        result.error = exc.cause
        return result
    except MemoryError:
        result.error = "not enough memory to read or decode the file"
        return result
    except Exception as exc:  # a decoder bug must not stop a batch
        logger.debug("unexpected error decoding %s", label, exc_info=True)
        result.error = f"cannot decode: {type(exc).__name__}: {exc}"
        return result
    result.width, result.height = (int(v) for v in image.original_size)
    result.format = image.format
    try:
        result.factors = measure_all(image, settings.factor_names)
    except MemoryError:
        result.error = "not enough memory to measure the image"
        return result
    except Exception as exc:
        logger.debug("unexpected error measuring %s", label, exc_info=True)
        result.error = f"measuring failed: {type(exc).__name__}: {exc}"
        return result
    if settings.model_max_side is not None:
        result.model_rgb = np.ascontiguousarray(shrink_to(image.rgb, settings.model_max_side))
    return result


# --- worker-process side -------------------------------------------------------------------------------------

_WORKER_PREDICTOR: Any = None


def init_worker(predictor_spec: Any = None, backend: str = "auto") -> None:
    """Process-pool initializer: leave Ctrl-C to the main process, one thread per library per worker, and load
    the model when it runs in the workers (``predictor_spec``: a checkpoint path, ``"default"`` or a Predictor)."""
    global _WORKER_PREDICTOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    if predictor_spec is not None:
        import torch

        torch.set_num_threads(1)
        if isinstance(predictor_spec, str | Path):
            from pixgrade.model.predictor import load_predictor

            # one thread per worker for ONNX Runtime too: the workers already keep every CPU busy
            _WORKER_PREDICTOR = load_predictor(predictor_spec, backend=backend, num_threads=1)
        else:
            _WORKER_PREDICTOR = predictor_spec


def analyse_chunk(paths: Sequence[str], settings: AnalysisSettings) -> list[Analysis]:
    """Analyse several files (one worker task); runs the model too when the worker holds one."""
    results = [analyse(path, settings) for path in paths]
    if _WORKER_PREDICTOR is not None:
        run_model(_WORKER_PREDICTOR, results)
    return results


def run_model(predictor: Any, analyses: Sequence[Analysis]) -> None:
    """Run ``predictor`` on the analyses that have a model input; sets ``model_output`` (or ``error``) in place
    and drops the pixels. A failing batch is retried image by image so one bad input cannot fail the others."""
    todo = [a for a in analyses if a.error is None and a.model_rgb is not None]
    if not todo:
        return
    try:
        outputs = predictor.predict([a.model_rgb for a in todo])
    except Exception:
        outputs = []
        for a in todo:
            try:
                outputs.extend(predictor.predict([a.model_rgb]))
            except Exception as exc:
                logger.debug("model failed on %s", a.path, exc_info=True)
                outputs.append(exc)
    for a, out in zip(todo, outputs, strict=True):
        if isinstance(out, Exception):
            a.error = f"model failed: {type(out).__name__}: {out}"
        else:
            a.model_output = out
        a.model_rgb = None
