"""What the machine has received at its current height: admission, tallies and bounds.

Nothing is counted before it is checked: a vote must come from a member of
the height's validator set with a valid signature, a proposal from the
proposer the set names for its round. Cheap checks (duplicates, rounds,
membership) run before the signature, so a peer that floods us with copies
costs a dictionary lookup each. Every message dropped is counted by reason
in the ``rejected`` dict the machine shares with the node's metrics.

Each validator counts once in a round's "any value" totals (its first
vote). A second vote for another value is turned into evidence once, and is
also counted for its value when that value can matter (it was proposed at
this height, or more than a third of the power backs it), as the paper
counts messages per value; other values are dropped, which bounds what a
double-signing validator can make us keep. Rounds beyond
``current + limits.rounds_ahead`` are not kept at all: only each
validator's highest round is remembered, enough to notice that validators
with more than a third of the power have moved on.
"""

from __future__ import annotations

from collections import OrderedDict

from ledger.block import Block
from ledger.crypto import Verifier
from ledger.evidence import Evidence
from ledger.validators import Validator, ValidatorSet
from ledger.votes import MAX_ROUND, Proposal, Vote, VoteType
from node.consensus.events import BlockReceived, ProposalReceived, VoteReceived
from node.consensus.params import Limits


class VoteTally:
    """The votes of one type in one round, counted per value as the paper counts messages.

    ``votes`` holds each validator's first vote and ``total`` the power of
    the validators heard from (each once). A Byzantine validator may sign
    for several values; its other votes are counted for those values too,
    when the caller keeps them (see :meth:`HeightState.admit_vote`), since
    a polka that includes one of them is real and peers must be able to
    confirm it.
    """

    __slots__ = ("by_value", "power", "total", "votes")

    def __init__(self) -> None:
        self.votes: dict[str, Vote] = {}
        self.by_value: dict[bytes | None, dict[str, Vote]] = {}
        self.power: dict[bytes | None, int] = {}
        self.total = 0

    def add(self, vote: Vote, power: int) -> None:
        """Count ``vote`` for its value, and its validator in the total if first heard."""
        voters = self.by_value.setdefault(vote.block_hash, {})
        if vote.validator in voters:
            return
        voters[vote.validator] = vote
        self.power[vote.block_hash] = self.power.get(vote.block_hash, 0) + power
        if vote.validator not in self.votes:
            self.votes[vote.validator] = vote
            self.total += power

    def has(self, vote: Vote) -> bool:
        """Whether a vote of this validator for this value is counted already."""
        voters = self.by_value.get(vote.block_hash)
        return voters is not None and vote.validator in voters

    def power_for(self, block_hash: bytes | None) -> int:
        """Voting power behind ``block_hash`` (``None``: nil)."""
        return self.power.get(block_hash, 0)

    def votes_for(self, block_hash: bytes | None) -> list[Vote]:
        """The counted votes for ``block_hash``, sorted by validator."""
        voters = self.by_value.get(block_hash, {})
        return [voters[k] for k in sorted(voters)]


class RoundState:
    """Everything counted for one round, and which once-per-round rules have fired."""

    __slots__ = (
        "polka_done",
        "precommit_timeout",
        "precommits",
        "prevote_timeout",
        "prevotes",
        "proposals",
        "sender_power",
        "senders",
    )

    def __init__(self) -> None:
        self.prevotes = VoteTally()
        self.precommits = VoteTally()
        self.proposals: list[Proposal] = []
        self.senders: set[str] = set()
        self.sender_power = 0
        self.prevote_timeout = False
        self.precommit_timeout = False
        self.polka_done = False

    def tally(self, type_: VoteType) -> VoteTally:
        """The prevote or precommit tally."""
        return self.prevotes if type_ is VoteType.PREVOTE else self.precommits

    def add_sender(self, validator: Validator) -> None:
        """Note that ``validator`` sent something in this round (for the round skip)."""
        if validator.key_id not in self.senders:
            self.senders.add(validator.key_id)
            self.sender_power += validator.power


