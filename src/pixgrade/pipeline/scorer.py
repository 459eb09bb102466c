"""``Scorer``: measures + model → :class:`~pixgrade.pipeline.result.ImageResult`, one image or a stream of files."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pixgrade.errors import ConfigError
from pixgrade.facts import FACTS_MAX_SIDE, available_text_detectors
from pixgrade.io.loading import DEFAULT_MAX_IMAGE_BYTES
from pixgrade.measures import FACTOR_NAMES, WORK_SIDE, list_factors
from pixgrade.measures.plugins import absolute_plugins, load_plugins
from pixgrade.model.reference import ModelRef, resolve_model
from pixgrade.pipeline.analysis import Analysis, AnalysisSettings, analyse, analyse_chunk, init_worker, run_model
from pixgrade.pipeline.combine import build_reasons, measures_score
from pixgrade.pipeline.parallel import ChunkMap, usable_cpus
from pixgrade.pipeline.presentation import attach_presentation, weights_sha256_of
from pixgrade.pipeline.result import ImageResult, grade_from_score

if TYPE_CHECKING:
    from pixgrade.explain import Explanation
    from pixgrade.model.interface import Predictor

__all__ = ["Scorer", "default_workers", "scorer_factor_names"]


def scorer_factor_names(factors: Sequence[str] | None = None, plugins: Sequence[str] = ()) -> tuple[str, ...]:
    """The factors a :class:`Scorer` with these arguments measures (and the columns it gives): ``factors`` when
    given, else the built-in ones followed by those the ``plugins`` register (loading them in this process).

    Raises:
        ConfigError: a plugin that cannot be loaded, or an unknown factor name.
    """
    added = load_plugins(plugins)
    if factors is None:
        return (*FACTOR_NAMES, *(name for name in added if name not in FACTOR_NAMES))
    known = [spec.name for spec in list_factors()]  # built-in and registered with register_factor
    unknown = [name for name in factors if name not in known]
    if unknown:
        raise ConfigError(f"unknown factor(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return tuple(factors)


def default_workers(n_items: int | None = None) -> int:
    """Worker processes used when ``workers=None``: one per usable CPU, none (in-process) for fewer than 32 items
    or on a single CPU. Decoding and measuring a 500-px photo takes about 15 ms of CPU and a worker process takes
    0.2–0.5 s to start, so below ~32 files the processes cost more than they save."""
    if (n_items is not None and n_items < 32) or usable_cpus() == 1:
        return 0
    return usable_cpus()


def _limit_torch_threads(n: int) -> Callable[[], None] | None:
    """Cap torch's intra-op threads at ``n`` (when torch is loaded); returns a function restoring the old value.

    The worker processes already keep the CPUs busy; a main-process model running as many threads as there are
    CPUs on top of them is oversubscribed, and torch's thread pool then slows down by an order of magnitude.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    previous = torch.get_num_threads()
    if previous <= n:
        return None
    torch.set_num_threads(n)
    return lambda: torch.set_num_threads(previous)


def _torch_installed() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def _explainable(model: Any) -> bool:
    """True for a QualityNet-like module or a Predictor wrapping one (what Grad-CAM needs)."""
    net = getattr(model, "model", model)
    return net is not None and all(hasattr(net, n) for n in ("forward_features", "pool", "heads"))


