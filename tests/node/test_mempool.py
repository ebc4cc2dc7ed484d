"""The mempool: admission refusals with their codes, dedup, bounds, order, commits, lifetimes.

The pool runs over the contracts' engine on an in-memory store (the port
community of ``tests.contracts.fixtures``): a block committed there is what
the pool looks at again, exactly as a node's chain would be. Admission
prechecks and applies nothing; every handler run is counted, and the pool
runs none for declarations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from contracts.engine import MAX_TX_LIFETIME, Engine, Executions
from ledger.crypto import SigningKey, Verifier
from ledger.kv import Overlay
from ledger.tx import Envelope, Transaction
from node.errors import Rejected
from node.mempool import Mempool, MempoolLimits
from tests.contracts.fixtures import CHAIN, EXPIRES_AFTER, Community, community, key_for
from tests.samples import sample

VERIFIER: Final = Verifier(workers=1)
STRANGER: Final = SigningKey.from_seed(b"stranger".ljust(32, b"\x00"))


@dataclass
class Pool:
    """A mempool over a community whose blocks the test commits."""

    limits: MempoolLimits | None = None
    c: Community = field(default_factory=community)
    nonces: dict[str, int] = field(default_factory=dict)
    executions: Executions = field(default_factory=Executions)

    def __post_init__(self) -> None:
        self.mempool = Mempool(self._engine, VERIFIER, self.limits)
        self.mempool.set_context(self.c.height + 1, self.c.time + 1)

    def _engine(self) -> Engine:
        """The rules over the latest committed state, as a node's chain gives them."""
        base = self.c.overlay.base
        return Engine(
            self.c.genesis,
            Overlay(base),
            self.c.engine.lists,
            self.c.engine.root,
            executions=self.executions,
        )

    def tx(
        self,
        org: str | SigningKey,
        type_: str,
        body: dict[str, Any],
        *,
        nonce: int | None = None,
        expires: int | None = None,
        chain: str = CHAIN,
    ) -> Transaction:
        """A transaction signed by ``org``'s key, with the next nonce this test gave it."""
        key = org if isinstance(org, SigningKey) else key_for(org)
        kid = key.public.key_id
        if nonce is None:
            nonce = self.nonces.get(kid, 0) + 1
        self.nonces[kid] = max(self.nonces.get(kid, 0), nonce)
        if expires is None:
            expires = self.c.height + 1 + EXPIRES_AFTER
        return Transaction.create(Envelope(chain, type_, kid, nonce, body, expires), [key])

    def declare(self, org: str | SigningKey, decl_id: str, **kw: Any) -> Transaction:
        return self.tx(org, "declaration.submit", {"declaration": sample(decl_id=decl_id)}, **kw)

    def commit(self, txs: list[Transaction], *, tell_pool: bool = True) -> list[dict[str, Any]]:
        """Apply ``txs`` as the next block; the pool hears what it wrote (or, not told, nothing)."""
        results = self.c.block(txs)
        self.mempool.set_context(self.c.height + 1, self.c.time + 1)
        if tell_pool:
            self.mempool.committed({tx.id for tx in txs}, self.c.engine.written)
        else:
            self.mempool.committed(set())
        return results

    def refuse(self, tx: Transaction) -> Rejected:
        """The refusal of ``tx``; the pool must be as it was before."""
        before = (self.mempool.pending(), self.mempool.size_bytes)
        counts = dict(self.mempool.rejected)
        with pytest.raises(Rejected) as info:
            self.mempool.add(tx)
        e = info.value
        assert e.message
        assert (self.mempool.pending(), self.mempool.size_bytes) == before
        assert self.mempool.rejected.get(e.code, 0) == counts.get(e.code, 0) + 1
        return e


def test_admission_holds_the_transaction_and_applies_nothing() -> None:
    p = Pool()
    tx = p.declare("shipper-acme", "DG-1")
    p.mempool.add(tx)
    assert tx.id in p.mempool
    assert len(p.mempool) == 1
    assert p.mempool.size_bytes == len(tx.wire)
    assert p.mempool.pending() == [tx]
    assert p.mempool.by_wire == {tx.wire: tx}
    assert p.mempool.admitted == 1
    assert p.executions.count == 0


