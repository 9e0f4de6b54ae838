"""The service's error codes and the one JSON shape every error takes, ``{"error_code", "error_msg"}``.

Dify shows ``error_msg`` to whoever configured the knowledge base, so messages name the fields of the
API (``query``, ``metadata_condition``, ``knowledge_id``), never the KB's folder or its columns.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

ERROR_CODES = {
    1001: (401, "Invalid Authorization header format. Expected 'Bearer <api-key>' format."),
    1002: (403, "Authorization failed: wrong API key."),
    2001: (404, "The knowledge does not exist."),
    3001: (400, "Invalid request body."),
    3002: (400, "Invalid metadata_condition."),
    3003: (413, "Request body too large."),
    4004: (404, "No such endpoint: use POST /retrieval, POST /v1/vector_stores/{id}/search or GET /health."),
    4005: (405, "Method not allowed on this endpoint."),
    5001: (500, "Retrieval failed inside kbbuild."),
}


class ServeError(Exception):
    """An error the client is meant to see: a code from ``ERROR_CODES`` and a message for people."""

    def __init__(self, code: int, detail: str | None = None) -> None:
        self.code = code
        self.detail = detail or ERROR_CODES[code][1]
        super().__init__(self.detail)


def printable(text: str) -> str:
    """``text`` with lone surrogates written as escapes: a message that echoes the client's input
    must still encode as UTF-8, or rendering the error would itself fail."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


OPENAI_PREFIX = "/v1/"  # the OpenAI-compatible endpoints answer errors in OpenAI's shape
_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found"}


def error_response(code: int, detail: str | None = None, *, path: str = "") -> JSONResponse:
    """Dify's ``{"error_code", "error_msg"}``; under ``/v1/`` OpenAI's ``{"error": {"message", "type",
    "code"}}``, which the ``openai`` client reads into its exception's message."""
    status, message = ERROR_CODES[code]
    text = printable(detail or message)
    if path.startswith(OPENAI_PREFIX):
        kind = _OPENAI_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        return JSONResponse(status_code=status, content={"error": {"message": text, "type": kind, "code": code}})
    return JSONResponse(status_code=status, content={"error_code": code, "error_msg": text})
