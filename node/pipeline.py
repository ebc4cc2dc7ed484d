"""Checks ahead of execution: the work on block h+1.. that needs no state, on other cores.

Replaying a chain (``dgledger audit``, a node's catch-up) executes blocks one
after another on one thread, and each block's execution needs the state the
one before it left. Two parts of a block's work need no state at all:

* the transactions' signatures (:meth:`ledger.tx.Transaction.verify_items`);
* the declaration documents of submissions and amendments, parsed and checked
  against the Dangerous Goods List: a pure function of the document and the
  list (:func:`contracts.declarations_tx.document_outcome`).

Both are Python (decoding, and the document reader), so they run in worker
processes, not threads: a thread would take the interpreter from the thread
executing blocks. :class:`Prefetch` hands the next ``ahead`` blocks' raw
transactions to the workers while the current block executes. A worker
decodes them, verifies their signatures under the project's rule and checks
their documents; what it hands back goes where the replay looks first:

* the keys of the signatures that verified, into the replay's
  :class:`~ledger.crypto.Verifier` (:meth:`~ledger.crypto.Verifier.vouch`),
  whose cache then answers the replay's own check of the block; a signature
  that failed is not vouched for, so the replay finds and reports it;
* the document outcomes, into the engine's
  :class:`~contracts.declarations_tx.DocumentMemo`, keyed by transaction id
  and list digest, which the engine consults before validating a document.

Nothing it does can change a result: the worker runs this program's own
functions on the same bytes, and a memo entry is exactly what the engine
would compute. A document checked against a list that is no longer in force
when its block executes (a governance change) is not found and is checked
again. A worker that fails or dies only costs the replay that work: its
results are dropped and the workers are not used again.

``workers=0`` starts no process: the replay then does all of it in line.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from contracts.declarations_tx import DocumentMemo, document_outcome
from contracts.dgl import DangerousGoodsList
from ledger.block import MAX_BLOCK_TXS, Block
from ledger.crypto import Verifier
from ledger.errors import LedgerError
from ledger.tx import Transaction

log = logging.getLogger(__name__)

DOCUMENT_TYPES: Final = frozenset({"declaration.submit", "declaration.amend"})
"""Transaction types whose body carries a declaration document."""
MAX_WORKERS: Final = 64
DEFAULT_AHEAD: Final = 2
"""Blocks prepared beyond the one executing."""

Outcome = dict[str, Any] | tuple[Any, ...]
Found = tuple[bytes, Outcome]
T = TypeVar("T")


def default_workers() -> int:
    """Worker processes for this machine: one per core but the executing one, at most 4."""
    return max(1, min((os.cpu_count() or 1) - 1, 4))


def memo_capacity(ahead: int) -> int:
    """Memo entries that hold the outcomes of ``ahead`` full blocks and the executing one."""
    return (ahead + 1) * MAX_BLOCK_TXS


# -- the worker process ---------------------------------------------------------------

_LISTS: dict[bytes, DangerousGoodsList] = {}


def _init_worker(lists: Sequence[DangerousGoodsList]) -> None:
    _LISTS.clear()
    _LISTS.update({dgl.digest(): dgl for dgl in lists})


def _check(wires: Sequence[bytes], digest: bytes) -> tuple[list[bytes], list[Found]]:
    """Signature keys that verified, and document outcomes under list ``digest``."""
    dgl = _LISTS.get(digest)
    verifier = Verifier(1, cache_size=0)
    vouched: list[bytes] = []
    found: list[Found] = []
    for wire in wires:
        try:
            tx = Transaction.decode(wire)
        except LedgerError:
            continue  # the replay reports it
        items = tx.verify_items()
        for item, ok in zip(items, verifier.verify_many(items), strict=True):
            key = Verifier.cache_key(item) if ok else None
            if key is not None:
                vouched.append(key)
        if dgl is not None:
            found += document_outcomes([tx], dgl)
    return vouched, found


def document_outcomes(txs: Iterable[Transaction], dgl: DangerousGoodsList) -> list[Found]:
    """(transaction id, document outcome under ``dgl``) of each transaction carrying a document."""
    found = []
    for tx in txs:
        doc = _document_of(tx)
        if doc is not None:
            found.append((tx.id, document_outcome(doc, dgl)))
    return found


def _document_of(tx: Transaction) -> Any:
    """The declaration document a submission or amendment carries, if any."""
    if tx.type not in DOCUMENT_TYPES:
        return None
    body = tx.body
    if type(body) is not dict:
        return None
    return body.get("declaration")


# -- the pipeline -------------------------------------------------------------------


@dataclass(slots=True)
class _Ahead:
    """One block in preparation: its item and the work started for it."""

    item: Any
    digest: bytes
    jobs: list[Future[tuple[list[bytes], list[Found]]]] = field(default_factory=list)
    offered: list[bytes] = field(default_factory=list)
    """Memo keys offered for this block."""


@dataclass(slots=True)
class PrefetchCounts:
    """What the prefetch did, for logs and tests."""

    blocks: int = 0
    signatures: int = 0
    """Signatures vouched for to the verifier."""
    documents: int = 0
    """Document outcomes put into the memo."""
    dropped: int = 0
    """Jobs whose results were dropped (a worker failed)."""


class Prefetch:
    """Verify signatures and check documents of the next blocks in workers while one executes.

    ``lists`` are the Dangerous Goods Lists the replay may meet; ``memo`` the
    engine's; ``verifier`` the one the replay checks transactions with.
    :meth:`blocks` wraps a source of items (a block, or a tuple whose first
    member is the block) and yields them unchanged, in order. Use as a
    context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        lists: Mapping[bytes, DangerousGoodsList],
        memo: DocumentMemo,
        verifier: Verifier,
        *,
        workers: int | None = None,
        ahead: int = DEFAULT_AHEAD,
    ) -> None:
        if ahead < 1:
            raise ValueError("ahead must be at least 1")
        if workers is not None and not 0 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 0 and {MAX_WORKERS}")
        self.lists = dict(lists)
        self.memo = memo
        self.verifier = verifier
        self.workers = default_workers() if workers is None else workers
        self.ahead = ahead
        self.counts = PrefetchCounts()
        self._pool: ProcessPoolExecutor | None = None
        self._broken = self.workers < 1

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (work not started is dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def blocks(self, source: Iterable[T], list_in_force: Callable[[], bytes]) -> Iterator[T]:
        """``source``'s items, each yielded once its block's prepared work is in.

        ``list_in_force`` gives the digest of the list in force after the
        last block executed: the documents of the blocks ahead are checked
        against it.
        """
        items = iter(source)
        pending: deque[_Ahead] = deque()
        served: _Ahead | None = None
        exhausted = False
        while True:
            if served is not None:
                # Its block has executed: what it did not take will not be asked for.
                self.memo.discard(served.offered)
            while not exhausted and len(pending) <= self.ahead:
                item = next(items, None)
                if item is None:
                    exhausted = True
                else:
                    pending.append(self._start(item, list_in_force()))
            if not pending:
                return
            served = pending.popleft()
            self._finish(served)
            self.counts.blocks += 1
            yield served.item

    def _start(self, item: Any, digest: bytes) -> _Ahead:
        block = item[0] if isinstance(item, tuple) else item
        ahead = _Ahead(item, digest)
        if self._broken or not isinstance(block, Block) or not block.txs:
            return ahead
        wires = [tx.wire for tx in block.txs]
        pool = self._workers()
        # One job per worker: each job costs the executing thread a hand-off in this
        # process, so small ones slow it down (64 transactions per job: 1.2x slower).
        size = -(-len(wires) // self.workers)
        try:
            for start in range(0, len(wires), size):
                ahead.jobs.append(pool.submit(_check, wires[start : start + size], digest))
        except Exception as e:  # a broken pool refuses work: the replay does it in line
            self._give_up(e)
        return ahead

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(list(self.lists.values()),),
            )
        return self._pool

    def _finish(self, ahead: _Ahead) -> None:
        for job in ahead.jobs:
            try:
                vouched, found = job.result()
            except Exception as e:
                self.counts.dropped += 1
                self._give_up(e)
                continue
            self.verifier.vouch(vouched)
            for tx_id, outcome in found:
                key = tx_id + ahead.digest
                self.memo.offer(key, outcome)
                ahead.offered.append(key)
            self.counts.signatures += len(vouched)
            self.counts.documents += len(found)

    def _give_up(self, error: BaseException) -> None:
        if not self._broken:
            log.warning("document workers stopped (%s): checking documents in line", error)
        self._broken = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
