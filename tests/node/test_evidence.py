"""Evidence of double signing: canonical form, encoding, and verification."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.crypto import SigningKey
from ledger.encoding import encode, sha256
from ledger.errors import InvalidEvidence
from ledger.evidence import Evidence, EvidenceKind
from ledger.votes import Proposal, Vote
from tests.node.consensus_helpers import (
    KEYS,
    PRECOMMIT,
    PREVOTE,
    VERIFIER,
    VSET,
    make_block,
    proposal,
    proposer_index,
    vote,
    with_time,
)
from tests.node.sim_app import CHAIN

BLOCK = make_block(1)
OTHER = with_time(BLOCK, 5)


def test_duplicate_vote_is_canonical_whatever_the_order() -> None:
    a, b = vote(2, PREVOTE, 3, BLOCK.hash), vote(2, PREVOTE, 3, None)
    ev = Evidence.of(a, b)
    assert ev == Evidence.of(b, a)
    assert ev.kind is EvidenceKind.DUPLICATE_VOTE
    assert (ev.offender, ev.height, ev.round) == (KEYS[2].public.key_id, 1, 3)
    assert Evidence.decode(ev.encode()) == ev
    assert Evidence.decode(ev.encode()).hash == ev.hash
    ev.verify(CHAIN, VSET, VERIFIER)


def test_conflicting_proposals_verify_against_the_round_proposer() -> None:
    ev = Evidence.of(proposal(BLOCK, 2), proposal(OTHER, 2))
    assert ev.kind is EvidenceKind.CONFLICTING_PROPOSAL
    assert ev.offender == KEYS[proposer_index(1, 2)].public.key_id
    assert Evidence.from_value(ev.to_value()) == ev
    ev.verify(CHAIN, VSET, VERIFIER)
    different_pol = Evidence.of(proposal(BLOCK, 2), proposal(BLOCK, 2, pol_round=1))
    different_pol.verify(CHAIN, VSET, VERIFIER)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PREVOTE, 0, BLOCK.hash)),  # same value
        (vote(1, PREVOTE, 0, BLOCK.hash), vote(2, PREVOTE, 0, None)),  # two validators
        (vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PRECOMMIT, 0, None)),  # two steps
        (vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PREVOTE, 1, None)),  # two rounds
        (vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PREVOTE, 0, None, height=2)),  # two heights
        (proposal(BLOCK, 0), proposal(BLOCK, 0)),  # same proposal
        (proposal(BLOCK, 0), proposal(OTHER, 1)),  # two rounds
    ],
)
def test_messages_that_do_not_conflict_are_not_evidence(
    first: Vote | Proposal, second: Vote | Proposal
) -> None:
    with pytest.raises(InvalidEvidence):
        Evidence.of(first, second)


def test_mixed_kinds_and_wrong_order_are_refused() -> None:
    with pytest.raises(InvalidEvidence):
        Evidence(EvidenceKind.DUPLICATE_VOTE, proposal(BLOCK, 0), proposal(OTHER, 0))
    ev = Evidence.of(vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PREVOTE, 0, None))
    with pytest.raises(InvalidEvidence, match="canonical order"):
        Evidence(ev.kind, ev.second, ev.first)


def test_forged_signature_does_not_verify() -> None:
    a, b = vote(1, PREVOTE, 0, BLOCK.hash), vote(1, PREVOTE, 0, None)
    forged = Evidence.of(a, replace(b, signature=bytes(64)))
    with pytest.raises(InvalidEvidence, match="does not verify"):
        forged.verify(CHAIN, VSET, VERIFIER)


def test_evidence_against_a_non_member_does_not_verify() -> None:
    outsider = SigningKey.from_seed(sha256(b"outsider"))
    a = Vote.sign(outsider, CHAIN, PREVOTE, 1, 0, BLOCK.hash)
    b = Vote.sign(outsider, CHAIN, PREVOTE, 1, 0, None)
    with pytest.raises(InvalidEvidence):
        Evidence.of(a, b).verify(CHAIN, VSET, VERIFIER)


def test_evidence_from_another_chain_does_not_verify() -> None:
    a = Vote.sign(KEYS[1], "other-chain", PREVOTE, 1, 0, BLOCK.hash)
    b = Vote.sign(KEYS[1], "other-chain", PREVOTE, 1, 0, None)
    with pytest.raises(InvalidEvidence):
        Evidence.of(a, b).verify(CHAIN, VSET, VERIFIER)


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",
        encode({"kind": "nonsense", "first": {}, "second": {}}),
        encode({"kind": "duplicate_vote", "first": {}, "second": {}}),
        encode([1]),
    ],
)
def test_malformed_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidEvidence):
        Evidence.decode(data)
