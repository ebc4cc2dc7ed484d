"""Tendermint consensus as a sans-I/O state machine (Algorithm 1 of Buchman, Kwon, Milosevic).

``ConsensusMachine.handle(event)`` applies one event and returns the actions
it causes. The machine owns no thread, clock, socket, file or randomness:
time enters only as :class:`TimeoutFired` events for timeouts it scheduled,
so the same events always give the same actions.

The upon-rules of the paper, by line number, are evaluated after every
event until none fires (``_progress``):

* 22/28: in the propose step, prevote the round's proposal if it is valid
  and we are not locked on something else (28: or a polka at the
  proposal's valid round at or after our lock), nil otherwise;
* 34/47: on a two-thirds majority of prevotes / precommits for anything,
  schedule the prevote / precommit timeout (once per round);
* 36: on a polka (two thirds of prevotes) for a valid proposal, lock on it
  and precommit it if still in the prevote step, and record it as the
  valid value (once per round);
* 44: on a polka for nil in the prevote step, precommit nil;
* 49: on two thirds of precommits for a valid proposal in any round, decide;
* 55: when validators with more than a third of the power are in a higher
  round, skip to it.

Beyond the paper: the application builds and validates blocks
asynchronously (``RequestProposal``/``ProposalReady``,
``RequestValidation``/``BlockValidated``), every signature goes through the
privileged validator first (``PersistSigned`` comes before the send), and
each validator re-sends its latest messages on a rebroadcast timer so that
messages lost before the network stabilises do not stall a round.
"""

from __future__ import annotations

from ledger.block import Block
from ledger.crypto import Verifier
from ledger.validators import ValidatorSet
from ledger.votes import Certificate, Proposal, Vote, VoteType
from node.consensus.errors import DoubleSignRefused
from node.consensus.events import (
    Action,
    BlockReceived,
    BlockValidated,
    BroadcastProposal,
    BroadcastVote,
    Commit,
    Event,
    NewHeight,
    PersistSigned,
    ProposalReady,
    ProposalReceived,
    RecordEvidence,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    Start,
    TimeoutFired,
    VoteReceived,
)
from node.consensus.height import BufferedMessage, HeightState, NextHeightBuffer, RoundState
from node.consensus.params import Limits, TimeoutConfig, TimeoutKind
from node.consensus.privval import Lock, PrivValidator
from node.consensus.signed import VOTE_STEP, Step


