"""The read side of the HTTP API: receipts, declarations, blocks, checkpoints, proofs.

Every route here except ``/v1/checkpoint`` and ``/v1/proofs/consistency``
takes a signed request (``X-DG-Key``, ``X-DG-Time``, ``X-DG-Node``, ``X-DG-Sig``; see
:mod:`node.auth`) from a member or validator key, and answers what that key's
organisation may read (:mod:`contracts.access`, applied by
:mod:`node.api.readers` at the snapshot that answers): a declaration, its
versions' receipts and its transactions only to the organisations that read
it, and to anyone else exactly as an id the chain does not hold; lists only
what the reader reads; whole blocks only to organisations running a node and
auditors (others: ``403 auth.not_entitled``). The header chain
(``headers=1``) is open to every member. ``GET /v1/readers`` tells a writer
whom an owner's declarations are sealed to, with their encryption keys: the
owner and the forwarders it delegated ask it.

Answers are JSON with bytes as hex (transaction wire bytes as base64), in
the shapes of :mod:`node.api.models`. ``GET /v1/blocks`` streams one record
per block: JSON lines (``application/x-ndjson``, the default) or a
MessagePack stream (``format=msgpack``, ``application/msgpack``): canonical
maps written one after another, each self-delimiting. With ``headers=1`` a
record is a header-chain item ``{header, certificate, validators}``
(``validators`` is null unless the set changes after that block; then it is
``{value, proof}``: the new set's canonical bytes with a state proof of key
``validators`` at the header's ``state_root``). Without it a record is the
whole block: ``{height, block, certificate}`` as stored bytes in MessagePack,
or the block's JSON form in JSON lines.

Bad parameters answer 400 with the code and the parameter's path, unknown
ids 404 with a code; never a 500 for bad input.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from contracts.access import Reader
from contracts.lifecycle import Status
from contracts.sealed import sealing_keys
from ledger.encoding import encode
from node.api.errors import ApiError, ProofRequestError
from node.api.models import (
    ERRORS,
    BlockModel,
    CheckpointModel,
    ConsistencyModel,
    DeclarationModel,
    DeclarationPageModel,
    ErrorResponse,
    ReadersModel,
    TransactionReceiptModel,
)
from node.api.prover import Prover
from node.api.query import Filters, list_declarations
from node.api.readers import (
    NodeRunners,
    check_blocks,
    check_declaration,
    check_transaction,
    check_writer,
    owner_of,
    reader_at,
)
from node.chain import ChainSnapshot
from node.service import NodeService

MAX_RANGE: Final = 10_000
STREAM_CHUNK: Final = 64
INT64: Final = 2**63 - 1
DECL_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
ORG: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"

router = APIRouter()


def _node(request: Request) -> NodeService:
    node: NodeService = request.app.state.node
    return node


@dataclass(frozen=True, slots=True)
class Asking:
    """A signed request's node and key, and the node keys that node knows."""

    node: NodeService
    key_id: str
    runners: NodeRunners

    def reader(self, chain: ChainSnapshot) -> Reader:
        """Who is asking, at ``chain``'s snapshot."""
        return reader_at(chain.view(), self.key_id, self.runners)


async def _signed(request: Request) -> Asking:
    caller = await request.app.state.authenticate(request)
    node = _node(request)
    return Asking(node, caller.key_id, NodeRunners.of(node))


async def check_entitled_to_blocks(asking: Asking) -> None:
    """Raise ``403 auth.not_entitled`` unless the asker may read whole blocks."""
    await asking.node.read(lambda chain: check_blocks(asking.reader(chain)))


# --------------------------------------------------------- transactions