def test_by_wire_follows_commits() -> None:
    p = Pool()
    a, b = p.declare("shipper-acme", "DG-W1"), p.declare("shipper-acme", "DG-W2")
    p.mempool.add(a)
    p.mempool.add(b)
    p.commit([a])
    assert p.mempool.by_wire == {b.wire: b}


# ---------------------------------------------------------------- refusals


def _bad_signature(p: Pool) -> Transaction:
    good = p.declare("shipper-acme", "DG-SIG")
    pub, sig = good.signatures[0].public.raw, good.signatures[0].signature
    forged = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
    return Transaction.from_value({"env": good.env_bytes, "sigs": [[pub, forged]]})


def _expired(p: Pool) -> Transaction:
    p.mempool.set_context(5, p.c.time + 1)
    return p.declare("shipper-acme", "DG-X", expires=4)


REFUSALS: Final[dict[str, tuple[Callable[[Pool], Transaction], str, str | None]]] = {
    "bad_signature": (_bad_signature, "tx.invalid_signature", None),
    "unknown_key": (lambda p: p.declare(STRANGER, "DG-X"), "auth.unknown_key", "$.env.signer"),
    "wrong_role": (
        lambda p: p.tx("shipper-acme", "declaration.decide", {"id": "DG-X", "decision": "cleared"}),
        "role.not_allowed",
        "$.body.decision",
    ),
    "expires_too_far": (
        lambda p: p.declare("shipper-acme", "DG-X", expires=1 + MAX_TX_LIFETIME + 1),
        "tx.expires_too_far",
        "$.env.expires",
    ),
    "expired": (_expired, "tx.expired", "$.env.expires"),
    "wrong_chain": (
        lambda p: p.declare("shipper-acme", "DG-X", chain="dg-other"),
        "tx.wrong_chain",
        "$.env.chain",
    ),
    "unknown_type": (
        lambda p: p.tx("shipper-acme", "declaration.teleport", {}),
        "tx.unknown_type",
        "$.env.type",
    ),
    "unknown_field": (
        lambda p: p.tx("shipper-acme", "declaration.cancel", {"id": "DG-X", "why": "x"}),
        "body.unknown_field",
        "$.body.why",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_has_its_code_and_path_and_leaves_the_pool_as_it_was(case: str) -> None:
    p = Pool()
    p.mempool.add(p.declare("shipper-beta", "DG-KEEP"))
    make, code, path = REFUSALS[case]
    e = p.refuse(make(p))
    assert e.code == code
    if path is None:
        assert e.violations == []
    else:
        assert [(v.code, v.path) for v in e.violations] == [(code, path)]


def test_a_nonce_is_neither_ordered_nor_counted() -> None:
    """One key's transactions may share a nonce or go down: only their ids must differ."""
    p = Pool()
    first = p.declare("shipper-acme", "DG-N1", nonce=5)
    p.mempool.add(first)
    p.mempool.add(p.declare("shipper-acme", "DG-N2", nonce=5))
    p.commit([first])
    p.mempool.add(p.declare("shipper-acme", "DG-N3", nonce=1))
    assert len(p.mempool) == 2


def test_contract_violation_lists_every_violation() -> None:
    p = Pool()
    doc = sample(decl_id="DG-BAD")
    doc["transport"]["vesselIMONumber"] = "9454437"
    doc["containers"][0]["equipmentReference"] = "CSQU3054384"
    e = p.refuse(p.tx("shipper-acme", "declaration.submit", {"declaration": doc}))
    found = sorted((v.code, v.path) for v in e.violations)
    assert found == [
        ("container_number.check_digit", "$.body.declaration.containers[0].equipmentReference"),
        ("imo_number.check_digit", "$.body.declaration.transport.vesselIMONumber"),
    ]
    assert e.code == e.violations[0].code
    assert all(v.message for v in e.violations)


def test_a_declaration_id_taken_twice_is_judged_when_a_block_applies_it() -> None:
    """Admission applies nothing: an owner's second claim of an id is refused in the block."""
    p = Pool()
    first = p.declare("shipper-acme", "DG-TWICE")
    second = p.declare("shipper-acme", "DG-TWICE")
    p.mempool.add(first)
    p.mempool.add(second)
    results = p.commit(p.mempool.select(10, 10**9))
    assert results[0]["ok"]
    assert [v["code"] for v in results[1]["violations"]] == ["declaration.exists"]
    assert p.executions.count == 0  # the pool applied neither
    assert len(p.mempool) == 0


# ------------------------------------------------------------- dedup, bounds


def test_duplicate_pending_and_committed_are_refused() -> None:
    p = Pool()
    tx = p.declare("shipper-acme", "DG-D")
    p.mempool.add(tx)
    assert p.refuse(tx).code == "mempool.duplicate"
    p.commit([tx])
    assert p.refuse(tx).code == "tx.already_committed"


def test_count_bound() -> None:
    p = Pool(MempoolLimits(max_txs=2))
    p.mempool.add(p.declare("shipper-acme", "DG-C1"))
    p.mempool.add(p.declare("shipper-beta", "DG-C2"))
    assert p.refuse(p.declare("forwarder-a", "DG-C3")).code == "mempool.full"


def test_byte_bound() -> None:
    p = Pool()
    a = p.declare("shipper-acme", "DG-B1")
    b = p.declare("shipper-beta", "DG-B2")
    p = Pool(MempoolLimits(max_bytes=len(a.wire) + len(b.wire) - 1))
    p.mempool.add(a)
    assert p.refuse(b).code == "mempool.full"
    assert p.mempool.size_bytes == len(a.wire)


def test_per_signer_bound_keeps_room_for_others() -> None:
    p = Pool(MempoolLimits(max_per_signer=2))
    p.mempool.add(p.declare("shipper-acme", "DG-S1"))
    p.mempool.add(p.declare("shipper-acme", "DG-S2"))
    assert p.refuse(p.declare("shipper-acme", "DG-S3")).code == "mempool.signer_full"
    p.mempool.add(p.declare("shipper-beta", "DG-S4"))
    assert len(p.mempool) == 3


# ---------------------------------------------------------------- selection


def test_selection_keeps_admission_order_within_count_and_bytes() -> None:
    p = Pool()
    txs = [
        p.declare("shipper-beta", "DG-O1"),
        p.declare("shipper-acme", "DG-O2"),
        p.declare("shipper-beta", "DG-O3"),
    ]
    for tx in txs:
        p.mempool.add(tx)
    assert p.mempool.select(10, 10**9) == txs
    assert p.mempool.select(2, 10**9) == txs[:2]
    assert p.mempool.select(10, len(txs[0].wire) + len(txs[1].wire)) == txs[:2]
    assert p.mempool.select(10, len(txs[0].wire) - 1) == []


# ------------------------------------------------------------------ re-check


def test_a_commit_looks_again_only_at_what_the_block_changed() -> None:
    """Pending transactions the block did not touch are neither prechecked nor applied again."""
    p = Pool()
    p.commit([p.declare("shipper-acme", "DG-R")])
    applied = p.executions.count
    decide = p.tx(
        "port-authority",
        "declaration.decide",
        {"id": "DG-R", "owner": "shipper-acme", "decision": "accepted"},
    )
    other = p.declare("shipper-beta", "DG-R2")
    later = p.declare("shipper-beta", "DG-R3")
    for tx in (decide, other, later):
        p.mempool.add(tx)
    validated = p.c.engine.declarations.memo
    # Another validator's block cancels the declaration; nothing pending is applied again.
    cancel = p.tx("shipper-acme", "declaration.cancel", {"id": "DG-R"})
    assert p.commit([cancel])[0]["ok"]
    assert p.executions.count == applied  # the pool's own engines applied nothing
    assert p.mempool.pending() == [decide, other, later]
    assert validated is None or validated.misses == 0
    # The decision is judged once, when a block applies it.
    results = p.commit(p.mempool.select(10, 10**9))
    assert [r["ok"] for r in results] == [False, True, True]
    assert results[0]["violations"][0]["code"] == "lifecycle.transition_not_allowed"


def test_a_commit_drops_what_it_committed_and_what_expired() -> None:
    p = Pool()
    mine = p.declare("shipper-acme", "DG-E1")
    brief = p.declare("shipper-beta", "DG-E2", expires=p.c.height + 1)
    keeps = p.declare("forwarder-a", "DG-E3")
    for tx in (mine, brief, keeps):
        p.mempool.add(tx)
    counts = dict(p.mempool.rejected)
    # Another node's block commits ``mine`` at the last height the brief one could
    # enter; the pool learns it from what the block wrote, not from a list of ids.
    assert p.c.block([mine])[0]["ok"]
    p.mempool.set_context(p.c.height + 1, p.c.time + 1)
    p.mempool.committed(set(), p.c.engine.written)
    assert p.mempool.pending() == [keeps]
    changed = {k: v - counts.get(k, 0) for k, v in p.mempool.rejected.items() if v != counts.get(k)}
    assert changed == {"mempool.evicted": 1}  # the expired one; the committed one is done


def test_a_membership_change_looks_again_at_every_pending_transaction() -> None:
    """A governance action that revokes a key evicts the key's pending transactions."""
    p = Pool()
    acme = key_for("shipper-acme").public.key_id
    body = {"action": "key.revoke", "effective_height": 3, "params": {"key_id": acme}}
    p.c.block([p.c.tx("customs", "governance", body, extra=["port-authority", "forwarder-b"])])
    p.mempool.set_context(p.c.height + 1, p.c.time + 1)
    p.mempool.committed(set(), p.c.engine.written)
    pending = p.declare("shipper-acme", "DG-M1")
    other = p.declare("shipper-beta", "DG-M2")
    p.mempool.add(pending)
    p.mempool.add(other)
    p.commit([])  # height 2: at its end the revocation for height 3 is applied
    assert p.mempool.pending() == [other]


def test_told_nothing_the_pool_looks_again_at_everything() -> None:
    """After block sync the pool is told nothing but prechecks against the new state."""
    p = Pool()
    a = p.declare("shipper-acme", "DG-Y1")
    b = p.declare("shipper-beta", "DG-Y2")
    p.mempool.add(a)
    p.mempool.add(b)
    p.commit([a], tell_pool=False)
    assert p.mempool.pending() == [b]
    assert p.mempool.rejected.get("mempool.evicted") == 1


def test_a_transaction_rejected_in_a_block_is_not_admitted_again() -> None:
    """Its result is committed like any other: its id is taken for good."""
    p = Pool()
    refused = p.tx(
        "port-authority",
        "declaration.decide",
        {"id": "DG-X9", "owner": "shipper-acme", "decision": "accepted"},
    )
    results = p.commit([refused])
    assert [v["code"] for v in results[0]["violations"]] == ["declaration.unknown"]
    assert p.refuse(refused).code == "tx.already_committed"


def test_check_signatures_counts_a_forgery() -> None:
    p = Pool()
    forged = _bad_signature(p)
    with pytest.raises(Rejected) as info:
        p.mempool.check_signatures(forged)
    assert info.value.code == "tx.invalid_signature"
    assert p.mempool.rejected == {"tx.invalid_signature": 1}
    p.mempool.check_signatures(p.declare("shipper-acme", "DG-OK"))


def test_a_departure_past_at_the_latest_block_is_refused_at_admission() -> None:
    p = Pool()
    doc = sample(decl_id="DG-LATE")
    sailed = time.gmtime((p.c.time - 60_000) // 1000)  # a minute before the latest block
    doc["transport"]["estimatedDeparture"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", sailed)
    for cert in (doc["shipperCertification"], doc["containers"][0]["packingCertificate"]):
        cert["date"] = time.strftime("%Y-%m-%d", time.gmtime((p.c.time - 86_400_000) // 1000))
    e = p.refuse(p.tx("shipper-acme", "declaration.submit", {"declaration": doc}))
    assert e.code == "date.departure_past"
    assert "the earliest time a block could record it" in e.message