class ConsensusMachine:
    """One validator's (or observer's) consensus state; owned and driven by one task."""

    def __init__(
        self,
        *,
        chain: str,
        verifier: Verifier,
        signer: PrivValidator | None = None,
        timeouts: TimeoutConfig | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.chain = chain
        self.verifier = verifier
        self.signer = signer
        self.timeouts = timeouts or TimeoutConfig()
        self.limits = limits or Limits()
        self.rejected: dict[str, int] = {}
        """Dropped messages and events by reason (exported as metrics)."""
        self.signing_refused = 0
        """Signatures the sign state refused (non-zero only after a restart)."""
        self.height = 0
        self.round = 0
        self.step = Step.PROPOSE
        self.validators: ValidatorSet | None = None
        self.lock: Lock | None = None
        """The lock (lockedValue and lockedRound of the paper), with the polka behind it."""
        self.valid_round = -1
        self.valid_hash: bytes | None = None
        self.decision: Commit | None = None
        self._decision_round = -1
        self._commit_wait_over = False
        self._next: NewHeight | None = None
        self._hs: HeightState | None = None
        self._buffer: NextHeightBuffer | None = None
        self._awaiting_block: int | None = None
        self._own_proposal: tuple[Proposal, Block] | None = None
        self._rebroadcast_token: tuple[int, int] | None = None
        self._out: list[Action] = []

    # ------------------------------------------------------------ interface

    def handle(self, event: Event) -> list[Action]:
        """Apply one event; return the actions to carry out, in order."""
        self._out = []
        if isinstance(event, Start):
            self._on_start(event)
        elif self._hs is None:
            self._reject("not_started")
        elif isinstance(event, VoteReceived | ProposalReceived | BlockReceived):
            self._on_message(event)
        elif isinstance(event, TimeoutFired):
            self._on_timeout(event)
        elif isinstance(event, BlockValidated):
            self._on_validated(event)
        elif isinstance(event, ProposalReady):
            self._on_proposal_ready(event)
        else:
            self._on_new_height(event)
        self._progress()
        hs = self._hs
        if hs is not None and hs.to_validate:
            for block_hash, block in hs.to_validate:
                self._out.append(RequestValidation(self.height, block_hash, block))
            hs.to_validate.clear()
        out, self._out = self._out, []
        return out

    @property
    def is_validator(self) -> bool:
        """Whether we sign at the current height (our key is in its validator set)."""
        return (
            self.signer is not None
            and self.validators is not None
            and self.signer.key_id in self.validators
        )

    @property
    def locked_round(self) -> int:
        """The paper's lockedRound (-1: not locked)."""
        return -1 if self.lock is None else self.lock.round

    @property
    def locked_hash(self) -> bytes | None:
        """Hash of the paper's lockedValue (None: not locked)."""
        return None if self.lock is None else self.lock.block_hash

    def round_state(self, round_: int) -> RoundState | None:
        """What was counted in ``round_`` of the current height (for tests and status)."""
        return None if self._hs is None else self._hs.rounds.get(round_)

    # --------------------------------------------------------------- events

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def _on_start(self, event: Start) -> None:
        if self._hs is not None:
            self._reject("already_started")
            return
        self._enter_height(event.height, event.validators)
        self._schedule_rebroadcast()

    def _on_message(self, event: BufferedMessage) -> None:
        if isinstance(event, VoteReceived):
            height = event.vote.height
        elif isinstance(event, ProposalReceived):
            height = event.proposal.height
        else:
            height = event.block.height
        if height == self.height:
            if self.decision is not None:
                self._reject("decided")
            else:
                self._admit(event)
        elif height == self.height + 1:
            assert self._buffer is not None
            self._buffer.add(event)
        elif height < self.height:
            self._reject("past_height")
        else:
            self._reject("future_height")

    def _admit(self, event: BufferedMessage) -> None:
        hs = self._hs
        assert hs is not None
        if isinstance(event, VoteReceived):
            evidence = hs.admit_vote(event.vote, self.round)
        elif isinstance(event, ProposalReceived):
            evidence = hs.admit_proposal(event.proposal, event.block, self.round)
        else:
            hs.admit_block(event.block)
            evidence = None
        if evidence is not None:
            self._out.append(RecordEvidence(evidence))

    def _on_timeout(self, event: TimeoutFired) -> None:
        kind = event.kind
        if kind is TimeoutKind.REBROADCAST:
            if (event.height, event.round) == self._rebroadcast_token:
                self._rebroadcast()
                self._schedule_rebroadcast()
            return
        if kind is TimeoutKind.COMMIT:
            if event.height == self.height and self.decision is not None:
                self._commit_wait_over = True
                if self._next is not None:
                    self._enter_height(self._next.height, self._next.validators)
            return
        if (event.height, event.round) != (self.height, self.round) or self.decision is not None:
            return
        if kind is TimeoutKind.PROPOSE and self.step is Step.PROPOSE:
            self._vote(VoteType.PREVOTE, None)
            self.step = Step.PREVOTE
        elif kind is TimeoutKind.PREVOTE and self.step is Step.PREVOTE:
            self._vote(VoteType.PRECOMMIT, None)
            self.step = Step.PRECOMMIT
        elif kind is TimeoutKind.PRECOMMIT:
            self._start_round(self.round + 1)

    def _on_validated(self, event: BlockValidated) -> None:
        hs = self._hs
        assert hs is not None
        if (
            event.height != self.height
            or event.block_hash not in hs.blocks
            or event.block_hash in hs.validity
        ):
            self._reject("stale_validation")
            return
        hs.validity[event.block_hash] = event.valid

    def _on_proposal_ready(self, event: ProposalReady) -> None:
        if (
            (event.height, event.round) != (self.height, self.round)
            or self._awaiting_block != event.round
            or self.step is not Step.PROPOSE
            or self.decision is not None
            or event.block.height != self.height
        ):
            self._reject("stale_proposal_ready")
            return
        self._awaiting_block = None
        self._send_proposal(event.block, event.block.hash, -1)

    def _on_new_height(self, event: NewHeight) -> None:
        if event.height <= self.height:
            self._reject("stale_new_height")
            return
        if (
            self.decision is not None
            and event.height == self.height + 1
            and not self._commit_wait_over
        ):
            self._next = event  # start once the commit timeout is over
            return
        self._enter_height(event.height, event.validators)

    # ------------------------------------------------------- height and round

    def _enter_height(self, height: int, validators: ValidatorSet) -> None:
        buffer = self._buffer
        held = buffer.drain() if buffer is not None and buffer.height == height else []
        self.height = height
        self.validators = validators
        hs = self._hs = HeightState(
            self.chain, height, validators, self.verifier, self.limits, self.rejected
        )
        self._buffer = NextHeightBuffer(height + 1, self.limits, self.rejected)
        self.lock = None
        self.valid_round, self.valid_hash = -1, None
        self.decision, self._decision_round = None, -1
        self._commit_wait_over, self._next = False, None
        first_round = 0
        saved = self.signer.state.saved if self.signer is not None else None
        if saved is not None and saved.last.height == height:
            # Restarted in the middle of this height: nothing below the last signed
            # round can be signed again, our votes of the last rounds count (and are
            # sent again by the rebroadcast), and the lock held then still binds us;
            # with its block and polka we can propose the locked value again.
            first_round = saved.last.round
            for signed in saved.recent:
                own = signed.message()
                if isinstance(own, Vote):
                    hs.add_own_vote(own)
            lock = saved.lock
            if lock is not None:
                self.lock = lock
                self.valid_round, self.valid_hash = lock.round, lock.block_hash
                hs.blocks[lock.block_hash] = lock.block
                hs.validity[lock.block_hash] = True
                hs.proposed.add(lock.block_hash)
                for vote in lock.polka:
                    hs.admit_vote(vote, first_round)
        self._start_round(first_round)
        for message in held:
            self._on_message(message)

    def _start_round(self, round_: int) -> None:
        """StartRound (lines 11-21): propose if it is our turn, else wait for the proposal."""
        assert self._hs is not None and self.validators is not None
        self.round = round_
        self.step = Step.PROPOSE
        self._awaiting_block = None
        self._own_proposal = None
        self._schedule(TimeoutKind.PROPOSE)
        if not self.is_validator:
            return
        assert self.signer is not None
        if self.validators.proposer(self.height, round_).key_id != self.signer.key_id:
            return
        block = None if self.valid_hash is None else self._hs.blocks.get(self.valid_hash)
        if block is not None and self.valid_hash is not None:
            self._send_proposal(block, self.valid_hash, self.valid_round)
        else:
            self._awaiting_block = round_
            self._out.append(RequestProposal(self.height, round_))

    def _schedule(self, kind: TimeoutKind) -> None:
        duration = self.timeouts.duration(kind, self.round)
        self._out.append(ScheduleTimeout(kind, self.height, self.round, duration))

    def _schedule_rebroadcast(self) -> None:
        self._rebroadcast_token = (self.height, self.round)
        self._schedule(TimeoutKind.REBROADCAST)

    # ---------------------------------------------------------------- signing

    def _send_proposal(self, block: Block, block_hash: bytes, pol_round: int) -> None:
        hs, signer = self._hs, self.signer
        assert hs is not None and signer is not None
        try:
            proposal, saved = signer.sign_proposal(
                self.height, self.round, block_hash, pol_round, lock=self.lock
            )
        except DoubleSignRefused as e:
            prior = e.prior.message()
            if (
                e.prior.position != (self.height, self.round, Step.PROPOSE)
                or not isinstance(prior, Proposal)
                or prior.block_hash not in hs.blocks
            ):
                self.signing_refused += 1
                return
            # Already proposed something else in this round before a restart: only that
            # proposal may be sent again.
            proposal, saved, block = prior, None, hs.blocks[prior.block_hash]
        if saved is not None:
            self._out.append(PersistSigned(self.height, self.round, Step.PROPOSE, proposal, saved))
        self._out.append(BroadcastProposal(proposal, block))
        self._send_pol(proposal)
        hs.add_own_proposal(proposal, block)
        self._own_proposal = (proposal, block)

    def _send_pol(self, proposal: Proposal) -> None:
        """Relay the polka that justifies a proposal's valid round, for peers that missed it."""
        if proposal.pol_round >= 0 and self._hs is not None:
            rs = self._hs.rounds.get(proposal.pol_round)
            if rs is not None:
                for vote in rs.prevotes.votes_for(proposal.block_hash):
                    self._out.append(BroadcastVote(vote))

    def _vote(
        self, type_: VoteType, block_hash: bytes | None, *, new_lock: Lock | None = None
    ) -> Vote | None:
        """Sign, persist, broadcast and count our vote; the vote actually sent, if any."""
        if not self.is_validator:
            return None
        hs, signer = self._hs, self.signer
        assert hs is not None and signer is not None
        step = VOTE_STEP[type_]
        try:
            vote, saved = signer.sign_vote(
                type_, self.height, self.round, block_hash, lock=new_lock or self.lock
            )
        except DoubleSignRefused as e:
            prior = e.prior.message()
            if e.prior.position != (self.height, self.round, step) or not isinstance(prior, Vote):
                self.signing_refused += 1
                return None
            # We voted otherwise at this very step before a restart: that vote stands.
            vote, saved = prior, None
        if saved is not None:
            self._out.append(PersistSigned(self.height, self.round, step, vote, saved))
        self._out.append(BroadcastVote(vote))
        hs.add_own_vote(vote)
        return vote

    def _rebroadcast(self) -> None:
        """Send our latest proposal and votes again (gossip of our own messages)."""
        hs, signer = self._hs, self.signer
        if hs is None or signer is None:
            return
        if self.decision is not None:
            rounds = [self._decision_round]
        else:
            rounds = [self.round, self.round - 1]
        proposal = self._own_proposal
        if proposal is not None and proposal[0].round in rounds:
            self._out.append(BroadcastProposal(*proposal))
            self._send_pol(proposal[0])
        # The previous round too: a validator reaches round r only after two thirds
        # precommitted in r - 1 (or a third moved on), so peers still in r - 1 need
        # at most our votes of r - 1 to follow, whatever was lost before.
        for r in rounds:
            rs = hs.rounds.get(r)
            if rs is not None:
                for tally in (rs.prevotes, rs.precommits):
                    mine = tally.votes.get(signer.key_id)
                    if mine is not None:
                        self._out.append(BroadcastVote(mine))

    # ------------------------------------------------------------------ rules

    def _progress(self) -> None:
        while self._fire_one():
            pass

    def _fire_one(self) -> bool:
        """Fire the first upon-rule whose condition holds; False when none does."""
        hs, validators = self._hs, self.validators
        if hs is None or validators is None or self.decision is not None:
            return False
        if self._rule_decide(hs):
            return True
        target = hs.skip_target(self.round)
        if target is not None:
            self._start_round(target)  # line 55
            return True
        rs = hs.round_state(self.round)
        quorum = validators.has_quorum
        if self.step is Step.PROPOSE and self._rule_prevote(hs, rs):
            return True
        if self.step >= Step.PREVOTE and not rs.polka_done and self._rule_polka(hs, rs):
            return True
        if self.step is Step.PREVOTE:
            if not rs.prevote_timeout and quorum(rs.prevotes.total):  # line 34
                rs.prevote_timeout = True
                self._schedule(TimeoutKind.PREVOTE)
                return True
            if quorum(rs.prevotes.power_for(None)):  # line 44
                self._vote(VoteType.PRECOMMIT, None)
                self.step = Step.PRECOMMIT
                return True
        if not rs.precommit_timeout and quorum(rs.precommits.total):  # line 47
            rs.precommit_timeout = True
            self._schedule(TimeoutKind.PRECOMMIT)
            return True
        return False

    def _rule_prevote(self, hs: HeightState, rs: RoundState) -> bool:
        """Lines 22 and 28: prevote on the round's proposal."""
        assert self.validators is not None
        for proposal in rs.proposals:
            v = proposal.block_hash
            vr = proposal.pol_round
            if vr == -1:
                unlocked = self.locked_round == -1 or self.locked_hash == v
            else:
                pol = hs.rounds.get(vr)
                if pol is None or not self.validators.has_quorum(pol.prevotes.power_for(v)):
                    continue  # no polka for the valid round yet: wait (or time out)
                unlocked = self.locked_round <= vr or self.locked_hash == v
            if unlocked:
                valid = hs.validity.get(v)
                if valid is None:
                    continue  # block or the application's verdict still to come
                choice = v if valid else None
            else:
                choice = None
            self._vote(VoteType.PREVOTE, choice)
            self.step = Step.PREVOTE
            return True
        return False

    def _rule_polka(self, hs: HeightState, rs: RoundState) -> bool:
        """Line 36: a polka for a valid proposal locks (if prevoting) and sets the valid value."""
        assert self.validators is not None
        for proposal in rs.proposals:
            v = proposal.block_hash
            if hs.validity.get(v) is True and self.validators.has_quorum(rs.prevotes.power_for(v)):
                rs.polka_done = True
                if self.step is Step.PREVOTE:
                    polka = tuple(rs.prevotes.votes_for(v))
                    lock = Lock(self.height, self.round, v, hs.blocks[v], polka)
                    sent = self._vote(VoteType.PRECOMMIT, v, new_lock=lock)
                    # After a restart the sign state may hold another precommit for this
                    # round (or refuse): then we did not precommit v and must not lock on it.
                    if not self.is_validator or (sent is not None and sent.block_hash == v):
                        self.lock = lock
                    self.step = Step.PRECOMMIT
                self.valid_round, self.valid_hash = self.round, v
                return True
        return False

    def _rule_decide(self, hs: HeightState) -> bool:
        """Line 49: two thirds of precommits for a valid proposal of any round decide it."""
        assert self.validators is not None
        for r, rs in hs.rounds.items():
            if not self.validators.has_quorum(rs.precommits.total):
                continue
            for proposal in rs.proposals:
                v = proposal.block_hash
                if not self.validators.has_quorum(rs.precommits.power_for(v)):
                    continue
                if hs.validity.get(v) is not True:
                    continue  # wait for the block and its verdict
                block = hs.blocks[v]
                certificate = Certificate.from_votes(rs.precommits.votes_for(v))
                self.decision = Commit(block, certificate)
                self._decision_round = r
                self._out.append(self.decision)
                if self.timeouts.commit > 0:
                    self._out.append(
                        ScheduleTimeout(TimeoutKind.COMMIT, self.height, r, self.timeouts.commit)
                    )
                else:
                    self._commit_wait_over = True
                return True
        return False
