"""The deterministic state machine every validator and auditor runs.

:class:`Engine` applies a block's transactions, in order, to the
authenticated state and returns the state root and the validator set of the
next height (``ledger.replay.StateMachine``). Each transaction either applies
whole or not at all; either way its result (accepted, or rejected with every
violation) is recorded under ``tx/<id>``.

Replay protection is that record and a bounded lifetime, not a nonce per
key: a block that holds a transaction whose ``tx/<id>`` exists is invalid,
and a transaction is valid only at heights ``h`` with
``h <= expires <= h + MAX_TX_LIFETIME``. A transaction committed at ``h``
expires by ``h + MAX_TX_LIFETIME`` at the latest, so to refuse its replay
a chain needs the ids committed in the last ``MAX_TX_LIFETIME`` blocks
only, even if older results were ever pruned. The envelope's ``nonce`` is
any integer >= 1 the client picks so that two transactions of the same
content differ; it has no order, and the rules read nothing from it.

After the block, the declaration records it wrote (old against new) move
the unauthenticated list indexes in the same overlay
(:mod:`contracts.indexes`); :attr:`Engine.written` names the authenticated
keys alone.

Nothing here reads a clock, randomness or the environment: the block time
and height are the only time there is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

from contracts import identity, indexes, ports
from contracts.declarations_tx import DeclarationRules, DocumentMemo
from contracts.errors import ContractError, TransactionRejected
from contracts.evidence_tx import EvidenceRules
from contracts.governance import Governance
from contracts.handler import Context, Handler, Precheck, Signer, reject
from contracts.lifecycle import Role
from contracts.membership import AppGenesis
from contracts.state import DERIVED, StateView
from ledger.block import Block
from ledger.errors import ChainError
from ledger.genesis import Genesis
from ledger.kv import Overlay
from ledger.replay import BlockOutcome
from ledger.smt import EMPTY_ROOT, NodeCache, StateTree
from ledger.tx import Transaction
from ledger.validators import ValidatorSet

MAX_TX_LIFETIME: Final = 10_000
"""Blocks a transaction may stay valid for: ``expires`` is at most this far above the height.

