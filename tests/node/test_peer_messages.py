"""Peer connections to a running validator: who is let in, and hostile frames changing nothing.

The validator (customs) runs in this process behind ``TestClient``; its
peer listener is real TLS 1.3 on loopback, and :class:`TestPeer` dials it
as the observer node (the auditor's), as a member key, or as a stranger.
Every hostile case checks the rejection counted in ``/metrics`` under its
reason, the store and mempool unchanged, and the node still committing a
declaration afterwards; a bad frame also leaves its connection working
(the next request on it is answered), except a frame over the size limit,
which closes it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from ledger.crypto import SigningKey
from ledger.encoding import decode, encode
from ledger.keyfile import load_signing_key
from ledger.tx import Envelope, Transaction
from ledger.votes import Proposal, Vote, VoteType
from node.auth import sign_request
from node.devnet.localnet import wait_for
from node.p2p.errors import PeerError
from node.p2p.frames import MAX_FRAME
from tests.node.metrics_text import delta, rejected
from tests.node.peer_support import TestPeer
from tests.node.reads_support import LocalNode, local_node
from tests.samples import sample

STRANGER: Final = SigningKey.from_seed(b"stranger".ljust(32, b"\x00"))
_ids = itertools.count()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("peer"), observers=("auditor",))
    try:
        n.client("shipper-acme").declare(sample(decl_id="DG-PEER-BASE"))
        yield n
    finally:
        n.close()


def node_key(node: LocalNode, org: str) -> SigningKey:
    """The node key of ``org`` (a validator's or an observer's)."""
    return load_signing_key(node.dir / org / "node-key.pem")


def dial(node: LocalNode, key: SigningKey, own_chain: str | None = None) -> TestPeer:
    address = node.service.transport.address
    assert address is not None
    return TestPeer(address, key, node.service.key.public, node.genesis, own_chain=own_chain)


@pytest.fixture
def peer(node: LocalNode) -> Iterator[TestPeer]:
    """A connection of the observer node, admitted."""
    with dial(node, node_key(node, "auditor")) as p:
        assert p.connect() == "hello"
        yield p


def snapshot(node: LocalNode) -> tuple[Any, ...]:
    """What hostile input must not change: the committed chain, state and the mempool."""
    s = node.service
    return (
        s.chain.height,
        s.chain.tip_hash,
        s.chain.state_root,
        s.chain.log_size,
        tuple(tx.id for tx in s.mempool.pending()),
    )


def still_commits(node: LocalNode) -> None:
    """A declaration submitted now is committed at a new height."""
    before = node.service.chain.height
    summary = node.client("shipper-beta").declare(sample(decl_id=f"DG-PEER-{next(_ids)}"))
    assert summary["status"] == "committed"
    assert summary["height"] > before


def still_answers(node: LocalNode, peer: TestPeer) -> None:
    """The connection is up and read on: a block request on it is answered."""
    assert peer.blocks(1, 1)[0][0] == node.service.chain.store.block_bytes(1)


def counted(node: LocalNode, before: dict[str, int], expected: dict[str, int]) -> None:
    """Wait for the node to count ``expected`` since ``before`` (it counts on its own loop)."""
    wait_for(
        lambda: delta(before, rejected(node.http)) == expected,
        10,
        f"the node to count {expected} (counted {delta(before, rejected(node.http))})",
    )


def declaration_tx(node: LocalNode, org: str, decl_id: str) -> Transaction:
    """A signed declaration.submit of ``org`` (its id makes the transaction unique)."""
    key = node.key(org)
    env = Envelope(
        node.genesis.chain,
        "declaration.submit",
        key.public.key_id,
        1,
        {"declaration": node.sealed(org, sample(decl_id=decl_id))},
        node.service.chain.height + 100,
    )
    return Transaction.create(env, [key])


def framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


# --------------------------------------------------------- who is let in


def test_a_node_certificate_is_admitted_and_answered(node: LocalNode, peer: TestPeer) -> None:
    counts = rejected(node.http)
    entries = peer.blocks(1, 2)
    store = node.service.chain.store
    assert entries == [
        [store.block_bytes(h), store.certificate_bytes(h)] for h in (1, 2) if h <= store.height
    ]
    assert delta(counts, rejected(node.http)) == {}


UNKNOWN_KEYS: Final[dict[str, Callable[[LocalNode], SigningKey]]] = {
    "stranger": lambda n: STRANGER,
    "member_key_of_a_shipper": lambda n: n.key("shipper-acme"),
    "member_key_of_the_observer_org": lambda n: n.key("auditor"),
}


@pytest.mark.parametrize("case", sorted(UNKNOWN_KEYS))
def test_an_unknown_certificate_is_refused_and_counted(node: LocalNode, case: str) -> None:
    """A key that is not a node key: its certificate is not one the node trusts."""
    before, counts = snapshot(node), rejected(node.http)
    with dial(node, UNKNOWN_KEYS[case](node)) as p, pytest.raises(PeerError):
        p.connect()
    counted(node, counts, {"unknown_certificate": 1})
    assert snapshot(node) == before


def test_a_node_certificate_for_another_network_is_refused(node: LocalNode) -> None:
    """The observer's own key, in a certificate made for another chain: not the node's build."""
    counts = rejected(node.http)
    with (
        dial(node, node_key(node, "auditor"), own_chain="dg-elsewhere") as p,
        pytest.raises(PeerError),
    ):
        p.connect()
    counted(node, counts, {"unknown_certificate": 1})


def test_a_dialler_refuses_a_node_that_presents_another_key(node: LocalNode) -> None:
    """Pinned: dialling customs while trusting only the auditor's key fails the handshake."""
    address = node.service.transport.address
    assert address is not None
    counts = rejected(node.http)
    wrong = TestPeer(address, node_key(node, "auditor"), STRANGER.public, node.genesis)
    with wrong, pytest.raises(PeerError):
        wrong.connect()
    # The dialler's alert ends the node's side of the handshake.
    counted(node, counts, {"tls_failed": 1})


