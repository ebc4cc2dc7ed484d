"""Messages between nodes: signed by the sending node, dropped unless from a known node.

Wire form of one message (canonical MessagePack)::

    {"msg": <bytes: canonical {"from": key id, "kind": str, "body": any}>,
     "key": <32-byte public key of the sender>,
     "sig": <64 bytes over sign_bytes(PEER, chain, SHA-256(msg))>}

A batch, as POSTed to ``/peer/v1/messages``, is a canonical list of such
messages. Kinds: ``proposal`` (a signed proposal and its block), ``vote``,
``txs`` (a batch of transactions' wire bytes), ``evidence``, ``status``
(height, for sync). Consensus contents are signed again by their own
authors; the peer signature says which node relayed them, so traffic from
outside the membership is dropped before anything is decoded further.

A node only ever sends its own sealed messages, so a batch has one sender:
its membership is looked up once, messages sealed by any other key are
dropped (``mixed_senders``), and signatures are checked in chunks that stop
at the first chunk with a bad one (the rest is dropped unverified). A hostile
batch of 10,000 messages therefore costs one membership lookup and at most
one chunk of signature checks, not 10,000 of each.

:func:`open_batch` raises only :class:`PeerMessageError` (reason
``malformed``: the batch itself is not a canonical list of at most
``MAX_BATCH_ITEMS`` messages); single messages are dropped and counted by
reason: ``malformed``, ``unknown_sender``, ``unknown_kind``,
``bad_signature``, ``mixed_senders``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ledger.crypto import Domain, PublicKey, SigningKey, Verifier, sign_bytes
from ledger.encoding import decode, encode, sha256
from ledger.errors import LedgerError
from node.p2p.errors import PeerMessageError

MAX_MESSAGE: Final = 40 * 1024 * 1024
MAX_BATCH: Final = 64 * 1024 * 1024
MAX_BATCH_ITEMS: Final = 10_000
VERIFY_CHUNK: Final = 256
KINDS: Final = frozenset({"proposal", "vote", "txs", "evidence", "status"})


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """An authenticated message from a known node."""

    sender: str
    kind: str
    body: Any


def seal(key: SigningKey, chain: str, kind: str, body: Any) -> bytes:
    """Encode and sign one message as ``key``."""
    msg = encode({"from": key.public.key_id, "kind": kind, "body": body})
    sig = key.sign(Domain.PEER, chain, sha256(msg))
    return encode({"msg": msg, "key": key.public.raw, "sig": sig})


def seal_batch(items: list[bytes]) -> bytes:
    """A batch of sealed messages."""
    return encode(items)


def open_batch(
    data: bytes,
    chain: str,
    verifier: Verifier,
    is_known: Callable[[str], bool],
) -> tuple[list[PeerMessage], dict[str, int]]:
    """Authenticate every message of a batch; return the good ones and drop counts by reason."""
    dropped: dict[str, int] = {}
    try:
        items = decode(data, max_size=MAX_BATCH, max_depth=4)
    except LedgerError as e:
        raise PeerMessageError("malformed", f"batch: {e}") from e
    if type(items) is not list or len(items) > MAX_BATCH_ITEMS:
        raise PeerMessageError("malformed", "batch must be a list of messages")
    sender: list[tuple[str, bool]] = []

    def known(key_id: str) -> bool:
        if not sender:
            sender.append((key_id, is_known(key_id)))
        if sender[0][0] != key_id:
            raise PeerMessageError("mixed_senders", "a batch carries one node's messages")
        return sender[0][1]

    checks: list[tuple[bytes, bytes, bytes]] = []
    decoded: list[PeerMessage] = []
    for item in items:
        try:
            message, check = _unwrap(item, chain, known)
        except PeerMessageError as e:
            dropped[e.reason] = dropped.get(e.reason, 0) + 1
            continue
        checks.append(check)
        decoded.append(message)
    good: list[PeerMessage] = []
    for start in range(0, len(checks), VERIFY_CHUNK):
        verdicts = verifier.verify_many(checks[start : start + VERIFY_CHUNK])
        chunk = decoded[start : start + VERIFY_CHUNK]
        good.extend(m for m, ok in zip(chunk, verdicts, strict=True) if ok)
        bad = verdicts.count(False)
        if bad:
            # A forged message from this sender: the rest of its batch is not worth checking.
            bad += max(0, len(checks) - start - VERIFY_CHUNK)
            dropped["bad_signature"] = dropped.get("bad_signature", 0) + bad
            break
    return good, dropped


def _unwrap(
    item: Any, chain: str, is_known: Callable[[str], bool]
) -> tuple[PeerMessage, tuple[bytes, bytes, bytes]]:
    if type(item) is not bytes or len(item) > MAX_MESSAGE:
        raise PeerMessageError("malformed", "message must be bytes")
    try:
        outer = decode(item, max_size=MAX_MESSAGE, max_depth=4)
        if type(outer) is not dict or set(outer) != {"msg", "key", "sig"}:
            raise PeerMessageError("malformed", "message is {msg, key, sig}")
        key = PublicKey(outer["key"]) if type(outer["key"]) is bytes else None
        sig = outer["sig"]
        msg = outer["msg"]
        if key is None or type(sig) is not bytes or len(sig) != 64 or type(msg) is not bytes:
            raise PeerMessageError("malformed", "bad key, signature or payload")
        if not is_known(key.key_id):
            raise PeerMessageError("unknown_sender", "sender is not a node of this network")
        inner = decode(msg, max_size=MAX_MESSAGE)
    except LedgerError as e:
        raise PeerMessageError("malformed", str(e)) from e
    if type(inner) is not dict or set(inner) != {"from", "kind", "body"}:
        raise PeerMessageError("malformed", "payload is {from, kind, body}")
    if inner["from"] != key.key_id:
        raise PeerMessageError("malformed", "sender does not match the key")
    # A kind that is not a string (a list, a map) is not hashable: test the type first.
    if type(inner["kind"]) is not str or inner["kind"] not in KINDS:
        raise PeerMessageError("unknown_kind", f"unknown kind {inner['kind']!r:.40}")
    check = (key.raw, sign_bytes(Domain.PEER, chain, sha256(msg)), sig)
    return PeerMessage(key.key_id, inner["kind"], inner["body"]), check
