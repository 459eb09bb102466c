"""``POST /v1/renditions``: delivery renditions of one upload at the smallest quality keeping an SSIM target."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request

from pixgrade.errors import ConfigError
from pixgrade.serve.routes import ERRORS, AppContext, bytes_reserved, read_uploads
from pixgrade.serve.schemas import ErrorBody, RenditionOut, RenditionsResponse
from pixgrade.serve.service import Overloaded
from pixgrade.serve.uploads import UploadError, body_limit, declared_length

__all__ = ["MAX_RENDITIONS", "add_renditions_route"]

#: most renditions (sizes x formats) one request may ask for: each is a bounded search of about 8 encodes.
MAX_RENDITIONS = 12

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


class _ServiceScorer:
    """What :func:`~pixgrade.fullref.renditions.render_data` scores trials with: the server's scorer settings,
    its model reached through the scoring service's batches (:meth:`ScoringService.score_blocking`)."""

    def __init__(self, ctx: AppContext) -> None:
        self.settings = ctx.scorer.settings
        self._service = ctx.service

    def score_batch(self, analyses: list[Any]) -> list[Any]:
        return self._service.score_blocking(analyses)


def add_renditions_route(app: FastAPI, ctx: AppContext) -> None:
    """``POST /v1/renditions``: at most one render per decoding thread at once."""
    config = ctx.config
    render_slots = asyncio.Semaphore(config.decode_threads)

    @app.post(
        "/v1/renditions",
        response_model=RenditionsResponse,
        responses={**ERRORS, 501: {"model": ErrorBody, "description": "pixgrade[fullref] is not installed"}},
        openapi_extra=_ONE_UPLOAD_BODY,
        dependencies=ctx.dependencies,
        summary="Delivery renditions of one image at the smallest quality keeping an SSIM target",
        tags=["renditions"],
    )
    async def renditions(
        request: Request,
        sizes: str = Query("1600,800,400", description="longest sides (px), comma-separated; never upscaled"),
        formats: str = Query("webp,jpeg", description="webp, jpeg, avif (where the server's Pillow has it)"),
        min_ssim: float = Query(0.98, gt=0.0, le=1.0, description="SSIM (luminance) each rendition keeps"),
        max_grade_drop: float | None = Query(
            None,
            ge=0.0,
            description="also keep the learned score (0-5) within this of the resized original's, e.g. 0.1 (as "
            "`--max-grade-drop`); each rendition and its reference are then scored by the server's model",
        ),
        keep_icc: bool = Query(False, description="embed an sRGB ICC profile (the pixels are sRGB either way)"),
    ) -> Any:
        """Encode the one uploaded image (field `file`) in each size and format at the smallest quality whose
        SSIM on luminance against the resized original is at least `min_ssim` and, with `max_grade_drop`, whose
        learned score falls by at most that much (as `pixgrade renditions`): sRGB, EXIF orientation applied, no
        metadata (`keep_icc`: an sRGB profile). Each rendition comes back in the JSON with its quality, bytes,
        SSIM, scores (with the grade bound) and the encoded file as base64. Bounded by the upload limits (one
        file of at most `--max-upload-mb`), at most 12 renditions per request, and one render per decoding
        thread at once (503 beyond); the grade bound's scoring goes through the model's batches."""
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
            target = Target(min_ssim=min_ssim, max_score_drop=max_grade_drop)
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from None
        n = len(set(size_list)) * len(format_list)
        if n > MAX_RENDITIONS:
            raise HTTPException(422, f"{n} renditions asked for; at most {MAX_RENDITIONS} per request")
        limit = body_limit(config.max_upload_bytes, 1)
        declared = declared_length(request.headers.get("content-length"))
        if declared is not None and declared > limit:
            raise UploadError(413, f"request body of {declared:,} bytes is over the limit of one image of at most "
                                   f"{config.max_upload_bytes:,} bytes")  # fmt: skip
        if render_slots.locked():
            raise Overloaded(
                ctx.service.retry_after(), f"the service is rendering {config.decode_threads} image(s) already"
            )
        want = min(limit if declared is None else declared, config.max_bytes_in_flight)
        with bytes_reserved(ctx, want):
            async with render_slots:
                (upload,) = await read_uploads(ctx, request, want, max_files=1)
                max_pixels = int(getattr(getattr(ctx.scorer, "settings", None), "max_pixels", 100_000_000))
                try:
                    (width, height), rows = await run_in_threadpool(
                        render_data, upload.data, upload.filename, size_list, format_list, target,
                        scorer=None if max_grade_drop is None else _ServiceScorer(ctx), keep_icc=keep_icc,
                        max_pixels=max_pixels,
                    )  # fmt: skip
                except ImageLoadError as exc:
                    status, _code = classify_load_error(exc)
                    raise HTTPException(status, f"{upload.filename}: {exc.cause}") from None
        return RenditionsResponse(
            source=upload.filename,
            width=width,
            height=height,
            min_ssim=min_ssim,
            max_grade_drop=max_grade_drop,
            keep_icc=keep_icc,
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
                    score=row.score,
                    grade=row.grade,
                    reference_score=row.reference_score,
                    score_drop=row.score_drop,
                    data_base64=None if data is None else base64.b64encode(data).decode("ascii"),
                    error=row.error,
                )
                for row, data in rows
            ],
        )
