"""The simulator's application: a deterministic little chain of real blocks.

Each simulated node keeps a :class:`SimChain` (its committed blocks with
their certificates, and a pool of pending transactions); both survive a
simulated crash, as a node's store and mempool on disk would. Blocks are
real :class:`ledger.block.Block` values over real signed transactions; the
header fields that the real node derives from its state and transaction
log are derived here from a hash chain, deterministically, so validators
can recompute them. A Byzantine proposer may build a block with a wrong
``state_root``, which validation rejects.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from ledger.block import Block, Header, txs_root
from ledger.crypto import SigningKey, Verifier
from ledger.encoding import sha256
from ledger.errors import LedgerError
from ledger.merkle import EMPTY_ROOT
from ledger.tx import Envelope, Transaction
from ledger.validators import Validator, ValidatorSet
from ledger.votes import Certificate

CHAIN: Final = "sim-chain"
GENESIS_HASH: Final = sha256(b"sim-genesis")
GENESIS_TIME: Final = 1_700_000_000_000
MAX_BLOCK_TXS: Final = 4
TX_POOL_SIZE: Final = 48


@cache
def validator_keys(n: int) -> tuple[SigningKey, ...]:
    """Fixed validator keys; node ``i`` holds key ``i``."""
    return tuple(SigningKey.from_seed(sha256(b"sim-validator-%d" % i)) for i in range(n))


@cache
def validator_set(n: int) -> ValidatorSet:
    """Equal-power validator set of the first ``n`` fixed keys."""
    return ValidatorSet.create(
        [Validator(k.public, 1, f"org-{i}") for i, k in enumerate(validator_keys(n))]
    )


@cache
def transactions() -> tuple[Transaction, ...]:
    """A fixed pool of signed transactions from a few client keys."""
    clients = [SigningKey.from_seed(sha256(b"sim-client-%d" % i)) for i in range(4)]
    txs = []
    for i in range(TX_POOL_SIZE):
        key = clients[i % len(clients)]
        envelope = Envelope(
            chain=CHAIN,
            type="sim.note",
            signer=key.public.key_id,
            nonce=i + 1,
            body={"n": i},
            expires=1_000_000,
        )
        txs.append(Transaction.create(envelope, [key]))
    return tuple(txs)


def _log_root(prev_root: bytes, root: bytes) -> bytes:
    return sha256(b"log" + prev_root + root)


def _state_root(log_root: bytes) -> bytes:
    return sha256(b"state" + log_root)


class SimChain:
    """A node's committed chain and transaction pool (both durable across crashes)."""

    def __init__(self, validators: ValidatorSet, verifier: Verifier) -> None:
        self.validators = validators
        self.verifier = verifier
        self.blocks: list[Block] = []
        self.hashes: list[bytes] = []
        self.certificates: list[Certificate] = []
        self.committed: dict[bytes, int] = {}  # tx id -> height
        self.pending: dict[bytes, Transaction] = {}

    @property
    def height(self) -> int:
        """Last committed height."""
        return len(self.blocks)

    def _tip(self) -> tuple[bytes, int, int, bytes]:
        if not self.blocks:
            return GENESIS_HASH, GENESIS_TIME, 0, EMPTY_ROOT
        h = self.blocks[-1].header
        return self.hashes[-1], h.time, h.log_size, h.log_root

    def add_pending(self, tx: Transaction) -> bool:
        """Admit a transaction to the pool; False if known already."""
        if tx.id in self.committed or tx.id in self.pending:
            return False
        tx.verify(self.verifier)
        self.pending[tx.id] = tx
        return True

    def build(self, proposer: str, now: int, *, corrupt: bool = False) -> Block:
        """The next block from pending transactions (``corrupt``: wrong state root)."""
        prev_hash, prev_time, log_size, log_root = self._tip()
        txs = tuple(list(self.pending.values())[:MAX_BLOCK_TXS])
        root = txs_root(txs)
        new_log = _log_root(log_root, root)
        state = _state_root(new_log)
        if corrupt:
            state = sha256(b"corrupt" + state)
        header = Header(
            chain=CHAIN,
            height=self.height + 1,
            time=max(prev_time + 1, GENESIS_TIME + now),
            prev_hash=prev_hash,
            txs_root=root,
            log_size=log_size + len(txs),
            log_root=new_log,
            state_root=state,
            validators_hash=self.validators.hash,
            next_validators_hash=self.validators.hash,
            proposer=proposer,
        )
        last_commit = self.certificates[-1] if self.certificates else None
        return Block(header, txs, last_commit)

    def validate(self, block: Block) -> bool:
        """Whether ``block`` validly extends the committed chain."""
        prev_hash, prev_time, log_size, log_root = self._tip()
        h = block.header
        root = txs_root(block.txs)
        new_log = _log_root(log_root, root)
        if (
            h.chain != CHAIN
            or h.height != self.height + 1
            or h.prev_hash != prev_hash
            or h.time <= prev_time
            or h.txs_root != root
            or h.log_size != log_size + len(block.txs)
            or h.log_root != new_log
            or h.state_root != _state_root(new_log)
            or h.validators_hash != self.validators.hash
            or h.next_validators_hash != self.validators.hash
            or h.proposer not in self.validators
        ):
            return False
        ids = {tx.id for tx in block.txs}
        if len(ids) != len(block.txs) or any(i in self.committed for i in ids):
            return False
        try:
            for tx in block.txs:
                tx.verify(self.verifier)
            if self.blocks:
                assert block.last_commit is not None
                block.last_commit.verify(
                    CHAIN,
                    self.validators,
                    self.verifier,
                    height=self.height,
                    block_hash=prev_hash,
                )
        except LedgerError:
            return False
        return True

    def commit(self, block: Block, block_hash: bytes, certificate: Certificate) -> None:
        """Append a decided block; the certificate must verify (raises otherwise)."""
        certificate.verify(
            CHAIN, self.validators, self.verifier, height=block.height, block_hash=block_hash
        )
        if block.height != self.height + 1:
            raise AssertionError(f"commit of height {block.height} on top of {self.height}")
        self.blocks.append(block)
        self.hashes.append(block_hash)
        self.certificates.append(certificate)
        for tx in block.txs:
            self.committed[tx.id] = block.height
            self.pending.pop(tx.id, None)
