"""Read multipart image uploads from a request body as it streams in, enforcing size and count limits.

Limits are checked while reading: a declared ``Content-Length`` that is already too big is refused before any
byte of the body is read, and a part that grows past ``max_upload_bytes`` stops the reading at once (the rest of
the body is never buffered). Client-supplied file names are used only as labels in the answer; they are never
treated as paths. A part is kept in memory up to 1 MiB while it is received, beyond that in an unnamed temporary
file (removed when closed), so slow or many concurrent uploads hold little memory until they are complete.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = [
    "BytesInFlight",
    "Upload",
    "UploadError",
    "body_limit",
    "clean_filename",
    "declared_length",
    "read_multipart",
]

#: Form fields whose parts are taken as images even when the client gives no file name.
IMAGE_FIELDS = ("files", "file")
#: Room for multipart headers and boundaries on top of the file bytes, per part.
_PART_OVERHEAD = 16 * 1024


class UploadError(Exception):
    """The upload breaks a limit or is malformed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass
class Upload:
    """One uploaded file, in memory."""

    filename: str
    """The client's file name, cleaned for display (a label only, never a path)."""
    data: bytes
    content_type: str | None = None
    """What the client claimed; informative only (the content decides what the file is)."""


#: Bytes of one part kept in memory while it is received; beyond, the part goes to an unnamed temporary file.
SPOOL_IN_MEMORY = 1024 * 1024


def _spool() -> tempfile.SpooledTemporaryFile[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)


@dataclass
class _Part:
    name: str = ""
    filename: str | None = None
    content_type: str | None = None
    spool: tempfile.SpooledTemporaryFile[bytes] = field(default_factory=lambda: _spool())  # looked up when made
    size: int = 0


def body_limit(max_upload_bytes: int, max_files: int) -> int:
    """Largest request body accepted with these limits (the files plus room for multipart framing)."""
    return (max_files + 2) * (max_upload_bytes + _PART_OVERHEAD)


def declared_length(content_length: str | None) -> int | None:
    """The body size a ``Content-Length`` header declares (``None`` when absent, e.g. a chunked upload).

    Raises:
        UploadError: 400 for a value that is not a non-negative whole number.
    """
    if content_length is None:
        return None
    try:
        declared = int(content_length)
    except ValueError:
        raise UploadError(400, f"invalid Content-Length {content_length!r}") from None
    if declared < 0:
        raise UploadError(400, f"invalid Content-Length {content_length!r}")
    return declared


class BytesInFlight:
    """Upload bytes the service holds at once, over all requests: a request reserves its declared body size (or
    the largest allowed body when it declares none) before any of its body is read, and gives it back when it
    is answered; one that does not fit is refused at once, so memory stays under ``limit`` however many clients
    upload together. Used from the event loop only (no lock)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self.reserved = 0

    def try_reserve(self, n: int) -> bool:
        """Reserve ``n`` bytes if they fit; False (nothing reserved) when they do not."""
        if self.reserved + n > self.limit:
            return False
        self.reserved += n
        return True

    def release(self, n: int) -> None:
        """Give ``n`` reserved bytes back."""
        self.reserved = max(0, self.reserved - n)


_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def clean_filename(raw: str | None, index: int) -> str:
    """A display label from a client file name: last path component, no control characters, at most 200 chars."""
    if not raw:
        return f"upload-{index + 1}"
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("", name).strip()
    return (name or f"upload-{index + 1}")[:200]


async def read_multipart(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    *,
    max_upload_bytes: int,
    max_files: int,
) -> list[Upload]:
    """Parse a ``multipart/form-data`` body into image uploads.

    Every part that has a file name, or whose field is ``files`` or ``file``, is an image upload; other form
    fields are ignored (but still count against the size limits).

    Raises:
        UploadError: 415 when the body is not ``multipart/form-data``; 413 when a part is larger than
            ``max_upload_bytes``, when there are more than ``max_files`` images, or when the declared body size is
            over what those limits allow; 400 for a malformed or truncated body; 422 when no image was sent.
    """
    if not content_type:
        raise UploadError(415, "send the images as multipart/form-data (field 'files'); no Content-Type was given")
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UploadError(
            415, f"send the images as multipart/form-data (field 'files'), not {kind.decode('latin-1') or '?'}"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError(400, "multipart/form-data without a boundary parameter")
    max_body = body_limit(max_upload_bytes, max_files)
    declared = declared_length(content_length)
    if declared is not None and declared > max_body:
        raise UploadError(
            413,
            f"request body of {declared:,} bytes is over the limit of {max_files} images of at most "
            f"{max_upload_bytes:,} bytes each",
        )

    parts: list[_Part] = []
    current: list[_Part] = []
    header_field = bytearray()
    header_value = bytearray()
    headers: dict[str, bytes] = {}
    finished = [False]
    n_images = [0]

    def is_image(part: _Part) -> bool:
        return part.filename is not None or part.name in IMAGE_FIELDS

    def on_part_begin() -> None:
        headers.clear()
        current[:] = [_Part()]

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[header_field.decode("latin-1").lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        part = current[0]
        disposition, options = parse_options_header(headers.get("content-disposition", b""))
        if disposition != b"form-data":
            raise UploadError(400, "each multipart part needs 'Content-Disposition: form-data; name=...'")
        part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            part.filename = options[b"filename"].decode("utf-8", "replace")
        ctype = headers.get("content-type")
        part.content_type = ctype.decode("latin-1") if ctype else None
        if is_image(part):
            n_images[0] += 1
            if n_images[0] > max_files:
                raise UploadError(413, f"too many images in one request: more than {max_files}")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = current[0]
        part.size += end - start
        if part.size > max_upload_bytes:
            label = clean_filename(part.filename, len(parts)) if is_image(part) else f"field {part.name!r}"
            raise UploadError(413, f"{label}: upload is over the limit of {max_upload_bytes:,} bytes")
        if is_image(part):  # other fields only count against the limits
            part.spool.write(data[start:end])

    def on_part_end() -> None:
        parts.append(current[0])

    def on_end() -> None:
        finished[0] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_end": on_end,
        },
        max_size=max_body,
    )
    try:
        return await _read_parts(body, parser, parts, is_image, finished, max_body)
    finally:
        for part in [*parts, *current]:
            part.spool.close()


async def _read_parts(
    body: AsyncIterator[bytes],
    parser: MultipartParser,
    parts: list[_Part],
    is_image: Callable[[_Part], bool],
    finished: list[bool],
    max_body: int,
) -> list[Upload]:
    """Feed ``body`` to ``parser`` and return the image parts as uploads (read back from their spools)."""
    received = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            received += len(chunk)
            if received > max_body:
                raise UploadError(413, f"request body is over the limit of {max_body:,} bytes")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(400, f"malformed multipart body: {exc}") from None
    if not finished[0]:
        raise UploadError(400, "incomplete multipart body (the closing boundary is missing)")
    uploads = []
    for i, part in enumerate(p for p in parts if is_image(p)):
        part.spool.seek(0)
        uploads.append(Upload(clean_filename(part.filename, i), part.spool.read(), part.content_type))
        part.spool.close()  # one part's bytes at a time in memory twice, not the whole request's
    if not uploads:
        raise UploadError(422, "no image in the request: send one or more files in the multipart field 'files'")
    return uploads
