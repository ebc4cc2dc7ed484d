"""Evidence of double signing: two signed messages one validator must never both sign.

* duplicate vote: two votes of one validator for the same height, round
  and type, for different block hashes (nil counts as a value);
* conflicting proposal: two proposals of one proposer for the same height
  and round that differ in what they propose (block hash or valid round).

Either pair, verified against the validator set of its height, proves the
offender's key signed both, whatever the network did. The pair is kept in
canonical order (by the encoding of the messages) so the same offence
always gives the same evidence bytes and hash, whichever message a node
happened to receive first; nodes gossip it and commit it on chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ledger.crypto import Verifier
from ledger.encoding import decode, digest, encode
from ledger.errors import InvalidEvidence, LedgerError
from ledger.schema import as_map
from ledger.validators import ValidatorSet
from ledger.votes import Proposal, Vote

MAX_EVIDENCE_SIZE: Final = 4096


class EvidenceKind(StrEnum):
    """What the offender signed twice."""

    DUPLICATE_VOTE = "duplicate_vote"
    CONFLICTING_PROPOSAL = "conflicting_proposal"


def _message_bytes(message: Vote | Proposal) -> bytes:
    return encode(message.to_value())


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two conflicting signed messages of one validator; build with :meth:`of`."""

    kind: EvidenceKind
    first: Vote | Proposal
    second: Vote | Proposal

    def __post_init__(self) -> None:
        a, b = self.first, self.second
        if self.kind is EvidenceKind.DUPLICATE_VOTE:
            if not (isinstance(a, Vote) and isinstance(b, Vote)):
                raise InvalidEvidence("duplicate-vote evidence holds two votes")
            if (a.type, a.height, a.round, a.validator) != (b.type, b.height, b.round, b.validator):
                raise InvalidEvidence("votes are not of one validator, height, round and type")
            if a.block_hash == b.block_hash:
                raise InvalidEvidence("votes are for the same value: no conflict")
        elif self.kind is EvidenceKind.CONFLICTING_PROPOSAL:
            if not (isinstance(a, Proposal) and isinstance(b, Proposal)):
                raise InvalidEvidence("conflicting-proposal evidence holds two proposals")
            if (a.height, a.round, a.proposer) != (b.height, b.round, b.proposer):
                raise InvalidEvidence("proposals are not of one proposer, height and round")
            if a.signed_value() == b.signed_value():
                raise InvalidEvidence("proposals propose the same: no conflict")
        else:
            raise InvalidEvidence(f"unknown evidence kind {self.kind!r}")
        if not _message_bytes(a) < _message_bytes(b):
            raise InvalidEvidence("evidence messages must be in canonical order")

    @classmethod
    def of(cls, a: Vote | Proposal, b: Vote | Proposal) -> Evidence:
        """Evidence from two conflicting messages, in either order."""
        kind = (
            EvidenceKind.DUPLICATE_VOTE
            if isinstance(a, Vote)
            else EvidenceKind.CONFLICTING_PROPOSAL
        )
        if _message_bytes(b) < _message_bytes(a):
            a, b = b, a
        return cls(kind, a, b)

    @property
    def offender(self) -> str:
        """Key id of the validator that signed both messages."""
        first = self.first
        return first.validator if isinstance(first, Vote) else first.proposer

    @property
    def height(self) -> int:
        """Height of the offence."""
        return self.first.height

    @property
    def round(self) -> int:
        """Round of the offence."""
        return self.first.round

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "kind": self.kind.value,
            "first": self.first.to_value(),
            "second": self.second.to_value(),
        }

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_value())

    @property
    def hash(self) -> bytes:
        """SHA-256 of the canonical encoding: one offence, one hash."""
        return digest(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> Evidence:
        """Validate and build from a decoded map (signatures are checked by :meth:`verify`)."""
        try:
            m = as_map(value, "evidence", frozenset({"kind", "first", "second"}))
            kind = m["kind"]
            if kind == EvidenceKind.DUPLICATE_VOTE.value:
                return cls(
                    EvidenceKind.DUPLICATE_VOTE,
                    Vote.from_value(m["first"]),
                    Vote.from_value(m["second"]),
                )
            if kind == EvidenceKind.CONFLICTING_PROPOSAL.value:
                return cls(
                    EvidenceKind.CONFLICTING_PROPOSAL,
                    Proposal.from_value(m["first"]),
                    Proposal.from_value(m["second"]),
                )
        except LedgerError as e:
            raise InvalidEvidence(f"malformed evidence: {e}") from e
        raise InvalidEvidence(f"unknown evidence kind {kind!r}")

    @classmethod
    def decode(cls, data: bytes) -> Evidence:
        """Decode canonical bytes and validate the shape."""
        try:
            value = decode(data, max_size=MAX_EVIDENCE_SIZE)
        except LedgerError as e:
            raise InvalidEvidence(f"malformed evidence: {e}") from e
        return cls.from_value(value)

    def verify(self, chain: str, validators: ValidatorSet, verifier: Verifier) -> None:
        """Raise :class:`InvalidEvidence` unless both messages are validly signed by the offender.

        ``validators`` must be the set in force at the evidence's height; a
        proposal must also come from the proposer that set names for its round.
        """
        for message in (self.first, self.second):
            try:
                message.verify(chain, validators, verifier)
            except LedgerError as e:
                raise InvalidEvidence(f"evidence message does not verify: {e}") from e
