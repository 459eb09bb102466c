"""The service's API key: ``X-API-Key: KEY`` or ``Authorization: Bearer KEY``, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import Depends, HTTPException
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["api_key_dependencies"]


def api_key_dependencies(api_key: str | None) -> list[Any]:
    """The route dependencies that require ``api_key`` (none when it is None: the server is open)."""
    if api_key is None:
        return []
    expected = api_key.encode("utf-8")
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the server's API key")
    bearer = HTTPBearer(auto_error=False, description="the server's API key as a bearer token")

    async def require_key(
        header_key: str | None = Depends(key_header),
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> None:
        given = header_key if header_key is not None else (credentials.credentials if credentials else None)
        # Constant-time comparison of the bytes (compare_digest on equal-length inputs does not leak the prefix).
        if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            raise HTTPException(
                401,
                "missing or wrong API key: send it in the X-API-Key header (or Authorization: Bearer KEY)",
                headers={"WWW-Authenticate": 'Bearer realm="pixgrade"'},
            )

    return [Depends(require_key)]