def test_plain_text_on_the_peer_port_is_refused_and_counted(node: LocalNode) -> None:
    counts = rejected(node.http)
    address = node.service.transport.address
    assert address is not None
    with httpx.Client() as client, pytest.raises(httpx.HTTPError):
        client.post(f"http://{address[0]}:{address[1]}/peer/v1/messages", content=b"\x90")
    counted(node, counts, {"tls_failed": 1})


def test_an_observer_key_revoked_by_governance_is_refused_after_the_handshake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its certificate is still trusted (configured); the membership check refuses it."""
    monkeypatch.setattr("node.p2p.transport.RECHECK_S", 0.0)
    with local_node(tmp_path, observers=("auditor",), chain="dg-peer-gov") as n:
        n.client("shipper-acme").declare(sample(decl_id="DG-GOV-BASE"))
        observer = node_key(n, "auditor")
        with dial(n, observer) as admitted:
            assert admitted.connect() == "hello"
            effective = n.service.chain.height + 3
            body = {
                "action": "key.revoke",
                "effective_height": effective,
                "params": {"key_id": observer.public.key_id},
            }
            assert n.client("customs").send("governance", body)["status"] == "committed"
            for i in range(5):
                if n.service.chain.height >= effective:
                    break
                n.client("shipper-acme").declare(sample(decl_id=f"DG-REVOKED-{i}"))
            assert n.service.chain.height >= effective
            counts = rejected(n.http)
            # The connection it holds is closed at its next frame.
            admitted.send("status", {"height": 1})
            assert admitted.closed_by_node()
            counted(n, counts, {"not_a_node": 1})
        counts = rejected(n.http)
        with dial(n, observer) as refused, pytest.raises(PeerError):
            refused.connect()
        counted(n, counts, {"not_a_node": 1})


# ------------------------------------------------------------ bad frames


def _too_deep() -> bytes:
    body: Any = 1
    for _ in range(40):
        body = [body]
    return encode({"body": body, "kind": "status"}, max_depth=64)


def _non_canonical() -> bytes:
    good = encode({"body": {"height": 1}, "kind": "status"})
    return b"\xde\x00\x02" + good[1:]  # map16 header for a two-key map


BAD_FRAMES: Final[dict[str, tuple[bytes, str]]] = {
    "empty": (b"", "malformed"),
    "trailing_bytes": (encode({"body": {}, "kind": "status"}) + b"\x00", "malformed"),
    "non_canonical": (_non_canonical(), "malformed"),
    "not_a_map": (encode(["status", {"height": 1}]), "malformed"),
    "extra_key": (encode({"body": {}, "from": "x", "kind": "status"}), "malformed"),
    "garbage": (b"\xc1\xff\x00garbage", "malformed"),
    "float": (b"\x82\xa4body\xcb" + bytes(8) + b"\xa4kind\xa6status", "malformed"),
    "too_deep": (_too_deep(), "malformed"),
    "unknown_kind": (encode({"body": {}, "kind": "gossip"}), "unknown_kind"),
    "unhashable_kind": (encode({"body": {}, "kind": ["vote"]}), "unknown_kind"),
    "map_kind": (encode({"body": {}, "kind": {"k": 1}}), "unknown_kind"),
    "hello_from_the_dialler": (encode({"body": {}, "kind": "hello"}), "unexpected_kind"),
    "blocks_from_the_dialler": (
        encode({"body": {"blocks": [], "id": 1}, "kind": "blocks"}),
        "unexpected_kind",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
def test_a_bad_frame_is_dropped_and_counted(node: LocalNode, peer: TestPeer, case: str) -> None:
    payload, reason = BAD_FRAMES[case]
    before, counts = snapshot(node), rejected(node.http)
    peer.send_raw(framed(payload))
    still_answers(node, peer)
    assert delta(counts, rejected(node.http)) == {reason: 1}
    assert snapshot(node) == before
    still_commits(node)


def test_a_frame_over_the_limit_closes_the_connection(node: LocalNode, peer: TestPeer) -> None:
    before, counts = snapshot(node), rejected(node.http)
    # The header alone: the node refuses the length before reading (or holding) any body.
    peer.send_raw((MAX_FRAME + 1).to_bytes(4, "big"))
    assert peer.closed_by_node()
    counted(node, counts, {"frame_too_large": 1})
    assert snapshot(node) == before
    still_commits(node)


# ------------------------------------------------- good frames, bad content


def _content(node: LocalNode) -> dict[str, tuple[str, Any, str]]:
    """Frames of a node whose content is garbage: kind, body, reason."""
    chain = node.genesis.chain
    proposal = Proposal.sign(STRANGER, chain, node.service.chain.height + 1, 0, bytes(32), -1)
    return {
        "vote_garbage": ("vote", {"type": "prevote"}, "vote_invalid"),
        "proposal_garbage_block": (
            "proposal",
            {"proposal": proposal.to_value(), "block": b"\x93garbage"},
            "proposal_invalid",
        ),
        "proposal_block_not_bytes": (
            "proposal",
            {"proposal": proposal.to_value(), "block": "text"},
            "proposal_invalid",
        ),
        "proposal_garbage": ("proposal", {"proposal": {"x": 1}, "block": b""}, "proposal_invalid"),
        "proposal_wrong_shape": ("proposal", [1, 2], "proposal_invalid"),
        "txs_not_a_list": ("txs", {"tx": b""}, "txs_invalid"),
        "txs_garbage_tx": ("txs", [b"\x00garbage"], "tx_refused"),
        "evidence_garbage": ("evidence", {"kind": "x"}, "evidence_invalid"),
        "status_no_body": ("status", None, "status_invalid"),
        "status_height_text": ("status", {"height": "9"}, "status_invalid"),
        "status_height_negative": ("status", {"height": -1}, "status_invalid"),
        "get_blocks_not_a_map": ("get_blocks", [1], "get_blocks_invalid"),
        "get_blocks_from_zero": (
            "get_blocks",
            {"id": 1, "from": 0, "count": 1},
            "get_blocks_invalid",
        ),
        "get_blocks_too_many": (
            "get_blocks",
            {"id": 1, "from": 1, "count": 1001},
            "get_blocks_invalid",
        ),
    }


CONTENT_CASES: Final = (
    "vote_garbage",
    "proposal_garbage_block",
    "proposal_block_not_bytes",
    "proposal_garbage",
    "proposal_wrong_shape",
    "txs_not_a_list",
    "txs_garbage_tx",
    "evidence_garbage",
    "status_no_body",
    "status_height_text",
    "status_height_negative",
    "get_blocks_not_a_map",
    "get_blocks_from_zero",
    "get_blocks_too_many",
)


@pytest.mark.parametrize("case", CONTENT_CASES)
def test_garbage_content_is_dropped_and_counted(node: LocalNode, peer: TestPeer, case: str) -> None:
    kind, body, reason = _content(node)[case]
    before, counts = snapshot(node), rejected(node.http)
    peer.send(kind, body)
    still_answers(node, peer)
    assert delta(counts, rejected(node.http)) == {reason: 1}
    assert snapshot(node) == before
    still_commits(node)


def test_the_content_cases_above_are_all_run(node: LocalNode) -> None:
    assert set(_content(node)) == set(CONTENT_CASES)


def test_good_transactions_survive_a_bad_neighbour(node: LocalNode, peer: TestPeer) -> None:
    """One malformed frame costs the connection nothing else: the next one's transaction commits."""
    tx = declaration_tx(node, "shipper-acme", f"DG-PEER-{next(_ids)}")
    counts = rejected(node.http)
    peer.send("gossip", {})
    peer.send("txs", [tx.wire])
    wait_for(lambda: node.service.chain.store.tx_location(tx.id), 20, "the good transaction")
    assert delta(counts, rejected(node.http)) == {"unknown_kind": 1}


