"""Reads are built from a snapshot of the chain, off the event loop, while blocks commit.

The API takes a :class:`node.chain.ChainSnapshot` on the event loop and
builds the answer in a read thread; blocks may commit meanwhile. An answer
must still be the chain at one height: the same as it was when the snapshot
was taken, and verifiable from genesis alone.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from node.prover import Prover
from node.receipt import verify_receipt
from tests.node.reads_support import LocalNode, sample

DECL: Final = "DG-SNAP-1"
ORDER: Final = ("submitted", "accepted", "cleared", "held", "released", "loaded")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path)
    try:
        n.client("shipper-acme").declare(sample(decl_id=DECL))
        yield n
    finally:
        n.close()


def test_an_answer_from_a_snapshot_stays_at_its_height(node: LocalNode) -> None:
    auditor = node.client("auditor")
    before = auditor.declaration(DECL)
    snapshot = node.service.chain.snapshot()
    try:
        node.client("port-authority").decide(DECL, "accepted")
        node.client("shipper-beta").declare(sample(decl_id="DG-SNAP-2"))
        assert node.service.chain.height > snapshot.height
        late = Prover(snapshot).declaration(DECL)
        page = Prover(snapshot).checkpoint()
    finally:
        snapshot.close()
    assert late["status"] == before["status"] == "submitted"
    assert late["receipt"]["header"] == before["receipt"]["header"]
    assert late["receipt"]["state"] == before["receipt"]["state"]
    assert page["header"]["height"] == snapshot.height
    now = auditor.declaration(DECL)
    assert now["status"] == "accepted"
    assert now["receipt"]["header"]["height"] > snapshot.height


def test_a_read_in_progress_does_not_hold_up_a_commit(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer being built waits until a later transaction has committed: on
    # the event loop, that commit could never happen while it waits.
    entered, committed = threading.Event(), threading.Event()
    build = Prover.declaration

    def slow(prover: Prover, decl_id: str) -> dict[str, Any]:
        entered.set()
        assert committed.wait(60), "the commit did not happen while a read was in progress"
        return build(prover, decl_id)

    monkeypatch.setattr(Prover, "declaration", slow)
    answers: list[dict[str, Any]] = []
    reader = threading.Thread(
        target=lambda: answers.append(node.client("auditor").declaration(DECL))
    )
    reader.start()
    try:
        assert entered.wait(60)
        height = node.service.chain.height
        node.client("port-authority").decide(DECL, "accepted")
        assert node.service.chain.height == height + 1
    finally:
        committed.set()
        reader.join()
    # The read answers the chain as it was when it began.
    assert [a["status"] for a in answers] == ["submitted"]
    assert answers[0]["receipt"]["header"]["height"] == height


def test_receipts_read_while_blocks_commit_verify_from_genesis(node: LocalNode) -> None:
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []
    done = threading.Event()

    def reader(org: str) -> None:
        # One key per thread: a key's signed requests must not repeat a time.
        client = node.client(org)
        try:
            while not done.is_set():
                answers.append(client.declaration(DECL))
        except BaseException as e:  # reported by the test thread
            failures.append(e)

    readers = ("auditor", "shipper-beta", "customs")
    threads = [threading.Thread(target=reader, args=(org,)) for org in readers]
    for thread in threads:
        thread.start()
    try:
        port, customs = node.client("port-authority"), node.client("customs")
        port.decide(DECL, "accepted")
        customs.decide(DECL, "cleared")
        customs.decide(DECL, "held", reason="inspection")
        customs.decide(DECL, "released")
        port.decide(DECL, "loaded")
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not failures, failures
    heights = {a["receipt"]["header"]["height"] for a in answers}
    assert len(heights) >= 3, "the readers saw too few heights to show anything"
    auditor = node.client("auditor")
    chain = auditor.header_chain(max(heights))
    for height in sorted(heights):
        answer = next(a for a in answers if a["receipt"]["header"]["height"] == height)
        # Each answer is one height's chain: its status, its history and its proofs agree.
        assert answer["status"] == ORDER[len(answer["history"]) - 1]
        doc = {**copy.deepcopy(answer), "headers": chain[:height]}
        checks = verify_receipt(doc, node.genesis)
        assert checks[3].startswith(f"state decl/{DECL}: {answer['status']}, version")
