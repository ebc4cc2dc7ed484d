"""The document memo changes how often a node validates, never what the rules decide."""

from __future__ import annotations

import contextlib
from typing import Any

from contracts.declarations_tx import DocumentMemo, OnceMemo, document_outcome
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


def test_a_once_memo_hands_out_what_was_offered_once_and_keeps_nothing_else() -> None:
    c = community()
    memo = OnceMemo(capacity=100)
    engine = Engine(c.genesis, c.overlay, c.engine.lists, memo=memo)
    dgl = next(iter(c.engine.lists.values()))
    txs = [c.tx("shipper-acme", "declaration.submit", {"declaration": d}) for d in documents()]
    # What a worker would hand back for the first three; the engine checks the rest itself.
    for tx in txs[:3]:
        memo.offer(tx.id + dgl.digest(), document_outcome(tx.body["declaration"], dgl))
    assert len(memo._entries) == 3
    view = engine.view()
    for tx in txs:
        with contextlib.suppress(TransactionRejected):
            engine.precheck(view, tx, Context(1, c.time + 5_000))
    assert (memo.hits, memo.misses) == (3, 2)
    assert memo._entries == {}  # taken once; the engine's own outcomes are not kept
    memo.offer(b"k", {"n": 1})
    memo.discard([b"k", b"absent"])
    assert memo.get(b"k") is None


def test_discard_drops_only_the_keys_named() -> None:
    memo = DocumentMemo()
    memo.offer(b"a", {"n": 1})
    memo.put(b"b", {"n": 2})
    memo.discard([b"a", b"c"])
    assert memo.get(b"a") is None
    assert memo.get(b"b") == {"n": 2}
