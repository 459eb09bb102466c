"""The HTTP/1.1 connection protocol of ``pixgrade serve``: uvicorn's h11 protocol with a request time-out.

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``), but a client
that opens a connection and never finishes its request (slow headers or a trickling body, "slowloris") keeps it,
and a socket and a slot, for ever. :class:`TimedH11Protocol` closes a connection whose request is not complete
(headers and body) within ``request_timeout`` seconds of the connection opening or of the previous response.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["DEFAULT_REQUEST_TIMEOUT", "TimedH11Protocol", "timed_protocol"]

#: Seconds a client has to send a whole request (headers and body) by default.
DEFAULT_REQUEST_TIMEOUT = 30.0


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol that closes a connection whose request takes longer than :attr:`request_timeout`."""

    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: Connections closed because their request was not complete in time (all connections of this class).
    closed_for_timeout: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._request_timer = self.loop.call_later(self.request_timeout, self._request_timed_out)

    def _disarm(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing() or self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED):
            return
        type(self).closed_for_timeout += 1
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()  # the whole request is in (the answer may take as long as the work does)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this keep-alive connection gets the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def timed_protocol(request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> type[TimedH11Protocol]:
    """A :class:`TimedH11Protocol` subclass with ``request_timeout`` seconds, for ``uvicorn.run(http=...)``."""
    if request_timeout <= 0:
        raise ValueError(f"request_timeout must be positive, got {request_timeout}")
    return type("PixgradeH11Protocol", (TimedH11Protocol,), {"request_timeout": float(request_timeout)})
