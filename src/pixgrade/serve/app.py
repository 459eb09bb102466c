"""The FastAPI application: ``POST /v1/score``, ``GET /v1/health``, ``GET /metrics``, the web page at ``/``.

Build it with :func:`create_app`; tests inject a :class:`~pixgrade.pipeline.Scorer` (or a bare
``Predictor``) with any model, production uses the shipped default model.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pixgrade import __version__
from pixgrade.errors import ConfigError
from pixgrade.serve.metrics import CONTENT_TYPE_LATEST, ServiceMetrics
from pixgrade.serve.policy_adapter import PolicyAdapter
from pixgrade.serve.schemas import (
    DuplicatesResponse,
    ErrorBody,
    FactorInfo,
    FactorOut,
    HealthOut,
    HeatmapOut,
    ImageError,
    ImageScore,
    LiveOut,
    PolicyOut,
    ReadyOut,
    RenditionOut,
    RenditionsResponse,
    ScoreResponse,
    finite,
)
from pixgrade.serve.service import ImageOutcome, Overloaded, ScoringService
from pixgrade.serve.uploads import BytesInFlight, UploadError, body_limit, declared_length, read_multipart

__all__ = ["DEFAULT_MAX_BYTES_IN_FLIGHT", "DEFAULT_MAX_UPLOAD_BYTES", "STATIC_DIR", "create_app"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_BYTES_IN_FLIGHT = 512 * 1024 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "malformed request (e.g. broken multipart body)"},
    401: {"model": ErrorBody, "description": "missing or wrong API key (when the server requires one)"},
    413: {"model": ErrorBody, "description": "an upload over the size limit, too many files, or too many pixels"},
    415: {"model": ErrorBody, "description": "not multipart/form-data, or the content is not an image"},
    422: {"model": ErrorBody, "description": "corrupt or empty image, no image sent, or a bad query parameter"},
    500: {"model": ErrorBody, "description": "the images could not be processed"},
    503: {
        "model": ErrorBody,
        "description": "the service is at capacity; retry after the number of seconds in Retry-After",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
    },
}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or more images (JPEG, PNG, WebP, HEIC, ...; the content decides)",
                        }
                    },
                }
            }
        },
    }
}


async def _capped(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``body``, refused with 413 as soon as it grows past the ``limit`` bytes reserved for it."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > limit:
            raise UploadError(413, f"request body is over the {limit:,} bytes reserved for it")
        yield chunk


_ONE_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "one image"},
                    },
                }
            }
        },
    }
}

#: most renditions (sizes x formats) one request may ask for: each is a bounded search of about 8 encodes.
MAX_RENDITIONS = 12


def _image_json(outcome: ImageOutcome) -> ImageScore:
    result = outcome.result
    item = ImageScore(filename=outcome.filename, ok=outcome.ok)
    if result is not None:
        item.factors = {
            name: FactorOut(score=finite(f.score), value=finite(f.value, 6), flag=bool(f.flag), reason=f.reason)
            for name, f in result.factors.items()
        }
        item.width, item.height, item.format, item.sha256 = result.width, result.height, result.format, result.sha256
    if outcome.ok and result is not None:
        item.score = finite(result.score, 3)
        item.grade = result.grade
        item.severities = {name: finite(v) for name, v in result.severities.items()}
        item.reasons = list(result.reasons)
        item.presentation = finite(result.presentation, 3)
        item.presentation_reasons = list(result.presentation_reasons)
        item.main_score = finite(result.main_score, 3)
        if outcome.policy is not None:
            item.policy = PolicyOut(**outcome.policy)
        if outcome.heatmap_png is not None and outcome.heatmap_size is not None:
            item.heatmap = HeatmapOut(
                png_base64=outcome.heatmap_base64 or "",
                width=outcome.heatmap_size[0],
                height=outcome.heatmap_size[1],
                method=outcome.heatmap_method or "",
            )
    else:
        item.error = ImageError(
            status=outcome.status, code=outcome.code or "error", message=outcome.message or "could not be scored"
        )
    return item


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


def _swagger_assets() -> Path | None:
    """Local Swagger UI 5 assets from the ``swagger-ui-bundle-v2`` package, when installed."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    path = Path(getattr(swagger_ui_bundle, "swagger_ui_path", ""))
    return path if (path / "swagger-ui-bundle.js").is_file() and "swagger-ui-5" in path.name else None


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
    for name, value in (
        ("max_batch", max_batch),
        ("max_queue", max_queue),
        ("max_upload_bytes", max_upload_bytes),
        ("max_files", max_files),
        ("max_bytes_in_flight", max_bytes_in_flight),
        ("decode_threads", decode_threads),
    ):
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if max_wait_ms < 0:
        raise ConfigError(f"max_wait_ms must be >= 0, got {max_wait_ms}")
    if api_key is not None and not api_key:
        raise ConfigError("api_key must not be empty (pass None to serve without a key)")
    from pixgrade.pipeline.scorer import Scorer

    if scorer is None:
        scorer = Scorer(model=model)
    elif not hasattr(scorer, "score_batch"):
        scorer = Scorer(model=scorer)
    adapter: PolicyAdapter | None
    if policy is None or isinstance(policy, PolicyAdapter):
        adapter = policy
    elif isinstance(policy, str | Path):
        adapter = PolicyAdapter.load(str(policy))
    else:  # a loaded pixgrade.policy.Policy
        adapter = PolicyAdapter(policy)
    max_files = min(max_files, max_queue)
    in_flight = BytesInFlight(max_bytes_in_flight)
    max_body = body_limit(max_upload_bytes, max_files)

    duplicates_service = None
    if catalog is not None:
        from pixgrade.serve.duplicates import CatalogDuplicates

        predictor = getattr(scorer, "predictor", None) if catalog_model is not None else None
        duplicates_service = CatalogDuplicates(catalog, predictor, catalog_model)
    metrics = ServiceMetrics(max_batch)
    service = ScoringService(
        scorer,
        policy=adapter,
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        max_queue=max_queue,
        decode_threads=decode_threads,
        metrics=metrics,
        heatmap_method=heatmap_method,
        explainer=explainer,
    )
    model_name = str(getattr(scorer, "model_name", "unknown"))
    from pixgrade.provenance import provenance

    provenance_record = provenance(
        getattr(scorer, "_model_spec", None) or "none",
        service.predictor,
        text_detector=adapter.text_detector if adapter is not None and adapter.needs_facts else None,
        policy=adapter.policy if adapter is not None else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

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
    app.state.metrics = metrics
    app.state.bytes_in_flight = in_flight
    app.add_middleware(_MetricsMiddleware, metrics=metrics)  # type: ignore[arg-type]

    # -- errors ----------------------------------------------------------------------------------------------------
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

    # -- auth ------------------------------------------------------------------------------------------------------
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's API key")
    bearer = HTTPBearer(auto_error=False, description="the server's API key as a bearer token")
    expected = api_key.encode("utf-8") if api_key else None

    async def require_key(
        header_key: str | None = Depends(key_header),
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> None:
        if expected is None:
            return
        given = header_key if header_key is not None else (credentials.credentials if credentials else None)
        # Constant-time comparison of the bytes (compare_digest on equal-length inputs does not leak the prefix).
        if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            raise HTTPException(
                401,
                "missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer KEY)",
                headers={"WWW-Authenticate": 'Bearer realm="pixgrade"'},
            )

    score_dependencies = [Depends(require_key)] if expected is not None else []

    # -- API -------------------------------------------------------------------------------------------------------
    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=_ERRORS,
        openapi_extra=_UPLOAD_BODY,
        dependencies=score_dependencies,
        summary="Score one or several images",
        tags=["scoring"],
    )
    async def score(
        request: Request,
        heatmap: bool = Query(False, description="also return a heatmap overlay PNG (base64) per image"),
    ) -> Any:
        """Score the uploaded images: overall score and grade, per-factor scores, reasons, the policy's rule
        verdicts and, with `heatmap=true`, where the image lost points.

        The answer is 200 when at least one image was scored; failed images then carry an `error`. When no image
        could be scored the status is that of the failure (415 not an image, 422 corrupt, 413 too many pixels)."""
        service.check_capacity()  # the queue, the declared size and the bytes in flight: all before reading the body
        if heatmap and not service.can_explain:
            raise HTTPException(400, "heatmaps need the PyTorch quality model; this server has none loaded")
        declared = declared_length(request.headers.get("content-length"))
        if declared is not None and declared > max_body:
            raise UploadError(
                413,
                f"request body of {declared:,} bytes is over the limit of {max_files} images of at most "
                f"{max_upload_bytes:,} bytes each",
            )
        want = min(max_body if declared is None else declared, max_bytes_in_flight)
        if declared is not None and declared > max_bytes_in_flight:
            raise UploadError(
                413,
                f"request body of {declared:,} bytes is over the {max_bytes_in_flight:,} bytes "
                "this service holds at once",
            )
        if not in_flight.try_reserve(want):
            raise Overloaded(
                service.retry_after(),
                f"the service is receiving as many upload bytes as it holds at once ({max_bytes_in_flight:,})",
            )
        try:
            uploads = await read_multipart(
                request.headers.get("content-type"),
                request.headers.get("content-length"),
                _capped(request.stream(), want),
                max_upload_bytes=max_upload_bytes,
                max_files=max_files,
            )
            outcomes = await service.score(uploads, heatmap=heatmap)
        finally:
            in_flight.release(want)
        items = [_image_json(o) for o in outcomes]
        if not any(o.ok for o in outcomes):
            statuses = {o.status for o in outcomes}
            status = statuses.pop() if len(statuses) == 1 else 422
            detail = "; ".join(o.message or o.filename for o in outcomes)
            body = ErrorBody(detail=detail, results=items)
            return JSONResponse(body.model_dump(mode="json"), status_code=status)
        return ScoreResponse(
            results=items, model=model_name, policy=adapter.name if adapter else None, provenance=provenance_record
        )

    @app.post(
        "/v1/duplicates",
        response_model=DuplicatesResponse,
        responses={**_ERRORS, 404: {"model": ErrorBody, "description": "the server was started without a catalogue"}},
        openapi_extra=_UPLOAD_BODY,
        dependencies=score_dependencies,
        summary="Find the catalogue images that uploads nearly duplicate",
        tags=["duplicates"],
    )
    async def duplicates(request: Request) -> Any:
        """Look each uploaded image up in the server's catalogue (`pixgrade serve --catalog FILE`): the catalogue
        images it is a near-copy of, with their similarity and the kind of match (identical, recompressed, resized,
        colour-shifted, crop, similar). The catalogue is not rescanned: its duplicate index is brought up to date
        when the file changes. An unreadable upload gets an `error` and no matches."""
        if duplicates_service is None:
            raise HTTPException(404, "this server has no catalogue; start it with `pixgrade serve --catalog FILE`")
        uploads = await read_multipart(
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            request.stream(),
            max_upload_bytes=max_upload_bytes,
            max_files=max_files,
        )
        from starlette.concurrency import run_in_threadpool

        results = await run_in_threadpool(duplicates_service.lookup, [(u.filename, u.data) for u in uploads])
        return DuplicatesResponse(results=results, catalog_images=duplicates_service.size)  # type: ignore[arg-type]

    import asyncio

    render_slots = asyncio.Semaphore(decode_threads)

    @app.post(
        "/v1/renditions",
        response_model=RenditionsResponse,
        responses={**_ERRORS, 501: {"model": ErrorBody, "description": "pixgrade[fullref] is not installed"}},
        openapi_extra=_ONE_UPLOAD_BODY,
        dependencies=score_dependencies,
        summary="Delivery renditions of one image at the smallest quality keeping an SSIM target",
        tags=["renditions"],
    )
    async def renditions(
        request: Request,
        sizes: str = Query("1600,800,400", description="longest sides (px), comma-separated; never upscaled"),
        formats: str = Query("webp,jpeg", description="webp, jpeg, avif (where the server's Pillow has it)"),
        min_ssim: float = Query(0.98, gt=0.0, le=1.0, description="SSIM (luminance) each rendition keeps"),
    ) -> Any:
        """Encode the one uploaded image (field `file`) in each size and format at the smallest quality whose
        SSIM on luminance against the resized original is at least `min_ssim` (as `pixgrade renditions`, without
        the grade bound): sRGB, EXIF orientation applied, no metadata. Each rendition comes back in the JSON with
        its quality, bytes, SSIM and the encoded file as base64. Bounded by the upload limits (one file of at most
        `--max-upload-mb`), at most 12 renditions per request, and one render per decoding thread at once (503
        beyond)."""
        from starlette.concurrency import run_in_threadpool

        from pixgrade.errors import ImageLoadError
        from pixgrade.serve.service import classify_load_error

        try:
            import skimage  # noqa: F401

            from pixgrade.fullref.renditions import Target, parse_spec, render_data
        except ImportError:
            raise HTTPException(501, "renditions need scikit-image: pip install 'pixgrade[fullref]'") from None
        try:
            size_list, format_list = parse_spec(f"{sizes}:{formats}")
            target = Target(min_ssim=min_ssim)
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        n = len(set(size_list)) * len(format_list)
        if n > MAX_RENDITIONS:
            raise HTTPException(422, f"{n} renditions asked for; at most {MAX_RENDITIONS} per request")
        limit = body_limit(max_upload_bytes, 1)
        declared = declared_length(request.headers.get("content-length"))
        if declared is not None and declared > limit:
            raise UploadError(413, f"request body of {declared:,} bytes is over the limit of one image of at most "
                                   f"{max_upload_bytes:,} bytes")  # fmt: skip
        if render_slots.locked():
            raise Overloaded(service.retry_after(), f"the service is rendering {decode_threads} image(s) already")
        want = min(limit if declared is None else declared, max_bytes_in_flight)
        if not in_flight.try_reserve(want):
            raise Overloaded(
                service.retry_after(),
                f"the service is receiving as many upload bytes as it holds at once ({max_bytes_in_flight:,})",
            )
        try:
            async with render_slots:
                (upload,) = await read_multipart(
                    request.headers.get("content-type"),
                    request.headers.get("content-length"),
                    _capped(request.stream(), want),
                    max_upload_bytes=max_upload_bytes,
                    max_files=1,
                )
                max_pixels = int(getattr(getattr(scorer, "settings", None), "max_pixels", 100_000_000))
                try:
                    (width, height), rows = await run_in_threadpool(
                        render_data, upload.data, upload.filename, size_list, format_list, target,
                        max_pixels=max_pixels,
                    )  # fmt: skip
                except ImageLoadError as exc:
                    status, _code = classify_load_error(exc)
                    raise HTTPException(status, f"{upload.filename}: {exc.cause}") from None
        finally:
            in_flight.release(want)
        import base64

        return RenditionsResponse(
            source=upload.filename,
            width=width,
            height=height,
            min_ssim=min_ssim,
            renditions=[
                RenditionOut(
                    name=row.path,
                    size=row.size,
                    format=row.format,
                    status=row.status,
                    width=row.width,
                    height=row.height,
                    quality=row.quality,
                    bytes=row.bytes,
                    ssim=row.ssim_y,
                    data_base64=None if data is None else base64.b64encode(data).decode("ascii"),
                    error=row.error,
                )
                for row, data in rows
            ],
        )

    def _backend() -> str:
        return str(getattr(service.predictor, "backend", "none")) if service.predictor is not None else "none"

    @app.get("/v1/live", response_model=LiveOut, tags=["service"])
    async def live() -> Any:
        """Liveness probe: 200 while the process answers. Starts and loads nothing."""
        return LiveOut(status="alive", version=__version__, pid=os.getpid())

    @app.get("/v1/ready", response_model=ReadyOut, responses={503: {"model": ReadyOut}}, tags=["service"])
    async def ready() -> Any:
        """Readiness probe: 200 once the model is loaded and its worker runs, else 503. Starts nothing."""
        body = ReadyOut(status="ready" if service.running else "not ready", model=model_name, backend=_backend())
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
            model=model_name,
            provenance=provenance_record,
            backend=str(getattr(service.predictor, "backend", "none")) if service.predictor is not None else "none",
            heatmaps=service.can_explain,
            policy=adapter.name if adapter else None,
            auth_required=expected is not None,
            queue_depth=service.batcher.depth,
            in_flight=service.in_flight,
            max_queue=max_queue,
            max_batch=max_batch,
            max_files=max_files,
            max_upload_bytes=max_upload_bytes,
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
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # -- web page and docs -----------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    swagger = _swagger_assets()
    if swagger is not None:
        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if swagger is None:  # fall back to FastAPI's default (Swagger UI from a CDN)
            return get_swagger_ui_html(openapi_url="/openapi.json", title="pixgrade API")
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="pixgrade API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    return app
