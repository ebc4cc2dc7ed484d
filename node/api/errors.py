"""Errors of the HTTP API: every one is answered as JSON with a status and a stable code.

::

    ApiError(status, code, message, path)   an answer: HTTP status, stable code, the
    │                                       parameter's JSON path where one is at fault
    ├── QueryError                          400 request.invalid: list filters that do not
    │                                       fit together (node.api.query)
    └── ProofRequestError                   404 for an id the chain does not hold, 400 for
                                            a range it cannot prove (node.api.prover)

The application answers any of them with :func:`error_response`, the one
shape of every error: ``{"error": {"code", "message", "path"?, ...}}``.
Errors of the layers below are converted where they are caught (an
admission refusal, :class:`node.errors.Rejected`, keeps its own code).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class ApiError(Exception):
    """An error answered as JSON with a stable code."""

    def __init__(
        self, status: int, code: str, message: str, path: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.path = path
        self.extra = extra


class QueryError(ApiError):
    """A list query whose parameters do not fit together; ``path`` names the parameter."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(400, "request.invalid", message, path)


class ProofRequestError(ApiError):
    """A request the chain cannot answer: ``not_found`` (404) or ``invalid`` (400)."""

    def __init__(self, kind: str, code: str, message: str, path: str | None = None) -> None:
        super().__init__(404 if kind == "not_found" else 400, code, message, path)
        self.kind = kind


def error_response(
    status: int, code: str, message: str, path: str | None = None, **extra: Any
) -> JSONResponse:
    """The one shape of every error answer."""
    body: dict[str, Any] = {"code": code, "message": message}
    if path is not None:
        body["path"] = path
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)
