"""What the service says about itself: ``/v1/live``, ``/v1/ready``, ``/v1/health``, ``/v1/factors``, ``/metrics``."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from pixgrade import __version__
from pixgrade.serve.metrics import CONTENT_TYPE_LATEST
from pixgrade.serve.routes import AppContext
from pixgrade.serve.schemas import FactorInfo, HealthOut, LiveOut, ReadyOut

__all__ = ["add_info_routes"]


def add_info_routes(app: FastAPI, ctx: AppContext) -> None:
    """The probes, the health and limits, the factor list and the Prometheus metrics (no API key needed)."""
    service, config = ctx.service, ctx.config

    @app.get("/v1/live", response_model=LiveOut, tags=["service"])
    async def live() -> Any:
        """Liveness probe: 200 while the process answers. Starts and loads nothing."""
        return LiveOut(status="alive", version=__version__, pid=os.getpid())

    @app.get("/v1/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}}, tags=["service"])
    async def ready() -> Any:
        """Readiness probe: 200 once the model is loaded and its worker runs, else 503. Starts nothing."""
        body = ReadyOut(status="ready" if service.running else "not ready", model=ctx.model_name, backend=ctx.backend)
        if not service.running:
            return JSONResponse(body.model_dump(), status_code=503)
        return body

    @app.get("/v1/health", response_model=HealthOut, responses={503: {"model": HealthOut}}, tags=["service"])
    async def health() -> Any:
        """Liveness and limits. 503 when the model worker is not running."""
        service.start()
        body = HealthOut(
            status="ok" if service.running else "unavailable",
            version=__version__,
            model=ctx.model_name,
            provenance=ctx.provenance,
            backend=ctx.backend,
            heatmaps=service.can_explain,
            policy=ctx.policy_name,
            auth_required=config.api_key is not None,
            queue_depth=service.batcher.depth,
            in_flight=service.in_flight,
            max_queue=config.max_queue,
            max_batch=config.max_batch,
            max_files=config.max_files,
            max_upload_bytes=config.max_upload_bytes,
        )
        if not service.running:
            return JSONResponse(body.model_dump(), status_code=503)
        return body

    @app.get("/v1/factors", response_model=list[FactorInfo], tags=["service"])
    async def factors() -> Any:
        """What each factor measures, its unit, direction and problem threshold."""
        from pixgrade.measures import list_factors

        return [
            FactorInfo(
                name=s.name, description=s.description, unit=s.unit, direction=s.direction, threshold=s.threshold
            )
            for s in list_factors()
        ]

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "metrics"}},
        tags=["service"],
    )
    async def prometheus_metrics() -> Response:
        """Prometheus metrics: request counts and latencies, image outcomes, queue depth, model batch sizes."""
        return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
