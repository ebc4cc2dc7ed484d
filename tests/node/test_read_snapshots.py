"""Reads are built from a snapshot of the chain, off the event loop, while blocks commit.

The API takes a :class:`node.chain.ChainSnapshot` on the event loop and
builds the answer in a read thread; blocks may commit meanwhile. An answer
must still be the chain at one height: the same as it was when the snapshot
was taken, and verifiable from genesis alone.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from threading import Event
from typing import Any, Final

import msgpack
import pytest

import node.api.app as node_api
import node.p2p.sync as node_sync
from ledger.keyfile import load_signing_key
from node.api.prover import Prover
from node.auth import sign_request
from node.client.receipt import verify_receipt
from node.service import READ_THREADS
from tests.node.peer_support import TestPeer
from tests.node.reads_support import LocalNode
from tests.samples import sample

DECL: Final = "DG-SNAP-1"
ORDER: Final = ("submitted", "accepted", "cleared", "held", "released", "loaded")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path, observers=("auditor",))  # an observer: a peer may ask for blocks
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
        node.client("port-authority").decide(DECL, "accepted", owner="shipper-acme")
        node.client("shipper-beta").declare(sample(decl_id="DG-SNAP-2"))
        assert node.service.chain.height > snapshot.height
        late = Prover(snapshot).declaration("shipper-acme", DECL)
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


def _hold(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> tuple[Event, Event]:
    """Make ``owner.name``, once entered, wait until the test says a commit happened.

    On the event loop, that commit could never happen while it waits.
    """
    entered, committed = Event(), Event()
    real = getattr(owner, name)

    def held(*args: Any) -> Any:
        entered.set()
        assert committed.wait(60), "the commit did not happen while a read was in progress"
        return real(*args)

    monkeypatch.setattr(owner, name, held)
    return entered, committed


def _commit_during(node: LocalNode, held: tuple[Event, Event], read: Callable[[], Any]) -> Any:
    """Run ``read`` in a thread; while it is held, commit a decision; return its answer."""
    entered, committed = held
    answers: list[Any] = []
    reader = threading.Thread(target=lambda: answers.append(read()))
    reader.start()
    try:
        assert entered.wait(60)
        height = node.service.chain.height
        node.client("port-authority").decide(DECL, "accepted", owner="shipper-acme")
        assert node.service.chain.height == height + 1
    finally:
        committed.set()
        reader.join()
    assert len(answers) == 1
    return answers[0]


def test_a_read_in_progress_does_not_hold_up_a_commit(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    height = node.service.chain.height
    held = _hold(monkeypatch, Prover, "declaration")
    answer = _commit_during(node, held, lambda: node.client("auditor").declaration(DECL))
    # The read answers the chain as it was when it began.
    assert answer["status"] == "submitted"
    assert answer["receipt"]["header"]["height"] == height


def test_serving_blocks_over_http_does_not_hold_up_a_commit(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    height = node.service.chain.height
    target = "/peer/v1/blocks?from=1&count=1000"

    def fetch() -> Any:
        service = node.service
        headers = sign_request(
            service.key, node.genesis.chain, "GET", target, b"", service.clock(), node="customs"
        )
        response = node.http.get(target, headers=headers)
        assert response.status_code == 200, response.text
        return msgpack.unpackb(response.content)

    blocks = _commit_during(node, _hold(monkeypatch, node_api, "peer_blocks"), fetch)
    assert len(blocks) == height


def test_serving_blocks_to_a_peer_does_not_hold_up_a_commit(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    height = node.service.chain.height
    address = node.service.transport.address
    assert address is not None
    observer = load_signing_key(node.dir / "auditor" / "node-key.pem")
    peer = TestPeer(address, observer, node.service.key.public, node.genesis)

    def fetch() -> Any:
        # The peer's own loop runs in the reader thread: it is made and closed there.
        with peer:
            assert peer.connect() == "hello"
            return peer.blocks(1, 1000)

    blocks = _commit_during(node, _hold(monkeypatch, node_sync, "peer_blocks"), fetch)
    assert len(blocks) == height


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

    readers = ("auditor", "shipper-acme", "customs")
    threads = [threading.Thread(target=reader, args=(org,)) for org in readers]
    for thread in threads:
        thread.start()
    try:
        port, customs = node.client("port-authority"), node.client("customs")
        port.decide(DECL, "accepted", owner="shipper-acme")
        customs.decide(DECL, "cleared", owner="shipper-acme")
        customs.decide(DECL, "held", owner="shipper-acme", reason="inspection")
        customs.decide(DECL, "released", owner="shipper-acme")
        port.decide(DECL, "loaded", owner="shipper-acme")
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
        assert checks[3].startswith(f"state decl/shipper-acme/{DECL}: {answer['status']}, version")


def test_reads_waiting_for_a_thread_hold_no_snapshot(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An open LevelDB snapshot keeps old data from compaction: only reads being
    # built may hold one, however many wait.
    kv = node.service.chain.kv
    take = kv.snapshot
    lock = threading.Lock()
    held = [0, 0]  # open now, most at once

    def counted() -> Any:
        snapshot = take()
        release = snapshot.close
        with lock:
            held[0] += 1
            held[1] = max(held)

        def close() -> None:
            with lock:
                held[0] -= 1
            release()

        monkeypatch.setattr(snapshot, "close", close)
        return snapshot

    monkeypatch.setattr(kv, "snapshot", counted)
    build = Prover.declaration

    def slow(prover: Prover, owner: str, decl_id: str) -> dict[str, Any]:
        time.sleep(0.05)  # long enough that the other readers' requests queue up
        return build(prover, owner, decl_id)

    monkeypatch.setattr(Prover, "declaration", slow)
    orgs = ("auditor", "shipper-acme", "customs", "port-authority")  # those who read DECL
    statuses: list[str] = []

    def reader(org: str) -> None:
        client = node.client(org)
        statuses.extend(client.declaration(DECL)["status"] for _ in range(4))

    threads = [threading.Thread(target=reader, args=(org,)) for org in orgs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == ["submitted"] * 4 * len(orgs)
    assert held[0] == 0, "a snapshot was left open"
    assert held[1] <= READ_THREADS
