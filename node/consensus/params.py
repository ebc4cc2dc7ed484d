"""Consensus parameters: round timeouts and the bounds on what a peer can make us keep.

All durations are integer milliseconds. Round timeouts grow linearly with
the round (``base + round * delta``), so once the network is synchronous
some round is long enough for every correct validator to hear every other
(the paper's liveness argument needs timeouts that eventually exceed the
message delay, whatever it is).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Final

from node.consensus.errors import InvalidConsensusConfig

MAX_TIMEOUT_MS: Final = 24 * 3600 * 1000


class TimeoutKind(StrEnum):
    """What a scheduled timeout is for."""

    PROPOSE = "propose"
    PREVOTE = "prevote"
    PRECOMMIT = "precommit"
    COMMIT = "commit"
    REBROADCAST = "rebroadcast"


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Round timeouts (base plus a per-round increment), the commit pause and gossip period."""

    propose: int = 3000
    propose_delta: int = 500
    prevote: int = 1000
    prevote_delta: int = 500
    precommit: int = 1000
    precommit_delta: int = 500
    commit: int = 1000
    rebroadcast: int = 2000
    """How often our own latest messages are sent again (lost messages are resent)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or not 0 <= value <= MAX_TIMEOUT_MS:
                raise InvalidConsensusConfig(
                    f"timeout {f.name} must be an integer number of ms in [0, {MAX_TIMEOUT_MS}]"
                )
        for name in ("propose", "prevote", "precommit", "rebroadcast"):
            if getattr(self, name) == 0:
                raise InvalidConsensusConfig(f"timeout {name} must be positive")

    def duration(self, kind: TimeoutKind, round_: int) -> int:
        """How long to wait for ``kind`` in ``round_`` (ms)."""
        if kind is TimeoutKind.PROPOSE:
            return self.propose + round_ * self.propose_delta
        if kind is TimeoutKind.PREVOTE:
            return self.prevote + round_ * self.prevote_delta
        if kind is TimeoutKind.PRECOMMIT:
            return self.precommit + round_ * self.precommit_delta
        if kind is TimeoutKind.COMMIT:
            return self.commit
        return self.rebroadcast


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on buffered messages, so a hostile peer cannot grow our memory.

    Messages of the current height are kept for every round up to the
    current one (their number is bounded by the rounds correct validators
    actually ran) and for at most ``rounds_ahead`` rounds beyond it; for
    rounds further ahead only each validator's highest round is remembered.
    Messages for the next height cannot be verified yet (its validator set
    is not known), so at most ``next_height_per_sender`` of them per claimed
    sender and ``next_height_total`` in all are held, of which at most
    ``next_height_blocks`` carry a block.
    """

    rounds_ahead: int = 10
    proposals_per_round: int = 2
    unmatched_blocks: int = 4
    next_height_per_sender: int = 24
    next_height_total: int = 2048
    next_height_blocks: int = 4

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if type(value) is not int or not 1 <= value <= 1_000_000:
                raise InvalidConsensusConfig(f"limit {f.name} must be an integer in [1, 1000000]")
