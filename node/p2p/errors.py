"""Errors of the peer layer: one root, a small tree, stable codes.

::

    PeerError(message)            root; ``code`` is stable
    └── PeerMessageError          peer.<reason>: a batch of peer messages that is
                                  malformed, too large, unsigned, or from outside
                                  the membership (``reason`` is the metrics label)

A single bad message inside a good batch is not an error: it is dropped and
counted by reason. Blocks a peer sends during sync that do not verify raise
the ledger's own errors (``ledger.errors.LedgerError``) and are counted too.
"""

from __future__ import annotations


class PeerError(Exception):
    """Root of every error the peer layer raises."""

    code = "peer.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PeerMessageError(PeerError):
    """A peer message batch that is malformed, unsigned or from outside the membership."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.code = f"peer.{reason}"
