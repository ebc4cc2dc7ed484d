"""Build small, fully signed chains for ledger tests (no contracts involved)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ledger.block import Block, Header, txs_root
from ledger.crypto import SigningKey
from ledger.encoding import sha256
from ledger.genesis import Genesis
from ledger.merkle import leaf_hash
from ledger.replay import BlockOutcome, LogFrontier
from ledger.tx import Envelope, Transaction
from ledger.validators import Validator, ValidatorSet
from ledger.votes import Certificate, Vote, VoteType

CHAIN = "dg-ledger-test"


def key(name: str) -> SigningKey:
    """A fixed key per name."""
    return SigningKey.from_seed(sha256(name.encode()))


VALIDATOR_KEYS = [key(f"validator-{i}") for i in range(4)]
CLIENT = key("client")


class HashChainMachine:
    """A stand-in state machine: the state root chains every transaction id."""

    def __init__(self, validators: ValidatorSet) -> None:
        self.root = b"\x00" * 32
        self.validators = validators

    def apply_block(self, block: Block) -> BlockOutcome:
        for tx in block.txs:
            self.root = sha256(self.root + tx.id)
        return BlockOutcome(self.root, self.validators)


@dataclass
class ChainMaker:
    """Makes consecutive blocks with real signatures and certificates."""

    genesis: Genesis
    machine: HashChainMachine
    blocks: list[Block] = field(default_factory=list)
    certificates: list[Certificate] = field(default_factory=list)
    log: LogFrontier = field(default_factory=LogFrontier)
    nonce: int = 0

    def tx(self, n: int = 0) -> Transaction:
        """A signed transaction from the client key."""
        self.nonce += 1
        env = Envelope(CHAIN, "test.note", CLIENT.public.key_id, self.nonce, {"n": n}, 10**6)
        return Transaction.create(env, [CLIENT])

    def certify(
        self, block: Block, round_: int = 0, signers: Sequence[SigningKey] | None = None
    ) -> Certificate:
        """Precommits of ``signers`` (default: all validators) for ``block``."""
        votes = [
            Vote.sign(k, CHAIN, VoteType.PRECOMMIT, block.height, round_, block.hash)
            for k in (signers or VALIDATOR_KEYS)
        ]
        return Certificate.from_votes(votes)

    def next(self, txs: Sequence[Transaction]) -> Block:
        """Append a block holding ``txs``."""
        height = len(self.blocks) + 1
        prev = self.blocks[-1] if self.blocks else None
        for tx in txs:
            self.log.append(leaf_hash(tx.wire))
        header = Header(
            chain=CHAIN,
            height=height,
            time=self.genesis.time + height * 1000,
            prev_hash=prev.hash if prev else self.genesis.hash,
            txs_root=txs_root(txs),
            log_size=self.log.size,
            log_root=self.log.root(),
            state_root=b"",
            validators_hash=self.genesis.validators.hash,
            next_validators_hash=self.genesis.validators.hash,
            proposer=VALIDATOR_KEYS[height % 4].public.key_id,
        )
        outcome = self.machine.apply_block(
            Block(header, tuple(txs), self.certificates[-1] if prev else None)
        )
        header = Header(**{**header.to_value(), "state_root": outcome.state_root})
        block = Block(header, tuple(txs), self.certificates[-1] if prev else None)
        self.blocks.append(block)
        self.certificates.append(self.certify(block))
        return block


def make_genesis() -> Genesis:
    """Genesis with four equal validators."""
    validators = ValidatorSet.create(
        [Validator(k.public, 10, f"org-{i}") for i, k in enumerate(VALIDATOR_KEYS)]
    )
    return Genesis.create(CHAIN, 1_790_000_000_000, validators, {})


def make_chain(blocks: int, txs_per_block: int = 3) -> ChainMaker:
    """A chain of ``blocks`` blocks."""
    genesis = make_genesis()
    maker = ChainMaker(genesis, HashChainMachine(genesis.validators))
    for b in range(blocks):
        maker.next([maker.tx(b * 100 + i) for i in range(txs_per_block)])
    return maker
