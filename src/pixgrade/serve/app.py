"""The FastAPI application: ``POST /v1/score``, ``GET /v1/health``, ``GET /metrics``, the web page at ``/``.

Build it with :func:`create_app`; tests inject a :class:`~pixgrade.pipeline.Scorer` (or a bare
``Predictor``) with any model, production uses the shipped default model. The routes live in groups in
:mod:`pixgrade.serve.routes` (scoring, renditions, service information, pages); the API key in
:mod:`pixgrade.serve.auth`, the error answers in :mod:`pixgrade.serve.handlers`, the checked limits in
:class:`pixgrade.serve.config.AppConfig`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from pixgrade import __version__
from pixgrade.serve.auth import api_key_dependencies
from pixgrade.serve.config import DEFAULT_MAX_BYTES_IN_FLIGHT, DEFAULT_MAX_UPLOAD_BYTES, AppConfig
from pixgrade.serve.handlers import add_error_handlers
from pixgrade.serve.metrics import ServiceMetrics
from pixgrade.serve.policy_adapter import PolicyAdapter
from pixgrade.serve.routes import AppContext
from pixgrade.serve.routes.info import add_info_routes
from pixgrade.serve.routes.pages import STATIC_DIR, add_pages
from pixgrade.serve.routes.renditions import MAX_RENDITIONS, add_renditions_route
from pixgrade.serve.routes.scoring import add_scoring_routes
from pixgrade.serve.service import ScoringService
from pixgrade.serve.uploads import BytesInFlight

__all__ = [
    "DEFAULT_MAX_BYTES_IN_FLIGHT",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "MAX_RENDITIONS",
    "STATIC_DIR",
    "create_app",
]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def create_app(
    scorer: Any = None,
    *,
    model: str = "default",
    policy: str | Path | Any = None,
    api_key: str | None = None,
    max_batch: int = 8,
    max_wait_ms: float = 10.0,
    max_queue: int = 64,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_files: int = 16,
    max_bytes_in_flight: int = DEFAULT_MAX_BYTES_IN_FLIGHT,
    decode_threads: int = 2,
    heatmap_method: str = "gradcam",
    explainer: Any = "auto",
    catalog: str | Path | None = None,
    catalog_model: str | None = None,
) -> FastAPI:
    """Build the scoring service.

    Args:
        scorer: a :class:`~pixgrade.pipeline.Scorer`, or a ``Predictor`` (wrapped in a Scorer), or ``None`` to
            build ``Scorer(model)``.
        model: used only when ``scorer`` is None: ``"default"``, a checkpoint path or ``"none"`` (measures only).
        policy: a policy preset name or file (see ``pixgrade filter --show-policy``), a loaded
            :class:`pixgrade.policy.Policy` or :class:`PolicyAdapter`, or None (no rule verdicts).
        api_key: when set, ``POST /v1/score`` requires it in ``X-API-Key`` or ``Authorization: Bearer``.
        max_batch: largest model batch.
        max_wait_ms: how long the model worker waits to fill a batch.
        max_queue: most images in the service at once; beyond it requests get 503 with ``Retry-After``.
        max_upload_bytes: largest accepted file (413 beyond, checked while reading).
        max_files: most images per request (capped at ``max_queue``).
        max_bytes_in_flight: upload bytes held at once over all requests: each request reserves its declared
            ``Content-Length`` (or the largest allowed body when it declares none) before its body is read;
            one that does not fit gets 503 with ``Retry-After`` at once, one larger than this gets 413.
        decode_threads: threads decoding and measuring uploads.
        heatmap_method: see :data:`pixgrade.explain.EXPLAIN_METHODS`.
        explainer: the PyTorch model for heatmaps; ``"auto"`` uses the scorer's model when it is a PyTorch one,
            else loads the scorer's checkpoint with the torch backend on the first heatmap request (scoring stays
            on ONNX Runtime); ``None`` disables heatmaps.
        catalog: a catalogue written by ``pixgrade filter``: enables ``POST /v1/duplicates`` against it.
        catalog_model: the catalogue's name of the scorer's model, for comparing content embeddings
            (:func:`pixgrade.catalog.filtering.model_base_key`); None: hashes and keypoints only.

    Raises:
        FileNotFoundError: ``scorer`` is None and the model checkpoint does not exist.
        ConfigError: a limit is not positive, or the policy cannot be loaded.
    """
    config = AppConfig(
        api_key=api_key,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        max_upload_bytes=max_upload_bytes,
        max_files=max_files,
        max_bytes_in_flight=max_bytes_in_flight,
        decode_threads=decode_threads,
        heatmap_method=heatmap_method,
    )
    ctx = _context(config, scorer, model, policy, explainer, catalog, catalog_model)
    service = ctx.service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()
            ctx.metrics.close()

    app = FastAPI(
        title="pixgrade",
        version=__version__,
        summary="Quality grading of product photos: a 0-5 score, per-factor diagnostics, reasons and heatmaps.",
        description=(
            "Upload images to `POST /v1/score` as multipart/form-data (field `files`, repeatable). "
            "The service never fetches URLs and never reads server-side paths."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.metrics = ctx.metrics
    app.state.bytes_in_flight = ctx.in_flight
    app.add_middleware(_MetricsMiddleware, metrics=ctx.metrics)  # type: ignore[arg-type]
    add_error_handlers(app, ctx.metrics)
    add_scoring_routes(app, ctx)
    add_renditions_route(app, ctx)
    add_info_routes(app, ctx)
    add_pages(app)
    return app


def _policy_adapter(policy: str | Path | Any) -> PolicyAdapter | None:
    """``policy`` (None, a preset name or file, a loaded Policy or a PolicyAdapter) as the service applies it."""
    if policy is None or isinstance(policy, PolicyAdapter):
        return policy
    if isinstance(policy, str | Path):
        return PolicyAdapter.load(str(policy))
    return PolicyAdapter(policy)  # a loaded pixgrade.policy.Policy


def _context(
    config: AppConfig,
    scorer: Any,
    model: str,
    policy: str | Path | Any,
    explainer: Any,
    catalog: str | Path | None,
    catalog_model: str | None,
) -> AppContext:
    """The scorer, policy, scoring service, catalogue and provenance one app's routes share."""
    from pixgrade.pipeline.scorer import Scorer
    from pixgrade.provenance import provenance

    if scorer is None:
        scorer = Scorer(model=model)
    elif not hasattr(scorer, "score_batch"):
        scorer = Scorer(model=scorer)
    adapter = _policy_adapter(policy)
    duplicates = None
    if catalog is not None:
        from pixgrade.serve.duplicates import CatalogDuplicates

        predictor = getattr(scorer, "predictor", None) if catalog_model is not None else None
        duplicates = CatalogDuplicates(catalog, predictor, catalog_model)
    metrics = ServiceMetrics(config.max_batch)
    service = ScoringService(
        scorer,
        policy=adapter,
        max_batch=config.max_batch,
        max_wait_ms=config.max_wait_ms,
        max_queue=config.max_queue,
        decode_threads=config.decode_threads,
        metrics=metrics,
        heatmap_method=config.heatmap_method,
        explainer=explainer,
    )
    record = provenance(
        getattr(scorer, "_model_spec", None) or "none",
        service.predictor,
        text_detector=adapter.text_detector if adapter is not None and adapter.needs_facts else None,
        policy=adapter.policy if adapter is not None else None,
    )
    return AppContext(
        config=config,
        service=service,
        scorer=scorer,
        policy=adapter,
        metrics=metrics,
        in_flight=BytesInFlight(config.max_bytes_in_flight),
        model_name=str(getattr(scorer, "model_name", "unknown")),
        provenance=record,
        duplicates=duplicates,
        dependencies=api_key_dependencies(config.api_key),
    )


class _MetricsMiddleware:
    """Counts requests by route template and status, and times them (pure ASGI, so streaming is untouched)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None)
            if route is None:
                route = "/static" if str(scope.get("path", "")).startswith("/static/") else "unmatched"
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(method, route, str(status[0])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
            self.metrics.refresh()  # several processes: this one's gauges as of its latest answer
