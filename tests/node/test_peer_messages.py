"""Peer messages: hostile batches are dropped, counted by reason, and change nothing.

Every case posts to ``/peer/v1/messages`` of an in-process validator and
checks four things: the HTTP status, the rejection counted in ``/metrics``
under its reason, the store and mempool unchanged, and (once per case) the
node still committing a declaration afterwards.

What the code documents, and these tests hold it to: a whole batch that is
not a canonical list of messages is a 400 (``peer.malformed``); a batch
whose single messages are bad is a 204 with each bad message dropped and
counted, so one bad message never costs a peer its good ones. A peer is any
validator key or active member key (``NodeService.is_known_node``): a
shipper's member key may relay transactions, while what it relays is judged
on its own signatures (a vote needs a validator's).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.crypto import Domain, SigningKey, Verifier
from ledger.encoding import decode, encode, sha256
from ledger.tx import Envelope, Transaction
from ledger.votes import Proposal, Vote, VoteType
from node.auth import sign_request
from node.devnet.localnet import wait_for
from node.p2p.errors import PeerMessageError
from node.p2p.messages import (
    KINDS,
    MAX_BATCH,
    MAX_BATCH_ITEMS,
    VERIFY_CHUNK,
    open_batch,
    seal,
    seal_batch,
)
from tests.node.metrics_text import delta, rejected
from tests.node.reads_support import LocalNode
from tests.samples import sample
from tests.strategies import values

STRANGER: Final = SigningKey.from_seed(b"stranger".ljust(32, b"\x00"))
REASONS: Final = frozenset(
    {"malformed", "unknown_sender", "unknown_kind", "bad_signature", "mixed_senders"}
)
_ids = itertools.count()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("peer"))
    try:
        n.client("shipper-acme").declare(sample(decl_id="DG-PEER-BASE"))
        yield n
    finally:
        n.close()


def post(node: LocalNode, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a batch; a server error would raise here (TestClient re-raises it)."""
    response: httpx.Response = node.http.post(
        "/peer/v1/messages",
        content=body,
        headers={"content-type": "application/msgpack", **(headers or {})},
    )
    assert response.status_code < 500, response.text
    return response


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


def raw_item(key: SigningKey, chain: str, inner: Any, *, sig: bytes | None = None) -> bytes:
    """A message with a hand-made payload (signed by ``key`` over ``chain`` unless ``sig``)."""
    msg = encode(inner)
    signature = key.sign(Domain.PEER, chain, sha256(msg)) if sig is None else sig
    return encode({"msg": msg, "key": key.public.raw, "sig": signature})


def payload(key: SigningKey, kind: Any = "status", body: Any = None) -> dict[str, Any]:
    return {"from": key.public.key_id, "kind": kind, "body": body or {"height": 1}}


def declaration_tx(node: LocalNode, org: str, decl_id: str) -> Transaction:
    """A signed declaration.submit of ``org`` with the node's next nonce for its key."""
    key = node.key(org)
    nonce = node.service.mempool.next_nonce(key.public.key_id)
    env = Envelope(
        node.genesis.chain,
        "declaration.submit",
        key.public.key_id,
        nonce,
        {"declaration": sample(decl_id=decl_id)},
        node.service.chain.height + 100,
    )
    return Transaction.create(env, [key])


# ------------------------------------------------------------ whole batches


def _non_canonical_batch(node: LocalNode) -> bytes:
    item = seal(node.key("shipper-acme"), node.genesis.chain, "status", {"height": 1})
    # array16 header for a one-item list: decodes, but is not the shortest form.
    return b"\xdc\x00\x01" + encode(item)


def _good_batch(node: LocalNode) -> bytes:
    return seal_batch([seal(node.key("shipper-acme"), node.genesis.chain, "status", {"height": 1})])


BAD_BATCHES: Final[dict[str, Callable[[LocalNode], bytes]]] = {
    "empty": lambda n: b"",
    "truncated": lambda n: _good_batch(n)[:-7],
    "trailing_bytes": lambda n: _good_batch(n) + b"\x00",
    "non_canonical": _non_canonical_batch,
    "not_a_list": lambda n: encode({"msg": b"x"}),
    "too_many_items": lambda n: encode([b""] * (MAX_BATCH_ITEMS + 1)),
    "garbage": lambda n: b"\xc1\xff\x00garbage",
    "too_deep": lambda n: encode([[[[[b""]]]]]),
}


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_malformed_batch_is_refused_and_counted(node: LocalNode, case: str) -> None:
    before, counts = snapshot(node), rejected(node.http)
    r = post(node, BAD_BATCHES[case](node))
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "peer.malformed"
    assert error["message"]
    assert delta(counts, rejected(node.http)) == {"malformed": 1}
    assert snapshot(node) == before


