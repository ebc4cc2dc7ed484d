"""Frames: the wire form of everything nodes say to each other on a peer connection.

A frame is a 4-byte big-endian length, then that many bytes (at most
:data:`MAX_FRAME`) of canonical MessagePack::

    {"kind": str, "body": any}

Kinds, their bodies, and which side of a connection sends them (the
dialler gossips and asks; the acceptor admits and answers)::

    hello       {}                                            acceptor: you are let in
    txs         [transaction wire bytes, ...]                 dialler (at most MAX_TXS_PER_FRAME)
    proposal    {"proposal": signed proposal, "block": bytes} dialler
    vote        a signed vote                                 dialler
    evidence    two conflicting signed messages               dialler
    status      {"height": int}                               dialler
    get_blocks  {"id": int, "from": int, "count": int}        dialler
    blocks      {"id": int, "blocks": [[block, cert], ...]}   acceptor, answering get_blocks

Messages carry no seal of their own. The connection is mutual TLS bound to
node keys (:mod:`node.p2p.tls`), so every frame on it is from the node that
holds the key it was admitted with; a transaction is signed by its author,
proposals and votes by their validators, and those signatures travel on
(consensus and certificates need them). A receiving node therefore checks
one signature per transaction, where a sealed message per transaction cost
two.

:func:`parse` raises :class:`PeerMessageError` with reason ``malformed``
(not canonical MessagePack, not ``{kind, body}``) or ``unknown_kind``; the
caller drops that frame, counts it, and reads on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ledger.encoding import decode, encode
from ledger.errors import LedgerError
from node.p2p.errors import PeerMessageError

HEADER: Final = 4
MAX_FRAME: Final = 64 * 1024 * 1024
"""Longest frame body: a proposal with a block of the largest size (32 MiB) fits with room."""
MAX_TXS_PER_FRAME: Final = 10_000
MAX_TXS_BYTES: Final = 8 * 1024 * 1024
"""Transactions' bytes a sender puts in one ``txs`` frame before starting the next."""
MAX_BLOCKS_PER_REQUEST: Final = 1000
GOSSIP: Final = frozenset({"txs", "proposal", "vote", "evidence", "status"})
"""Kinds handed to the node as they come."""
KINDS: Final = GOSSIP | {"hello", "get_blocks", "blocks"}


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """A message from a node admitted on a connection, named by its key id."""

    sender: str
    kind: str
    body: Any


@dataclass(frozen=True, slots=True)
class BlockRequest:
    """``get_blocks``: blocks ``start`` and after, at most ``count``."""

    id: int
    start: int
    count: int

    @classmethod
    def from_body(cls, body: Any) -> BlockRequest:
        """Validate a ``get_blocks`` body."""
        if type(body) is not dict or set(body) != {"id", "from", "count"}:
            raise PeerMessageError("get_blocks_invalid", "get_blocks is {id, from, count}")
        request = cls(body["id"], body["from"], body["count"])
        if not (
            type(request.id) is int
            and type(request.start) is int
            and type(request.count) is int
            and request.id >= 0
            and request.start >= 1
            and 1 <= request.count <= MAX_BLOCKS_PER_REQUEST
        ):
            raise PeerMessageError("get_blocks_invalid", "get_blocks wants id >= 0, from >= 1")
        return request

    def body(self) -> dict[str, int]:
        """The frame body."""
        return {"id": self.id, "from": self.start, "count": self.count}


def blocks_answer(body: Any) -> tuple[int, list[Any]]:
    """The request id and entries of a ``blocks`` body (entries are checked as they apply)."""
    if type(body) is not dict or set(body) != {"id", "blocks"}:
        raise PeerMessageError("blocks_invalid", "blocks is {id, blocks}")
    if type(body["id"]) is not int or type(body["blocks"]) is not list:
        raise PeerMessageError("blocks_invalid", "blocks is {id: int, blocks: list}")
    return body["id"], body["blocks"]


def frame(kind: str, body: Any) -> bytes:
    """One frame: length, then canonical ``{kind, body}``."""
    payload = encode({"kind": kind, "body": body})
    if len(payload) > MAX_FRAME:
        # Only this node's own bugs get here: every sender bounds what it puts in a frame.
        raise ValueError(f"a {kind} frame of {len(payload)} bytes is over {MAX_FRAME}")
    return len(payload).to_bytes(HEADER, "big") + payload


def txs_frames(wires: list[bytes]) -> list[bytes]:
    """Frames carrying ``wires`` in order, each within the count and size bounds."""
    frames = []
    chunk: list[bytes] = []
    size = 0
    for wire in wires:
        if chunk and (len(chunk) == MAX_TXS_PER_FRAME or size + len(wire) > MAX_TXS_BYTES):
            frames.append(frame("txs", chunk))
            chunk, size = [], 0
        chunk.append(wire)
        size += len(wire)
    if chunk:
        frames.append(frame("txs", chunk))
    return frames


def length(header: bytes) -> int:
    """The body length a frame header announces."""
    return int.from_bytes(header, "big")


def parse(payload: bytes) -> tuple[str, Any]:
    """The kind and body of a frame body."""
    try:
        value = decode(payload, max_size=MAX_FRAME)
    except LedgerError as e:
        raise PeerMessageError("malformed", f"frame: {e}") from e
    if type(value) is not dict or set(value) != {"kind", "body"}:
        raise PeerMessageError("malformed", "a frame is {kind, body}")
    kind = value["kind"]
    # A kind that is not a string (a list, a map) is not hashable: test the type first.
    if type(kind) is not str or kind not in KINDS:
        raise PeerMessageError("unknown_kind", f"unknown kind {kind!r:.40}")
    return kind, value["body"]