class Scorer:
    """Scores images: decodes them, measures every factor, and runs the quality model when there is one.

    The one way to an :class:`ImageResult`: :func:`~pixgrade.pipeline.analysis.analyse` (per image, anywhere:
    a worker process, a Ray actor, a service thread) with :attr:`settings`, then :meth:`score_batch` (or
    :meth:`explain_batch` for heatmaps) on a batch of analyses. :meth:`score_paths` and :meth:`score_image` only
    schedule those two calls.

    Args:
        model: ``"default"`` (the weights shipped with pixgrade), a checkpoint path, a
            :class:`~pixgrade.model.reference.ModelRef` (its own backend is used), an already loaded
            ``Predictor`` (anything with ``predict(images) -> list[ModelOutput]`` and ``input_max_side``), or
            ``None``/``"none"`` for measures only (score from :func:`~pixgrade.pipeline.combine.measures_score`).
        backend: ``"auto"`` (INT8 ONNX Runtime when the model has an up-to-date INT8 export, else fp32 ONNX
            Runtime, else PyTorch), ``"int8"``, ``"onnx"``, ``"fp32"`` or ``"torch"``; see
            :func:`pixgrade.model.predictor.load_predictor`.
        factors: factor names to measure (default: all of :data:`pixgrade.measures.FACTOR_NAMES`, then those the
            ``plugins`` register); factors added with :func:`pixgrade.measures.register_factor` are accepted by
            name (register them in a plugin, so the worker processes load them too, or score with ``workers=0``).
        plugins: modules (dotted names) or ``.py`` files whose import registers custom factors
            (:mod:`pixgrade.measures.plugins`): loaded here, and in every worker process from :attr:`settings`.
        max_pixels: refuse images with more pixels than this (decompression-bomb guard).
        max_image_bytes: memory budget for decoding one image, known from its header before decoding
            (:func:`pixgrade.io.decode_memory`); ``None``: none.
        max_file_bytes: refuse files larger than this before reading them; ``None``: no limit.
        measure_max_side: the longest side the measures need (``None``: decode at full resolution). ``"auto"``
            (default) is the larger of the measures' working size (:data:`pixgrade.measures.WORK_SIDE`, 512) and
            the model's ``input_max_side``. The image is decoded once at the larger of this and
            ``facts_max_side`` (see :attr:`AnalysisSettings.decode_max_side
            <pixgrade.pipeline.analysis.AnalysisSettings.decode_max_side>`): the same size whether or not facts
            are asked for, so the score never depends on it; nothing looks at finer pixels, so decoding more is
            wasted (JPEGs decode much faster at reduced size). Resolution and aspect ratio always come from the
            file's own size; blockiness of a reduced JPEG is read from its quantisation tables (docs/scoring.md).
        model_in_workers: run the model inside the worker processes (one torch thread and one model copy each)
            instead of in batches in the main process (the default; measured faster on 2 cores, docs/scoring.md).
        facts: also measure the marketplace facts (:mod:`pixgrade.facts`) of every image (``ImageResult.facts``,
            sizes in the file's pixels), from the same decode as the measures and the model input.
        phash: also compute every image's perceptual hash (``ImageResult.phash``).
        content: with a model, also compute every image's content embedding for near-duplicate search
            (``ImageResult.content_embedding``, :mod:`pixgrade.pipeline.content`) from the same decode.
        text_detector: the facts' text detector, ``auto`` (resolved once here: ``db`` when its model is
            installed, else ``classical``), ``db`` or ``classical``.
        facts_max_side: longest side the facts are measured at (default 1024).

    Raises:
        FileNotFoundError: the model checkpoint does not exist.
        ConfigError: an unknown factor name or a bad setting.
    """

    def __init__(
        self,
        model: str | Path | Any | None = "default",
        backend: str = "auto",
        factors: Sequence[str] | None = None,
        max_pixels: int = 100_000_000,
        *,
        measure_max_side: int | Literal["auto"] | None = "auto",
        model_in_workers: bool = False,
        facts: bool = False,
        phash: bool = False,
        content: bool = False,
        text_detector: str = "auto",
        facts_max_side: int = FACTS_MAX_SIDE,
        max_image_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES,
        max_file_bytes: int | None = None,
        plugins: Sequence[str] = (),
    ) -> None:
        self.plugins: tuple[str, ...] = absolute_plugins(plugins)  # as the worker processes will load them
        self.factor_names: tuple[str, ...] = scorer_factor_names(factors, self.plugins)
        if max_pixels <= 0:
            raise ConfigError(f"max_pixels must be positive, got {max_pixels}")
        if isinstance(measure_max_side, int) and measure_max_side < 64:
            raise ConfigError(f"measure_max_side must be at least 64, got {measure_max_side}")
        if facts_max_side < 64:
            raise ConfigError(f"facts_max_side must be at least 64, got {facts_max_side}")
        detectors = available_text_detectors()
        if text_detector == "auto":
            text_detector = detectors[0]
        elif text_detector not in detectors:
            raise ConfigError(
                f"text detector {text_detector!r} is not available here; available: {', '.join(detectors)}"
            )
        self.facts = facts
        self.phash = phash
        self.content = content
        self.text_detector = text_detector
        self.facts_max_side = facts_max_side
        self.max_pixels = max_pixels
        self.max_image_bytes = max_image_bytes
        self.max_file_bytes = max_file_bytes
        self.backend = backend
        self.model_in_workers = model_in_workers
        self._model_spec: Any = None
        self.predictor: Predictor | None = None
        #: The checked model reference (:func:`pixgrade.model.reference.resolve_model`), ``None`` for a
        #: predictor object given directly.
        self.model_ref: ModelRef | None = None
        if model is None or isinstance(model, str | Path | ModelRef):
            self.model_ref = resolve_model(model, backend if not isinstance(model, ModelRef) else None)
            self.backend = self.model_ref.backend
            self.predictor = self.model_ref.load()
            self.model_name = self.model_ref.name
            self._model_spec = None if self.model_ref.is_none else self.model_ref
        else:
            if not hasattr(model, "predict") or not hasattr(model, "input_max_side"):
                raise ConfigError("model must be 'default', 'none', a checkpoint path or a Predictor")
            self.predictor = model
            self.model_name = type(model).__name__
            self._model_spec = model
        if measure_max_side == "auto":
            model_side = int(self.predictor.input_max_side) if self.predictor is not None else 0
            measure_max_side = max(WORK_SIDE, model_side)
        self.measure_max_side: int | None = measure_max_side
        self._explainer: Any = None
        #: SHA-256 of the weights (None without a model or for a predictor object): the presentation judgement
        #: uses the embedding only when it was fitted on these weights.
        self.weights_sha256: str | None = weights_sha256_of(self.model_ref.name if self.model_ref else model)

    @property
    def settings(self) -> AnalysisSettings:
        """The per-image settings sent to workers."""
        return AnalysisSettings(
            factor_names=self.factor_names,
            max_pixels=self.max_pixels,
            max_image_bytes=self.max_image_bytes,
            max_file_bytes=self.max_file_bytes,
            measure_max_side=self.measure_max_side,
            model_max_side=int(self.predictor.input_max_side) if self.predictor is not None else None,
            facts=self.facts,
            facts_max_side=self.facts_max_side,
            text_detector=self.text_detector,
            phash=self.phash,
            content=self.content,
            plugins=self.plugins,
        )

    def score_batch(self, analyses: Sequence[Analysis]) -> list[ImageResult]:
        """The model-and-finish step: run the model on the analyses that have a model input (one batch; those
        whose model already ran in a worker are kept) and turn each into its :class:`ImageResult`."""
        if self.predictor is not None:
            run_model(self.predictor, analyses)
        return [self._finish(analysis) for analysis in analyses]

    @property
    def can_explain(self) -> bool:
        """True when :meth:`explain_batch` can draw heatmaps (a PyTorch model is loaded or can be loaded)."""
        return self._explainer is not None or _explainable(self.predictor) or self._torch_checkpoint() is not None

    def _torch_checkpoint(self) -> ModelRef | None:
        ref = self.model_ref
        if ref is None or ref.is_none or ref.is_onnx or not _torch_installed():
            return None  # heatmaps need PyTorch (pixgrade[train]); the service then answers them with 400
        return ref.with_backend("torch")

    @property
    def explainer(self) -> Any:
        """The PyTorch model heatmaps are computed with: the scorer's own when it runs on PyTorch, else its
        checkpoint loaded with the torch backend on first use (scoring stays on its own backend)."""
        if self._explainer is None:
            if _explainable(self.predictor):
                self._explainer = self.predictor
            elif (checkpoint := self._torch_checkpoint()) is not None:
                self._explainer = checkpoint.load()
            else:
                raise ConfigError("heatmaps need the PyTorch quality model, which this scorer does not have")
        return self._explainer

    @explainer.setter
    def explainer(self, model: Any) -> None:
        self._explainer = model

    def explain_batch(
        self, analyses: Sequence[Analysis], *, method: str = "gradcam", explainer: Any = None
    ) -> list[tuple[ImageResult, Explanation | None]]:
        """The explain step: :meth:`score_batch` (so the score is the one ``score`` gives), plus a heatmap of
        each scored image's model input by ``explainer`` (default: :attr:`explainer`); ``None`` for images that
        failed.

        Raises:
            ConfigError: there is no PyTorch model to explain with.
        """
        from pixgrade.explain import explain_image

        if explainer is None:
            explainer = self.explainer
        inputs = [a.model_rgb if a.error is None else None for a in analyses]
        results = self.score_batch(analyses)
        return [
            (result, explain_image(explainer, rgb, method=method) if rgb is not None and result.ok else None)
            for result, rgb in zip(results, inputs, strict=True)
        ]

    def _finish(self, analysis: Analysis) -> ImageResult:
        """Turn an :class:`Analysis` (after the model ran, if any) into the final :class:`ImageResult`."""
        result = ImageResult(
            path=analysis.path,
            factors=analysis.factors,
            error=analysis.error,
            width=analysis.width,
            height=analysis.height,
            format=analysis.format,
            sha256=analysis.sha256,
            error_kind=analysis.error_kind,
            facts=analysis.facts,
            phash=analysis.phash,
            content_embedding=analysis.content_embedding,
        )
        if analysis.error is not None:
            return result
        output = analysis.model_output
        if output is not None:
            result.score = float(output.score)  # the picture as it is; size is the resolution factor's and rules' job
            result.severities = dict(output.severities)
            result.embedding = output.embedding
        elif self.predictor is None:
            result.score = measures_score(analysis.factors)
        else:
            result.error, result.error_kind = "the model produced no output for this image", "model_failed"
            return result
        if result.score is not None and not math.isfinite(result.score):
            result.score = None
        result.grade = grade_from_score(result.score)
        result.reasons = build_reasons(result.factors, result.severities, score=result.score)
        return attach_presentation(result, self.weights_sha256)

    def score_image(self, source: str | Path | bytes) -> ImageResult:
        """Score one image (file path or encoded bytes) in this process. Never raises for a bad image: the
        result's ``error`` says why it could not be scored."""
        return self.score_batch([analyse(source, self.settings)])[0]

    def _failed(self, path: str, message: str) -> Analysis:
        return Analysis(path=path, error=message, error_kind="worker_crashed")

    def score_paths(
        self, paths: Iterable[str | Path], workers: int | None = None, batch_size: int = 16
    ) -> Iterator[ImageResult]:
        """Score files as a stream: one :class:`ImageResult` per input path, in input order.

        Decoding and measuring run in ``workers`` processes (``0``: in this process; ``None``: one per CPU, see
        :func:`default_workers`); at most a few chunks per worker are in flight, so memory stays flat however
        many paths there are. The model runs in this process on batches of ``batch_size`` images, with torch
        capped at ``CPUs - workers`` threads (at least 1) while workers run, or in the workers with
        ``model_in_workers=True``. A worker that crashes is replaced and only the file that
        crashed it is marked failed.
        """
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        names = (str(p) for p in paths)
        if workers is None:
            workers = default_workers(len(paths) if isinstance(paths, Sequence) else None)
        if workers < 0:
            raise ConfigError(f"workers must be >= 0, got {workers}")
        settings = self.settings
        in_workers = self.model_in_workers and self.predictor is not None and workers > 0
        analyses: Iterator[Analysis]
        if workers == 0:
            analyses = (analyse(name, settings) for name in names)
        else:
            chunk_size = 4
            mapper: ChunkMap[str, Analysis] = ChunkMap(
                analyse_chunk,
                (settings,),
                workers=workers,
                chunk_size=chunk_size,
                # enough queued work to keep every worker busy while the main process runs a model batch
                max_pending=2 * workers + math.ceil(batch_size / chunk_size),
                on_failure=self._failed,
                initializer=init_worker,
                initargs=(self._model_spec, self.backend) if in_workers else (),
            )
            analyses = mapper(names)
        restore_threads = None
        try:
            if self.predictor is None or in_workers:
                for analysis in analyses:
                    yield from self.score_batch([analysis])
                return
            if workers > 0:
                restore_threads = _limit_torch_threads(max(1, usable_cpus() - workers))
            batch: list[Analysis] = []
            for analysis in analyses:
                batch.append(analysis)
                if len(batch) >= batch_size:
                    yield from self.score_batch(batch)
                    batch = []
            if batch:
                yield from self.score_batch(batch)
        finally:
            if restore_threads is not None:
                restore_threads()
            close = getattr(analyses, "close", None)
            if close is not None:
                close()  # stops the worker pool at once when the caller stops early (Ctrl-C, break)
