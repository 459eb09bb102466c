"""Hardening of the service: faked headers, the memory budget, bytes in flight checked before reading a body,
and connections whose request never completes."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from serve_testkit import encode, make_rgb


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, data, "application/octet-stream")) for name, data in items]


def _faked_header_jpeg() -> bytes:
    data = bytearray(encode(make_rgb()))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (9000).to_bytes(2, "big") * 2
    sos = data.find(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    return bytes(data[: start + 10]) + b"\xff\xd9"


def test_faked_header_jpeg_is_422_with_the_missing_share(client: TestClient) -> None:
    r = client.post("/v1/score", files=_files(("fake.jpg", _faked_header_jpeg())))
    assert r.status_code == 422
    error = r.json()["results"][0]["error"]
    assert error["code"] == "corrupt_image"
    assert "at least 99.9% of the picture is missing" in error["message"]


def test_image_over_the_memory_budget_is_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    service = client.app.state.service
    service.settings = dataclasses.replace(service.settings, max_image_bytes=1024 * 1024)
    wide = np.zeros((700, 900), np.uint16)
    wide[::30] = 50000
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(wide).save(buffer, "PNG")
    r = client.post("/v1/score", files=_files(("deep.png", buffer.getvalue())))
    assert r.status_code == 413
    error = r.json()["results"][0]["error"]
    assert error["code"] == "too_large" and "memory budget of 1 MiB" in error["message"]


class _Body:
    """A chunked request body that records how much of it the server read."""

    def __init__(self, data: bytes, chunk: int = 4096) -> None:
        self.data = data
        self.chunk = chunk
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.chunk):
            self.sent += 1
            yield self.data[i : i + self.chunk]


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'.encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_bytes_in_flight_are_checked_before_the_body_is_read(
    make_client: Callable[..., TestClient], jpeg_bytes: bytes
) -> None:
    client = make_client(max_bytes_in_flight=200_000, max_upload_bytes=100_000, max_files=2)
    body, ctype = _multipart(jpeg_bytes)
    budget = client.app.state.bytes_in_flight
    assert budget.try_reserve(200_000 - len(body) + 1)  # other uploads hold almost everything
    r = client.post("/v1/score", content=body, headers={"content-type": ctype})
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert "upload bytes" in r.json()["detail"]
    stream = _Body(body)
    r = client.post("/v1/score", content=stream, headers={"content-type": ctype})  # chunked: no length declared
    assert r.status_code == 503
    assert stream.sent <= 1  # refused before its body was read
    budget.release(200_000)
    r = client.post("/v1/score", content=body, headers={"content-type": ctype})
    assert r.status_code == 200 and budget.reserved == 0  # given back after the answer
    too_big, _ = _multipart(b"x" * 90_000 + jpeg_bytes)
    client2 = make_client(max_bytes_in_flight=50_000, max_upload_bytes=100_000)
    r = client2.post("/v1/score", content=too_big, headers={"content-type": ctype})
    assert r.status_code == 413 and "holds at once" in r.json()["detail"]


@pytest.fixture
def live_server() -> Iterator[tuple[int, type]]:
    """A real uvicorn server with pixgrade's protocol (request time-out 0.5 s) on a free port."""
    import uvicorn

    from pixgrade.serve.protocol import timed_protocol

    async def app(scope: dict, receive: Callable, send: Callable) -> None:  # a minimal ASGI app
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    protocol = timed_protocol(0.5)
    config = uvicorn.Config(app, log_level="critical", http=protocol, timeout_keep_alive=1, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port, protocol
    server.should_exit = True
    thread.join(10)
    sock.close()


def _closed_by_server(conn: socket.socket, wait: float) -> bool:
    conn.settimeout(wait)
    try:
        return conn.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_stalled_requests_are_closed_and_complete_ones_answered(live_server: tuple[int, type]) -> None:
    port, protocol = live_server
    stalled = []
    for i in range(20):
        conn = socket.create_connection(("127.0.0.1", port))
        if i % 2:
            conn.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        else:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished (slowloris)
        stalled.append(conn)
    good = socket.create_connection(("127.0.0.1", port))
    good.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    good.settimeout(5)
    answer = b""
    while not answer.endswith(b"ok"):
        answer += good.recv(1024)
    assert answer.startswith(b"HTTP/1.1 200")
    closed = sum(_closed_by_server(conn, 10) for conn in stalled)
    assert closed == len(stalled)
    assert protocol.closed_for_timeout >= len(stalled)
    assert _closed_by_server(good, 10)  # the idle keep-alive connection is closed too
    for conn in [*stalled, good]:
        conn.close()
