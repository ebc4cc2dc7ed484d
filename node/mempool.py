"""Pending transactions: admission, fair selection, and what a commit changes.

Admission runs, in order: the decode limits (done by the caller when it
builds the :class:`Transaction`), the pool's bounds and duplicates, the
signature rule (the verifier remembers a good signature, so the block does
not check it again), whether the transaction is committed already
(``tx/<id>``), then the contracts' precheck (``Engine.precheck``): chain,
lifetime, key, organisation, the body's shape, the signer's role, and a
submitted document against the Dangerous Goods List (memoised, so the block
does not validate it again). Nonces have no order and are not looked at: a
transaction is told apart by its id.
Nothing is applied at admission: a transaction's effect on a declaration
(its lifecycle, its owner, an id already taken) is judged once, when a
block applies it, and a transaction refused there is committed with its
violations like any other.

The pool is bounded by count and by bytes, and by count per signer so one
busy or hostile key cannot crowd out the others. Selection for a block
keeps admission order. After a commit the pool drops what the block
committed (its ``tx/`` keys name them, including any another node
proposed) and what expired; only when the block changed membership, keys,
parameters, validators or governance does it precheck every pending
transaction again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from contracts.engine import Engine
from contracts.errors import ContractError, TransactionRejected
from contracts.handler import Context
from contracts.state import StateView
from ledger.crypto import Verifier
from ledger.errors import LedgerError
from ledger.tx import Transaction
from node.errors import Rejected


@dataclass(frozen=True, slots=True)
class MempoolLimits:
    """Bounds of the pool."""

    max_txs: int = 20_000
    max_bytes: int = 64 * 1024 * 1024
    max_per_signer: int = 2_000


MEMBERSHIP_KEYS: Final = ("key/", "org/", "params", "validators", "gov/")
"""State keys whose change may refuse any pending transaction (governance, revocations)."""


class Mempool:
    """Admitted transactions waiting for a block."""

    def __init__(
        self,
        engine_factory: Callable[[], Engine],
        verifier: Verifier,
        limits: MempoolLimits | None = None,
    ) -> None:
        self.engine_factory = engine_factory
        self.verifier = verifier
        self.limits = limits or MempoolLimits()
        self._txs: OrderedDict[bytes, Transaction] = OrderedDict()
        self.by_wire: dict[bytes, Transaction] = {}
        """Pending transactions by their wire bytes: a proposed block's are not decoded again."""
        self._per_signer: dict[str, int] = {}
        self._bytes = 0
        self._engine = engine_factory()
        self._view: StateView = self._engine.view()
        self._ctx = Context(1, 0)
        self.rejected: dict[str, int] = {}
        self.admitted = 0
        """Transactions admitted since start."""

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_id: object) -> bool:
        return tx_id in self._txs

    @property
    def size_bytes(self) -> int:
        """Bytes of every admitted transaction."""
        return self._bytes

    def set_context(self, height: int, time: int) -> None:
        """The next block's height, and the earliest time it can have (for expiry and rules).

        Block times strictly increase, so a rule that refuses a transaction at
        the latest block's time plus one millisecond refuses it in every block
        that could record it (:data:`contracts.handler.Precheck`).
        """
        self._ctx = Context(height, time)

    def _count(self, code: str) -> None:
        self.rejected[code] = self.rejected.get(code, 0) + 1

    def check_signatures(self, tx: Transaction) -> None:
        """Raise :class:`Rejected` unless every signature of ``tx`` verifies.

        Callers that must know who really sent ``tx`` before anything else
        (the per-key rate limit) call this first; the verifier caches
        successes, so admission checking again costs nothing.
        """
        if not all(self.verifier.verify_many(tx.verify_items())):
            self._count("tx.invalid_signature")
            raise Rejected("tx.invalid_signature", "a signature does not verify", path="$.sigs")

    def add(self, tx: Transaction) -> None:
        """Admit ``tx`` or raise :class:`Rejected`."""
        try:
            self._admit(tx)
        except Rejected as e:
            self._count(e.code)
            raise
        self.admitted += 1

    def _admit(self, tx: Transaction) -> None:
        if tx.id in self._txs:
            raise Rejected("mempool.duplicate", "transaction already pending")
        if len(self._txs) >= self.limits.max_txs:
            raise Rejected("mempool.full", "too many pending transactions; retry later")
        if self._bytes + len(tx.wire) > self.limits.max_bytes:
            raise Rejected("mempool.full", "pending transactions over the byte limit")
        if self._per_signer.get(tx.signer, 0) >= self.limits.max_per_signer:
            raise Rejected("mempool.signer_full", "too many pending transactions for this key")
        if not all(self.verifier.verify_many(tx.verify_items())):
            raise Rejected("tx.invalid_signature", "a signature does not verify", path="$.sigs")
        self._precheck(tx)
        self._keep(tx)

    def _keep(self, tx: Transaction) -> None:
        self._txs[tx.id] = tx
        self.by_wire[tx.wire] = tx
        self._per_signer[tx.signer] = self._per_signer.get(tx.signer, 0) + 1
        self._bytes += len(tx.wire)

    def _precheck(self, tx: Transaction) -> None:
        """Refused if committed already, then the contracts' admission checks."""
        if self._view.raw(f"tx/{tx.id.hex()}") is not None:
            raise Rejected("tx.already_committed", "transaction already committed")
        try:
            self._engine.precheck(self._view, tx, self._ctx)
        except TransactionRejected as e:
            first = e.violations[0]
            raise Rejected(first.code, first.message, list(e.violations)) from e
        except (ContractError, LedgerError) as e:
            raise Rejected(getattr(e, "code", "tx.invalid"), str(e)) from e

    def select(self, max_txs: int, max_bytes: int) -> list[Transaction]:
        """Transactions for the next block, in admission order.

        Admission order keeps a decision after the submission it decides on.
        Fairness between signers is kept at admission, by the per-signer bound.
        """
        chosen: list[Transaction] = []
        size = 0
        for tx in self._txs.values():
            if len(chosen) >= max_txs or size + len(tx.wire) > max_bytes:
                break
            chosen.append(tx)
            size += len(tx.wire)
        return chosen

    def pending(self) -> list[Transaction]:
        """Every admitted transaction in admission order."""
        return list(self._txs.values())

    def committed(self, tx_ids: set[bytes], written: frozenset[str] | None = None) -> None:
        """Drop committed transactions; look again at those the block may have made invalid.

        ``written`` is the set of state keys the block wrote; ``None`` means
        unknown (the pool then looks at every pending transaction again, as
        after block sync). Transactions the block committed under ids the
        caller did not name are found by their ``tx/`` keys.
        """
        if written is not None:
            tx_ids = tx_ids | {bytes.fromhex(k[3:]) for k in written if k.startswith("tx/")}
        remaining = [tx for tx_id, tx in self._txs.items() if tx_id not in tx_ids]
        self._txs.clear()
        self.by_wire.clear()
        self._per_signer.clear()
        self._bytes = 0
        self._engine = self.engine_factory()
        self._view = self._engine.view()
        every = written is None or any(k.startswith(MEMBERSHIP_KEYS) for k in written)
        for tx in remaining:
            try:
                if every:
                    self._precheck(tx)
                elif tx.expires < self._ctx.height:
                    raise Rejected("tx.expired", "expired")
            except Rejected:
                # Not a new refusal: counted once, as an eviction, not again by its rule code.
                self._count("mempool.evicted")
                continue
            self._keep(tx)
