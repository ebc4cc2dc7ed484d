"""The upon-rules of Algorithm 1, one at a time, on a single machine fed by hand."""

from __future__ import annotations

from dataclasses import replace

from ledger.block import Block
from ledger.crypto import SigningKey
from ledger.encoding import sha256
from ledger.votes import Proposal, Vote
from node.consensus.events import (
    Action,
    BlockReceived,
    BlockValidated,
    BroadcastProposal,
    BroadcastVote,
    Commit,
    NewHeight,
    PersistSigned,
    ProposalReady,
    ProposalReceived,
    RecordEvidence,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    TimeoutFired,
    VoteReceived,
)
from node.consensus.params import TimeoutKind
from node.consensus.signed import Step
from tests.node.consensus_helpers import (
    KEYS,
    PRECOMMIT,
    PREVOTE,
    TIMEOUTS,
    VERIFIER,
    VSET,
    Harness,
    make_block,
    non_proposer,
    only,
    proposal,
    proposer_index,
    vote,
    with_time,
)
from tests.node.sim_app import CHAIN

BLOCK = make_block(1)
OTHER = with_time(BLOCK, 7)


def my_votes(
    h: Harness, actions: list[Action] | None = None
) -> list[tuple[str, int, bytes | None]]:
    """(type, round, value) of the votes this machine signed, in order."""
    source = h.log if actions is None else actions
    key_id = KEYS[h.me].public.key_id
    return [
        (a.vote.type.value, a.vote.round, a.vote.block_hash)
        for a in source
        if isinstance(a, BroadcastVote) and a.vote.validator == key_id
    ]


def others(h: Harness) -> list[int]:
    return [i for i in range(4) if i != h.me]


def at_prevote(block: Block = BLOCK, round_: int = 0) -> Harness:
    """A non-proposer that prevoted ``block`` in round 0."""
    h = Harness(non_proposer(1, round_))
    h.start()
    h.send(ProposalReceived(proposal(block, round_), block), BlockValidated(1, block.hash, True))
    assert my_votes(h) == [("prevote", round_, block.hash)]
    return h


def locked_on(block: Block = BLOCK) -> Harness:
    """A non-proposer locked on ``block`` at round 0."""
    h = at_prevote(block)
    h.send(*(VoteReceived(vote(i, PREVOTE, 0, block.hash)) for i in others(h)[:2]))
    assert (h.machine.locked_round, h.machine.locked_hash) == (0, block.hash)
    return h


def to_round(h: Harness, round_: int) -> None:
    """Move ``h`` to ``round_`` by firing precommit timeouts (OnTimeoutPrecommit)."""
    while h.machine.round < round_:
        h.send(TimeoutFired(TimeoutKind.PRECOMMIT, 1, h.machine.round))
    assert h.machine.round == round_


# --------------------------------------------------------------- proposing


def test_proposer_asks_for_a_block_then_persists_before_it_broadcasts() -> None:
    h = Harness(proposer_index(1, 0))
    started = h.start()
    assert only(started, RequestProposal) == [RequestProposal(1, 0)]
    assert ScheduleTimeout(TimeoutKind.PROPOSE, 1, 0, TIMEOUTS.propose) in started
    out = h.send(ProposalReady(1, 0, BLOCK))
    kinds = [type(a) for a in out]
    assert kinds[:4] == [PersistSigned, BroadcastProposal, PersistSigned, BroadcastVote]
    persisted, sent = out[0], out[1]
    assert isinstance(persisted, PersistSigned) and isinstance(sent, BroadcastProposal)
    assert persisted.what == sent.proposal and persisted.step is Step.PROPOSE
    assert sent.proposal.pol_round == -1 and sent.block == BLOCK
    sent.proposal.verify(CHAIN, VSET, VERIFIER)
    assert my_votes(h) == [("prevote", 0, BLOCK.hash)]  # its own block is valid to it


