"""Errors of the consensus package: one root, a small tree, stable codes.

::

    ConsensusError
    ├── InvalidConsensusConfig   timeouts or limits out of range
    ├── DoubleSignRefused        the sign state will not sign a conflicting message
    └── SignStateError           the sign-state file cannot be read or belongs elsewhere

Evidence itself lives in the ledger core (``ledger.evidence``, raising
``ledger.errors.InvalidEvidence``, re-exported here) because the contracts
verify it on chain.

The state machine itself raises none of these for anything a peer sends:
bad messages are counted by reason and dropped. They come from building
configuration, decoding evidence, and the privileged-validator file.
"""

from __future__ import annotations

from ledger.errors import InvalidEvidence
from node.consensus.signed import SignedRecord


class ConsensusError(Exception):
    """Root of every error the consensus package raises."""

    code = "consensus_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidConsensusConfig(ConsensusError):
    """Timeouts or limits outside their allowed range."""

    code = "invalid_consensus_config"


class DoubleSignRefused(ConsensusError):
    """A request to sign something conflicting with what was already signed.

    ``prior`` is the last signed record: when it is at the very same
    (height, round, step), the caller may re-send that message instead.
    """

    code = "double_sign_refused"

    def __init__(self, message: str, *, prior: SignedRecord) -> None:
        super().__init__(message)
        self.prior = prior


class SignStateError(ConsensusError):
    """The sign-state file is unreadable, corrupt, or for another chain."""

    code = "sign_state_error"


__all__ = [
    "ConsensusError",
    "DoubleSignRefused",
    "InvalidConsensusConfig",
    "InvalidEvidence",
    "SignStateError",
]
