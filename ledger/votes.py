"""Signed consensus messages and the commit certificate built from them.

A vote says "validator V, at (height, round), prevotes/precommits block hash
B (or nil)". What a validator signs is ``sign_bytes(VOTE, chain, SHA-256(
canonical vote without signature))``; proposals likewise under the
``PROPOSAL`` domain, so a signature can never be replayed on another chain or
as another kind of message.

A commit certificate is the set of precommit signatures for one block hash
at one (height, round) from validators holding more than two thirds of the
voting power. Anyone holding the validator set in force verifies it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ledger.crypto import Domain, SigningKey, Verifier, sign_bytes
from ledger.encoding import decode, digest, encode
from ledger.errors import CertificateError, SchemaError, SignatureError
from ledger.schema import as_map, get_bytes, get_hash, get_int, get_list, get_str
from ledger.validators import MAX_VALIDATORS, ValidatorSet

MAX_ROUND: Final = 1 << 20
MAX_MESSAGE_SIZE: Final = 64 * 1024


class VoteType(StrEnum):
    """The two voting steps of a round."""

    PREVOTE = "prevote"
    PRECOMMIT = "precommit"


@dataclass(frozen=True, slots=True)
class Vote:
    """A signed prevote or precommit; ``block_hash`` is ``None`` for nil."""

    type: VoteType
    height: int
    round: int
    block_hash: bytes | None
    validator: str
    signature: bytes

    def signed_value(self) -> dict[str, Any]:
        """The map whose hash the signature covers."""
        return vote_value(self.type, self.height, self.round, self.block_hash, self.validator)

    def message(self, chain: str) -> bytes:
        """The exact bytes the signature covers on ``chain``."""
        return sign_bytes(Domain.VOTE, chain, digest(self.signed_value()))

    @classmethod
    def sign(
        cls,
        key: SigningKey,
        chain: str,
        type_: VoteType,
        height: int,
        round_: int,
        block_hash: bytes | None,
    ) -> Vote:
        """A vote signed with ``key``."""
        kid = key.public.key_id
        h = digest(vote_value(type_, height, round_, block_hash, kid))
        return cls(type_, height, round_, block_hash, kid, key.sign(Domain.VOTE, chain, h))

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding, signature included."""
        return {**self.signed_value(), "sig": self.signature}

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> Vote:
        """Validate and build from a decoded map."""
        m = as_map(
            value, "vote", frozenset({"type", "height", "round", "block", "validator", "sig"})
        )
        kind = m["type"]
        if kind not in ("prevote", "precommit"):
            raise SchemaError("must be prevote or precommit", field="type")
        block = m["block"]
        if block is not None:
            block = get_hash(m, "block")
        return cls(
            VoteType(kind),
            get_int(m, "height", lo=1),
            get_int(m, "round", hi=MAX_ROUND),
            block,
            get_str(m, "validator", min_len=40, max_len=40),
            get_bytes(m, "sig", size=64),
        )

    @classmethod
    def decode(cls, data: bytes) -> Vote:
        """Decode and validate (the signature is checked against a validator set)."""
        return cls.from_value(decode(data, max_size=MAX_MESSAGE_SIZE))

    def verify(self, chain: str, validators: ValidatorSet, verifier: Verifier) -> None:
        """Raise unless signed by a member of ``validators``."""
        member = validators.get(self.validator)
        if member is None:
            raise SignatureError("voter is not in the validator set", field="validator")
        if not verifier.verify_one(member.public.raw, self.message(chain), self.signature):
            raise SignatureError("vote signature does not verify", field="sig")


def vote_value(
    type_: VoteType, height: int, round_: int, block_hash: bytes | None, validator: str
) -> dict[str, Any]:
    """The signed content of a vote."""
    return {
        "type": type_.value,
        "height": height,
        "round": round_,
        "block": block_hash,
        "validator": validator,
    }