@router.get(
    "/v1/transactions/{tx_id}",
    tags=["transactions"],
    response_model=TransactionReceiptModel,
    responses=ERRORS,
)
async def transaction_receipt(
    request: Request, tx_id: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
) -> dict[str, Any]:
    """Receipt of a committed transaction: wire, place, inclusion proof, result, header."""
    asking = await _signed(request)
    node = asking.node
    raw = bytes.fromhex(tx_id)

    def receipt(chain: ChainSnapshot) -> dict[str, Any]:
        check_transaction(chain.view(), asking.reader(chain), raw)
        return Prover(chain).transaction(raw)

    try:
        return await node.read(receipt)
    except ProofRequestError as e:
        # Pending: only one who saw the transaction knows its id (a hash of it).
        if raw in node.mempool:
            raise ApiError(404, "tx.pending", "the transaction is pending, not committed") from e
        raise


# --------------------------------------------------------- declarations


@router.get(
    "/v1/declarations/{decl_id}",
    tags=["declarations"],
    response_model=DeclarationModel,
    responses={
        **ERRORS,
        409: {
            "model": ErrorResponse,
            "description": "several organisations' declarations of that id may be read:"
            " the answer lists their owners; name one with ?owner=",
        },
    },
)
async def declaration(
    request: Request,
    decl_id: Annotated[str, Path(pattern=DECL_ID)],
    owner: Annotated[str | None, Query(pattern=ORG)] = None,
) -> dict[str, Any]:
    """Current record, history with signers and times, and the receipt proving both.

    ``owner`` names the organisation the declaration belongs to; without it,
    the caller's own, or the only one of that id the caller may read (409
    ``declaration.ambiguous`` lists them when there are several).
    """
    asking = await _signed(request)

    def document(chain: ChainSnapshot) -> dict[str, Any]:
        view = chain.view()
        reader = asking.reader(chain)
        whose = owner_of(chain.kv, view, reader, decl_id) if owner is None else owner
        check_declaration(view, reader, whose, decl_id)
        return Prover(chain).declaration(whose, decl_id)

    return await asking.node.read(document)


