"""A node's copy of the chain: block store, transaction log, state and rules together.

:class:`Chain` is what consensus calls the application: it builds a block
from candidate transactions (proposer), executes and checks a proposed
block (validators), and commits a decided block with its certificate in one
atomic, fsynced write. Execution of a proposed block is speculative, in an
overlay of its own, and kept until the block is committed or dropped, so a
validator executes each proposal once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from contracts import indexes
from contracts.declarations_tx import DocumentMemo
from contracts.engine import Engine, Executions, dgl_in_force
from contracts.state import StateView
from ledger.block import Block, Header, txs_root
from ledger.chainstore import ChainStore, stage_transactions, tx_record_key
from ledger.crypto import Verifier
from ledger.encoding import encode
from ledger.errors import ChainError
from ledger.genesis import Genesis
from ledger.kv import KVStore, Overlay
from ledger.merkle_log import MerkleLog
from ledger.replay import Tip, check_block
from ledger.smt import STALE_LOG_KEY, NodeCache, StateTree, prune, records_written
from ledger.tx import Transaction
from ledger.validators import ValidatorSet
from ledger.votes import Certificate

CACHE_NODES: Final = 1 << 14
INDEX_BATCH: Final = 10_000
"""Declarations whose index entries are written in one batch when the layout changes."""
MIN_PRUNE_KEEP: Final = 2
"""Fewest blocks whose state a pruning node keeps: the tip's, and the one before (whose
validator set checks the tip's certificate after a restart)."""
STATE_FROM_KEY: Final = b"Mstate_from"
"""Lowest height whose state is whole (8 bytes; absent: 0, every state is)."""
WRITTEN_WINDOW: Final = 64
"""Up to this ``prune_keep``, the node remembers which state records the kept blocks
wrote, so that pruning need not read each one back (see :func:`ledger.smt.prune`)."""

log = logging.getLogger("dgledger.chain")


@dataclass(slots=True)
class Execution:
    """A block executed on top of the committed chain, not yet written."""

    block: Block
    overlay: Overlay
    state_root: bytes
    next_validators: ValidatorSet
    written: frozenset[str]
    """The state keys the block writes or deletes."""


