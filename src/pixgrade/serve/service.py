"""The scoring service behind the HTTP API: admission control, a decode/measure thread pool, a micro-batched model.

One image's way through the service::

    upload bytes ─► thread pool: the per-image stage (pipeline.analysis.analyse: one decode, factor measures,
                    marketplace facts when the policy tests them) ─► model queue (bounded)
                 ─► model worker thread: batches of ≤ max_batch (Scorer.score_batch, or Scorer.explain_batch for
                    heatmaps: the same score plus Grad-CAM) ─► policy verdicts ─► JSON

The event loop only parses uploads and awaits futures. Admission is bounded: at most ``max_queue`` images may
be in the service at once (decoding, queued or in the model); beyond that a request is refused at once with
:class:`Overloaded` (HTTP 503 + ``Retry-After``) instead of letting latency grow without limit.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pixgrade.errors import ImageLoadError
from pixgrade.pipeline.analysis import Analysis, analyse
from pixgrade.pipeline.result import ImageResult
from pixgrade.serve.batching import BatchStats, MicroBatcher, QueueFullError
from pixgrade.serve.metrics import ServiceMetrics
from pixgrade.serve.policy_adapter import PolicyAdapter
from pixgrade.serve.uploads import Upload

__all__ = ["HEATMAP_MAX_SIDE", "ImageOutcome", "ModelJob", "Overloaded", "ScoringService"]

logger = logging.getLogger(__name__)

#: Longest side of the heatmap overlay PNG returned by the API (the model never looks at more than its own
#: input size, so a larger overlay would show no more detail).
HEATMAP_MAX_SIDE = 512


class Overloaded(Exception):
    """The service is full; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, detail: str) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.detail = detail


@dataclass
class ModelJob:
    """One analysed image for the model worker."""

    analysis: Analysis
    heatmap: bool = False


@dataclass
class _ModelAnswer:
    result: ImageResult
    heat: np.ndarray | None = None


@dataclass
class ImageOutcome:
    """What the service says about one uploaded image."""

    filename: str
    result: ImageResult | None = None
    status: int = 200
    """200 when scored, else the HTTP status that fits the failure (413, 415, 422, 500)."""
    code: str | None = None
    """Machine-readable failure code, e.g. ``"not_an_image"``."""
    message: str | None = None
    policy: dict[str, Any] | None = None
    heatmap_png: bytes | None = None
    heatmap_size: tuple[int, int] | None = None
    heatmap_method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def heatmap_base64(self) -> str | None:
        return base64.b64encode(self.heatmap_png).decode("ascii") if self.heatmap_png is not None else None


def _explainable(model: Any) -> bool:
    """True for a QualityNet-like module or a Predictor wrapping one."""
    net = getattr(model, "model", model)
    return net is not None and all(hasattr(net, n) for n in ("forward_features", "pool", "heads"))


#: HTTP status of each failure kind (``Analysis.error_kind``) of an image that could not be loaded.
_LOAD_STATUS = {
    "not_an_image": 415,
    "empty_file": 422,
    "too_many_pixels": 413,
    "too_large": 413,
    "corrupt_image": 422,
}


def classify_load_error(exc: BaseException) -> tuple[int, str]:
    """HTTP status and code for an image that could not be loaded."""
    kind = exc.kind if isinstance(exc, ImageLoadError) else "unreadable_image"
    return _status_of(kind)


def _status_of(kind: str | None) -> tuple[int, str]:
    """HTTP status and code of a failed image from its error kind."""
    if kind in _LOAD_STATUS or kind == "unreadable_image":
        return _LOAD_STATUS.get(kind, 422), str(kind)
    if kind == "model_failed":
        return 500, "model_failed"
    return 500, "processing_failed"  # decoding worked: measuring failed (or the process ran out of memory)


