"""The document memo changes how often a node validates, never what the rules decide."""

from __future__ import annotations

import contextlib
from typing import Any

from contracts.declarations_tx import DocumentMemo
from contracts.engine import Engine
from contracts.errors import TransactionRejected, Violation
from contracts.handler import Context
from ledger.kv import MemoryKV, Overlay
from ledger.tx import Transaction
from tests.contracts.fixtures import Community, community
from tests.samples import VALID, sample

INVALID = "invalid-missing-flashpoint"


def documents() -> list[dict[str, Any]]:
    names = [VALID, INVALID, VALID, INVALID, VALID]
    return [sample(name, f"MEMO-{i}") for i, name in enumerate(names)]


def run(memo: DocumentMemo | None, warm: bool) -> tuple[bytes, list[Any]]:
    """Apply one block of submissions; with ``warm``, pre-check every transaction first."""
    c = community()
    overlay = Overlay(MemoryKV())
    engine = Engine(c.genesis, overlay, c.engine.lists, memo=memo)
    overlay.flush()
    c = Community(c.genesis, engine, overlay)
    txs = [c.tx("shipper-acme", "declaration.submit", {"declaration": d}) for d in documents()]
    if warm:
        view = engine.view()
        for tx in txs:
            with contextlib.suppress(TransactionRejected):
                engine.precheck(view, tx, Context(1, c.time + 5_000))
    results = c.block(txs)
    return engine.root, results


def test_same_state_root_and_results_with_and_without_the_memo() -> None:
    plain_root, plain = run(None, warm=False)
    memo = DocumentMemo()
    warm_root, warm = run(memo, warm=True)
    assert warm_root == plain_root
    assert plain_root != community().engine.root
    assert warm == plain
    assert [r["ok"] for r in plain] == [True, False, True, False, True]
    # Every document met at the pre-check was not validated again in the block.
    assert memo.hits == 5
    assert memo.misses == 5


def test_rejections_from_the_memo_name_the_same_fields() -> None:
    c = community()
    memo = DocumentMemo()
    engine = Engine(c.genesis, c.overlay, c.engine.lists, memo=memo)
    d = sample(INVALID)
    tx: Transaction = c.tx("shipper-acme", "declaration.submit", {"declaration": d})
    seen: list[list[Violation]] = []
    for _ in range(2):
        try:
            engine.precheck(engine.view(), tx, Context(1, c.time))
        except TransactionRejected as e:
            seen.append(list(e.violations))
    assert len(seen) == 2
    assert seen[0] == seen[1]
    assert all(v.path.startswith("$.body.declaration") for v in seen[0])
    assert memo.hits == 1


def test_capacity_bounds_the_memo() -> None:
    memo = DocumentMemo(capacity=3)
    for i in range(10):
        memo.put(bytes([i]), {"n": i})
    assert memo.get(bytes([0])) is None
    assert memo.get(bytes([9])) == {"n": 9}
    assert len(memo._entries) == 3
