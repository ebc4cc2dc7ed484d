"""Byzantine validators for the simulator: the honest machine wrapped by scripted misbehaviour.

* ``silent``: never runs a machine, never sends anything;
* ``equivocator``: as proposer, signs a second, different (and valid) block
  for the same round and sends one proposal to some peers, the other to the
  rest, and both to one victim;
* ``double_voter``: signs a second vote for a different value next to each
  of its own votes (nil against a block, or another known block against
  nil), split the same way;
* ``lock_attacker``: shows its proposal and its votes for it to a chosen
  few so that some validators decide while others are left locked (see
  :class:`LockAttacker`);
* ``invalid_proposer``: as proposer, proposes blocks with a wrong state root;
* ``spammer``: honest otherwise, floods peers with validly signed votes for
  rounds far ahead and unverifiable votes for the next heights, to exercise
  the machine's bounds.

All of them sign with their key directly, bypassing the sign state: that is
what makes them Byzantine. Their splits use the simulation's one generator.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from ledger.block import Block
from ledger.encoding import sha256
from ledger.votes import Proposal, Vote, VoteType
from node.consensus.events import BroadcastProposal, BroadcastVote
from tests.node.sim import Behaviour, SimNode
from tests.node.sim_app import CHAIN


def _split(node: SimNode) -> tuple[list[int], list[int], int]:
    """Two groups of peers and one victim who gets both messages."""
    peers = [i for i in range(len(node.sim.nodes)) if i != node.index]
    node.sim.rng.shuffle(peers)
    half = len(peers) // 2
    return peers[:half], peers[half:], peers[0]


def _send_split(node: SimNode, first: tuple[object, ...], second: tuple[object, ...]) -> None:
    group_a, group_b, victim = _split(node)
    for dst in group_a:
        node.sim.send(node.index, dst, first)
    for dst in group_b:
        node.sim.send(node.index, dst, second)
    node.sim.send(node.index, victim, second if victim in group_a else first)
    node.trace.append((node.sim.now, f"byzantine split to {group_a} / {group_b}", None, []))


class Silent(Behaviour):
    """Crashed from the start, as far as anyone can tell."""

    name = "silent"
    runs_machine = False


class Equivocator(Behaviour):
    """Proposes two different valid blocks in each of its rounds."""

    name = "equivocator"

    def broadcast_proposal(self, node: SimNode, action: BroadcastProposal) -> None:
        """Send proposal A to some peers and a conflicting proposal B to the others."""
        proposal, block = action.proposal, action.block
        if proposal.proposer != node.key_id:
            super().broadcast_proposal(node, action)
            return
        other = Block(
            replace(block.header, time=block.header.time + 1), block.txs, block.last_commit
        )
        twin = Proposal.sign(
            node.key, CHAIN, proposal.height, proposal.round, other.hash, proposal.pol_round
        )
        _send_split(node, ("proposal", proposal, block), ("proposal", twin, other))


class DoubleVoter(Behaviour):
    """Votes for two values at every step."""

    name = "double_voter"

    def broadcast_vote(self, node: SimNode, action: BroadcastVote) -> None:
        """Send our vote to some peers and a conflicting one to the others."""
        vote = action.vote
        if vote.validator != node.key_id:
            super().broadcast_vote(node, action)
            return
        rs = None if node.machine is None else node.machine.round_state(vote.round)
        other: bytes | None = None
        if vote.block_hash is not None:
            other = None
        elif rs is not None and rs.proposals:
            other = rs.proposals[0].block_hash
        else:
            other = sha256(b"phantom%d/%d" % (vote.height, vote.round))
        twin = Vote.sign(node.key, CHAIN, vote.type, vote.height, vote.round, other)
        _send_split(node, ("vote", vote), ("vote", twin))


class LockAttacker(Behaviour):
    """Tries to get two values decided, which only a validator forgetting its lock allows.

    When it proposes, it picks two peers and shows its proposal to them only,
    so the others time out and prevote nil; it prevotes its value to both and
    precommits it to the first only. With four validators the first can then
    decide while the second is left locked on the value and the rest never
    saw it win. In the later rounds of that height it backs whatever is
    proposed (prevote and precommit) towards everyone but the one that
    decided: a validator ignoring its lock would then let a second value win.
    """

    name = "lock_attacker"

    def broadcast_proposal(self, node: SimNode, action: BroadcastProposal) -> None:
        """Show our proposal to two peers only, and remember them."""
        p = action.proposal
        if p.proposer != node.key_id:
            super().broadcast_proposal(node, action)
            return
        peers = [i for i in range(len(node.sim.nodes)) if i != node.index]
        pair = node.sim.rng.sample(peers, 2)
        node.scratch[("pair", p.height, p.round)] = pair
        node.scratch.setdefault(("decider", p.height), pair[0])
        for dst in pair:
            node.sim.send(node.index, dst, ("proposal", p, action.block))

    def broadcast_vote(self, node: SimNode, action: BroadcastVote) -> None:
        """Back the round's value towards the chosen peers, nil towards the others."""
        vote = action.vote
        rs = None if node.machine is None else node.machine.round_state(vote.round)
        value = rs.proposals[0].block_hash if rs is not None and rs.proposals else None
        decider = node.scratch.get(("decider", vote.height))
        if vote.validator != node.key_id or value is None or decider is None:
            super().broadcast_vote(node, action)
            return
        peers = [i for i in range(len(node.sim.nodes)) if i != node.index]
        pair = node.scratch.get(("pair", vote.height, vote.round))
        if isinstance(pair, list):
            favoured = pair if vote.type is VoteType.PREVOTE else pair[:1]
        else:
            favoured = [i for i in peers if i != decider]
        yes = Vote.sign(node.key, CHAIN, vote.type, vote.height, vote.round, value)
        no = Vote.sign(node.key, CHAIN, vote.type, vote.height, vote.round, None)
        for dst in peers:
            node.sim.send(node.index, dst, ("vote", yes if dst in favoured else no))


class InvalidProposer(Behaviour):
    """Proposes blocks that fail validation."""

    name = "invalid_proposer"

    def build_block(self, node: SimNode, height: int, round_: int) -> Block:
        """A block with a wrong state root."""
        return node.chain.build(node.key_id, node.sim.now, corrupt=True)


class Spammer(Behaviour):
    """Honest votes, plus a flood of far-ahead and next-height votes."""

    name = "spammer"

    def tick(self, node: SimNode) -> None:
        """Send validly signed votes the machine must not keep."""
        machine = node.machine
        if machine is None:
            return
        rng = node.sim.rng
        h, r = machine.height, machine.round
        for _ in range(20):
            vote = Vote.sign(
                node.key,
                CHAIN,
                rng.choice((VoteType.PREVOTE, VoteType.PRECOMMIT)),
                h + rng.choice((0, 0, 1, 1, 5)),
                r + rng.randint(20, 10_000),
                sha256(b"spam%d" % rng.randint(0, 1 << 30)),
            )
            node.sim.broadcast(node.index, ("vote", vote))


BEHAVIOURS: Final[dict[str, Behaviour]] = {
    b.name: b
    for b in (
        Silent(),
        Equivocator(),
        DoubleVoter(),
        LockAttacker(),
        InvalidProposer(),
        Spammer(),
    )
}
