"""Errors of the peer layer: one root, a small tree, stable codes.

::

    PeerError(message)            root; ``code`` is stable
    ├── PeerMessageError          peer.<reason>: a frame that is malformed, over the size
    │                             limit, or of an unknown kind (``reason`` is the metrics
    │                             label)
    ├── PeerRefused               peer.<reason>: a connection refused before any frame
    │                             (unknown_certificate, tls_failed, not_a_node)
    └── PeerUnavailable           peer.unavailable: no connection to that peer, or no
                                  answer from it in time

A frame that is not a message is not fatal to its connection: it is dropped
and counted by reason, and the next frame is read. Only a frame over the
size limit closes the connection (what follows it cannot be framed). Blocks
a peer sends during sync that do not verify raise the ledger's own errors
(``ledger.errors.LedgerError``) and are counted too.
"""

from __future__ import annotations


class PeerError(Exception):
    """Root of every error the peer layer raises."""

    code = "peer.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PeerMessageError(PeerError):
    """A frame that is malformed, too large or of an unknown kind."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = f"peer.{reason}"


class PeerRefused(PeerError):
    """A connection refused at or right after the TLS handshake."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = f"peer.{reason}"


class PeerUnavailable(PeerError):
    """No connection to the peer, or no answer in time."""

    code = "peer.unavailable"
