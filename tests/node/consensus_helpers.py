"""Fixed keys, blocks and signed messages for driving one consensus machine by hand.

Four validators of equal power (f = 1, a quorum is 3). ``Harness`` wraps a
machine for one of them and records every action, so a test feeds events
and asserts on exactly what came out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final, TypeVar

from ledger.block import Block, Header
from ledger.crypto import Verifier
from ledger.encoding import sha256
from ledger.votes import Certificate, Proposal, Vote, VoteType
from node.consensus.events import Action, Event, Start
from node.consensus.machine import ConsensusMachine
from node.consensus.params import TimeoutConfig
from node.consensus.privval import PrivValidator, SignedState, SignState
from tests.node.sim_app import CHAIN, GENESIS_TIME, validator_keys, validator_set

N: Final = 4
KEYS: Final = validator_keys(N)
VSET: Final = validator_set(N)
VERIFIER: Final = Verifier(workers=1)
TIMEOUTS: Final = TimeoutConfig(
    propose=1000,
    propose_delta=100,
    prevote=500,
    prevote_delta=50,
    precommit=500,
    precommit_delta=50,
    commit=300,
    rebroadcast=2000,
)
PREVOTE: Final = VoteType.PREVOTE
PRECOMMIT: Final = VoteType.PRECOMMIT
_INDEX: Final = {k.public.key_id: i for i, k in enumerate(KEYS)}

A = TypeVar("A")


def proposer_index(height: int, round_: int) -> int:
    """Index (into ``KEYS``) of the proposer of (height, round)."""
    return _INDEX[VSET.proposer(height, round_).key_id]


def non_proposer(height: int, round_: int) -> int:
    """Some validator that does not propose at (height, round)."""
    return next(i for i in range(N) if i != proposer_index(height, round_))


def make_block(height: int = 1, tag: int = 0, last_commit: Certificate | None = None) -> Block:
    """A block with no transactions; ``tag`` makes different blocks of one height."""
    header = Header(
        chain=CHAIN,
        height=height,
        time=GENESIS_TIME + 1000 * height + tag,
        prev_hash=sha256(b"prev%d" % height),
        txs_root=sha256(b""),
        log_size=0,
        log_root=sha256(b"log"),
        state_root=sha256(b"state"),
        validators_hash=VSET.hash,
        next_validators_hash=VSET.hash,
        proposer=KEYS[0].public.key_id,
    )
    if height > 1 and last_commit is None:
        previous = make_block(height - 1)
        votes = [vote(i, PRECOMMIT, 0, previous.hash, height - 1) for i in range(3)]
        last_commit = Certificate.from_votes(votes)
    return Block(header, (), last_commit)


def vote(i: int, type_: VoteType, round_: int, block_hash: bytes | None, height: int = 1) -> Vote:
    """A vote signed by validator ``i``."""
    return Vote.sign(KEYS[i], CHAIN, type_, height, round_, block_hash)


def proposal(block: Block, round_: int, pol_round: int = -1) -> Proposal:
    """The proposal of ``block`` signed by the proposer of its (height, round)."""
    i = proposer_index(block.height, round_)
    return Proposal.sign(KEYS[i], CHAIN, block.height, round_, block.hash, pol_round)


class Harness:
    """One machine (validator ``me``) and everything it has emitted."""

    def __init__(
        self, me: int, *, saved: SignedState | None = None, observer: bool = False
    ) -> None:
        self.me = me
        self.state = SignState(CHAIN, saved)
        signer = None if observer else PrivValidator(KEYS[me], self.state)
        self.machine = ConsensusMachine(
            chain=CHAIN, verifier=VERIFIER, signer=signer, timeouts=TIMEOUTS
        )
        self.log: list[Action] = []

    def start(self, height: int = 1) -> list[Action]:
        """Start at ``height``."""
        return self.send(Start(height, VSET))

    def send(self, *events: Event) -> list[Action]:
        """Feed events in order; the actions they caused."""
        out: list[Action] = []
        for event in events:
            out.extend(self.machine.handle(event))
        self.log.extend(out)
        return out


def only(actions: list[Action], kind: type[A]) -> list[A]:
    """The actions of one type, in order."""
    return [a for a in actions if isinstance(a, kind)]


def with_time(block: Block, delta: int) -> Block:
    """A different block of the same height."""
    return Block(
        replace(block.header, time=block.header.time + delta), block.txs, block.last_commit
    )