@dataclass(frozen=True, slots=True)
class ChainSnapshot:
    """The committed chain at one moment, for readers on any thread.

    Every read goes to one store snapshot taken with the height, so an
    answer built from it is consistent however many blocks commit while it
    is built. Close it when done (it is a context manager).
    """

    kv: KVStore
    store: ChainStore
    genesis: Genesis
    cache: NodeCache
    height: int
    state_root: bytes
    state_from: int = 0
    """Lowest height whose state this snapshot still holds whole (see :meth:`Chain.prune`)."""

    def view(self) -> StateView:
        """A view of the state at this moment's tip."""
        return StateView(StateTree(Overlay(self.kv), self.state_root, cache=self.cache))

    def close(self) -> None:
        """Release the store snapshot."""
        self.kv.close()

    def __enter__(self) -> ChainSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Chain:
    """Committed chain plus speculative execution of the next block."""

    def __init__(
        self,
        kv: KVStore,
        genesis: Genesis,
        lists: Mapping[bytes, Any],
        verifier: Verifier,
        tx_verifier: Verifier | None = None,
        *,
        prune_keep: int = 0,
    ) -> None:
        """``prune_keep``: 0 keeps the state of every block; N (at least
        :data:`MIN_PRUNE_KEEP`) keeps that of the last N blocks and deletes
        the records only older ones used, as blocks commit.
        """
        if type(prune_keep) is not int or (prune_keep and prune_keep < MIN_PRUNE_KEEP):
            raise ChainError(f"prune_keep must be 0 or at least {MIN_PRUNE_KEEP}")
        self.prune_keep = prune_keep
        self.pruned_records = 0
        """State records this node's pruning deleted since it started."""
        # The version each state record was last written at, for the blocks this
        # process committed (from ``_written_from`` on), and the records by version.
        self._written: dict[bytes, int] | None = None
        self._written_at: dict[int, list[bytes]] = {}
        self._written_from = 0
        self.kv = kv
        self.genesis = genesis
        self.lists = lists
        self.verifier = verifier
        self.tx_verifier = verifier if tx_verifier is None else tx_verifier
        """Checks transactions' signatures (a node's mempool shares it, and its memory)."""
        self.store = ChainStore(kv, genesis)
        # About 1.4 KB a decoded page: 2**14 pages hold the state tree's top three
        # page levels (4,369 pages, every block's upper paths) and as many again
        # below, in some 23 MB, whatever the chain length.
        self.cache = NodeCache(CACHE_NODES)
        # One document memo for the mempool and block execution: a node validates a
        # declaration document once, when it first meets the transaction.
        self.memo = DocumentMemo()
        self.executions = Executions()
        """Transactions this node's engines applied: once each, in the block (or a retried one)."""
        if self.store.height == 0:
            overlay = Overlay(kv)
            engine = Engine(genesis, overlay, lists, cache=self.cache)
            overlay.put(b"Mstate0", engine.root)
            overlay.flush(sync=True)
        self._executions: dict[bytes, Execution] = {}
        self._refresh()
        self._index_layout()
        self._pruning()

    def _index_layout(self) -> None:
        """Make the declaration index's entries from the state if the store has another layout.

        Entries are only added (every layout so far only added kinds), in
        batches, and the layout is recorded last: a node stopped midway does
        it again at its next start.
        """
        if self.kv.get(indexes.FORMAT_KEY) == indexes.FORMAT:
            return
        overlay = Overlay(self.kv)
        count = 0
        if self.store.height > 0:
            log.info("declaration index: making its entries from the state (new layout)")
            tree = StateTree(overlay, self.state_root, cache=self.cache)
            for count, record in enumerate(indexes.records(tree), 1):
                for entry in indexes.entries(record):
                    overlay.put(indexes.PREFIX + entry.encode(), b"")
                if count % INDEX_BATCH == 0:
                    overlay.flush(sync=False)
        overlay.put(indexes.FORMAT_KEY, indexes.FORMAT)
        overlay.flush(sync=True)
        if count:
            log.info("declaration index: %d declarations indexed", count)

    def _pruning(self) -> None:
        """Start or stop logging what blocks take out of the state, as ``prune_keep`` says."""
        raw = self.kv.get(STATE_FROM_KEY)
        self.state_from = 0 if raw is None else int.from_bytes(raw, "big")
        logging_now = self.kv.get(STALE_LOG_KEY) is not None
        if self.prune_keep and self.prune_keep <= WRITTEN_WINDOW:
            self._written = {}
            self._written_from = self.height + 1
        if bool(self.prune_keep) == logging_now:
            if self.prune_keep:
                self.prune()
            return
        if self.prune_keep:
            if self.height:
                log.info(
                    "state pruning on from height %d: the records of older states stay",
                    self.height,
                )
            self.kv.write({STALE_LOG_KEY: b""})
        else:
            log.info("state pruning off: states from now on are all kept")
            self.kv.write({STALE_LOG_KEY: None})

    def prune(self) -> int:
        """Delete the state records that only blocks before the last ``prune_keep`` use.

        Returns how many were deleted. Called after each commit, on the
        thread that commits (a record written again by a commit must not be
        deleted by a prune that read it before). Readers of a
        :class:`ChainSnapshot` taken before keep reading what it held.
        """
        keep_from = self.height - self.prune_keep + 1
        if not self.prune_keep or keep_from <= self.state_from:
            return 0
        done = prune(self.kv, keep_from, written=self._written, written_from=self._written_from)
        self.kv.write({STATE_FROM_KEY: keep_from.to_bytes(8, "big")}, sync=False)
        self.state_from = keep_from
        self.pruned_records += done.deleted
        if self._written is not None:
            # Entries still to prune are of later versions: older writes cannot be after them.
            for version in [v for v in self._written_at if v <= keep_from]:
                for key in self._written_at.pop(version):
                    if self._written.get(key) == version:
                        del self._written[key]
        return done.deleted

    def _remember_writes(self, overlay: Overlay, height: int) -> None:
        """Note the state records the block at ``height`` writes (before its commit)."""
        if self._written is None:
            return
        keys = records_written(overlay.pending)
        written = self._written
        for key in keys:
            written[key] = height
        self._written_at[height] = keys

    def _refresh(self) -> None:
        if self.store.height == 0:
            root = self.kv.get(b"Mstate0")
            if root is None:
                raise ChainError("genesis state missing from the store")
            self.state_root = root
            self.tip_hash = self.genesis.hash
            self.tip_time = self.genesis.time
            self.log_size = 0
        else:
            header = self.store.header(self.store.height)
            self.state_root = header.state_root
            self.tip_hash = header.hash
            self.tip_time = header.time
            self.log_size = header.log_size
        engine = self._engine(Overlay(self.kv), self.state_root)
        self.validators = engine.validators
        self.previous_validators = self._validators_at(self.store.height)

    def list_in_force(self) -> bytes:
        """Digest of the Dangerous Goods List in force at the committed tip."""
        return dgl_in_force(self.view())

    def _validators_at(self, height: int) -> ValidatorSet:
        if height <= 1:
            return self.genesis.validators
        previous = self.store.header(height - 1).state_root
        return self._engine(Overlay(self.kv), previous).validators

    def _engine(self, overlay: Overlay, root: bytes) -> Engine:
        return Engine(
            self.genesis,
            overlay,
            self.lists,
            root,
            cache=self.cache,
            memo=self.memo,
            executions=self.executions,
            tx_records=tx_record_key,
        )

    @property
    def height(self) -> int:
        """Latest committed height."""
        return self.store.height

    def engine(self, overlay: Overlay | None = None) -> Engine:
        """The rules over the committed state (writes go to ``overlay``)."""
        return self._engine(overlay or Overlay(self.kv), self.state_root)

    def view(self) -> StateView:
        """A view of the committed state for reading (cheaper than an engine)."""
        return StateView(StateTree(Overlay(self.kv), self.state_root, cache=self.cache))

    def snapshot(self) -> ChainSnapshot:
        """The committed chain as it is now, for reading on another thread.

        Take it on the thread that commits (between commits, as everything
        on the node's event loop is): the store snapshot and the height then
        agree.
        """
        kv = self.kv.snapshot()
        store = self.store.reader(kv)
        return ChainSnapshot(
            kv, store, self.genesis, self.cache, self.height, self.state_root, self.state_from
        )

    def build_block(
        self,
        txs: Sequence[Transaction],
        *,
        time: int,
        proposer: str,
        last_commit: Certificate | None,
    ) -> Block:
        """Execute ``txs`` as the next block and return it, fully headed."""
        height = self.height + 1
        fields = {
            "chain": self.genesis.chain,
            "height": height,
            "time": max(time, self.tip_time + 1),
            "prev_hash": self.tip_hash,
            "proposer": proposer,
        }
        overlay = Overlay(self.kv)
        log = MerkleLog.open(overlay)
        for tx in txs:
            log.append(tx.wire)
        stage_transactions(overlay, self.height + 1, txs)
        engine = self._engine(overlay, self.state_root)
        draft = Header(
            **fields,  # type: ignore[arg-type]
            txs_root=txs_root(txs),
            log_size=log.size,
            log_root=log.root(),
            state_root=b"\x00" * 32,
            validators_hash=self.validators.hash,
            next_validators_hash=b"\x00" * 32,
        )
        outcome = engine.apply_block(Block(draft, tuple(txs), last_commit))
        header = Header(
            **{
                **draft.to_value(),
                "state_root": outcome.state_root,
                "next_validators_hash": outcome.next_validators.hash,
            }
        )
        block = Block(header, tuple(txs), last_commit)
        self._executions[block.hash] = Execution(
            block, overlay, outcome.state_root, outcome.next_validators, engine.written
        )
        return block

    def validate_block(self, block: Block) -> None:
        """Raise :class:`ChainError` unless ``block`` validly extends the committed chain."""
        if block.hash in self._executions:
            return
        header = block.header
        height = self.height + 1
        tip = Tip(
            self.genesis.chain,
            self.height,
            self.tip_hash,
            self.tip_time,
            self.validators,
            self.previous_validators,
        )
        check_block(block, tip, self.verifier, self.tx_verifier)
        overlay = Overlay(self.kv)
        log = MerkleLog.open(overlay)
        for tx in block.txs:
            log.append(tx.wire)
        if (header.log_size, header.log_root) != (log.size, log.root()):
            raise ChainError("log_size or log_root does not match", height=height)
        stage_transactions(overlay, height, block.txs)
        engine = self._engine(overlay, self.state_root)
        outcome = engine.apply_block(block)
        if header.state_root != outcome.state_root:
            raise ChainError("state_root does not match", height=height)
        if header.next_validators_hash != outcome.next_validators.hash:
            raise ChainError("next_validators_hash does not match", height=height)
        self._executions[block.hash] = Execution(
            block, overlay, outcome.state_root, outcome.next_validators, engine.written
        )

    def commit_block(self, block: Block, certificate: Certificate) -> frozenset[str]:
        """Write ``block`` with its certificate: one atomic, fsynced batch.

        Returns the state keys the block wrote or deleted.
        """
        certificate.verify(
            self.genesis.chain,
            self.validators,
            self.verifier,
            height=block.height,
            block_hash=block.hash,
        )
        self.validate_block(block)
        execution = self._executions.pop(block.hash)
        self.store.stage(execution.overlay, block, certificate)
        header = block.header
        if header.next_validators_hash != header.validators_hash:
            # Header chains prove each new validator set at its block's state root,
            # which pruning deletes: the set and its proof are kept on their own.
            tree = StateTree(execution.overlay, header.state_root, cache=self.cache)
            value, proof = tree.proven(b"validators")
            if value is None:
                raise ChainError("no validator set in the new state", height=block.height)
            self.store.stage_validators(
                execution.overlay, block.height, encode({"value": value, "proof": proof.to_value()})
            )
        self._remember_writes(execution.overlay, block.height)
        self.store.commit(execution.overlay)
        self._executions.clear()
        self.previous_validators = self.validators
        self.validators = execution.next_validators
        self.state_root = header.state_root
        self.tip_hash = block.hash
        self.tip_time = header.time
        self.log_size = header.log_size
        if self.prune_keep:
            self.prune()
        return execution.written
