"""The service's error answers: every failure is JSON ``{"detail": ...}`` with the fitting status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixgrade.serve.metrics import ServiceMetrics
from pixgrade.serve.service import Overloaded
from pixgrade.serve.uploads import UploadError

__all__ = ["add_error_handlers"]


def add_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Upload limits (the connection is closed), overload (503 + ``Retry-After``, counted), invalid requests
    (422, one line naming each bad field) and HTTP errors."""

    @app.exception_handler(UploadError)
    async def _upload_error(request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={"Connection": "close"})

    @app.exception_handler(Overloaded)
    async def _overloaded(request: Request, exc: Overloaded) -> JSONResponse:
        metrics.overload.inc()
        return JSONResponse({"detail": exc.detail}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}" for err in exc.errors()
        )
        return JSONResponse({"detail": problems or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)