def test_an_observer_relays_transactions_and_a_replay_changes_nothing(
    node: LocalNode, peer: TestPeer
) -> None:
    """A batch of transactions in one frame, no seal; sent again, each is a duplicate."""
    txs = [declaration_tx(node, "shipper-acme", f"DG-PEER-{next(_ids)}")]
    txs.append(declaration_tx(node, "shipper-beta", f"DG-PEER-{next(_ids)}"))
    peer.send("txs", [tx.wire for tx in txs])
    store = node.service.chain.store
    wait_for(lambda: all(store.tx_location(tx.id) for tx in txs), 20, "the relayed txs")
    before, counts = snapshot(node), rejected(node.http)
    peer.send("txs", [tx.wire for tx in txs])
    still_answers(node, peer)
    # Counted twice: the peer layer refused each relayed transaction, the mempool said why.
    expected = {"tx_refused": 2, "mempool_tx.already_committed": 2}
    assert delta(counts, rejected(node.http)) == expected
    assert snapshot(node) == before
    still_commits(node)


def test_a_vote_by_a_non_validator_is_dropped_by_consensus(node: LocalNode, peer: TestPeer) -> None:
    """Relayed by a node, accepted at the peer layer, refused by consensus; the node lives on."""
    vote = Vote.sign(
        STRANGER, node.genesis.chain, VoteType.PREVOTE, node.service.chain.height + 1, 0, None
    )
    before, counts = snapshot(node), rejected(node.http)
    peer.send("vote", vote.to_value())
    still_answers(node, peer)
    assert snapshot(node) == before
    assert delta(counts, rejected(node.http)) == {"consensus_unknown_validator": 1}
    still_commits(node)