class HeightState:
    """Checked messages, blocks and validation verdicts of one height."""

    def __init__(
        self,
        chain: str,
        height: int,
        validators: ValidatorSet,
        verifier: Verifier,
        limits: Limits,
        rejected: dict[str, int],
    ) -> None:
        self.chain = chain
        self.height = height
        self.validators = validators
        self.verifier = verifier
        self.limits = limits
        self.rejected = rejected
        self.rounds: dict[int, RoundState] = {}
        self.blocks: dict[bytes, Block] = {}
        self.proposed: set[bytes] = set()
        self.validity: dict[bytes, bool] = {}
        self.to_validate: list[tuple[bytes, Block]] = []
        self.highest_round: dict[str, int] = {}
        self._highest_seen = -1
        self._unmatched: OrderedDict[bytes, Block] = OrderedDict()
        self._reported: set[tuple[str, int, str]] = set()

    def reject(self, reason: str) -> None:
        """Count one dropped message under ``reason``."""
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def round_state(self, round_: int) -> RoundState:
        """The state of ``round_``, created empty on first use."""
        rs = self.rounds.get(round_)
        if rs is None:
            rs = self.rounds[round_] = RoundState()
        return rs

    def _seen(self, validator: Validator, round_: int) -> None:
        if round_ > self.highest_round.get(validator.key_id, -1):
            self.highest_round[validator.key_id] = round_
            self._highest_seen = max(self._highest_seen, round_)

    def _signed_by(self, member: Validator, message: Vote | Proposal) -> bool:
        ok = self.verifier.verify_one(
            member.public.raw, message.message(self.chain), message.signature
        )
        if not ok:
            self.reject("bad_signature")
        return ok

    def admit_vote(self, vote: Vote, current_round: int) -> Evidence | None:
        """Check and count a vote of this height; evidence if it contradicts an earlier one."""
        if not 0 <= vote.round <= MAX_ROUND:
            self.reject("bad_round")
            return None
        member = self.validators.get(vote.validator)
        if member is None:
            self.reject("unknown_validator")
            return None
        if vote.round > current_round + self.limits.rounds_ahead:
            if vote.round > self.highest_round.get(vote.validator, -1) and self._signed_by(
                member, vote
            ):
                self._seen(member, vote.round)
            self.reject("round_too_far")
            return None
        rs = self.round_state(vote.round)
        tally = rs.tally(vote.type)
        if tally.has(vote):
            self.reject("duplicate")
            return None
        if not self._signed_by(member, vote):
            return None
        first = tally.votes.get(vote.validator)
        if first is None:
            tally.add(vote, member.power)
            rs.add_sender(member)
            self._seen(member, vote.round)
            return None
        # A second value from one validator: evidence, and counted only for values
        # that can matter (proposed at this height, or backed by more than a third),
        # so the number kept per validator and round stays small.
        if vote.block_hash is not None and (
            vote.block_hash in self.proposed
            or self.validators.has_one_third(tally.power_for(vote.block_hash))
        ):
            tally.add(vote, member.power)
        else:
            self.reject("conflicting_vote")
        return self._report(first, vote, (vote.validator, vote.round, vote.type.value))

    def add_own_vote(self, vote: Vote) -> None:
        """Count our own freshly signed vote."""
        member = self.validators.get(vote.validator)
        if member is None:
            return
        rs = self.round_state(vote.round)
        rs.tally(vote.type).add(vote, member.power)
        rs.add_sender(member)
        self._seen(member, vote.round)

    def admit_proposal(
        self, proposal: Proposal, block: Block | None, current_round: int
    ) -> Evidence | None:
        """Check and keep a proposal of this height (and its block); evidence if it conflicts."""
        if not 0 <= proposal.round <= MAX_ROUND:
            self.reject("bad_round")
            return None
        if not -1 <= proposal.pol_round < proposal.round:
            self.reject("bad_pol_round")
            return None
        member = self.validators.proposer(self.height, proposal.round)
        if proposal.proposer != member.key_id:
            self.reject("wrong_proposer")
            return None
        if proposal.round > current_round + self.limits.rounds_ahead:
            if proposal.round > self.highest_round.get(member.key_id, -1) and self._signed_by(
                member, proposal
            ):
                self._seen(member, proposal.round)
            self.reject("round_too_far")
            return None
        rs = self.round_state(proposal.round)
        if proposal in rs.proposals:
            if block is not None and proposal.block_hash not in self.blocks:
                self._attach(proposal.block_hash, block)
            else:
                self.reject("duplicate")
            return None
        if not self._signed_by(member, proposal):
            return None
        evidence = None
        if rs.proposals:
            self.reject("conflicting_proposal")
            evidence = self._report(rs.proposals[0], proposal, (member.key_id, proposal.round, ""))
            if len(rs.proposals) >= self.limits.proposals_per_round and not self._backed(
                rs, proposal.block_hash
            ):
                self.reject("proposal_cap")
                return evidence
        rs.proposals.append(proposal)
        self.proposed.add(proposal.block_hash)
        rs.add_sender(member)
        self._seen(member, proposal.round)
        if block is not None:
            self._attach(proposal.block_hash, block)
        elif proposal.block_hash in self._unmatched:
            self._attach(proposal.block_hash, self._unmatched.pop(proposal.block_hash))
        return evidence

    def add_own_proposal(self, proposal: Proposal, block: Block) -> None:
        """Keep our own proposal; we built the block, so it counts as valid."""
        rs = self.round_state(proposal.round)
        if proposal not in rs.proposals:
            rs.proposals.append(proposal)
            self.proposed.add(proposal.block_hash)
            member = self.validators.get(proposal.proposer)
            if member is not None:
                rs.add_sender(member)
                self._seen(member, proposal.round)
        self.blocks[proposal.block_hash] = block
        self.validity[proposal.block_hash] = True

    def admit_block(self, block: Block) -> None:
        """Keep a block that arrived on its own, for a proposal we hold or may soon get."""
        block_hash = block.hash
        if block_hash in self.blocks or block_hash in self._unmatched:
            self.reject("duplicate")
            return
        if any(p.block_hash == block_hash for rs in self.rounds.values() for p in rs.proposals):
            self._attach(block_hash, block)
            return
        if block.height != self.height:
            self.reject("block_mismatch")
            return
        self._unmatched[block_hash] = block
        if len(self._unmatched) > self.limits.unmatched_blocks:
            self._unmatched.popitem(last=False)
            self.reject("block_cache_full")

    def _attach(self, expected_hash: bytes, block: Block) -> None:
        if block.height != self.height or block.hash != expected_hash:
            self.reject("block_mismatch")
            return
        if expected_hash not in self.blocks:
            self.blocks[expected_hash] = block
            if expected_hash not in self.validity:
                self.to_validate.append((expected_hash, block))

    def _backed(self, rs: RoundState, block_hash: bytes) -> bool:
        """Whether validators with more than a third of the power voted for ``block_hash``."""
        has = self.validators.has_one_third
        return has(rs.prevotes.power_for(block_hash)) or has(rs.precommits.power_for(block_hash))

    def _report(
        self, first: Vote | Proposal, second: Vote | Proposal, key: tuple[str, int, str]
    ) -> Evidence | None:
        """Evidence of the pair, once per (validator, round, kind)."""
        if key in self._reported:
            return None
        self._reported.add(key)
        return Evidence.of(first, second)

    def skip_target(self, current_round: int) -> int | None:
        """Round to skip to (Algorithm 1 line 55), or None.

        Within the kept rounds: the highest round above the current one in
        which validators with more than a third of the power sent something.
        Beyond them, where messages are not kept: the highest round that
        validators holding more than a third of the power have each reached.
        """
        one_third = self.validators.has_one_third
        best = None
        for r, rs in self.rounds.items():
            if r > current_round and (best is None or r > best) and one_third(rs.sender_power):
                best = r
        if self._highest_seen > current_round + self.limits.rounds_ahead:
            power = 0
            for key_id, r in sorted(self.highest_round.items(), key=lambda kv: -kv[1]):
                if r <= current_round:
                    break
                member = self.validators.get(key_id)
                power += member.power if member is not None else 0
                if one_third(power):
                    if best is None or r > best:
                        best = r
                    break
        return best


