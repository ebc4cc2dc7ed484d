"""The HTTP surface of a node: transaction submission, status, metrics, blocks for audits.

Every error is JSON ``{"error": {"code", "path", "message"}}`` with a 4xx
status; request bodies are size-limited (413) before they are read whole;
a query parameter a route does not take is refused by name
(:mod:`node.api.parameters`); a malformed request is never a 500. Read
routes over confidential data take a signed request (:mod:`node.auth`);
they live in :mod:`node.api.reads`.

Peers do not use HTTP: they talk over their own TLS connections
(:mod:`node.p2p.transport`). ``GET /peer/v1/blocks`` stays for
``dgledger audit --node`` (and the benchmarks), which read a node's chain
with a signed request from the key of an organisation entitled to blocks
(one running a node, or an auditor: :mod:`contracts.access`).
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

from fastapi import FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.encoding import encode
from node.api.batch import MAX_BATCH_BYTES, batch_from_body, judge
from node.api.errors import ApiError, error_response
from node.api.metrics import render_metrics
from node.api.models import BATCH_BODY, BATCH_DOC, SUBMIT_BODY, SUBMIT_DOC
from node.api.parameters import KnownParameters
from node.api.readers import NodeRunners, check_blocks, reader_at
from node.api.reads import router as read_router
from node.api.stowage import router as stowage_router
from node.api.submit import (
    MAX_NUMBER_DIGITS,
    MAX_WAIT_S,
    Submissions,
    answer,
    body_limit,
    receive_body,
)
from node.auth import Caller
from node.errors import AuthError
from node.p2p.sync import peer_blocks
from node.service import NodeService

KEEP_ALIVE_S = 15
"""How long the node keeps an idle HTTP connection open for the client's next request.

