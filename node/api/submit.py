"""``POST /v1/transactions``: the hot route of a node's API, answered before the framework.

Under load, most requests a node serves are submissions, and a third of
its time went to the framework around them (FastAPI's request handler,
Starlette's routing and exception layers, the response objects). So
:class:`Submissions` sits in front of them as plain ASGI: it answers
``POST /v1/transactions`` itself and hands every other request on. The
route's meaning is in :func:`answer`, which the FastAPI route (kept for the
OpenAPI document, and for an application without this middleware) calls
too; the body's limits in :func:`receive_body`, which the framework's
routes use as well. Answers and errors have the same shapes and codes
either way (``tests/node/test_api_submit.py`` runs through this path).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qsl

from ledger.errors import LedgerError
from ledger.tx import MAX_TX_SIZE, Transaction
from node.api.errors import ApiError
from node.config import MAX_SUBMIT_BODY
from node.errors import Rejected
from node.service import NodeService

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH: Final = "/v1/transactions"
MAX_WAIT_S: Final = 60.0
MAX_NUMBER_DIGITS: Final = 18
"""Longest decimal a size or height header/parameter may have (int() refuses past 4,300)."""
REFUSAL_STATUS: Final = {"tx.wrong_chain": 400, "rate_limited": 429}
"""HTTP status of an admission refusal by its code; a full mempool is 503, any other 422."""


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, "request.bad_length", "Content-Length is not a number")
        if len(declared) > MAX_NUMBER_DIGITS or int(declared) > limit:
            raise ApiError(413, "request.too_large", f"body over {limit} bytes")
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ApiError(400, "request.incomplete", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "request.too_large", f"body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def tx_from_body(body: bytes, content_type: str) -> Transaction:
    """A transaction from raw MessagePack or JSON ``{"tx": "<base64>"}``."""
    if content_type.startswith("application/json"):
        try:
            value = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ApiError(400, "request.bad_json", f"body is not JSON: {e}") from e
        except RecursionError as e:  # nesting deeper than the parser's stack
            raise ApiError(400, "request.bad_json", "body is JSON nested too deeply") from e
        if not isinstance(value, dict) or set(value) != {"tx"} or not isinstance(value["tx"], str):
            raise ApiError(400, "request.bad_field", 'body must be {"tx": "<base64>"}', "$.tx")
        try:
            body = base64.b64decode(value["tx"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise ApiError(400, "request.bad_field", "tx is not base64", "$.tx") from e
    if len(body) > MAX_TX_SIZE:
        # The body limit leaves room for base64 in JSON; the transaction has its own.
        raise ApiError(413, "request.too_large", f"transaction over {MAX_TX_SIZE} bytes")
    try:
        return Transaction.decode(body)
    except LedgerError as e:
        raise ApiError(400, e.code, str(e), f"$.{e.field}" if e.field else "$") from e


def refusal(e: Rejected, tx: Transaction) -> ApiError:
    """The answer to a transaction the node did not admit."""
    status = REFUSAL_STATUS.get(e.code) or (503 if e.code.startswith("mempool.") else 422)
    if status in (400, 429):
        return ApiError(status, e.code, e.message, e.path)
    extra: dict[str, Any] = {"tx_id": tx.id.hex()}
    if e.violations:
        extra["violations"] = [v.to_value() for v in e.violations]
    if e.retry_after is not None:
        extra["retry_after"] = e.retry_after
    return ApiError(status, e.code, e.message, e.path, **extra)


def body_limit(node: NodeService) -> int:
    """The most a submission's body may hold: one transaction as JSON, or the node's lower limit.

    ``max_body_bytes`` is checked at load to be at most :data:`MAX_SUBMIT_BODY`;
    the ``min`` holds for a configuration built in code too.
    """
    return min(node.config.api.max_body_bytes, MAX_SUBMIT_BODY)


async def answer(
    node: NodeService, body: bytes, content_type: str, wait: str | None
) -> tuple[int, dict[str, Any]]:
    """Status and JSON answer of one submission; raises :class:`ApiError` for a refusal."""
    if wait not in (None, "commit"):
        raise ApiError(400, "request.invalid", "wait must be 'commit'", "$.wait")
    tx = tx_from_body(body, content_type)
    try:
        admitted = node.submit(tx)
    except Rejected as e:
        raise refusal(e, tx) from e
    if admitted.committed:
        # Submitted again after its commit: say where it is, wait or not.
        return 200, node.receipt_summary(tx.id)
    if wait == "commit":
        try:
            await asyncio.wait_for(node.wait_commit(tx.id), MAX_WAIT_S)
        except TimeoutError as e:
            raise ApiError(504, "tx.commit_timeout", "not committed in time; query it later") from e
        return 200, node.receipt_summary(tx.id)
    return 202, {"tx_id": tx.id.hex(), "status": "pending"}


def error_body(e: ApiError) -> dict[str, Any]:
    """The one shape of every error answer: ``{"error": {"code", "message", "path"?, ...}}``."""
    body: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.path is not None:
        body["path"] = e.path
    body.update(e.extra)
    return {"error": body}


class Submissions:
    """ASGI middleware: ``POST /v1/transactions`` answered here, everything else passed on."""

    def __init__(self, app: App, node: NodeService) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        wait = None
        query = scope.get("query_string", b"").decode("latin-1")
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "wait":
                wait = value
        try:
            body = await receive_body(receive, headers.get("content-length"), body_limit(self.node))
            status, payload = await answer(self.node, body, headers.get("content-type", ""), wait)
            extra: list[tuple[bytes, bytes]] = []
        except ApiError as e:
            status, payload = e.status, error_body(e)
            retry = e.extra.get("retry_after")
            extra = [(b"retry-after", str(retry).encode())] if isinstance(retry, int) else []
        data = json.dumps(payload, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