def test_proposal_ready_for_another_round_is_ignored() -> None:
    h = Harness(proposer_index(1, 0))
    h.start()
    assert h.send(ProposalReady(1, 3, BLOCK)) == []
    assert h.machine.rejected == {"stale_proposal_ready": 1}


# ------------------------------------------------------- line 22: prevoting


def test_valid_proposal_is_prevoted_after_validation() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    out = h.send(ProposalReceived(proposal(BLOCK, 0), BLOCK))
    assert only(out, RequestValidation) == [RequestValidation(1, BLOCK.hash, BLOCK)]
    assert my_votes(h) == []  # waits for the application's verdict
    out = h.send(BlockValidated(1, BLOCK.hash, True))
    assert my_votes(h, out) == [("prevote", 0, BLOCK.hash)]
    assert h.machine.step is Step.PREVOTE


def test_invalid_proposal_is_prevoted_nil() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    h.send(ProposalReceived(proposal(BLOCK, 0), BLOCK), BlockValidated(1, BLOCK.hash, False))
    assert my_votes(h) == [("prevote", 0, None)]


def test_block_arriving_apart_from_its_proposal_is_used() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    h.send(ProposalReceived(proposal(BLOCK, 0)))
    out = h.send(BlockReceived(BLOCK))
    assert only(out, RequestValidation) == [RequestValidation(1, BLOCK.hash, BLOCK)]
    h.send(BlockValidated(1, BLOCK.hash, True))
    assert my_votes(h) == [("prevote", 0, BLOCK.hash)]


def test_propose_timeout_prevotes_nil() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    assert my_votes(h, h.send(TimeoutFired(TimeoutKind.PROPOSE, 1, 1))) == []  # not this round
    h.send(TimeoutFired(TimeoutKind.PROPOSE, 1, 0))
    assert my_votes(h) == [("prevote", 0, None)]
    assert h.machine.step is Step.PREVOTE


def test_proposal_from_the_wrong_proposer_is_dropped() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    wrong = next(i for i in range(4) if i != proposer_index(1, 0))
    forged = Proposal.sign(KEYS[wrong], CHAIN, 1, 0, BLOCK.hash, -1)
    assert h.send(ProposalReceived(forged, BLOCK)) == []
    assert h.machine.rejected == {"wrong_proposer": 1}


# ------------------------------------- lines 34, 36, 44: after prevoting


def test_polka_locks_and_precommits() -> None:
    h = at_prevote()
    first, second = others(h)[:2]
    assert my_votes(h, h.send(VoteReceived(vote(first, PREVOTE, 0, BLOCK.hash)))) == []
    out = h.send(VoteReceived(vote(second, PREVOTE, 0, BLOCK.hash)))
    assert my_votes(h, out) == [("precommit", 0, BLOCK.hash)]
    m = h.machine
    assert (m.locked_round, m.locked_hash, m.valid_round, m.valid_hash) == (
        0,
        BLOCK.hash,
        0,
        BLOCK.hash,
    )
    assert m.step is Step.PRECOMMIT
    persisted = only(out, PersistSigned)
    lock = persisted[0].state.lock
    assert lock is not None and (lock.round, lock.block_hash, lock.block) == (0, BLOCK.hash, BLOCK)
    assert len(lock.polka) == 3


def test_two_thirds_of_mixed_prevotes_start_the_prevote_timeout_once() -> None:
    h = at_prevote()
    a, b, c = others(h)
    out = h.send(VoteReceived(vote(a, PREVOTE, 0, None)))
    assert only(out, ScheduleTimeout) == []
    out = h.send(VoteReceived(vote(b, PREVOTE, 0, OTHER.hash)))
    expected = ScheduleTimeout(TimeoutKind.PREVOTE, 1, 0, TIMEOUTS.prevote)
    assert only(out, ScheduleTimeout) == [expected]
    assert only(h.send(VoteReceived(vote(c, PREVOTE, 0, OTHER.hash))), ScheduleTimeout) == []
    h.send(TimeoutFired(TimeoutKind.PREVOTE, 1, 0))
    assert my_votes(h)[-1] == ("precommit", 0, None)
    assert h.machine.locked_round == -1


