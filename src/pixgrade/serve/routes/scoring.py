"""``POST /v1/score`` (scores, grades, reasons, policy verdicts, heatmaps) and ``POST /v1/duplicates``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from pixgrade.serve.routes import ERRORS, UPLOAD_BODY, AppContext, bytes_reserved, read_uploads
from pixgrade.serve.schemas import (
    DuplicatesResponse,
    ErrorBody,
    FactorOut,
    HeatmapOut,
    ImageError,
    ImageScore,
    PolicyOut,
    ScoreResponse,
    finite,
)
from pixgrade.serve.service import ImageOutcome
from pixgrade.serve.uploads import UploadError, declared_length, read_multipart

__all__ = ["add_scoring_routes", "image_json"]


def image_json(outcome: ImageOutcome) -> ImageScore:
    """The JSON of one image's outcome."""
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


def _admitted_body(ctx: AppContext, request: Request) -> int:
    """The upload bytes a scoring request reserves: its declared size, or the largest allowed body.

    Raises:
        UploadError: 413 when the declared body is over the request limit or over what the service holds.
    """
    config = ctx.config
    declared = declared_length(request.headers.get("content-length"))
    if declared is not None and declared > config.max_body:
        raise UploadError(
            413,
            f"request body of {declared:,} bytes is over the limit of {config.max_files} images of at most "
            f"{config.max_upload_bytes:,} bytes each",
        )
    if declared is not None and declared > config.max_bytes_in_flight:
        raise UploadError(
            413,
            f"request body of {declared:,} bytes is over the {config.max_bytes_in_flight:,} bytes "
            "this service holds at once",
        )
    return min(config.max_body if declared is None else declared, config.max_bytes_in_flight)


def add_scoring_routes(app: FastAPI, ctx: AppContext) -> None:
    """``POST /v1/score`` and ``POST /v1/duplicates``."""
    service, config = ctx.service, ctx.config

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=ERRORS,
        openapi_extra=UPLOAD_BODY,
        dependencies=ctx.dependencies,
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
        want = _admitted_body(ctx, request)
        with bytes_reserved(ctx, want):
            uploads = await read_uploads(ctx, request, want, config.max_files)
            outcomes = await service.score(uploads, heatmap=heatmap)
        items = [image_json(o) for o in outcomes]
        if not any(o.ok for o in outcomes):
            statuses = {o.status for o in outcomes}
            status = statuses.pop() if len(statuses) == 1 else 422
            detail = "; ".join(o.message or o.filename for o in outcomes)
            body = ErrorBody(detail=detail, results=items)
            return JSONResponse(body.model_dump(mode="json"), status_code=status)
        return ScoreResponse(results=items, model=ctx.model_name, policy=ctx.policy_name, provenance=ctx.provenance)

    @app.post(
        "/v1/duplicates",
        response_model=DuplicatesResponse,
        responses={**ERRORS, 404: {"model": ErrorBody, "description": "the server was started without a catalogue"}},
        openapi_extra=UPLOAD_BODY,
        dependencies=ctx.dependencies,
        summary="Find the catalogue images that uploads nearly duplicate",
        tags=["duplicates"],
    )
    async def duplicates(request: Request) -> Any:
        """Look each uploaded image up in the server's catalogue (`pixgrade serve --catalog FILE`): the catalogue
        images it is a near-copy of, with their similarity and the kind of match (identical, recompressed, resized,
        colour-shifted, crop, similar). The catalogue is not rescanned: its duplicate index is brought up to date
        when the file changes. An unreadable upload gets an `error` and no matches."""
        if ctx.duplicates is None:
            raise HTTPException(404, "this server has no catalogue; start it with `pixgrade serve --catalog FILE`")
        uploads = await read_multipart(
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            request.stream(),
            max_upload_bytes=config.max_upload_bytes,
            max_files=config.max_files,
        )
        from starlette.concurrency import run_in_threadpool

        results = await run_in_threadpool(ctx.duplicates.lookup, [(u.filename, u.data) for u in uploads])
        return DuplicatesResponse(results=results, catalog_images=ctx.duplicates.size)
