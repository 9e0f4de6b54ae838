"""What runs before FastAPI reads a byte of the body: the API key check, then the body size cap.

FastAPI reads and validates the whole body before an endpoint runs, so a key check inside the
endpoint came too late: a client without a key could make the service read and parse hundreds of
megabytes, and was told about its body (3001) instead of its missing key (1001). As pure ASGI
middleware the guard sees the headers first, refuses a bad key at once, refuses a declared
``Content-Length`` over the cap without reading anything, and stops a chunked body as soon as it
passes the cap. A Dify request is a query and a few conditions: a few KiB.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import Response

from kbbuild.serve.errors import error_response

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

# Readable without a key: liveness and the API's own description (they reveal nothing about the KB).
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


class _TooLarge(Exception):
    """The body passed the cap while it was being read."""


class _Gone(Exception):
    """The client disconnected before its body was complete."""


def key_error(header: str | None, api_key: str | None) -> int | None:
    """1001 for a missing or malformed ``Authorization`` header, 1002 for a wrong key, None to let it pass."""
    if api_key is None:
        return None
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return 1001
    # Starlette decodes header bytes as latin-1: encoding back gives the bytes the client sent.
    if not hmac.compare_digest(token.encode("latin-1"), api_key.encode("utf-8")):
        return 1002
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole body, counted as it streams in, so chunked bodies without a length are capped too."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's later events."""
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class Guard:
    """Pure ASGI middleware: key first, then the size cap, then the app with the body already read."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body = max_body

    def _too_large(self, path: str) -> Response:
        return error_response(3003, f"Request body too large: the limit is {self.max_body} bytes.", path=path)

    def _refusal(self, scope: MutableMapping[str, Any]) -> Response | None:
        """The answer for a request refused on its headers alone, or None."""
        headers = Headers(scope=scope)
        if scope["path"] not in PUBLIC_PATHS:
            code = key_error(headers.get("authorization"), self.api_key)
            if code is not None:
                return error_response(code, path=scope["path"])
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_body:
            return self._too_large(scope["path"])
        return None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            body = await _read_body(receive, self.max_body)
        except _TooLarge:
            await self._too_large(scope["path"])(scope, receive, send)
            return
        except _Gone:
            return
        await self.app(scope, _replay(body, receive), send)