def test_oversized_batch_is_refused_before_it_is_read(node: LocalNode) -> None:
    before, counts = snapshot(node), rejected(node.http)
    # The declared length is over the limit: refused on the header, body never read.
    r = post(node, b"\x90", {"content-length": str(MAX_BATCH + 1)})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "request.too_large"
    r = post(node, b"\x90", {"content-length": "9" * 5000})
    assert r.status_code == 413
    r = post(node, b"\x90", {"content-length": "twelve"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "request.bad_length"
    assert delta(counts, rejected(node.http)) == {"too_large": 2, "bad_length": 1}
    assert snapshot(node) == before
    still_commits(node)


# ---------------------------------------------------------- single messages


def _items(node: LocalNode) -> dict[str, tuple[list[bytes], dict[str, int]]]:
    """Batches of bad messages and the drops each must count."""
    chain = node.genesis.chain
    acme = node.key("shipper-acme")
    beta = node.key("shipper-beta")
    good = raw_item(acme, chain, payload(acme))
    return {
        "no_signature": (
            [encode({"msg": encode(payload(acme)), "key": acme.public.raw})],
            {"malformed": 1},
        ),
        "empty_signature": ([raw_item(acme, chain, payload(acme), sig=b"")], {"malformed": 1}),
        "zero_signature": (
            [raw_item(acme, chain, payload(acme), sig=bytes(64))],
            {"bad_signature": 1},
        ),
        "signed_by_another_key": (
            [raw_item(acme, chain, payload(acme), sig=STRANGER.sign_raw(b"x"))],
            {"bad_signature": 1},
        ),
        "non_member_key": ([seal(STRANGER, chain, "status", {"height": 1})], {"unknown_sender": 1}),
        "wrong_chain": (
            [seal(acme, "dg-elsewhere", "status", {"height": 1})],
            {"bad_signature": 1},
        ),
        "unknown_kind": ([raw_item(acme, chain, payload(acme, "gossip"))], {"unknown_kind": 1}),
        "unhashable_kind": ([raw_item(acme, chain, payload(acme, ["vote"]))], {"unknown_kind": 1}),
        "map_kind": ([raw_item(acme, chain, payload(acme, {"k": 1}))], {"unknown_kind": 1}),
        "sender_is_not_the_key": (
            [raw_item(acme, chain, payload(beta))],
            {"malformed": 1},
        ),
        "payload_not_a_map": ([raw_item(acme, chain, ["status"])], {"malformed": 1}),
        "truncated_message": ([good[:-5]], {"malformed": 1}),
        "message_not_bytes": ([encode("text")], {"malformed": 1}),
        "non_canonical_message": (
            [b"\xde\x00\x03" + good[1:]],  # map16 header for a three-key map
            {"malformed": 1},
        ),
        "bad_public_key": (
            [encode({"msg": encode(payload(acme)), "key": b"\x01" * 31, "sig": bytes(64)})],
            {"malformed": 1},
        ),
        "mixed_senders": (
            [
                seal(acme, chain, "status", {"height": 1}),
                seal(beta, chain, "status", {"height": 1}),
            ],
            {"mixed_senders": 1},
        ),
    }


ITEM_CASES: Final = (
    "no_signature",
    "empty_signature",
    "zero_signature",
    "signed_by_another_key",
    "non_member_key",
    "wrong_chain",
    "unknown_kind",
    "unhashable_kind",
    "map_kind",
    "sender_is_not_the_key",
    "payload_not_a_map",
    "truncated_message",
    "message_not_bytes",
    "non_canonical_message",
    "bad_public_key",
    "mixed_senders",
)


@pytest.mark.parametrize("case", ITEM_CASES)
def test_bad_message_is_dropped_and_counted(node: LocalNode, case: str) -> None:
    items, expected = _items(node)[case]
    before, counts = snapshot(node), rejected(node.http)
    r = post(node, encode(items))
    assert r.status_code == 204
    assert delta(counts, rejected(node.http)) == expected
    assert snapshot(node) == before
    still_commits(node)


def test_the_cases_above_are_all_run(node: LocalNode) -> None:
    assert set(_items(node)) == set(ITEM_CASES)


def _content(node: LocalNode) -> dict[str, tuple[str, Any, str]]:
    """Well-sealed messages from a member whose content is garbage: kind, body, reason."""
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
    }


@pytest.mark.parametrize(
    "case",
    [
        "vote_garbage",
        "proposal_garbage_block",
        "proposal_block_not_bytes",
        "proposal_garbage",
        "proposal_wrong_shape",
        "txs_not_a_list",
        "txs_garbage_tx",
        "evidence_garbage",
    ],
)
def test_garbage_content_from_a_member_is_dropped_and_counted(node: LocalNode, case: str) -> None:
    kind, body, reason = _content(node)[case]
    before, counts = snapshot(node), rejected(node.http)
    r = post(node, seal_batch([seal(node.key("shipper-acme"), node.genesis.chain, kind, body)]))
    assert r.status_code == 204
    assert delta(counts, rejected(node.http)) == {reason: 1}
    assert snapshot(node) == before
    still_commits(node)


def test_good_messages_survive_a_bad_neighbour(node: LocalNode) -> None:
    """One malformed message costs its batch nothing else: the good transaction is admitted."""
    chain = node.genesis.chain
    acme = node.key("shipper-acme")
    tx = declaration_tx(node, "shipper-acme", f"DG-PEER-{next(_ids)}")
    counts = rejected(node.http)
    batch = [raw_item(acme, chain, payload(acme, "gossip")), seal(acme, chain, "txs", [tx.wire])]
    assert post(node, encode(batch)).status_code == 204
    assert delta(counts, rejected(node.http)) == {"unknown_kind": 1}
    wait_for(lambda: node.service.chain.store.tx_location(tx.id), 20, "the good transaction")


# --------------------------------------------- members, votes and replays


def test_member_key_may_relay_transactions_and_a_replay_changes_nothing(node: LocalNode) -> None:
    """A shipper's member key is a known peer; replaying its batch is dropped as a duplicate."""
    chain = node.genesis.chain
    tx = declaration_tx(node, "shipper-acme", f"DG-PEER-{next(_ids)}")
    batch = seal_batch([seal(node.key("shipper-beta"), chain, "txs", [tx.wire])])
    assert post(node, batch).status_code == 204
    wait_for(lambda: node.service.chain.store.tx_location(tx.id), 20, "the relayed transaction")
    before, counts = snapshot(node), rejected(node.http)
    assert post(node, batch).status_code == 204
    # Counted twice: the peer layer refused the relayed transaction, the mempool said why.
    expected = {"tx_refused": 1, "mempool_tx.already_committed": 1}
    assert delta(counts, rejected(node.http)) == expected
    assert snapshot(node) == before
    still_commits(node)


def _non_validator_vote(node: LocalNode) -> bytes:
    vote = Vote.sign(
        STRANGER, node.genesis.chain, VoteType.PREVOTE, node.service.chain.height + 1, 0, None
    )
    return seal_batch([seal(node.key("shipper-acme"), node.genesis.chain, "vote", vote.to_value())])


def test_vote_by_a_non_validator_is_dropped(node: LocalNode) -> None:
    """Relayed by a member, accepted at the peer layer, refused by consensus; the node lives on."""
    counts = rejected(node.http)
    assert post(node, _non_validator_vote(node)).status_code == 204
    changed = delta(counts, rejected(node.http))
    assert changed and all(r.startswith("consensus_") for r in changed), changed
    still_commits(node)


def test_vote_by_a_non_validator_leaves_the_store_unchanged(node: LocalNode) -> None:
    before, counts = snapshot(node), rejected(node.http)
    # A single validator decides within the handling of the message: no waiting needed.
    assert post(node, _non_validator_vote(node)).status_code == 204
    assert snapshot(node) == before
    assert delta(counts, rejected(node.http)) == {"consensus_unknown_validator": 1}


# ---------------------------------------------------------- block requests


def _blocks(node: LocalNode, key: SigningKey, target: str, time_ms: int) -> httpx.Response:
    headers = sign_request(key, node.genesis.chain, "GET", target, b"", time_ms, node="customs")
    response: httpx.Response = node.http.get(target, headers=headers)
    assert response.status_code < 500, response.text
    return response


def test_block_requests_refuse_stale_future_replayed_and_foreign(node: LocalNode) -> None:
    """``GET /peer/v1/blocks`` is a signed request: time, replay and membership are checked."""
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


# ------------------------------------------------------------ open_batch alone


CHAIN: Final = "dg-peer-unit"
MEMBER: Final = SigningKey.from_seed(b"member".ljust(32, b"\x00"))
OTHER: Final = SigningKey.from_seed(b"other".ljust(32, b"\x00"))
VERIFIER: Final = Verifier(workers=1)


class CountingVerifier(Verifier):
    """A verifier that records how many signatures it was asked to check."""

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.checked = 0

    def verify_many(self, items: Any) -> list[bool]:
        self.checked += len(items)
        return super().verify_many(items)


def test_a_batch_costs_one_membership_lookup() -> None:
    asked: list[str] = []

    def is_known(key_id: str) -> bool:
        asked.append(key_id)
        return False

    batch = seal_batch([seal(OTHER, CHAIN, "status", {"height": i}) for i in range(50)])
    good, dropped = open_batch(batch, CHAIN, VERIFIER, is_known)
    assert (good, dropped) == ([], {"unknown_sender": 50})
    assert asked == [OTHER.public.key_id]


def test_forged_batch_is_checked_one_chunk_deep() -> None:
    items = [
        raw_item(MEMBER, CHAIN, payload(MEMBER, "status", {"height": i}), sig=bytes(64))
        for i in range(3 * VERIFY_CHUNK)
    ]
    verifier = CountingVerifier()
    with verifier:
        good, dropped = open_batch(encode(items), CHAIN, verifier, lambda k: True)
    assert (good, dropped) == ([], {"bad_signature": 3 * VERIFY_CHUNK})
    assert verifier.checked == VERIFY_CHUNK


def test_good_batch_opens_in_order() -> None:
    kinds = sorted(KINDS)
    batch = seal_batch([seal(MEMBER, CHAIN, k, {"n": i}) for i, k in enumerate(kinds)])
    good, dropped = open_batch(batch, CHAIN, VERIFIER, lambda k: k == MEMBER.public.key_id)
    assert dropped == {}
    assert [(m.sender, m.kind, m.body) for m in good] == [
        (MEMBER.public.key_id, k, {"n": i}) for i, k in enumerate(kinds)
    ]


def _mutate(data: bytes, at: int, bit: int) -> bytes:
    if not data:
        return data
    i = at % len(data)
    return data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1 :]


