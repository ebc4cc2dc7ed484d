"""The deterministic state machine every validator and auditor runs.

:class:`Engine` applies a block's transactions, in order, to the
authenticated state and returns the state root and the validator set of the
next height (``ledger.replay.StateMachine``). Each transaction either applies
whole or not at all; either way its result (accepted, or rejected with every
violation) is recorded under ``tx/<id>``, and a valid signature always
consumes the key's nonce so a rejected transaction cannot be replayed.

Nothing here reads a clock, randomness or the environment: the block time
and height are the only time there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from contracts.declarations_tx import DeclarationRules, DocumentMemo
from contracts.errors import ContractError, TransactionRejected
from contracts.evidence_tx import EvidenceRules
from contracts.governance import Governance
from contracts.handler import Context, Handler, Precheck, Signer, reject
from contracts.lifecycle import Role
from contracts.membership import AppGenesis
from contracts.state import StateView
from ledger.block import Block
from ledger.errors import ChainError
from ledger.genesis import Genesis
from ledger.kv import Overlay
from ledger.replay import BlockOutcome
from ledger.smt import EMPTY_ROOT, NodeCache, StateTree
from ledger.tx import Transaction
from ledger.validators import ValidatorSet

MAX_NONCE_GAP: Final = 1_000_000


class Executions:
    """How many transactions the engines sharing this counter applied (their handlers ran)."""

    def __init__(self) -> None:
        self.count = 0


class Engine:
    """Applies blocks to the state; one instance per node or auditor replay."""

    def __init__(
        self,
        genesis: Genesis,
        overlay: Overlay,
        lists: Mapping[bytes, Any],
        root: bytes | None = None,
        *,
        cache: NodeCache | None = None,
        memo: DocumentMemo | None = None,
        executions: Executions | None = None,
    ) -> None:
        self.genesis = genesis
        self.executions = Executions() if executions is None else executions
        self.cache = NodeCache() if cache is None else cache
        self.app = AppGenesis.from_value(genesis.app)
        self.overlay = overlay
        self.lists = dict(lists)
        self.declarations = DeclarationRules(self._list_in_force, memo)
        self.governance = Governance()
        self.handlers: dict[str, Handler] = {
            **self.declarations.handlers(),
            **self.governance.handlers(),
            **EvidenceRules(genesis.chain).handlers(),
        }
        self.prechecks: dict[str, Precheck] = self.declarations.prechecks()
        if root is None:
            root = self._genesis_state()
        self.root = root
        self.validators = self._validators()
        self.results: list[dict[str, Any]] = []
        """The result records of the last block applied, in block order."""
        self.written: frozenset[str] = frozenset()
        """The state keys the last block applied wrote or deleted."""

    def _genesis_state(self) -> bytes:
        tree = StateTree(self.overlay, EMPTY_ROOT, cache=self.cache)
        view = StateView(tree)
        for org in self.app.orgs:
            view.put(f"org/{org.name}", {"name": org.name, "role": org.role.value, "active": True})
            for key in org.keys:
                view.put(f"key/{key.key_id}", {"org": org.name, "pub": key.raw, "revoked_at": None})
        view.put(
            "params",
            {"dgl": self.app.dgl_hash, "governance_delay": self.app.governance_delay},
        )
        view.put("validators", self.genesis.validators.to_value())
        view.put("gov/pending", [])
        return view.commit(self.overlay)

    def _validators(self) -> ValidatorSet:
        tree = StateTree(self.overlay, self.root, cache=self.cache)
        return ValidatorSet.from_value(StateView(tree).get("validators"))

    def _list_in_force(self, view: StateView) -> Any:
        digest = view.get("params")["dgl"]
        dgl = self.lists.get(digest)
        if dgl is None:
            raise ContractError(
                "dgl.unavailable",
                "params.dgl",
                f"the Dangerous Goods List {digest.hex()} in force is not loaded on this node",
            )
        return dgl

    def view(self) -> StateView:
        """A fresh view of the latest state, for queries and mempool checks."""
        return StateView(StateTree(self.overlay, self.root, cache=self.cache))

    def apply_block(self, block: Block) -> BlockOutcome:
        """Apply every transaction of ``block``; stage the state in the overlay."""
        ctx = Context(block.height, block.header.time)
        tree = StateTree(self.overlay, self.root, cache=self.cache)
        view = StateView(tree)
        results = []
        for index, tx in enumerate(block.txs):
            if view.raw(f"tx/{tx.id.hex()}") is not None:
                raise ChainError("transaction already committed", height=ctx.height, tx_index=index)
            result = self.apply_tx(view, tx, ctx)
            result["height"] = ctx.height
            result["index"] = index
            view.put(f"tx/{tx.id.hex()}", result)
            results.append(result)
        self.governance.activate(view, ctx.height + 1)
        self.written = frozenset(view.pending)
        self.root = view.commit(self.overlay)
        self.validators = ValidatorSet.from_value(self.view().get("validators"))
        self.results = results
        return BlockOutcome(self.root, self.validators)

    def apply_tx(self, view: StateView, tx: Transaction, ctx: Context) -> dict[str, Any]:
        """Apply one transaction within ``view``; return its result record."""
        try:
            signer = self.authenticate(view, tx, ctx)
        except TransactionRejected as e:
            return _rejected(tx, e)
        view.put(f"nonce/{signer.key_id}", tx.nonce)
        child = view.child()
        try:
            outcome = self.execute(child, tx, signer, ctx)
        except TransactionRejected as e:
            return _rejected(tx, e)
        child.merge_into_parent()
        return {"ok": True, "type": tx.type, "signer": signer.key_id, **outcome}

    def precheck(
        self, view: StateView, tx: Transaction, ctx: Context, *, last_nonce: int | None = None
    ) -> None:
        """Admission: raise :class:`TransactionRejected` for what can be judged unapplied.

        The chain, expiry, key, organisation and nonce (above ``last_nonce``
        when given: a node's pending transactions count), then the type's
        precheck: the body's shape, the signer's role, a submitted document
        (memoised). Nothing is applied and nothing written: what depends on a
        declaration's state is judged once, when a block applies it. The rare
        kinds without a precheck (governance, evidence) are applied to a view
        that is then dropped.
        """
        signer = self.authenticate(view, tx, ctx, last_nonce=last_nonce)
        check = self.prechecks.get(tx.type)
        if check is not None:
            check(view, tx, signer)
        else:
            self.execute(view.child(), tx, signer, ctx)

    def authenticate(
        self, view: StateView, tx: Transaction, ctx: Context, *, last_nonce: int | None = None
    ) -> Signer:
        """Check chain, expiry, key, organisation and nonce of ``tx``.

        The nonce must be above the key's last committed nonce, or above
        ``last_nonce`` when given (the last one a node's pending transactions use).
        """
        if tx.chain != self.genesis.chain:
            raise reject("tx.wrong_chain", "$.env.chain", f"transaction is for chain {tx.chain}")
        if tx.expires < ctx.height:
            raise reject(
                "tx.expired", "$.env.expires", f"expired at height {tx.expires}, now {ctx.height}"
            )
        key = view.get(f"key/{tx.signer}")
        if key is None:
            raise reject("auth.unknown_key", "$.env.signer", f"key {tx.signer} is not a member key")
        if key["revoked_at"] is not None and key["revoked_at"] <= ctx.height:
            raise reject("auth.key_revoked", "$.env.signer", f"key {tx.signer} is revoked")
        org = view.get(f"org/{key['org']}")
        if org is None or not org["active"]:
            raise reject(
                "auth.org_inactive", "$.env.signer", f"organisation {key['org']} is not active"
            )
        last = view.get(f"nonce/{tx.signer}", 0) if last_nonce is None else last_nonce
        if tx.nonce <= last:
            raise reject(
                "tx.nonce_reused",
                "$.env.nonce",
                f"nonce {tx.nonce} is not above the last used, {last}",
            )
        if tx.nonce - last > MAX_NONCE_GAP:
            raise reject("tx.nonce_gap", "$.env.nonce", f"nonce jumps more than {MAX_NONCE_GAP}")
        return Signer(tx.signer, key["org"], Role(org["role"]))

    def execute(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Run the handler of ``tx.type``."""
        handler = self.handlers.get(tx.type)
        if handler is None:
            raise reject("tx.unknown_type", "$.env.type", f"unknown transaction type {tx.type!r}")
        self.executions.count += 1
        return handler(view, tx, signer, ctx)


def _rejected(tx: Transaction, error: TransactionRejected) -> dict[str, Any]:
    return {
        "ok": False,
        "type": tx.type,
        "signer": tx.signer,
        "violations": [v.to_value() for v in error.violations],
    }