def test_nil_polka_precommits_nil() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    h.send(TimeoutFired(TimeoutKind.PROPOSE, 1, 0))
    h.send(*(VoteReceived(vote(i, PREVOTE, 0, None)) for i in others(h)[:2]))
    assert my_votes(h) == [("prevote", 0, None), ("precommit", 0, None)]


def test_polka_seen_after_precommitting_nil_updates_only_the_valid_value() -> None:
    h = at_prevote()
    h.send(TimeoutFired(TimeoutKind.PREVOTE, 1, 0))
    assert my_votes(h)[-1] == ("precommit", 0, None)
    h.send(*(VoteReceived(vote(i, PREVOTE, 0, BLOCK.hash)) for i in others(h)[:2]))
    m = h.machine
    assert (m.valid_round, m.valid_hash) == (0, BLOCK.hash)
    assert (m.locked_round, m.locked_hash) == (-1, None)
    assert len(my_votes(h)) == 2  # no second precommit


# ------------------------------------------- lines 47 and 49: precommits


def test_precommit_timeout_starts_the_next_round_with_longer_timeouts() -> None:
    h = at_prevote()
    a, b, c = others(h)
    h.send(VoteReceived(vote(a, PRECOMMIT, 0, None)), VoteReceived(vote(b, PRECOMMIT, 0, None)))
    out = h.send(VoteReceived(vote(c, PRECOMMIT, 0, OTHER.hash)))
    assert only(out, ScheduleTimeout) == [
        ScheduleTimeout(TimeoutKind.PRECOMMIT, 1, 0, TIMEOUTS.precommit)
    ]
    out = h.send(TimeoutFired(TimeoutKind.PRECOMMIT, 1, 0))
    assert h.machine.round == 1 and h.machine.step is Step.PROPOSE
    duration = TIMEOUTS.propose + TIMEOUTS.propose_delta
    assert ScheduleTimeout(TimeoutKind.PROPOSE, 1, 1, duration) in out


def test_two_thirds_of_precommits_decide_with_a_certificate() -> None:
    h = at_prevote()
    a, b, _ = others(h)
    h.send(VoteReceived(vote(a, PRECOMMIT, 0, BLOCK.hash)))
    assert h.machine.decision is None
    out = h.send(VoteReceived(vote(b, PRECOMMIT, 0, BLOCK.hash)))
    assert h.machine.decision is None  # our own precommit is not there yet: only 2 of 4
    out = h.send(
        VoteReceived(vote(a, PREVOTE, 0, BLOCK.hash)), VoteReceived(vote(b, PREVOTE, 0, BLOCK.hash))
    )
    commits = only(out, Commit)
    assert len(commits) == 1 and commits[0].block == BLOCK
    cert = commits[0].certificate
    cert.verify(CHAIN, VSET, VERIFIER, height=1, block_hash=BLOCK.hash)
    assert len(cert.signatures) == 3
    assert ScheduleTimeout(TimeoutKind.COMMIT, 1, 0, TIMEOUTS.commit) in out


def test_decision_in_an_earlier_round_still_counts() -> None:
    h = at_prevote()
    to_round(h, 2)
    out = h.send(*(VoteReceived(vote(i, PRECOMMIT, 0, BLOCK.hash)) for i in others(h)))
    assert len(only(out, Commit)) == 1


def test_next_height_starts_after_commit_and_commit_timeout() -> None:
    h = at_prevote()
    h.send(*(VoteReceived(vote(i, PRECOMMIT, 0, BLOCK.hash)) for i in others(h)))
    assert h.machine.decision is not None
    early = vote(others(h)[0], PREVOTE, 0, None, height=2)
    assert h.send(VoteReceived(early)) == []  # buffered for height 2
    assert h.send(NewHeight(2, VSET)) == []  # waits for the commit timeout
    out = h.send(TimeoutFired(TimeoutKind.COMMIT, 1, 0))
    assert h.machine.height == 2 and h.machine.round == 0
    assert ScheduleTimeout(TimeoutKind.PROPOSE, 2, 0, TIMEOUTS.propose) in out
    rs = h.machine.round_state(0)
    assert rs is not None and early.validator in rs.prevotes.votes  # replayed from the buffer


