"""``POST /v1/transactions/batch``: many transactions in one request, each judged on its own.

For a port community system that forwards its queue, or an integrator with
many declarations: one request for up to :data:`MAX_BATCH_TXS` transactions,
so a node spends its time on the transactions rather than on HTTP. Each
transaction goes through the same admission as one submitted alone
(``NodeService.submit``: chain, load, signatures, the signer's rate, the
rules' precheck); one refused does not refuse the others.

Body: a canonical MessagePack array of transactions' wire bytes
(``application/msgpack``), or JSON ``{"txs": ["<base64>", ...]}``. Answer:
200 with ``{"results": [...]}``, one result per item, in order::

    {"item": i, "tx_id": hex, "status": "pending"}               admitted
    {"item": i, "tx_id": hex, "status": "committed" | "rejected",
     "height", "index", "log_index", "result"}                   in a block already
    {"item": i, "tx_id": hex | null, "status": "refused",
     "error": {"code", "message", "path"?, "violations"?, "retry_after"?}}

With ``?wait=commit`` the answer comes once every admitted item is
committed, or after the same wait as a single submission: items still
pending then say so (a batch is never answered 504). A request that is not
a batch at all is refused whole, as a single submission would be (400, 413).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any, Final

from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.tx import MAX_TX_SIZE, Transaction
from node.api.errors import ApiError
from node.errors import Rejected
from node.service import NodeService

MAX_BATCH_TXS: Final = 1000
MAX_BATCH_BYTES: Final = 16 * 1024 * 1024
"""The body limit: a thousand transactions of up to 16 KB, or fewer larger ones."""


def batch_from_body(body: bytes, content_type: str) -> list[bytes]:
    """The wire bytes of each transaction of a batch body, or a refusal of the whole request."""
    if content_type.startswith("application/json"):
        try:
            value = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise ApiError(400, "request.bad_json", "body is not JSON") from e
        if not isinstance(value, dict) or set(value) != {"txs"} or type(value["txs"]) is not list:
            raise ApiError(400, "request.bad_field", 'body must be {"txs": ["<base64>", ...]}', "$")
        items = value["txs"]
        _check_count(items)
        wires = []
        for i, item in enumerate(items):
            try:
                wires.append(base64.b64decode(item, validate=True) if type(item) is str else b"")
            except (binascii.Error, ValueError):
                wires.append(b"")
            if not wires[-1]:
                raise ApiError(400, "request.bad_field", "not base64 text", f"$.txs[{i}]")
        return wires
    try:
        value = decode(body, max_size=MAX_BATCH_BYTES, max_depth=2)
    except LedgerError as e:
        raise ApiError(400, "request.bad_body", f"body is not a MessagePack array: {e}") from e
    if type(value) is not list or any(type(item) is not bytes for item in value):
        raise ApiError(400, "request.bad_body", "body must be an array of transactions' bytes")
    _check_count(value)
    return value


def _check_count(items: list[Any]) -> None:
    if not 1 <= len(items) <= MAX_BATCH_TXS:
        raise ApiError(
            400, "request.bad_field", f"a batch holds 1 to {MAX_BATCH_TXS} transactions", "$"
        )


def _refused(item: int, tx_id: str | None, error: dict[str, Any]) -> dict[str, Any]:
    return {"item": item, "tx_id": tx_id, "status": "refused", "error": error}


def _error(e: Rejected) -> dict[str, Any]:
    error: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.path is not None:
        error["path"] = e.path
    if e.violations:
        error["violations"] = [v.to_value() for v in e.violations]
    if e.retry_after is not None:
        error["retry_after"] = e.retry_after
    return error


async def judge(
    node: NodeService, wires: list[bytes], *, wait: bool, wait_s: float
) -> list[dict[str, Any]]:
    """Admit each transaction on its own; with ``wait``, wait for the admitted ones' commit."""
    results: list[dict[str, Any]] = []
    waiting: dict[int, bytes] = {}
    for i, wire in enumerate(wires):
        if len(wire) > MAX_TX_SIZE:
            error = {"code": "request.too_large", "message": f"over {MAX_TX_SIZE} bytes"}
            results.append(_refused(i, None, error))
            continue
        try:
            tx = Transaction.decode(wire)
        except LedgerError as e:
            path = f"$.{e.field}" if e.field else "$"
            results.append(_refused(i, None, {"code": e.code, "message": str(e), "path": path}))
            continue
        try:
            admitted = node.submit(tx)
        except Rejected as e:
            results.append(_refused(i, tx.id.hex(), _error(e)))
            continue
        if admitted.committed:
            results.append({"item": i, **node.receipt_summary(tx.id)})
        else:
            results.append({"item": i, "tx_id": tx.id.hex(), "status": "pending"})
            waiting[i] = tx.id
    if wait and waiting:
        futures = [node.wait_commit(tx_id) for tx_id in waiting.values()]
        await asyncio.wait(futures, timeout=wait_s)
        for future in futures:
            future.cancel()  # those not done: no one waits for them any more
        for i, tx_id in waiting.items():
            summary = node.receipt_summary(tx_id)
            if summary["status"] != "pending":
                results[i] = {"item": i, **summary}
    return results
