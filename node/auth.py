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

Replays across a restart. The signatures seen are kept in memory, and a
crash forgets them; a request captured before a ``kill -9`` would be
fresh again after the restart, within its window. So the node keeps a
*mark* on disk (:mod:`node.request_mark`): before it accepts a request
signed after the mark, it raises the mark to the request's time plus
:data:`MARK_STEP_MS` and syncs it. Every request it ever accepted is
therefore signed at or before the mark on disk, and after a restart it
refuses every request signed at or before the mark it loaded
(``auth.signed_before_restart``, 401, with that mark as ``not_before``).
The client signs the request again with a time after ``not_before``
(:class:`node.client.Client` does so once by itself).

Why a mark and not the node's start time: a request's time is its
signer's clock, which may run up to ``max_skew`` ahead of the node's. A
request signed 20 s ahead just before a crash carries a time after a
restart 5 s later, so "refuse what was signed before I started" would let
it through; the mark is the largest time actually accepted, whatever the
clocks say. The cost: one synced append of 16 bytes when a request is
signed past the mark. Each write moves the mark :data:`MARK_STEP_MS` past
the request's time, and no time accepted is more than ``max_skew`` ahead of
the node's clock, so requests cause about one write a second over time,
whoever sends them and whatever times they sign (a burst of at most
``2 * max_skew / MARK_STEP_MS`` writes once). The mark is at most a step
past the node's clock plus ``max_skew``; so that a client told
``not_before`` can always sign just after it, a request signed within a
step after the loaded mark is not refused as too far ahead. Without a mark
file (a node built in memory, in tests) the memory of seen signatures is
all there is.
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
from node.request_mark import RequestMark

HEADER_KEY: Final = "x-dg-key"
HEADER_TIME: Final = "x-dg-time"
HEADER_SIG: Final = "x-dg-sig"
HEADER_NODE: Final = "x-dg-node"
DEFAULT_MAX_SKEW_MS: Final = 60_000
MARK_STEP_MS: Final = 1_000
"""How far past an accepted request's time the mark is raised: at most a write a second."""


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
        self,
        chain: str,
        verifier: Verifier,
        node: str,
        max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
        *,
        mark: RequestMark | None = None,
    ) -> None:
        self.chain = chain
        self.node = node
        self.verifier = verifier
        self.max_skew_ms = max_skew_ms
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()
        self.max_seen = 200_000
        self._mark_file = mark
        self.not_before = mark.load() if mark is not None else 0
        """Requests signed at or before this time were signed before the node (re)started."""
        self.mark = self.not_before
        """No request accepted was signed after this time (on disk, when there is a file)."""

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
        # Just after a restart the mark may be up to a step past the window (a clock
        # ahead raised it): requests signed just after it, as told, are let in.
        latest = max(now_ms + self.max_skew_ms, self.not_before + MARK_STEP_MS)
        if len(time_text) > 16 or now_ms - time_ms > self.max_skew_ms or time_ms > latest:
            raise AuthError("auth.stale", "request time is too far from the node's clock")
        if len(signature) != 64:
            raise AuthError("auth.malformed", "X-DG-Sig must be 64 bytes in hex")
        message = sign_bytes(
            Domain.REQUEST, self.chain, request_hash(method, path, time_ms, body, self.node)
        )
        if not self.verifier.verify_one(public.raw, message, signature):
            raise AuthError("auth.bad_signature", "request signature does not verify")
        if time_ms <= self.not_before:
            raise AuthError(
                "auth.signed_before_restart",
                f"this node restarted since requests signed at {self.not_before} ms or"
                " earlier: sign the request again with a later time",
                not_before=self.not_before,
            )
        with self._lock:
            if signature in self._seen:
                raise AuthError("auth.replayed", "this signed request was already used")
            if time_ms > self.mark:
                self._raise_mark(time_ms)
            self._seen[signature] = time_ms
            while self._seen:
                oldest_sig, oldest_time = next(iter(self._seen.items()))
                if now_ms - oldest_time > self.max_skew_ms or len(self._seen) > self.max_seen:
                    del self._seen[oldest_sig]
                else:
                    break
        return Caller(public)

    def _raise_mark(self, time_ms: int) -> None:
        """Make the mark cover ``time_ms`` before the request is accepted (on disk first)."""
        # A step past the request's time: the requests signed within the step after
        # it need no write, and no sender can make the node write more than a step's
        # worth of its clock at a time.
        mark = time_ms + MARK_STEP_MS
        if self._mark_file is not None:
            try:
                self._mark_file.save(mark)
            except OSError as e:
                raise AuthError(
                    "auth.unavailable",
                    f"the node cannot record signed requests: {e.strerror}",
                    status=503,
                ) from e
        self.mark = mark