def test_sync_can_move_an_undecided_machine_to_a_later_height() -> None:
    h = at_prevote()
    h.send(NewHeight(5, VSET))
    assert (h.machine.height, h.machine.round, h.machine.locked_round) == (5, 0, -1)
    assert h.send(VoteReceived(vote(0, PREVOTE, 0, None, height=3))) == []
    assert h.machine.rejected["past_height"] == 1


# --------------------------------------------------- locks and line 28


def test_locked_validator_prevotes_nil_for_another_value() -> None:
    h = locked_on(BLOCK)
    to_round(h, 1)
    if proposer_index(1, 1) == h.me:
        to_round(h, 2)
    r = h.machine.round
    h.send(ProposalReceived(proposal(OTHER, r), OTHER), BlockValidated(1, OTHER.hash, True))
    assert my_votes(h)[-1] == ("prevote", r, None)


def test_locked_validator_prevotes_its_locked_value_again() -> None:
    h = locked_on(BLOCK)
    to_round(h, 1)
    if proposer_index(1, 1) == h.me:
        to_round(h, 2)
    r = h.machine.round
    h.send(ProposalReceived(proposal(BLOCK, r, pol_round=0), BLOCK))
    assert my_votes(h)[-1] == ("prevote", r, BLOCK.hash)


def test_polka_for_another_value_in_a_later_round_unlocks() -> None:
    h = locked_on(BLOCK)
    to_round(h, 2)
    r = h.machine.round
    if proposer_index(1, r) == h.me:
        to_round(h, 3)
        r = 3
    later = proposal(OTHER, r, pol_round=1)
    h.send(ProposalReceived(later, OTHER), BlockValidated(1, OTHER.hash, True))
    assert my_votes(h)[-1] != ("prevote", r, OTHER.hash)  # no polka at round 1 seen yet
    assert h.machine.step is Step.PROPOSE
    h.send(*(VoteReceived(vote(i, PREVOTE, 1, OTHER.hash)) for i in others(h)))
    assert my_votes(h)[-1] == ("prevote", r, OTHER.hash)


def test_polka_older_than_the_lock_does_not_unlock() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    to_round(h, 1)
    r = 1
    if proposer_index(1, r) == h.me:
        to_round(h, 2)
        r = 2
    h.send(ProposalReceived(proposal(BLOCK, r), BLOCK), BlockValidated(1, BLOCK.hash, True))
    h.send(*(VoteReceived(vote(i, PREVOTE, r, BLOCK.hash)) for i in others(h)[:2]))
    assert h.machine.locked_round == r
    h.send(*(VoteReceived(vote(i, PREVOTE, 0, OTHER.hash)) for i in others(h)))  # polka at 0
    to_round(h, r + 1)
    nxt = r + 1
    if proposer_index(1, nxt) == h.me:
        to_round(h, nxt + 1)
        nxt += 1
    h.send(
        ProposalReceived(proposal(OTHER, nxt, pol_round=0), OTHER),
        BlockValidated(1, OTHER.hash, True),
    )
    assert my_votes(h)[-1] == ("prevote", nxt, None)


def test_locked_proposer_reproposes_its_valid_value_with_the_polka() -> None:
    h = locked_on(BLOCK)
    target = next(r for r in range(1, 12) if proposer_index(1, r) == h.me)
    to_round(h, target)
    sent = only(h.log, BroadcastProposal)
    assert len(sent) == 1
    assert (sent[0].proposal.round, sent[0].proposal.pol_round) == (target, 0)
    assert sent[0].block == BLOCK
    assert RequestProposal(1, target) not in h.log
    idx = h.log.index(sent[0])
    relayed = [a.vote for a in only(h.log[idx:], BroadcastVote) if a.vote.round == 0]
    assert len(relayed) >= 3 and all(v.block_hash == BLOCK.hash for v in relayed)