Longer than clients keep an idle connection in their pools (httpx, which
this project's client and the audit use: 5 s). Were it
equal, a client could send a request on a connection in the instant the
node closes it, and the request would fail with a reset.
"""


STANDING: Final = {
    "auth.not_a_member": "the key is not a member or node key",
    "auth.key_revoked": "the key is revoked: use another key of your organisation",
    "auth.org_inactive": "the key's organisation is no longer a member",
}
"""What a signed request is told when its key may not read here."""


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes without reading them all."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


def create_app(node: NodeService, *, fast_submissions: bool = True) -> FastAPI:
    """The node's FastAPI application (starts and stops the node with the server).

    ``fast_submissions`` puts :class:`~node.api.submit.Submissions` in front:
    submissions are then answered before the framework (without it, by the
    framework's route, alike).
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="dgledger node",
        version="1",
        lifespan=lifespan,
        description="Dangerous-goods declaration ledger: transactions, declarations, proofs.",
    )
    app.state.node = node
    if fast_submissions:
        app.add_middleware(Submissions, node=node)
    # Outermost: an unknown query parameter is refused on every route, this path's too.
    app.add_middleware(
        KnownParameters, routes=lambda: [*app.routes, *read_router.routes, *stowage_router.routes]
    )
    requests = node.requests
    app.state.requests = requests

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        response = error_response(e.status, e.code, e.message, e.path, **e.extra)
        if isinstance(e.extra.get("retry_after"), int):
            response.headers["Retry-After"] = str(e.extra["retry_after"])
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return error_response(
            400, "request.invalid", str(first.get("msg", "invalid request")), f"$.{loc}"
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return error_response(e.status_code, code, str(e.detail))

    async def authenticate(request: Request, body: bytes = b"") -> Caller:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            caller = requests.check(headers, request.method, path, body, node.clock())
        except AuthError as e:
            extra: dict[str, Any] = {} if e.not_before is None else {"not_before": e.not_before}
            raise ApiError(e.status, e.code, e.message, **extra) from e
        refused = node.standing(caller.key_id)
        if refused is not None:
            raise ApiError(403, refused, STANDING[refused])
        if not node.limiter.allow(caller.key_id):
            raise ApiError(429, "rate_limited", "too many requests for this key; slow down")
        return caller

    app.state.authenticate = authenticate
    app.include_router(read_router)
    app.include_router(stowage_router)

    # ------------------------------------------------- blocks, for audits

    @app.get("/peer/v1/blocks", include_in_schema=False)
    async def blocks_with_certificates(
        request: Request,
        count: int = 100,
        start_text: Annotated[str, Query(alias="from")] = "1",
    ) -> Response:
        caller = await authenticate(request)
        runners = NodeRunners.of(node)
        await node.read(lambda chain: check_blocks(reader_at(chain.view(), caller.key_id, runners)))
        if node.faults.blocks(node.peer_name(caller.key_id)):
            raise ApiError(503, "fault_injected", "dropped by fault injection")
        if not (
            start_text.isascii()
            and start_text.isdigit()
            and len(start_text) <= MAX_NUMBER_DIGITS
            and int(start_text) >= 1
        ):
            raise ApiError(400, "request.invalid", "from must be an integer >= 1", "$.from")
        if not 1 <= count <= 1000:
            raise ApiError(400, "request.invalid", "count must be 1..1000", "$.count")
        start = int(start_text)
        # Up to a thousand blocks: read and encoded in a read thread, off the loop.
        body = await node.read(lambda chain: encode(peer_blocks(chain, start, count)))
        return Response(body, media_type="application/msgpack")

    # -------------------------------------------------------- client routes

    @app.post(
        "/v1/transactions",
        tags=["transactions"],
        status_code=202,
        responses=SUBMIT_DOC,
        openapi_extra=SUBMIT_BODY,
    )
    async def submit_transaction(request: Request, wait: str | None = None) -> JSONResponse:
        """Submit a signed transaction: MessagePack, or JSON ``{"tx": base64}``.

        Served by :class:`node.api.submit.Submissions` in front of the framework;
        this route describes it in the OpenAPI document and answers alike.
        """
        body = await read_body(request, body_limit(node))
        status, payload = await answer(node, body, request.headers.get("content-type", ""), wait)
        return JSONResponse(payload, status_code=status)

    @app.post(
        "/v1/transactions/batch",
        tags=["transactions"],
        responses=BATCH_DOC,
        openapi_extra=BATCH_BODY,
    )
    async def submit_batch(request: Request, wait: str | None = None) -> JSONResponse:
        """Submit up to 1,000 signed transactions at once; each is judged on its own."""
        if wait not in (None, "commit"):
            raise ApiError(400, "request.invalid", "wait must be 'commit'", "$.wait")
        body = await read_body(request, MAX_BATCH_BYTES)
        wires = batch_from_body(body, request.headers.get("content-type", ""))
        results = await judge(node, wires, wait=wait == "commit", wait_s=MAX_WAIT_S)
        return JSONResponse({"results": results})

    @app.get("/v1/status", tags=["node"])
    async def status() -> dict[str, Any]:
        """Height, tip, consensus round, mempool and peers."""
        return node.status()

    @app.get("/healthz", tags=["node"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers, and has not stopped following the chain."""
        if node.halted:
            # A fatal failure (its store, its sign state) is stopping the process.
            raise ApiError(503, "node.halted", "the node has stopped following the chain")
        return {"status": "ok"}

    @app.get("/metrics", tags=["node"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(
            render_metrics(node.metrics_sample()), media_type="text/plain; version=0.0.4"
        )

    if node.test_admin:

        @app.post("/test/v1/faults", include_in_schema=False)
        async def set_faults(request: Request) -> dict[str, Any]:
            body = await read_body(request, 4096)
            try:
                value = json.loads(body)
                isolated = {str(p) for p in value["isolate"]}
            except (ValueError, KeyError, TypeError) as e:
                raise ApiError(400, "request.invalid", 'body is {"isolate": [peer names]}') from e
            node.faults.isolated = isolated
            return {"isolated": sorted(isolated)}

    return app
