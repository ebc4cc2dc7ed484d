"""Chain verification: replay blocks from genesis and trust nothing unchecked.

For every block, in order, :func:`replay` checks

1. the header: chain id, height, link to the previous block (genesis hash
   for block 1), block time strictly increasing, the validator set hash;
2. the certificate of the previous block carried in this one, against the
   validator set in force at that height;
3. the transactions: decoded, bound to this chain, every signature valid
   under the project's rule (batch-verified), ``txs_root``;
4. the transaction log: appending the block's transactions gives the
   header's ``log_size`` and ``log_root``;
5. the state: the :class:`StateMachine` callback (the contracts) applies the
   block and returns the state root and the next validator set, which must
   match ``state_root`` and ``next_validators_hash``;

and finally the certificate of the last block, when one is given. The first
failure raises :class:`ReplayError` with the height, the transaction index
where one applies, and the reason. Memory stays constant in the chain length:
blocks are consumed from an iterator and the log is kept as its O(log n)
frontier only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ledger.block import Block, txs_root
from ledger.crypto import Verifier
from ledger.errors import LedgerError, ReplayError
from ledger.genesis import Genesis
from ledger.merkle import leaf_hash, node_hash
from ledger.merkle import root_of as _root_of
from ledger.validators import ValidatorSet
from ledger.votes import Certificate


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    """What the state machine reports after applying a block."""

    state_root: bytes
    next_validators: ValidatorSet


class StateMachine(Protocol):
    """Deterministic application of blocks to state (provided by the contracts)."""

    def apply_block(self, block: Block) -> BlockOutcome:
        """Apply ``block`` and report the resulting state root and next validator set."""
        ...


class LogFrontier:
    """The right edge of an RFC 9162 tree: append and root in O(log n) memory."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # perfect subtree hashes, largest first

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        h = leaf
        n = self.size
        while n & 1:
            h = node_hash(self._stack.pop(), h)
            n >>= 1
        self._stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        """Root of the tree of every leaf appended so far."""
        if not self._stack:
            return _root_of([])
        h = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h


@dataclass(slots=True)
class ReplaySummary:
    """What a successful replay went through."""

    height: int = 0
    transactions: int = 0
    tip_hash: bytes = b""
    log_root: bytes = b""
    state_root: bytes = b""
    tx_types: dict[str, int] = field(default_factory=dict)


def replay(
    genesis: Genesis,
    blocks: Iterable[tuple[Block, Certificate | None]],
    machine: StateMachine,
    verifier: Verifier,
    *,
    progress: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Verify ``blocks`` (each with the certificate held for it, if any) from height 1.

    Each block's ``last_commit`` proves its predecessor final, and every
    certificate paired with a block must prove that block final against the
    set in force at its height: a stored certificate that does not verify is
    a failure even where the next block's ``last_commit`` proves the same
    (the one paired with the last block is what proves the tip).
    Raises :class:`ReplayError` at the first failure.
    """
    chain = genesis.chain
    validators = genesis.validators
    previous_validators = validators
    prev_hash = genesis.hash
    prev_time = genesis.time
    log = LogFrontier()
    summary = ReplaySummary(tip_hash=genesis.hash, log_root=log.root())
    for block, certificate in blocks:
        height = summary.height + 1
        header = block.header
        check_block(
            block,
            Tip(chain, height - 1, prev_hash, prev_time, validators, previous_validators),
            verifier,
        )
        if certificate is not None:
            try:
                certificate.verify(
                    chain, validators, verifier, height=height, block_hash=block.hash
                )
            except LedgerError as e:
                raise ReplayError(f"certificate held for the block: {e}", height=height) from e
        for tx in block.txs:
            log.append(leaf_hash(tx.wire))
        if header.log_size != log.size:
            raise ReplayError(f"log_size {header.log_size}, expected {log.size}", height=height)
        if header.log_root != log.root():
            raise ReplayError("log_root does not match the transaction log", height=height)
        try:
            outcome = machine.apply_block(block)
        except LedgerError as e:
            raise ReplayError(f"state machine: {e}", height=height) from e
        if header.state_root != outcome.state_root:
            raise ReplayError("state_root does not match the replayed state", height=height)
        if header.next_validators_hash != outcome.next_validators.hash:
            raise ReplayError("next_validators_hash does not match governance", height=height)
        previous_validators = validators
        validators = outcome.next_validators
        prev_hash = block.hash
        prev_time = header.time
        summary.height = height
        summary.transactions += len(block.txs)
        summary.tip_hash = prev_hash
        summary.log_root = header.log_root
        summary.state_root = header.state_root
        for tx in block.txs:
            summary.tx_types[tx.type] = summary.tx_types.get(tx.type, 0) + 1
        if progress is not None:
            progress(summary)
    return summary


@dataclass(frozen=True, slots=True)
class Tip:
    """What a new block must extend: the chain's last block and the validator sets."""

    chain: str
    height: int
    hash: bytes
    time: int
    validators: ValidatorSet
    """The set in force for the next block."""
    previous_validators: ValidatorSet
    """The set that signed the tip (whose certificate the next block carries)."""


def check_block(
    block: Block, tip: Tip, verifier: Verifier, tx_verifier: Verifier | None = None
) -> None:
    """Check everything about ``block`` that needs no state: links, certificate, signatures.

    Transactions' signatures are checked with ``tx_verifier`` when given (a
    node's, which remembers the signatures it checked at admission), the
    previous block's certificate with ``verifier``. Raises
    :class:`ReplayError` (a :class:`ChainError`) naming the height and
    transaction.
    """
    header = block.header
    height = tip.height + 1
    if header.height != height:
        raise ReplayError(f"expected height {height}, found {header.height}", height=height)
    if header.chain != tip.chain:
        raise ReplayError(f"block is for chain {header.chain!r}", height=height)
    if header.prev_hash != tip.hash:
        raise ReplayError("prev_hash does not link to the previous block", height=height)
    if header.time <= tip.time:
        raise ReplayError("block time does not increase", height=height)
    if header.validators_hash != tip.validators.hash:
        raise ReplayError("validators_hash is not the set in force", height=height)
    if height > 1:
        if block.last_commit is None:
            raise ReplayError("missing the certificate of the previous block", height=height)
        try:
            block.last_commit.verify(
                tip.chain, tip.previous_validators, verifier, height=height - 1, block_hash=tip.hash
            )
        except LedgerError as e:
            raise ReplayError(f"certificate of block {height - 1}: {e}", height=height) from e
    _check_transactions(block, tip.chain, verifier if tx_verifier is None else tx_verifier)
    if header.txs_root != txs_root(block.txs):
        raise ReplayError("txs_root does not match the transactions", height=height)


def _check_transactions(block: Block, chain: str, verifier: Verifier) -> None:
    items: list[tuple[bytes, bytes, bytes]] = []
    owners: list[int] = []
    for i, tx in enumerate(block.txs):
        if tx.chain != chain:
            raise ReplayError(
                f"transaction is for chain {tx.chain!r}", height=block.height, tx_index=i
            )
        for item in tx.verify_items():
            items.append(item)
            owners.append(i)
    for i, ok in zip(owners, verifier.verify_many(items), strict=True):
        if not ok:
            raise ReplayError(
                "transaction signature does not verify", height=block.height, tx_index=i
            )