# -------------------------------------------------------- line 55: skip


def test_f_plus_one_messages_of_a_higher_round_skip_to_it() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    a, b, _ = others(h)
    h.send(VoteReceived(vote(a, PREVOTE, 3, None)))
    assert h.machine.round == 0  # one validator alone could be Byzantine
    h.send(VoteReceived(vote(b, PRECOMMIT, 3, None)))
    assert h.machine.round == 3


def test_far_ahead_rounds_are_not_kept_but_still_skip() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    a, b, _ = others(h)
    far = 50
    h.send(VoteReceived(vote(a, PREVOTE, far, None)))
    assert h.machine.rejected == {"round_too_far": 1}
    assert h.machine.round_state(far) is None
    h.send(VoteReceived(vote(b, PREVOTE, far + 5, None)))
    assert h.machine.round == far


# ------------------------------------------------- checks and bounds


def test_bad_messages_are_counted_by_reason() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    good = vote(others(h)[0], PREVOTE, 0, None)
    outsider = Vote.sign(SigningKey.from_seed(sha256(b"outsider")), CHAIN, PREVOTE, 1, 0, None)
    h.send(
        VoteReceived(replace(good, signature=bytes(64))),
        VoteReceived(outsider),
        VoteReceived(good),
        VoteReceived(good),
        VoteReceived(vote(0, PREVOTE, 0, None, height=7)),
    )
    assert h.machine.rejected == {
        "bad_signature": 1,
        "unknown_validator": 1,
        "duplicate": 1,
        "future_height": 1,
    }
    rs = h.machine.round_state(0)
    assert rs is not None and list(rs.prevotes.votes) == [good.validator]


def test_next_height_buffer_is_bounded_per_sender() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    limit = h.machine.limits.next_height_per_sender
    h.send(*(VoteReceived(vote(0, PREVOTE, r, None, height=2)) for r in range(limit + 5)))
    assert h.machine.rejected == {"buffer_full": 5}


def test_conflicting_votes_become_evidence_once() -> None:
    h = at_prevote()
    a = others(h)[0]
    out = h.send(
        VoteReceived(vote(a, PREVOTE, 0, BLOCK.hash)),
        VoteReceived(vote(a, PREVOTE, 0, None)),
        VoteReceived(vote(a, PREVOTE, 0, OTHER.hash)),
    )
    evidence = [x.evidence for x in only(out, RecordEvidence)]
    assert len(evidence) == 1
    ev = evidence[0]
    assert ev.offender == KEYS[a].public.key_id and (ev.height, ev.round) == (1, 0)
    ev.verify(CHAIN, VSET, VERIFIER)


def test_conflicting_proposals_become_evidence() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    out = h.send(
        ProposalReceived(proposal(BLOCK, 0), BLOCK), ProposalReceived(proposal(OTHER, 0), OTHER)
    )
    evidence = [x.evidence for x in only(out, RecordEvidence)]
    assert len(evidence) == 1 and evidence[0].kind.value == "conflicting_proposal"
    evidence[0].verify(CHAIN, VSET, VERIFIER)


def test_observer_follows_and_decides_without_signing() -> None:
    h = Harness(non_proposer(1, 0), observer=True)
    h.start()
    h.send(ProposalReceived(proposal(BLOCK, 0), BLOCK), BlockValidated(1, BLOCK.hash, True))
    out = h.send(*(VoteReceived(vote(i, PRECOMMIT, 0, BLOCK.hash)) for i in range(3)))
    assert len(only(out, Commit)) == 1
    assert only(h.log, PersistSigned) == [] and my_votes(h) == []