_item = st.one_of(
    st.binary(max_size=80),
    values.map(encode),
    st.builds(
        lambda key, kind, body: seal(key, CHAIN, kind, body),
        st.sampled_from([MEMBER, OTHER]),
        st.sampled_from(sorted(KINDS)),
        values,
    ),
    st.builds(
        lambda key, kind, body: raw_item(
            key, CHAIN, {"from": key.public.key_id, "kind": kind, "body": body}
        ),
        st.sampled_from([MEMBER, OTHER]),
        values,
        values,
    ),
    st.builds(
        lambda kind, at, bit: _mutate(seal(MEMBER, CHAIN, kind, {"h": 1}), at, bit),
        st.sampled_from(sorted(KINDS)),
        st.integers(0, 500),
        st.integers(0, 7),
    ),
)


def _check_open(data: bytes, items: int | None) -> None:
    try:
        good, dropped = open_batch(data, CHAIN, VERIFIER, lambda k: k == MEMBER.public.key_id)
    except PeerMessageError as e:
        assert e.reason == "malformed"
        return
    assert set(dropped) <= REASONS
    assert all(count > 0 for count in dropped.values())
    if items is not None:
        assert len(good) + sum(dropped.values()) == items
    for m in good:
        assert m.sender == MEMBER.public.key_id
        assert m.kind in KINDS


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_item, max_size=6))
def test_open_batch_fuzz_structured(items: list[bytes]) -> None:
    _check_open(encode(items), len(items))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200) | values.map(encode))
def test_open_batch_fuzz_bytes(data: bytes) -> None:
    _check_open(data, None)


@pytest.mark.parametrize("body", [None, {"height": "9"}, {"height": -1}, [1], {}])
def test_status_with_a_garbage_body_is_counted(node: LocalNode, body: Any) -> None:
    before, counts = snapshot(node), rejected(node.http)
    item = seal(node.key("shipper-acme"), node.genesis.chain, "status", body)
    assert post(node, seal_batch([item])).status_code == 204
    assert delta(counts, rejected(node.http)) == {"status_invalid": 1}
    assert snapshot(node) == before
