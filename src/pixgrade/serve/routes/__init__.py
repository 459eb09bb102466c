"""The service's routes in groups (scoring, renditions, service information, pages), and what they share.

Each group module has one ``add_*`` function that registers its routes on the app; :func:`pixgrade.serve.app.
create_app` calls them in a fixed order (the order of the OpenAPI paths). They share an :class:`AppContext`
(the checked :class:`~pixgrade.serve.config.AppConfig`, the scoring service, the policy, the metrics, the upload
bytes in flight) and the upload admission below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from pixgrade.serve.config import AppConfig
from pixgrade.serve.metrics import ServiceMetrics
from pixgrade.serve.policy_adapter import PolicyAdapter
from pixgrade.serve.schemas import ErrorBody
from pixgrade.serve.service import Overloaded, ScoringService
from pixgrade.serve.uploads import BytesInFlight, Upload, UploadError, read_multipart

__all__ = ["ERRORS", "UPLOAD_BODY", "AppContext", "bytes_reserved", "read_uploads"]

#: The error answers every upload route documents.
ERRORS: dict[int | str, dict[str, Any]] = {
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

#: The OpenAPI request body of a route that takes one or several images in the form field ``files``.
UPLOAD_BODY = {
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


@dataclass
class AppContext:
    """What the routes of one app share."""

    config: AppConfig
    service: ScoringService
    scorer: Any
    """The :class:`~pixgrade.pipeline.Scorer` (its settings bound renditions' decoding)."""
    policy: PolicyAdapter | None
    metrics: ServiceMetrics
    in_flight: BytesInFlight
    model_name: str
    provenance: dict[str, Any]
    duplicates: Any = None
    """A :class:`~pixgrade.serve.duplicates.CatalogDuplicates`, or None without a catalogue."""
    dependencies: list[Any] | None = None
    """The dependencies of every upload route (the API key check when the server requires one)."""

    @property
    def policy_name(self) -> str | None:
        return self.policy.name if self.policy is not None else None

    @property
    def backend(self) -> str:
        """The scoring model's backend (``"none"`` without a model)."""
        predictor = self.service.predictor
        return str(getattr(predictor, "backend", "none")) if predictor is not None else "none"


async def _capped(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """``body``, refused with 413 as soon as it grows past the ``limit`` bytes reserved for it."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > limit:
            raise UploadError(413, f"request body is over the {limit:,} bytes reserved for it")
        yield chunk


@contextmanager
def bytes_reserved(ctx: AppContext, want: int) -> Iterator[None]:
    """Hold ``want`` of the service's upload bytes in flight while the block runs.

    Raises:
        Overloaded: they do not fit now (503 with ``Retry-After``).
    """
    if not ctx.in_flight.try_reserve(want):
        raise Overloaded(
            ctx.service.retry_after(),
            f"the service is receiving as many upload bytes as it holds at once ({ctx.config.max_bytes_in_flight:,})",
        )
    try:
        yield
    finally:
        ctx.in_flight.release(want)


async def read_uploads(ctx: AppContext, request: Request, reserved: int, max_files: int) -> list[Upload]:
    """The request's image parts, read as the body streams in and refused past the ``reserved`` bytes."""
    return await read_multipart(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        _capped(request.stream(), reserved),
        max_upload_bytes=ctx.config.max_upload_bytes,
        max_files=max_files,
    )
