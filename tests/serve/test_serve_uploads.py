"""Streaming multipart reader: limits are enforced while reading, before the whole body is buffered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pixgrade.serve.uploads import UploadError, clean_filename, read_multipart

BOUNDARY = "b0undary"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


class Stream:
    """An async body that records how much of it was consumed."""

    def __init__(self, body: bytes, chunk: int = 1024) -> None:
        self.chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.consumed += 1
            yield chunk


def _read(stream: Stream, *, content_type: str = CTYPE, length: str | None = None, **limits: int) -> list:
    limits.setdefault("max_upload_bytes", 1_000_000)
    limits.setdefault("max_files", 8)
    return asyncio.run(read_multipart(content_type, length, stream.__aiter__(), **limits))


def test_reads_files_and_ignores_other_fields() -> None:
    stream = Stream(_body(_part("files", b"abc", "a.jpg"), _part("note", b"hi"), _part("file", b"xyz")))
    uploads = _read(stream)
    assert [(u.filename, u.data) for u in uploads] == [("a.jpg", b"abc"), ("upload-2", b"xyz")]


def test_oversized_part_stops_reading_early() -> None:
    big = b"\xff" * 200_000
    stream = Stream(_body(_part("files", big, "big.jpg")), chunk=4096)
    with pytest.raises(UploadError) as info:
        _read(stream, max_upload_bytes=10_000)
    assert info.value.status == 413
    assert "big.jpg" in info.value.detail
    assert stream.consumed < len(stream.chunks) // 4  # refused after ~10 kB, not after buffering 200 kB


def test_declared_length_over_the_limit_is_refused_before_reading() -> None:
    stream = Stream(_body(_part("files", b"x" * 10, "a.jpg")))
    with pytest.raises(UploadError) as info:
        _read(stream, length=str(10**12), max_upload_bytes=1000, max_files=2)
    assert info.value.status == 413
    assert stream.consumed == 0


def test_too_many_files_stops_at_the_extra_part() -> None:
    parts = [_part("files", b"x" * 5000, f"{i}.jpg") for i in range(10)]
    stream = Stream(_body(*parts), chunk=1024)
    with pytest.raises(UploadError) as info:
        _read(stream, max_files=2)
    assert info.value.status == 413 and "too many images" in info.value.detail
    assert stream.consumed < len(stream.chunks) // 2


@pytest.mark.parametrize(
    ("content_type", "status"),
    [(None, 415), ("application/json", 415), ("image/jpeg", 415), ("multipart/form-data", 400)],
)
def test_wrong_content_type(content_type: str | None, status: int) -> None:
    with pytest.raises(UploadError) as info:
        _read(Stream(b"{}"), content_type=content_type)  # type: ignore[arg-type]
    assert info.value.status == status


def test_truncated_body_is_400() -> None:
    body = _body(_part("files", b"abc", "a.jpg"))
    with pytest.raises(UploadError) as info:
        _read(Stream(body[:-10]))
    assert info.value.status == 400


def test_no_image_part_is_422() -> None:
    with pytest.raises(UploadError) as info:
        _read(Stream(_body(_part("comment", b"hello"))))
    assert info.value.status == 422


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\shoe.jpg", "shoe.jpg"),
        ("bad\x00name\n.png", "badname.png"),
        ("", "upload-3"),
        (None, "upload-3"),
        ("/", "upload-3"),
    ],
)
def test_clean_filename_is_a_label_not_a_path(raw: str | None, expected: str) -> None:
    assert clean_filename(raw, 2) == expected


def test_large_parts_are_spooled_to_a_temporary_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import pixgrade.serve.uploads as uploads_module

    spools: list[tempfile.SpooledTemporaryFile[bytes]] = []

    def small_spool() -> tempfile.SpooledTemporaryFile[bytes]:
        spool: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile(max_size=1000)  # noqa: SIM115
        spools.append(spool)
        return spool

    monkeypatch.setattr(uploads_module, "_spool", small_spool)
    big = bytes(range(256)) * 40  # 10 kB, over the 1 kB kept in memory
    uploads = _read(Stream(_body(_part("files", big, "big.jpg"), _part("files", b"tiny", "t.jpg"))))
    assert [u.data for u in uploads] == [big, b"tiny"]
    rolled = [s._rolled for s in spools]  # type: ignore[attr-defined]
    assert rolled.count(True) == 1  # only the big part went to disk
    assert all(s.closed for s in spools)  # and every spool is closed (its file removed)