@router.get(
    "/v1/declarations",
    tags=["declarations"],
    response_model=DeclarationPageModel,
    responses=ERRORS,
)
async def declarations(
    request: Request,
    vessel: Annotated[str | None, Query(pattern=r"^[0-9]{7}$")] = None,
    voyage: Annotated[str | None, Query(min_length=1, max_length=50, pattern=r"^[^/]+$")] = None,
    container: Annotated[str | None, Query(pattern=r"^[A-Z]{3}[UJZ][0-9]{7}$")] = None,
    status: Status | None = None,
    organisation: Annotated[str | None, Query(pattern=ORG)] = None,
    after: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Declarations the key may read matching every filter given, with their status; paginated."""
    asking = await _signed(request)
    filters = Filters(
        vessel, voyage, container, None if status is None else status.value, organisation
    )
    return await asking.node.read(
        lambda chain: list_declarations(
            chain, filters, after=after, limit=limit, reader=asking.reader(chain)
        )
    )


@router.get(
    "/v1/readers",
    tags=["declarations"],
    response_model=ReadersModel,
    responses=ERRORS,
)
async def readers(
    request: Request, owner: Annotated[str | None, Query(pattern=ORG)] = None
) -> dict[str, Any]:
    """Whom a declaration of ``owner`` is to be sealed to now, each with the key to seal to.

    The organisations that may read ``owner``'s declarations and have an
    encryption key in force, each with the key last put in force (hex). For
    ``owner`` (default: the caller's own organisation) and the forwarders it
    delegated; anyone else: 403 ``auth.not_entitled``.
    """
    asking = await _signed(request)

    def answer(chain: ChainSnapshot) -> dict[str, Any]:
        view = chain.view()
        reader = asking.reader(chain)
        whose = reader.org if owner is None else owner
        check_writer(view, reader, whose)
        keys = sealing_keys(view, whose)
        return {
            "owner": whose,
            "height": chain.height,
            "readers": [{"organisation": o, "key": keys[o].hex()} for o in sorted(keys)],
        }

    return await asking.node.read(answer)


# --------------------------------------------------------------- blocks


@router.get(
    "/v1/blocks/{height}",
    tags=["blocks"],
    response_model=BlockModel,
    responses=ERRORS,
)
async def block(request: Request, height: Annotated[int, Path(ge=1, le=INT64)]) -> dict[str, Any]:
    """A committed block: header, transactions, carried and own certificates."""
    asking = await _signed(request)

    def block_json(chain: ChainSnapshot) -> dict[str, Any]:
        check_blocks(asking.reader(chain))
        return Prover(chain).block_json(height)

    return await asking.node.read(block_json)


_STREAM_DOC: Final = {
    200: {
        "description": "one record per block, JSON lines or a MessagePack stream",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **ERRORS,
}


@router.get(
    "/v1/blocks",
    tags=["blocks"],
    response_class=Response,
    responses=_STREAM_DOC,
)
async def blocks(
    request: Request,
    from_: Annotated[int, Query(alias="from", ge=1, le=INT64)] = 1,
    to: Annotated[int | None, Query(ge=1, le=INT64)] = None,
    headers: bool = False,
    format: Literal["jsonl", "msgpack"] = "jsonl",
) -> Response:
    """Blocks ``from``..``to`` (at most 10000, ``to`` capped at the tip), streamed.

    Whole blocks for node operators and auditors; the header chain (``headers=1``)
    for every member.
    """
    asking = await _signed(request)
    node = asking.node
    if not headers:
        await check_entitled_to_blocks(asking)
    tip = node.chain.height
    last = min(tip, from_ + MAX_RANGE - 1) if to is None else to
    if last < from_:
        raise ApiError(400, "request.invalid", "to must not be below from", "$.to")
    if last - from_ >= MAX_RANGE:
        raise ApiError(400, "request.invalid", f"at most {MAX_RANGE} blocks per request", "$.to")
    media = "application/msgpack" if format == "msgpack" else "application/x-ndjson"
    return StreamingResponse(
        _stream(node, from_, min(last, tip), headers, format), media_type=media
    )


async def _stream(
    node: NodeService, first: int, last: int, headers: bool, fmt: str
) -> AsyncIterator[bytes]:
    # Each chunk is read in a read thread from a snapshot of its own: committed
    # blocks never change, and no snapshot is held while the client reads.
    for start in range(first, last + 1, STREAM_CHUNK):
        end = min(last, start + STREAM_CHUNK - 1)
        yield await node.read(
            functools.partial(_chunk, first=start, last=end, headers=headers, fmt=fmt)
        )


def _chunk(chain: ChainSnapshot, *, first: int, last: int, headers: bool, fmt: str) -> bytes:
    prover = Prover(chain)
    return b"".join(_record(prover, height, headers, fmt) for height in range(first, last + 1))


def _record(prover: Prover, height: int, headers: bool, fmt: str) -> bytes:
    if headers:
        link = prover.header_link(height)
        if fmt == "msgpack":
            return encode(link.to_value())
        return _json_line(link.to_json())
    if fmt == "msgpack":
        block_bytes, cert_bytes = prover.block_records(height)
        return encode({"height": height, "block": block_bytes, "certificate": cert_bytes})
    return _json_line(prover.block_json(height))


def _json_line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"


# ------------------------------------------------------ checkpoint, proofs


@router.get(
    "/v1/checkpoint",
    tags=["proofs"],
    response_model=CheckpointModel,
    responses={429: ERRORS[429]},
)
async def checkpoint(request: Request) -> dict[str, Any]:
    """The latest header and its commit certificate; no signature needed."""
    return await _node(request).read(lambda chain: Prover(chain).checkpoint())


@router.get(
    "/v1/proofs/consistency",
    tags=["proofs"],
    response_model=ConsistencyModel,
    responses={400: ERRORS[400]},
)
async def consistency(
    request: Request,
    from_: Annotated[int, Query(alias="from", ge=0, le=INT64)],
    to: Annotated[int, Query(ge=0, le=INT64)],
) -> dict[str, Any]:
    """RFC 9162 consistency proof between two log sizes; no signature needed."""
    return await _node(request).read(lambda chain: Prover(chain).consistency(from_, to))