def test_same_events_give_the_same_actions() -> None:
    def run() -> list[Action]:
        h = at_prevote()
        h.send(*(VoteReceived(vote(i, PREVOTE, 0, BLOCK.hash)) for i in others(h)))
        h.send(*(VoteReceived(vote(i, PRECOMMIT, 0, BLOCK.hash)) for i in others(h)))
        return list(h.log)

    first = run()
    assert first == run()
    assert any(isinstance(a, Commit) for a in first)


def test_polka_at_exactly_the_locked_round_unlocks() -> None:
    # Two polkas in one round need double voters; a POL round equal to the lock
    # round is enough to unlock (lockedRound <= vr).
    h = Harness(next(i for i in range(4) if i not in (proposer_index(1, 0), proposer_index(1, 1))))
    h.start()
    to_round(h, 1)
    h.send(ProposalReceived(proposal(BLOCK, 1), BLOCK), BlockValidated(1, BLOCK.hash, True))
    a, b, c = others(h)
    h.send(
        VoteReceived(vote(a, PREVOTE, 1, BLOCK.hash)), VoteReceived(vote(b, PREVOTE, 1, BLOCK.hash))
    )
    assert (h.machine.locked_round, h.machine.locked_hash) == (1, BLOCK.hash)
    nxt = next(r for r in range(2, 12) if proposer_index(1, r) != h.me)
    to_round(h, nxt)
    h.send(
        ProposalReceived(proposal(OTHER, nxt, pol_round=1), OTHER),
        BlockValidated(1, OTHER.hash, True),
    )
    assert my_votes(h)[-1] == ("precommit", 1, BLOCK.hash)  # waiting for the polka
    h.send(*(VoteReceived(vote(i, PREVOTE, 1, OTHER.hash)) for i in (a, b, c)))
    assert my_votes(h)[-1] == ("prevote", nxt, OTHER.hash)


def test_two_thirds_of_precommits_split_between_values_do_not_decide() -> None:
    h = at_prevote()
    a, b, _ = others(h)
    h.send(
        VoteReceived(vote(a, PRECOMMIT, 0, BLOCK.hash)),
        VoteReceived(vote(b, PRECOMMIT, 0, BLOCK.hash)),
    )
    out = h.send(TimeoutFired(TimeoutKind.PREVOTE, 1, 0))  # we precommit nil: 2 of 3 for BLOCK
    assert my_votes(h)[-1] == ("precommit", 0, None)
    assert only(out, Commit) == [] and h.machine.decision is None
    assert only(out, ScheduleTimeout) == [
        ScheduleTimeout(TimeoutKind.PRECOMMIT, 1, 0, TIMEOUTS.precommit)
    ]


def test_rebroadcast_resends_our_votes_of_this_and_the_previous_round() -> None:
    h = Harness(next(i for i in range(4) if i not in (proposer_index(1, 0), proposer_index(1, 1))))
    h.start()
    h.send(ProposalReceived(proposal(BLOCK, 0), BLOCK), BlockValidated(1, BLOCK.hash, True))
    h.send(TimeoutFired(TimeoutKind.PREVOTE, 1, 0), TimeoutFired(TimeoutKind.PRECOMMIT, 1, 0))
    h.send(TimeoutFired(TimeoutKind.PROPOSE, 1, 1))
    assert my_votes(h) == [
        ("prevote", 0, BLOCK.hash),
        ("precommit", 0, None),
        ("prevote", 1, None),
    ]
    out = h.send(TimeoutFired(TimeoutKind.REBROADCAST, 1, 0))  # scheduled at the start
    assert sorted(my_votes(h, out), key=str) == sorted(my_votes(h)[:3], key=str)
    assert only(out, PersistSigned) == []
    assert ScheduleTimeout(TimeoutKind.REBROADCAST, 1, 1, TIMEOUTS.rebroadcast) in out
    assert h.send(TimeoutFired(TimeoutKind.REBROADCAST, 1, 0)) == []  # a stale timer
