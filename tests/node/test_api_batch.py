"""``POST /v1/transactions/batch``: each transaction judged on its own, in one request.

One validator in this process (``reads_support.LocalNode``). A batch mixes
what a port community system would forward: good declarations, a forged
signature, a document the rules refuse, bytes that are not a transaction;
each gets its own result, in order, and the good ones commit.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from ledger.encoding import encode
from ledger.tx import Envelope, Transaction
from node.api.batch import MAX_BATCH_BYTES, MAX_BATCH_TXS
from node.api.models import BatchAnswerModel
from node.devnet.localnet import wait_for
from tests.node.reads_support import LocalNode
from tests.samples import sample

MSGPACK: Final = {"content-type": "application/msgpack"}
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("batch"))
    try:
        yield n
    finally:
        n.close()


def declaration(node: LocalNode, org: str = "shipper-acme", **changes: Any) -> Transaction:
    """A fresh declaration of ``org``, with a nonce of its own."""
    n = next(_serial)
    doc = sample(decl_id=f"DG-BATCH-{n}")
    doc.update(changes)
    doc = node.sealed(org, doc)
    key = node.key(org)
    env = Envelope(
        node.genesis.chain,
        "declaration.submit",
        key.public.key_id,
        n,
        {"declaration": doc},
        node.service.chain.height + 100,
    )
    return Transaction.create(env, [key])


def post(node: LocalNode, body: bytes, *, query: str = "", json: bool = False) -> httpx.Response:
    headers = {"content-type": "application/json"} if json else MSGPACK
    r: httpx.Response = node.http.post(
        "/v1/transactions/batch" + query, content=body, headers=headers
    )
    return r


def forged(node: LocalNode) -> bytes:
    good = declaration(node)
    pub, sig = good.signatures[0].public.raw, good.signatures[0].signature
    return encode({"env": good.env_bytes, "sigs": [[pub, sig[:-1] + bytes([sig[-1] ^ 1])]]})


def test_each_transaction_of_a_batch_is_judged_on_its_own(node: LocalNode) -> None:
    good = [declaration(node), declaration(node, "shipper-beta")]
    bad_doc = declaration(node)
    body = bad_doc.body["declaration"]
    body["transport"]["vesselIMONumber"] = "9454437"
    bad_doc = Transaction.create(
        Envelope(**{**bad_doc.envelope.to_value(), "body": {"declaration": body}}),
        [node.key("shipper-acme")],
    )
    items = [good[0].wire, forged(node), b"\x93not a tx", bad_doc.wire, good[1].wire]
    r = post(node, encode(items), query="?wait=commit")
    assert r.status_code == 200, r.text
    BatchAnswerModel.model_validate(r.json(), strict=True)
    results = r.json()["results"]
    assert [x["item"] for x in results] == list(range(5))
    assert [x["status"] for x in results] == [
        "committed",
        "refused",
        "refused",
        "refused",
        "committed",
    ]
    assert [results[i]["tx_id"] for i in (0, 4)] == [good[0].id.hex(), good[1].id.hex()]
    assert results[1]["error"]["code"] == "tx.invalid_signature"
    assert results[2]["tx_id"] is None and results[2]["error"]["code"]
    assert results[3]["error"]["code"] == "imo_number.check_digit"
    assert results[3]["error"]["violations"][0]["path"].endswith("vesselIMONumber")
    for i in (0, 4):
        assert results[i]["result"]["ok"] is True
        assert node.service.chain.store.tx_location(bytes.fromhex(results[i]["tx_id"]))


def test_without_waiting_admitted_items_are_pending(node: LocalNode) -> None:
    txs = [declaration(node), declaration(node, "shipper-beta")]
    r = post(node, encode([tx.wire for tx in txs]))
    assert [x["status"] for x in r.json()["results"]] == ["pending", "pending"]
    store = node.service.chain.store
    wait_for(lambda: all(store.tx_location(tx.id) for tx in txs) or None, 30, "the commits")
    # Sent again once committed: where each is.
    again = post(node, encode([tx.wire for tx in txs])).json()["results"]
    assert [x["status"] for x in again] == ["committed", "committed"]


def test_the_json_form_takes_base64(node: LocalNode) -> None:
    tx = declaration(node)
    body = b'{"txs": ["' + base64.b64encode(tx.wire) + b'"]}'
    r = post(node, body, json=True, query="?wait=commit")
    assert r.json()["results"][0]["status"] == "committed"


@pytest.mark.parametrize(
    ("body", "json", "status"),
    [
        (encode([]), False, 400),
        (encode([b"x"] * (MAX_BATCH_TXS + 1)), False, 400),
        (encode({"txs": []}), False, 400),
        (encode([1, 2]), False, 400),
        (b"\xc1", False, 400),
        (b'{"txs": "x"}', True, 400),
        (b'{"txs": [7]}', True, 400),
        (b"[" * 100_000, True, 400),
        (b"\x00" * (MAX_BATCH_BYTES + 1), False, 413),
    ],
)
def test_what_is_not_a_batch_is_refused_whole(
    node: LocalNode, body: bytes, json: bool, status: int
) -> None:
    r = post(node, body, json=json)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"]


def test_the_client_submits_a_batch(node: LocalNode, tmp_path: Path) -> None:
    client = node.client("shipper-acme")
    txs = [declaration(node), declaration(node)]
    results = client.submit_batch(txs)
    assert [x["status"] for x in results] == ["committed", "committed"]