BufferedMessage = VoteReceived | ProposalReceived | BlockReceived


class NextHeightBuffer:
    """Messages for the next height, unchecked until its validator set is known.

    They cannot be verified yet, so the sender they name is only a claim:
    caps per claimed sender and in total bound the memory a peer can take,
    and at worst a flood crowds out messages that the periodic rebroadcast
    of their authors sends again.
    """

    def __init__(self, height: int, limits: Limits, rejected: dict[str, int]) -> None:
        self.height = height
        self.limits = limits
        self.rejected = rejected
        self._messages: dict[tuple[object, ...], BufferedMessage] = {}
        self._per_sender: dict[str, int] = {}
        self._blocks = 0

    def _reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def add(self, message: BufferedMessage) -> None:
        """Hold ``message`` (of height ``self.height``) if the caps allow."""
        has_block = False
        if isinstance(message, VoteReceived):
            v = message.vote
            sender = v.validator
            key: tuple[object, ...] = ("v", sender, v.round, v.type.value, v.block_hash)
        elif isinstance(message, ProposalReceived):
            p = message.proposal
            sender = p.proposer
            has_block = message.block is not None
            key = ("p", sender, p.round, p.block_hash, p.pol_round, has_block)
        else:
            sender = message.block.header.proposer
            has_block = True
            key = ("b", message.block.hash)
        if key in self._messages:
            self._reject("duplicate")
            return
        count = self._per_sender.get(sender, 0)
        if (
            count >= self.limits.next_height_per_sender
            or len(self._messages) >= self.limits.next_height_total
            or (has_block and self._blocks >= self.limits.next_height_blocks)
        ):
            self._reject("buffer_full")
            return
        self._messages[key] = message
        self._per_sender[sender] = count + 1
        self._blocks += has_block

    def drain(self) -> list[BufferedMessage]:
        """Everything held, in arrival order, and empty the buffer."""
        held = list(self._messages.values())
        self._messages.clear()
        self._per_sender.clear()
        self._blocks = 0
        return held