class ScoringService:
    """Scores uploaded images with a :class:`~pixgrade.pipeline.Scorer`'s settings and model.

    Args:
        scorer: a :class:`~pixgrade.pipeline.Scorer` (its ``settings``, ``predictor`` and ``finish`` are used).
        policy: marketplace rules applied to every scored image, or ``None``.
        max_batch: largest model batch.
        max_wait_ms: how long the first image of a batch waits for companions.
        max_queue: most images admitted at once (decoding, queued or in the model).
        decode_threads: threads that decode and measure uploads.
        metrics: where to record batch sizes and queue depth.
        heatmap_method: explanation method (see :data:`pixgrade.explain.EXPLAIN_METHODS`).
        explainer: the PyTorch model (or torch ``Predictor``) used for heatmaps, or a no-argument function that
            loads it on first use, ``"auto"`` for the scorer's own (:attr:`Scorer.explainer
            <pixgrade.pipeline.Scorer.explainer>`: loaded on the first heatmap request when the scorer runs
            on ONNX Runtime), or ``None`` for none.
    """

    def __init__(
        self,
        scorer: Any,
        *,
        policy: PolicyAdapter | None = None,
        max_batch: int = 8,
        max_wait_ms: float = 10.0,
        max_queue: int = 64,
        decode_threads: int = 2,
        metrics: ServiceMetrics | None = None,
        heatmap_method: str = "gradcam",
        explainer: Any = "auto",
    ) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        if decode_threads < 1:
            raise ValueError(f"decode_threads must be >= 1, got {decode_threads}")
        self.scorer = scorer
        settings = scorer.settings
        if policy is not None and policy.needs_facts and not settings.facts:
            # The marketplace facts are measured by the per-image stage, as in `pixgrade filter` (same decode
            # size, border in the file's pixels), so both give the same verdicts.
            detector = scorer.text_detector if policy.text_detector == "auto" else policy.text_detector
            settings = dataclasses.replace(settings, facts=True, text_detector=detector)
        self.settings = settings
        self.predictor = getattr(scorer, "predictor", None)
        self.policy = policy
        self.max_queue = max_queue
        self.decode_threads = decode_threads
        self.heatmap_method = heatmap_method
        self._explainer: Any = None
        self._explainer_loader: Callable[[], Any] | None = None
        if isinstance(explainer, str) and explainer == "auto":
            if getattr(scorer, "can_explain", False):
                self._explainer_loader = lambda: scorer.explainer
        elif callable(explainer) and not _explainable(explainer):
            self._explainer_loader = explainer
        else:
            self._explainer = explainer
        self.metrics = metrics or ServiceMetrics(max_batch)
        self.batcher: MicroBatcher[ModelJob, _ModelAnswer] = MicroBatcher(
            self._run_model,
            max_batch=max_batch,
            max_wait_s=max_wait_ms / 1000.0,
            max_queue=max_queue,
            on_batch=self._on_batch,
        )
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._seconds_per_image = 0.1  # running estimate, for Retry-After
        self.metrics.bind_gauges(lambda: float(self.batcher.depth), lambda: float(self._in_flight))

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def can_explain(self) -> bool:
        """True when heatmaps can be computed (a PyTorch model is loaded or can be loaded)."""
        return _explainable(self._explainer) or self._explainer_loader is not None

    def _get_explainer(self) -> Any:
        """The PyTorch model for heatmaps, loaded on first use (model worker thread only)."""
        if self._explainer is None and self._explainer_loader is not None:
            self._explainer = self._explainer_loader()
            self._explainer_loader = None
        if not _explainable(self._explainer):
            raise RuntimeError("heatmaps need the PyTorch quality model, which is not available")
        return self._explainer

    @property
    def running(self) -> bool:
        return self._pool is not None and (self.predictor is None or self.batcher.running)

    def start(self) -> None:
        """Start the thread pool and the model worker (idempotent)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="pixgrade-decode")
            if self.predictor is not None:
                self.batcher.start()

    def stop(self) -> None:
        """Stop accepting work, finish what is queued, stop the threads."""
        with self._lock:
            pool, self._pool = self._pool, None
        self.batcher.stop()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- admission -------------------------------------------------------------------------------------------------
    @property
    def in_flight(self) -> int:
        """Images admitted and not yet answered."""
        return self._in_flight

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the time to drain the current load, 1 to 60."""
        estimate = self._in_flight * self._seconds_per_image
        return int(min(60, max(1, math.ceil(estimate))))

    def check_capacity(self) -> None:
        """Refuse at once when the service is already full (before reading a request body).

        Raises:
            Overloaded: ``max_queue`` images are already in the service.
        """
        if self._in_flight >= self.max_queue:
            raise Overloaded(self.retry_after(), f"the service is at capacity ({self.max_queue} images in progress)")

    def admit(self, n: int) -> None:
        """Reserve room for ``n`` images.

        Raises:
            Overloaded: not enough room.
        """
        with self._lock:
            if self._in_flight + n > self.max_queue:
                free = self.max_queue - self._in_flight
                raise Overloaded(
                    self.retry_after(),
                    f"the service is at capacity: {n} image(s) sent, room for {max(0, free)} of {self.max_queue}",
                )
            self._in_flight += n

    def release(self, n: int = 1) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - n)

    # -- model worker ----------------------------------------------------------------------------------------------
    def _run_model(self, jobs: list[ModelJob]) -> list[_ModelAnswer]:
        """The model worker's step: one :meth:`Scorer.score_batch` for the plain images, one
        :meth:`Scorer.explain_batch` for those that asked for a heatmap (same scores)."""
        plain = [job.analysis for job in jobs if not job.heatmap]
        explained = [job.analysis for job in jobs if job.heatmap]
        scored = iter(self.scorer.score_batch(plain) if plain else [])
        heats = iter(
            self.scorer.explain_batch(explained, method=self.heatmap_method, explainer=self._get_explainer())
            if explained
            else []
        )
        answers: list[_ModelAnswer] = []
        for job in jobs:
            if job.heatmap:
                result, explanation = next(heats)
                answers.append(_ModelAnswer(result, explanation.heat if explanation is not None else None))
            else:
                answers.append(_ModelAnswer(next(scored)))
        return answers

    def score_blocking(self, analyses: list[Analysis], timeout: float = 300.0) -> list[ImageResult]:
        """Score analysed images from a worker thread (never the event loop) through the model worker's batches,
        so the model never runs beside it (the grade bound of ``POST /v1/renditions``). Images that failed to
        decode, and every image of a service without a model, are finished without the model (measures only).

        Raises:
            Overloaded: the model queue is full.
            RuntimeError: the model failed on an image.
        """
        futures: list[Any] = []
        for analysis in analyses:
            if analysis.error is None and self.predictor is not None and analysis.model_rgb is not None:
                try:
                    futures.append(self.batcher.submit(ModelJob(analysis=analysis)))
                except QueueFullError as exc:
                    raise Overloaded(self.retry_after(), str(exc)) from None
            else:
                futures.append(None)
        results: list[ImageResult] = []
        for analysis, future in zip(analyses, futures, strict=True):
            if future is None:
                results.append(self.scorer.score_batch([analysis])[0])
                continue
            try:
                results.append(future.result(timeout).result)
            except Exception as exc:
                raise RuntimeError(f"model failed: {type(exc).__name__}: {exc}") from exc
        return results

    def _on_batch(self, stats: BatchStats) -> None:
        self.metrics.batch_size.observe(stats.size)
        self.metrics.batch_seconds.observe(stats.seconds)
        self.metrics.queue_wait.observe(stats.waited)
        per_image = stats.seconds / max(1, stats.size)
        self._seconds_per_image = 0.8 * self._seconds_per_image + 0.2 * per_image

    # -- one image -------------------------------------------------------------------------------------------------
    def _finish_extras(
        self, outcome: ImageOutcome, rgb: np.ndarray | None, heat: np.ndarray | None, file_bytes: int
    ) -> None:
        """Policy verdicts and the heatmap overlay (thread pool)."""
        if self.policy is not None and outcome.result is not None:
            outcome.policy = self.policy.judge(outcome.result, file_bytes=file_bytes)
        if heat is not None and rgb is not None:
            from pixgrade.explain import encode_png, overlay_heatmap

            overlay = overlay_heatmap(rgb, heat)
            outcome.heatmap_png = encode_png(overlay, max_side=HEATMAP_MAX_SIDE)
            scale = min(1.0, HEATMAP_MAX_SIDE / max(rgb.shape[:2]))
            outcome.heatmap_size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
            outcome.heatmap_method = self.heatmap_method

    async def score_one(self, upload: Upload, *, heatmap: bool = False) -> ImageOutcome:
        """Score one admitted upload (the caller has reserved its room with :meth:`admit`): the per-image stage
        once in the thread pool, then the model step in the model worker."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is None:
            raise RuntimeError("the scoring service is not started")
        outcome = ImageOutcome(filename=upload.filename)
        analysis: Analysis = await loop.run_in_executor(pool, analyse, upload.data, self.settings, upload.filename)
        rgb = analysis.model_rgb
        heat = None
        if analysis.error is None and self.predictor is not None and rgb is not None:
            try:
                future = self.batcher.submit(ModelJob(analysis=analysis, heatmap=heatmap))
            except QueueFullError as exc:  # admission should prevent it; stay safe anyway
                raise Overloaded(self.retry_after(), str(exc)) from None
            try:
                answer = await asyncio.wrap_future(future)
                outcome.result, heat = answer.result, answer.heat
            except Exception as exc:
                logger.warning("model failed on %s", upload.filename, exc_info=True)
                analysis.fail(f"model failed: {type(exc).__name__}: {exc}", "model_failed")
        if outcome.result is None:
            outcome.result = self.scorer.score_batch([analysis])[0]
        if outcome.result.error is not None:
            outcome.status, outcome.code = _status_of(outcome.result.error_kind)
            outcome.message = f"{upload.filename}: {outcome.result.error}"
            return outcome
        await loop.run_in_executor(pool, self._finish_extras, outcome, rgb, heat, len(upload.data))
        return outcome

    async def score(self, uploads: list[Upload], *, heatmap: bool = False) -> list[ImageOutcome]:
        """Admit and score several uploads concurrently; results in upload order.

        Raises:
            Overloaded: there is no room for all of them.
        """
        self.start()
        self.admit(len(uploads))
        started = time.perf_counter()

        async def one(upload: Upload) -> ImageOutcome:
            try:
                outcome = await self.score_one(upload, heatmap=heatmap)
            except Overloaded:
                raise
            except Exception as exc:  # never let one image take the others down
                logger.exception("unexpected failure on %s", upload.filename)
                outcome = ImageOutcome(
                    filename=upload.filename, status=500, code="internal_error", message=f"{upload.filename}: {exc}"
                )
            finally:
                self.release(1)
            self.metrics.images.labels("scored" if outcome.ok else str(outcome.status)).inc()
            return outcome

        try:
            return list(await asyncio.gather(*(one(u) for u in uploads)))
        finally:
            logger.debug("scored %d upload(s) in %.3fs", len(uploads), time.perf_counter() - started)
