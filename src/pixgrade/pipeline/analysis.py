"""The per-image stage: :func:`analyse` reads, fingerprints and decodes one image once, measures its factors,
its marketplace facts and its perceptual hash when the settings ask for them, and prepares the model input.

Every way of scoring (``Scorer.score_paths`` with or without worker processes, the Ray actors, the HTTP service,
``pixgrade explain`` and ``pixgrade filter``) calls :func:`analyse` and then :meth:`Scorer.score_batch
<pixgrade.pipeline.scorer.Scorer.score_batch>`; nothing else decodes an image to score it.

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

from pixgrade.errors import ConfigError, EmptyFileError, ImageLoadError
from pixgrade.facts import FACTS_MAX_SIDE, ImageFacts, measure_facts, perceptual_hash
from pixgrade.io import load_image, sha256_bytes
from pixgrade.io.arrays import fit_longest_side
from pixgrade.io.loading import DEFAULT_MAX_IMAGE_BYTES
from pixgrade.io.sources import is_uri, read_file_bytes, read_source
from pixgrade.measures import Factor, measure_all
from pixgrade.measures.plugins import load_plugins
from pixgrade.pipeline.content import content_input, normalised

__all__ = ["ERROR_KINDS", "Analysis", "AnalysisSettings", "analyse", "analyse_chunk", "model_input"]

logger = logging.getLogger(__name__)

#: Machine-readable failure kinds of :attr:`Analysis.error_kind` (and ``ImageResult.error_kind``): the
#: :class:`~pixgrade.errors.ImageLoadError` kinds, then the failures after decoding.
ERROR_KINDS: tuple[str, ...] = (
    "unreadable_image",
    "not_an_image",
    "corrupt_image",
    "empty_file",
    "too_many_pixels",
    "too_large",
    "out_of_memory",
    "measure_failed",
    "model_failed",
    "worker_crashed",
)


@dataclass(frozen=True)
class AnalysisSettings:
    """What a worker needs to know to analyse one image.

    Attributes:
        factor_names: factors to measure (``None``: all).
        max_pixels: decompression-bomb limit passed to :func:`pixgrade.io.load_image`.
        max_image_bytes: memory budget for decoding one image, passed to :func:`~pixgrade.io.load_image`
            (``None``: none).
        max_file_bytes: largest file read (checked before reading; ``None``: no limit).
        measure_max_side: the factor measures need at most this longest side (``None``: full resolution); those
            that read ``original_size`` (resolution, aspect) use the file's own size.
        model_max_side: when a model will score the image, the model input is the decoded image area-downscaled
            to at most this longest side (the model's own input policy caps at the same size); ``None`` when
            there is no model.
        facts: also measure the marketplace facts (:func:`pixgrade.facts.measure_facts`), on the image
            decoded at ``facts_max_side``; sizes in them are in the file's pixels.
        facts_max_side: longest side the facts are measured at.
        text_detector: the facts' text detector (``auto``, ``db`` or ``classical``; the :class:`Scorer` resolves
            ``auto`` once, so every worker agrees).
        phash: also compute the perceptual hash (:func:`pixgrade.facts.perceptual_hash`) of the decoded image.
        content: also compute the content embedding near-duplicate search compares
            (:mod:`pixgrade.pipeline.content`) from the decoded image, when there is a model.
        plugins: modules or ``.py`` files registering custom factors (:mod:`pixgrade.measures.plugins`), loaded
            (once per process) before measuring: worker processes do not inherit the parent's registrations.

    The image is decoded once, at the largest side the measures or the facts need (:attr:`decode_max_side`).
    """

    factor_names: tuple[str, ...] | None = None
    max_pixels: int = 100_000_000
    measure_max_side: int | None = None
    model_max_side: int | None = None
    facts: bool = False
    facts_max_side: int = FACTS_MAX_SIDE
    text_detector: str = "auto"
    phash: bool = False
    content: bool = False
    max_image_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES
    max_file_bytes: int | None = None
    plugins: tuple[str, ...] = ()

    @property
    def decode_max_side(self) -> int | None:
        """Longest side the image is decoded at: the larger of what the measures and the facts need, *whether or
        not the facts are asked for*, so an image's measures and score never depend on what else was measured
        (``pixgrade score``, ``filter``, the service with or without a policy give the same score)."""
        if self.measure_max_side is None:
            return None
        return max(self.measure_max_side, self.facts_max_side)


@dataclass
class Analysis:
    """Result of :func:`analyse` for one image (picklable; sent from a worker to the main process)."""

    path: str
    factors: dict[str, Factor] = field(default_factory=dict)
    error: str | None = None
    error_kind: str | None = None
    """One of :data:`ERROR_KINDS` when ``error`` is set."""
    width: int | None = None
    height: int | None = None
    format: str | None = None
    sha256: str | None = None
    facts: ImageFacts | None = None
    """Marketplace facts (when the settings ask for them)."""
    phash: str | None = None
    """Perceptual hash (when the settings ask for it)."""
    model_rgb: np.ndarray | None = None
    """RGB uint8 ``(H, W, 3)`` for the model (``None`` without a model or on error)."""
    model_output: Any = None
    """A ``pixgrade.model.predictor.ModelOutput`` when the model ran in the worker."""
    content_rgb: np.ndarray | None = None
    """RGB uint8 copy for the content embedding (:func:`pixgrade.pipeline.content.content_input`), when asked
    for; dropped once the model ran."""
    content_embedding: np.ndarray | None = None
    """The content embedding ``(E,)`` float32, L2-normalised, once the model ran (``None`` when not asked for)."""

    def fail(self, message: str, kind: str) -> Analysis:
        """Record a failure (drops the model inputs); returns ``self``."""
        self.error, self.error_kind, self.model_rgb, self.content_rgb = message, kind, None, None
        return self


def analyse(source: str | Path | bytes, settings: AnalysisSettings, label: str | None = None) -> Analysis:
    """Read (a local path, a URI such as ``s3://…``, or bytes), fingerprint, decode once and measure one image.

    Never raises for a bad image: the cause goes in ``error`` and its kind in ``error_kind`` (only
    ``KeyboardInterrupt``/``SystemExit`` propagate).
    """
    is_bytes = isinstance(source, bytes | bytearray | memoryview)
    if label is None:
        label = "<bytes>" if is_bytes else str(source)
    result = Analysis(path=label)
    try:
        data = read_source(source, max_file_bytes=settings.max_file_bytes)
        result.sha256 = sha256_bytes(data)
        if not data:
            return result.fail("empty input (0 bytes)" if is_bytes else "empty file (0 bytes)", "empty_file")
        image = _decode(data, settings)
    except ImageLoadError as exc:
        return result.fail(exc.cause, exc.kind)
    except MemoryError:
        return result.fail("not enough memory to read or decode the file", "out_of_memory")
    except Exception as exc:  # a decoder bug must not stop a batch
        logger.debug("unexpected error decoding %s", label, exc_info=True)
        return result.fail(f"cannot decode: {type(exc).__name__}: {exc}", "unreadable_image")
    result.width, result.height = (int(v) for v in image.original_size)
    result.format = image.format
    try:
        if settings.plugins:
            load_plugins(settings.plugins)  # imported once per process; a no-op afterwards
        result.factors = measure_all(image, settings.factor_names)
        if settings.facts:
            facts_rgb = fit_longest_side(image.rgb, settings.facts_max_side)
            result.facts = measure_facts(
                facts_rgb,
                text_detector=settings.text_detector,  # type: ignore[arg-type]
                original_size=image.original_size,
            )
        if settings.phash:
            result.phash = perceptual_hash(image.rgb)
    except MemoryError:
        return result.fail("not enough memory to measure the image", "out_of_memory")
    except ConfigError as exc:  # a plugin this process cannot load (e.g. a path a Ray node does not see)
        return result.fail(str(exc), "measure_failed")
    except ValueError as exc:  # an input the measures refuse (e.g. a picture of 3x3 pixels)
        return result.fail(f"cannot analyse: {exc}", "measure_failed")
    except Exception as exc:
        logger.debug("unexpected error measuring %s", label, exc_info=True)
        return result.fail(f"measuring failed: {type(exc).__name__}: {exc}", "measure_failed")
    if settings.model_max_side is not None:
        result.model_rgb = np.ascontiguousarray(fit_longest_side(image.rgb, settings.model_max_side))
        if settings.content:
            result.content_rgb = np.ascontiguousarray(content_input(image.rgb))
    return result


def _decode(data: bytes, settings: AnalysisSettings) -> Any:
    """The one decode of an image's bytes (:func:`pixgrade.io.load_image` at ``settings.decode_max_side``)."""
    return load_image(
        data,
        max_pixels=settings.max_pixels,
        max_side=settings.decode_max_side,
        max_image_bytes=settings.max_image_bytes,
    )


def model_input(source: str | Path | bytes, settings: AnalysisSettings) -> np.ndarray:
    """The model's input for one image exactly as :func:`analyse` prepares it (read, decode once at
    ``settings.decode_max_side``, area-downscale to ``settings.model_max_side``), without measuring anything:
    what model evaluation (:func:`pixgrade.evaluate.evaluate_manifest`) feeds the predictor, so its predictions
    are the scores ``pixgrade score`` gives.

    Raises:
        ImageLoadError (or a subclass): the source cannot be read or decoded.
        ValueError: ``settings`` name no model side.
    """
    if settings.model_max_side is None:
        raise ValueError("settings.model_max_side is None: there is no model input to prepare")
    if isinstance(source, bytes) or is_uri(source):
        data = read_source(source, max_file_bytes=settings.max_file_bytes)
    else:  # a file named in a manifest: "no such file" when it is missing
        data = read_file_bytes(Path(source), str(source), settings.max_file_bytes)
    if not data:
        raise EmptyFileError(None if isinstance(source, bytes) else str(source), "empty file (0 bytes)")
    try:
        image = _decode(data, settings)
    except ImageLoadError as exc:
        raise type(exc)(None if isinstance(source, bytes) else str(source), exc.cause) from None
    return np.ascontiguousarray(fit_longest_side(image.rgb, settings.model_max_side))


# --- worker-process side -------------------------------------------------------------------------------------

_WORKER_PREDICTOR: Any = None


def init_worker(predictor_spec: Any = None, backend: str = "auto") -> None:
    """Process-pool initializer: leave Ctrl-C to the main process, one thread per library per worker, and load
    the model when it runs in the workers (``predictor_spec``: a ``ModelRef``, a checkpoint path, ``"default"`` or a
    Predictor)."""
    global _WORKER_PREDICTOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    if predictor_spec is not None:
        import torch

        torch.set_num_threads(1)
        from pixgrade.model.reference import ModelRef

        if isinstance(predictor_spec, ModelRef):
            # one thread per worker for ONNX Runtime too: the workers already keep every CPU busy
            _WORKER_PREDICTOR = predictor_spec.load(num_threads=1)
        elif isinstance(predictor_spec, str | Path):
            from pixgrade.model.loader import load_predictor

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
    and drops the pixels. A failing batch is retried image by image so one bad input cannot fail the others.

    Only the pipeline calls this (:meth:`Scorer.score_batch <pixgrade.pipeline.scorer.Scorer.score_batch>` and the
    worker processes); everything else goes through ``score_batch``.
    """
    todo = [a for a in analyses if a.error is None and a.model_rgb is not None and a.model_output is None]
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
            a.fail(f"model failed: {type(out).__name__}: {out}", "model_failed")
        else:
            a.model_output = out
        a.model_rgb = None
    _embed_content(predictor, [a for a in todo if a.error is None and a.content_rgb is not None])


def _embed_content(predictor: Any, analyses: Sequence[Analysis]) -> None:
    """Set the content embedding of each analysis (:mod:`pixgrade.pipeline.content`) and drop its pixels. A
    failure leaves it ``None`` (the duplicate step then computes it from the file) and fails no image."""
    for a in analyses:
        try:
            a.content_embedding = normalised(predictor.embed([a.content_rgb])[0])
        except Exception:
            logger.debug("content embedding failed on %s", a.path, exc_info=True)
        a.content_rgb = None
