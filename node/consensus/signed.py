"""What a validator signed: the steps of a round, and one signed message as a record.

:class:`SignedRecord` is what the sign state remembers and saves (see
:mod:`node.consensus.privval`), and what a refusal to sign again carries
(:class:`node.consensus.errors.DoubleSignRefused`), so both import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from ledger.encoding import decode
from ledger.votes import Proposal, Vote, VoteType


class Step(IntEnum):
    """The steps of a round, in the order a validator goes through them."""

    PROPOSE = 1
    PREVOTE = 2
    PRECOMMIT = 3


VOTE_STEP: Final = {VoteType.PREVOTE: Step.PREVOTE, VoteType.PRECOMMIT: Step.PRECOMMIT}


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """One message we signed: where, and the exact signed content."""

    height: int
    round: int
    step: Step
    payload: bytes
    """Canonical encoding of the signed value (the vote or proposal without its signature)."""
    signature: bytes

    @property
    def position(self) -> tuple[int, int, int]:
        """(height, round, step) for ordering."""
        return (self.height, self.round, int(self.step))

    def message(self) -> Vote | Proposal:
        """The signed vote or proposal this record holds."""
        value = {**decode(self.payload), "sig": self.signature}
        if self.step is Step.PROPOSE:
            return Proposal.from_value(value)
        return Vote.from_value(value)
