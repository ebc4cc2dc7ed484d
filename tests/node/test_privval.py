"""Double-signing protection: the sign state, its file, and a machine restarted from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.block import Block
from ledger.encoding import encode
from node.consensus.errors import DoubleSignRefused, SignStateError
from node.consensus.events import (
    Action,
    BlockValidated,
    BroadcastProposal,
    BroadcastVote,
    PersistSigned,
    ProposalReceived,
    TimeoutFired,
    VoteReceived,
)
from node.consensus.params import TimeoutKind
from node.consensus.privval import (
    MAX_RECENT,
    Lock,
    PrivValidator,
    SignedState,
    SignState,
)
from node.consensus.signed import Step
from node.sign_state import SignStateFile
from tests.node.consensus_helpers import (
    KEYS,
    PRECOMMIT,
    PREVOTE,
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
OTHER = with_time(BLOCK, 3)


def lock_on(round_: int, block: Block = BLOCK) -> Lock:
    """A lock on ``block`` with a polka of three prevotes."""
    polka = [vote(i, PREVOTE, round_, block.hash, block.height) for i in range(3)]
    return Lock.of(round_, block, polka)


def signer(saved: SignedState | None = None) -> PrivValidator:
    return PrivValidator(KEYS[0], SignState(CHAIN, saved))


# ------------------------------------------------------------ sign state


def test_signing_moves_forward_and_identical_content_is_given_back() -> None:
    pv = signer()
    v1, saved = pv.sign_vote(PREVOTE, 1, 0, BLOCK.hash, lock=None)
    assert saved is not None and saved.last.position == (1, 0, Step.PREVOTE)
    v1.verify(CHAIN, VSET, VERIFIER)
    again, none = pv.sign_vote(PREVOTE, 1, 0, BLOCK.hash, lock=None)
    assert again == v1 and none is None
    mine = next(r for r in range(1, 20) if proposer_index(1, r) == 0)
    p, saved = pv.sign_proposal(1, mine, BLOCK.hash, 0, lock=None)
    assert saved is not None and p.pol_round == 0
    p.verify(CHAIN, VSET, VERIFIER)


def test_conflicting_or_earlier_signatures_are_refused() -> None:
    pv = signer()
    pv.sign_vote(PREVOTE, 1, 2, BLOCK.hash, lock=None)
    pv.sign_vote(PRECOMMIT, 1, 2, BLOCK.hash, lock=lock_on(2))
    with pytest.raises(DoubleSignRefused) as same:
        pv.sign_vote(PREVOTE, 1, 2, None, lock=None)
    assert same.value.prior.position == (1, 2, Step.PREVOTE)  # what we signed there
    assert same.value.code == "double_sign_refused"
    with pytest.raises(DoubleSignRefused) as earlier:
        pv.sign_vote(PRECOMMIT, 1, 0, None, lock=None)
    assert earlier.value.prior.position == (1, 2, Step.PRECOMMIT)
    with pytest.raises(DoubleSignRefused):
        pv.sign_proposal(1, 2, OTHER.hash, -1, lock=None)
    v, saved = pv.sign_vote(PREVOTE, 1, 3, None, lock=lock_on(2))
    assert saved is not None and v.round == 3


def test_saved_state_keeps_the_last_two_rounds_of_the_height_and_the_lock() -> None:
    pv = signer()
    for r in range(4):
        pv.sign_vote(PREVOTE, 1, r, None, lock=None)
        pv.sign_vote(PRECOMMIT, 1, r, None, lock=lock_on(r))
    saved = pv.state.saved
    assert saved is not None
    assert [s.position[:2] for s in saved.recent] == [(1, 2), (1, 2), (1, 3), (1, 3)]
    assert saved.lock is not None and (saved.lock.round, saved.lock.block_hash) == (3, BLOCK.hash)
    assert len(saved.recent) <= MAX_RECENT
    pv.sign_vote(PREVOTE, 2, 0, None, lock=None)
    assert pv.state.saved is not None and len(pv.state.saved.recent) == 1


# ------------------------------------------------------------------ file


def test_file_round_trip_and_empty_start(tmp_path: Path) -> None:
    file = SignStateFile(tmp_path / "sign_state", CHAIN)
    assert file.load().saved is None
    pv = signer()
    block4 = make_block(4)
    _, saved = pv.sign_vote(PRECOMMIT, 4, 1, block4.hash, lock=lock_on(1, block4))
    assert saved is not None
    file.save(saved)
    assert file.load().saved == saved
    assert not (tmp_path / "sign_state.tmp").exists()
    assert (tmp_path / "sign_state").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "content",
    [b"", b"\x00garbage", encode({"version": 1}), encode([1, 2, 3])],
)
def test_corrupt_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "sign_state"
    path.write_bytes(content)
    with pytest.raises(SignStateError):
        SignStateFile(path, CHAIN).load()


def test_file_of_another_chain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sign_state"
    _, saved = signer().sign_vote(PREVOTE, 1, 0, None, lock=None)
    assert saved is not None
    SignStateFile(path, "other-chain").save(saved)
    with pytest.raises(SignStateError, match="other-chain"):
        SignStateFile(path, CHAIN).load()


def test_unwritable_directory_is_reported(tmp_path: Path) -> None:
    _, saved = signer().sign_vote(PREVOTE, 1, 0, None, lock=None)
    assert saved is not None
    with pytest.raises(SignStateError):
        SignStateFile(tmp_path / "missing" / "sign_state", CHAIN).save(saved)


# -------------------------------------------------- machine across a crash


def run_and_persist(h: Harness, file: SignStateFile, *events: object) -> list[Action]:
    """Feed events as a driver would: save every PersistSigned before going on."""
    out = h.send(*events)  # type: ignore[arg-type]
    for action in out:
        if isinstance(action, PersistSigned):
            file.save(action.state)
    return out


def test_every_own_broadcast_is_persisted_first() -> None:
    h = Harness(non_proposer(1, 0))
    h.start()
    out = h.send(
        ProposalReceived(proposal(BLOCK, 0), BLOCK),
        BlockValidated(1, BLOCK.hash, True),
        *(VoteReceived(vote(i, PREVOTE, 0, BLOCK.hash)) for i in range(4) if i != h.me),
    )
    mine = [a for a in out if isinstance(a, BroadcastVote)]
    assert len(mine) == 2
    for sent in mine:
        before = out[: out.index(sent)]
        assert any(isinstance(a, PersistSigned) and a.what == sent.vote for a in before)


def test_restarted_validator_keeps_its_votes_and_lock(tmp_path: Path) -> None:
    me = next(i for i in range(4) if i not in (proposer_index(1, 0), proposer_index(1, 1)))
    file = SignStateFile(tmp_path / "sign_state", CHAIN)
    before = Harness(me, saved=file.load().saved)
    before.start()
    a, b = [i for i in range(4) if i != me][:2]
    run_and_persist(
        before,
        file,
        ProposalReceived(proposal(BLOCK, 0), BLOCK),
        BlockValidated(1, BLOCK.hash, True),
        VoteReceived(vote(a, PREVOTE, 0, BLOCK.hash)),
        VoteReceived(vote(b, PREVOTE, 0, BLOCK.hash)),
    )
    assert before.machine.locked_round == 0

    # Crash: the machine's memory is gone, the file is not.
    after = Harness(me, saved=file.load().saved)
    after.start()
    assert (after.machine.round, after.machine.locked_round) == (0, 0)
    assert after.machine.locked_hash == BLOCK.hash
    # The propose timeout would make a fresh machine prevote nil: ours re-sends its prevote.
    out = after.send(TimeoutFired(TimeoutKind.PROPOSE, 1, 0))
    sent = [x.vote for x in only(out, BroadcastVote)]
    assert [(v.type, v.block_hash) for v in sent] == [(PREVOTE, BLOCK.hash)]
    assert only(out, PersistSigned) == []
    out = after.send(TimeoutFired(TimeoutKind.PREVOTE, 1, 0))
    assert [(x.vote.type, x.vote.block_hash) for x in only(out, BroadcastVote)] == [
        (PRECOMMIT, BLOCK.hash)
    ]
    # Next round, another value proposed without a polka: the lock still holds.
    after.send(TimeoutFired(TimeoutKind.PRECOMMIT, 1, 0))
    out = after.send(
        ProposalReceived(proposal(OTHER, 1), OTHER), BlockValidated(1, OTHER.hash, True)
    )
    assert [(x.vote.type, x.vote.round, x.vote.block_hash) for x in only(out, BroadcastVote)] == [
        (PREVOTE, 1, None)
    ]
    # And the key itself refuses a conflicting vote for the round it already voted in.
    pv = PrivValidator(KEYS[me], file.load())
    with pytest.raises(DoubleSignRefused):
        pv.sign_vote(PRECOMMIT, 1, 0, None, lock=None)


def test_signature_refused_below_the_saved_round_is_counted() -> None:
    me = non_proposer(1, 5)
    pv = PrivValidator(KEYS[me], SignState(CHAIN))
    _, saved = pv.sign_vote(PRECOMMIT, 1, 5, None, lock=None)
    h = Harness(me, saved=saved)
    h.start()
    assert h.machine.round == 5  # nothing below round 5 may be signed
    h.send(ProposalReceived(proposal(BLOCK, 5), BLOCK), BlockValidated(1, BLOCK.hash, True))
    assert h.machine.signing_refused == 1  # the prevote is below the saved precommit
    assert only(h.log, BroadcastVote) == []
    assert h.machine.step is Step.PREVOTE


def test_restarted_locked_proposer_proposes_its_locked_block_with_the_polka(
    tmp_path: Path,
) -> None:
    me = non_proposer(1, 0)
    file = SignStateFile(tmp_path / "sign_state", CHAIN)
    before = Harness(me)
    before.start()
    others = [i for i in range(4) if i != me]
    run_and_persist(
        before,
        file,
        ProposalReceived(proposal(BLOCK, 0), BLOCK),
        BlockValidated(1, BLOCK.hash, True),
        *(VoteReceived(vote(i, PREVOTE, 0, BLOCK.hash)) for i in others[:2]),
    )
    assert before.machine.locked_round == 0

    after = Harness(me, saved=file.load().saved)  # nothing of round 0 survives but the file
    after.start()
    target = next(r for r in range(1, 12) if proposer_index(1, r) == me)
    while after.machine.round < target:
        after.send(TimeoutFired(TimeoutKind.PRECOMMIT, 1, after.machine.round))
    proposed = only(after.log, BroadcastProposal)
    assert len(proposed) == 1
    assert (proposed[0].proposal.pol_round, proposed[0].block) == (0, BLOCK)
    relayed = [a.vote for a in only(after.log, BroadcastVote) if a.vote.round == 0]
    assert {v.validator for v in relayed} >= {KEYS[i].public.key_id for i in [me, *others[:2]]}
    for v in relayed:
        v.verify(CHAIN, VSET, VERIFIER)


def test_restarted_validator_resends_the_votes_it_persisted(tmp_path: Path) -> None:
    me = non_proposer(1, 0)
    file = SignStateFile(tmp_path / "sign_state", CHAIN)
    before = Harness(me)
    before.start()
    run_and_persist(before, file, TimeoutFired(TimeoutKind.PROPOSE, 1, 0))
    run_and_persist(before, file, TimeoutFired(TimeoutKind.PREVOTE, 1, 0))
    after = Harness(me, saved=file.load().saved)
    after.start()
    out = after.send(TimeoutFired(TimeoutKind.REBROADCAST, 1, 0))
    sent = {(a.vote.type, a.vote.round, a.vote.block_hash) for a in only(out, BroadcastVote)}
    assert sent == {(PREVOTE, 0, None), (PRECOMMIT, 0, None)}
    rs = after.machine.round_state(0)
    assert rs is not None and KEYS[me].public.key_id in rs.precommits.votes