@dataclass(frozen=True, slots=True)
class Proposal:
    """A signed proposal of a block hash at (height, round), with its valid round."""

    height: int
    round: int
    block_hash: bytes
    pol_round: int
    proposer: str
    signature: bytes

    def signed_value(self) -> dict[str, Any]:
        """The map whose hash the signature covers."""
        return {
            "height": self.height,
            "round": self.round,
            "block": self.block_hash,
            "pol_round": self.pol_round,
            "proposer": self.proposer,
        }

    def message(self, chain: str) -> bytes:
        """The exact bytes the signature covers on ``chain``."""
        return sign_bytes(Domain.PROPOSAL, chain, digest(self.signed_value()))

    @classmethod
    def sign(
        cls,
        key: SigningKey,
        chain: str,
        height: int,
        round_: int,
        block_hash: bytes,
        pol_round: int,
    ) -> Proposal:
        """A proposal signed with ``key``."""
        unsigned = cls(height, round_, block_hash, pol_round, key.public.key_id, b"")
        sig = key.sign(Domain.PROPOSAL, chain, digest(unsigned.signed_value()))
        return cls(height, round_, block_hash, pol_round, key.public.key_id, sig)

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding, signature included."""
        return {**self.signed_value(), "sig": self.signature}

    @classmethod
    def from_value(cls, value: Any) -> Proposal:
        """Validate and build from a decoded map."""
        keys = frozenset({"height", "round", "block", "pol_round", "proposer", "sig"})
        m = as_map(value, "proposal", keys)
        pol = m["pol_round"]
        if type(pol) is not int or not -1 <= pol < MAX_ROUND:
            raise SchemaError("must be -1 or a round", field="pol_round")
        round_ = get_int(m, "round", hi=MAX_ROUND)
        if pol >= round_:
            raise SchemaError("must be below the proposal's round", field="pol_round")
        return cls(
            get_int(m, "height", lo=1),
            round_,
            get_hash(m, "block"),
            pol,
            get_str(m, "proposer", min_len=40, max_len=40),
            get_bytes(m, "sig", size=64),
        )

    def verify(self, chain: str, validators: ValidatorSet, verifier: Verifier) -> None:
        """Raise unless signed by the validator the set names as proposer of its round."""
        expected = validators.proposer(self.height, self.round)
        if self.proposer != expected.key_id:
            raise SignatureError("not the proposer of this round", field="proposer")
        if not verifier.verify_one(expected.public.raw, self.message(chain), self.signature):
            raise SignatureError("proposal signature does not verify", field="sig")


@dataclass(frozen=True, slots=True)
class Certificate:
    """Precommits of more than two thirds of the power for one block hash."""

    height: int
    round: int
    block_hash: bytes
    signatures: tuple[tuple[str, bytes], ...]
    """(validator key id, signature) pairs sorted by key id."""

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> Certificate:
        """Assemble from precommits for one (height, round, block hash)."""
        if not votes:
            raise CertificateError("no votes")
        first = votes[0]
        if first.block_hash is None:
            raise CertificateError("a certificate cannot be for nil")
        for v in votes:
            if (v.type, v.height, v.round, v.block_hash) != (
                VoteType.PRECOMMIT,
                first.height,
                first.round,
                first.block_hash,
            ):
                raise CertificateError("votes are not precommits for one block at one round")
        sigs = {v.validator: v.signature for v in votes}
        return cls(first.height, first.round, first.block_hash, tuple(sorted(sigs.items())))

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "height": self.height,
            "round": self.round,
            "block": self.block_hash,
            "sigs": [[k, s] for k, s in self.signatures],
        }

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> Certificate:
        """Validate and build from a decoded map."""
        m = as_map(value, "certificate", frozenset({"height", "round", "block", "sigs"}))
        sigs = []
        for i, item in enumerate(get_list(m, "sigs", max_len=MAX_VALIDATORS)):
            if (
                type(item) is not list
                or len(item) != 2
                or type(item[0]) is not str
                or len(item[0]) != 40
                or type(item[1]) is not bytes
                or len(item[1]) != 64
            ):
                raise SchemaError("must be [key id, 64-byte signature]", field=f"sigs[{i}]")
            sigs.append((item[0], item[1]))
        ids = [k for k, _ in sigs]
        if any(a >= b for a, b in itertools.pairwise(ids)):
            raise SchemaError("signatures must be sorted by key id, none twice", field="sigs")
        return cls(
            get_int(m, "height", lo=1),
            get_int(m, "round", hi=MAX_ROUND),
            get_hash(m, "block"),
            tuple(sigs),
        )

    @classmethod
    def decode(cls, data: bytes, *, max_size: int = 1 << 20) -> Certificate:
        """Decode and validate the shape (use :meth:`verify` for the signatures)."""
        return cls.from_value(decode(data, max_size=max_size))

    def verify(
        self,
        chain: str,
        validators: ValidatorSet,
        verifier: Verifier,
        *,
        height: int,
        block_hash: bytes,
    ) -> None:
        """Raise :class:`CertificateError` unless this proves ``block_hash`` final at ``height``."""
        if self.height != height:
            raise CertificateError(f"certificate is for height {self.height}, not {height}")
        if self.block_hash != block_hash:
            raise CertificateError("certificate is for another block hash")
        items = []
        power = 0
        for key_id, sig in self.signatures:
            member = validators.get(key_id)
            if member is None:
                raise CertificateError(f"signer {key_id} is not in the validator set")
            power += member.power
            h = digest(vote_value(VoteType.PRECOMMIT, height, self.round, block_hash, key_id))
            items.append((member.public.raw, sign_bytes(Domain.VOTE, chain, h), sig))
        if not validators.has_quorum(power):
            raise CertificateError(
                f"signers hold {power} of {validators.total_power} voting power,"
                " not more than two thirds"
            )
        for (key_id, _), ok in zip(self.signatures, verifier.verify_many(items), strict=True):
            if not ok:
                raise CertificateError(f"precommit signature of {key_id} does not verify")