# ------------------------------------------------------- fault injection


def test_fault_injection_drops_a_peers_frames(node: LocalNode, peer: TestPeer) -> None:
    """Isolated, the observer's frames are dropped and counted, its block requests get nothing."""
    tx = declaration_tx(node, "shipper-acme", f"DG-PEER-{next(_ids)}")
    node.service.faults.isolated = {"auditor"}
    try:
        before, counts = snapshot(node), rejected(node.http)
        peer.send("txs", [tx.wire])
        assert peer.blocks(1, 1) == []
        assert delta(counts, rejected(node.http)) == {"fault_injected": 2}
        assert snapshot(node) == before
    finally:
        node.service.faults.isolated = set()
    still_answers(node, peer)
    peer.send("txs", [tx.wire])
    wait_for(lambda: node.service.chain.store.tx_location(tx.id), 20, "the tx after the heal")


# ----------------------------------------------------- blocks over HTTP


def _blocks(node: LocalNode, key: SigningKey, target: str, time_ms: int) -> httpx.Response:
    headers = sign_request(key, node.genesis.chain, "GET", target, b"", time_ms, node="customs")
    response: httpx.Response = node.http.get(target, headers=headers)
    assert response.status_code < 500, response.text
    return response


def test_block_requests_refuse_stale_future_replayed_and_foreign(node: LocalNode) -> None:
    """``GET /peer/v1/blocks`` (the audit's) is a signed request: time, replay, membership."""
    peer = node.key("customs")
    now = time.time_ns() // 1_000_000
    assert _blocks(node, peer, "/peer/v1/blocks?from=1&count=1", now).status_code == 200
    replay = _blocks(node, peer, "/peer/v1/blocks?from=1&count=1", now)
    assert (replay.status_code, replay.json()["error"]["code"]) == (401, "auth.replayed")
    for skew in (-120_000, 120_000):
        r = _blocks(node, peer, "/peer/v1/blocks?from=1", now + skew)
        assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.stale")
    r = _blocks(node, STRANGER, "/peer/v1/blocks?from=1", now + 1)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "auth.not_a_member")


@pytest.mark.parametrize(
    "query", ["from=0", "from=%C2%B2", "from=" + "9" * 5000, "from=-1", "count=0"]
)
def test_block_requests_with_bad_parameters_are_400(node: LocalNode, query: str) -> None:
    now = time.time_ns() // 1_000_000 + next(_ids)
    r = _blocks(node, node.key("customs"), f"/peer/v1/blocks?{query}", now)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "request.invalid"


def test_block_request_returns_the_committed_blocks(node: LocalNode) -> None:
    now = time.time_ns() // 1_000_000 + next(_ids)
    r = _blocks(node, node.key("customs"), "/peer/v1/blocks?from=1&count=2", now)
    assert r.status_code == 200
    items = decode(r.content, max_size=1 << 24, max_depth=4)
    assert [len(item) for item in items] == [2, 2]
    assert items[0][0] == node.service.chain.store.block_bytes(1)


def test_the_peer_messages_route_is_gone(node: LocalNode) -> None:
    """Peers talk over their TLS connections only: HTTP takes no peer messages."""
    r = node.http.post("/peer/v1/messages", content=b"\x90")
    assert r.status_code == 404
