"""Signed requests: how members and peers prove who is asking.

A signed request carries four headers::

    X-DG-Key:   hex public key (32 bytes)
    X-DG-Time:  milliseconds since the Unix epoch, when it was signed
    X-DG-Node:  the name of the node it is meant for (as its /v1/status says)
    X-DG-Sig:   hex Ed25519 signature

The signature covers ``sign_bytes(REQUEST, chain, SHA-256(canonical
[method, path with query, time, SHA-256(body), node]))``. A node refuses a
request meant for another node (so a request seen on its way to one node
cannot be replayed to another), whose time is more than ``max_skew`` away
from its clock, or whose signature it has already seen within that window
(replay), or whose key is not an active member key or validator key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from ledger.crypto import Domain, PublicKey, SigningKey, Verifier, sign_bytes
from ledger.encoding import digest, sha256
from ledger.errors import LedgerError
from node.errors import AuthError

HEADER_KEY: Final = "x-dg-key"
HEADER_TIME: Final = "x-dg-time"
HEADER_SIG: Final = "x-dg-sig"
HEADER_NODE: Final = "x-dg-node"
DEFAULT_MAX_SKEW_MS: Final = 60_000


def request_hash(method: str, path: str, time_ms: int, body: bytes, node: str) -> bytes:
    """The hash a request signature covers (before domain separation)."""
    return digest([method.upper(), path, time_ms, sha256(body), node])


def sign_request(
    key: SigningKey, chain: str, method: str, path: str, body: bytes, time_ms: int, *, node: str
) -> dict[str, str]:
    """Headers that authenticate a request to the node named ``node``."""
    h = request_hash(method, path, time_ms, body, node)
    return {
        HEADER_KEY: key.public.raw.hex(),
        HEADER_TIME: str(time_ms),
        HEADER_NODE: node,
        HEADER_SIG: key.sign(Domain.REQUEST, chain, h).hex(),
    }


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated key behind a request."""

    public: PublicKey

    @property
    def key_id(self) -> str:
        """Key id of the caller."""
        return self.public.key_id


class RequestVerifier:
    """Checks signed requests: signature, freshness, and no replay within the window."""

    def __init__(
        self, chain: str, verifier: Verifier, node: str, max_skew_ms: int = DEFAULT_MAX_SKEW_MS
    ) -> None:
        self.chain = chain
        self.node = node
        self.verifier = verifier
        self.max_skew_ms = max_skew_ms
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()
        self.max_seen = 200_000

    def check(
        self,
        headers: dict[str, str],
        method: str,
        path: str,
        body: bytes,
        now_ms: int,
    ) -> Caller:
        """Return the caller or raise :class:`AuthError`."""
        key_hex = headers.get(HEADER_KEY)
        time_text = headers.get(HEADER_TIME)
        sig_hex = headers.get(HEADER_SIG)
        node = headers.get(HEADER_NODE)
        if not key_hex or not time_text or not sig_hex or not node:
            raise AuthError(
                "auth.missing",
                "signed request headers X-DG-Key, X-DG-Time, X-DG-Node, X-DG-Sig needed",
            )
        if node != self.node:
            raise AuthError(
                "auth.wrong_node",
                f"the request was signed for node {node[:64]!r}; this is {self.node!r}",
            )
        try:
            public = PublicKey(bytes.fromhex(key_hex))
            signature = bytes.fromhex(sig_hex)
            time_ms = int(time_text)
        except (ValueError, LedgerError) as e:
            raise AuthError("auth.malformed", f"malformed signed request headers: {e}") from e
        if len(time_text) > 16 or abs(now_ms - time_ms) > self.max_skew_ms:
            raise AuthError("auth.stale", "request time is too far from the node's clock")
        if len(signature) != 64:
            raise AuthError("auth.malformed", "X-DG-Sig must be 64 bytes in hex")
        message = sign_bytes(
            Domain.REQUEST, self.chain, request_hash(method, path, time_ms, body, self.node)
        )
        if not self.verifier.verify_one(public.raw, message, signature):
            raise AuthError("auth.bad_signature", "request signature does not verify")
        with self._lock:
            if signature in self._seen:
                raise AuthError("auth.replayed", "this signed request was already used")
            self._seen[signature] = time_ms
            while self._seen:
                oldest_sig, oldest_time = next(iter(self._seen.items()))
                if now_ms - oldest_time > self.max_skew_ms or len(self._seen) > self.max_seen:
                    del self._seen[oldest_sig]
                else:
                    break
        return Caller(public)