Long enough for the slowest legitimate path, a governance proposal whose
signatures validator organisations gather one after another (the CLI
proposes 10,000 blocks), and far above a client's default of 1,000; short
enough that the ids replay protection needs are a bounded window of
blocks. Blocks are made only while transactions are pending, so in time
this is hours under steady load and longer when the chain is quiet.
"""


class Executions:
    """How many transactions the engines sharing this counter applied (their handlers ran)."""

    def __init__(self) -> None:
        self.count = 0


_APPS: Final[OrderedDict[bytes, AppGenesis]] = OrderedDict()
_APPS_KEPT: Final = 8


def dgl_in_force(view: StateView) -> bytes:
    """Digest of the Dangerous Goods List in force in the state ``view`` reads."""
    digest: bytes = view.get("params")["dgl"]
    return digest


def app_genesis(genesis: Genesis) -> AppGenesis:
    """The contracts' part of ``genesis``, validated once per genesis (by its hash).

    A node makes an engine for each block it validates, commits or proposes
    and for its mempool after each commit; reading the organisations, their
    keys and ports again took 0.34 ms each time with a 69-organisation
    genesis (2026-12-07), about 1 ms a height. ``AppGenesis`` is frozen, so
    one is shared.
    """
    app = _APPS.get(genesis.hash)
    if app is None:
        app = _APPS[genesis.hash] = AppGenesis.from_value(genesis.app)
        while len(_APPS) > _APPS_KEPT:
            _APPS.popitem(last=False)
    return app


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
        tx_records: Callable[[int, int], bytes] | None = None,
    ) -> None:
        """``tx_records`` (height, index in the block) gives the store key of a
        transaction's wire where the store keeps one (a node's, not an audit's):
        a state value the wire holds (a declaration's document) is then kept
        as a span of that record instead of a copy.
        """
        self.genesis = genesis
        self.tx_records = tx_records
        self.executions = Executions() if executions is None else executions
        self.cache = NodeCache() if cache is None else cache
        self.app = app_genesis(genesis)
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
        """The authenticated state keys the last block applied wrote or deleted (no index)."""

    def _genesis_state(self) -> bytes:
        tree = StateTree(self.overlay, EMPTY_ROOT, cache=self.cache)
        view = StateView(tree)
        for org in self.app.orgs:
            identity.record_organisation(view, org, 0)
        params: dict[str, Any] = {
            "dgl": self.app.dgl_hash,
            "governance_delay": self.app.governance_delay,
        }
        if self.app.lead_time_hours:
            # Only when set: a genesis without it makes the state it always made.
            params["lead_time_hours"] = self.app.lead_time_hours
        view.put("params", params)
        ports.record_ports(view, self.app.ports)
        view.put("validators", self.genesis.validators.to_value())
        view.put("gov/pending", [])
        return view.commit()

    def _validators(self) -> ValidatorSet:
        tree = StateTree(self.overlay, self.root, cache=self.cache)
        return ValidatorSet.from_value(StateView(tree).get("validators"))

    def _list_in_force(self, view: StateView) -> Any:
        digest = dgl_in_force(view)
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
        tree = StateTree(self.overlay, self.root, cache=self.cache, version=block.height)
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
        self.written = frozenset(k for k in view.pending if not k.startswith(DERIVED))
        for key, new in view.pending.items():
            if key.startswith(indexes.RECORD):
                indexes.stage(self.overlay, view.committed(key), new)
        within = None
        if self.tx_records is not None and view.sources:
            wires = {
                tx.id: (self.tx_records(ctx.height, index), tx.wire)
                for index, tx in enumerate(block.txs)
            }
            within = {k: wires[tx_id] for k, tx_id in view.sources.items() if tx_id in wires}
        self.root = view.commit(within)
        self.validators = ValidatorSet.from_value(self.view().get("validators"))
        self.results = results
        return BlockOutcome(self.root, self.validators)

    def apply_tx(self, view: StateView, tx: Transaction, ctx: Context) -> dict[str, Any]:
        """Apply one transaction within ``view``; return its result record."""
        try:
            signer = self.authenticate(view, tx, ctx)
        except TransactionRejected as e:
            return _rejected(tx, e)
        child = view.child()
        try:
            outcome = self.execute(child, tx, signer, ctx)
        except TransactionRejected as e:
            return _rejected(tx, e)
        child.merge_into_parent()
        return {"ok": True, "type": tx.type, "signer": signer.key_id, **outcome}

    def precheck(self, view: StateView, tx: Transaction, ctx: Context) -> None:
        """Admission: raise :class:`TransactionRejected` for what can be judged unapplied.

        The chain, lifetime, key and organisation, then the type's precheck:
        the body's shape, the signer's role, a submitted document
        (memoised). Nothing is applied and nothing written: what depends on
        a declaration's state is judged once, when a block applies it. The
        rare kinds without a precheck (governance, evidence) are applied to
        a view that is then dropped. Whether the transaction is committed
        already is the caller's to ask (``tx/<id>``).
        """
        signer = self.authenticate(view, tx, ctx)
        check = self.prechecks.get(tx.type)
        if check is not None:
            check(view, tx, signer, ctx)
        else:
            self.execute(view.child(), tx, signer, ctx)

    def authenticate(self, view: StateView, tx: Transaction, ctx: Context) -> Signer:
        """Check chain, lifetime, key and organisation of ``tx``."""
        if tx.chain != self.genesis.chain:
            raise reject("tx.wrong_chain", "$.env.chain", f"transaction is for chain {tx.chain}")
        if tx.expires < ctx.height:
            raise reject(
                "tx.expired", "$.env.expires", f"expired at height {tx.expires}, now {ctx.height}"
            )
        if tx.expires > ctx.height + MAX_TX_LIFETIME:
            raise reject(
                "tx.expires_too_far",
                "$.env.expires",
                f"expires at height {tx.expires}: at most {MAX_TX_LIFETIME} blocks above the"
                f" height, now {ctx.height}",
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
