"""``POST /v1/transactions`` and the unsigned node routes: every bad request is a clear 4xx.

Each error answer is checked for its status, its stable code and the field
path it names. ``TestClient`` re-raises any exception the application lets
escape, so a test that would have met a 500 fails loudly instead.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
from fastapi import Request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.engine import MAX_TX_LIFETIME
from ledger.crypto import SigningKey
from ledger.encoding import encode
from ledger.tx import MAX_TX_SIZE, Envelope, Transaction
from node.api.app import create_app, read_body
from node.api.errors import ApiError
from node.api.submit import body_limit
from node.backpressure import Backpressure
from node.client.errors import ClientError
from node.config import ApiConfig, NodeConfig, load_config
from node.devnet.localnet import wait_for
from tests.node import reads_support
from tests.node.metrics_text import scrape
from tests.node.reads_support import LocalNode, TestClient
from tests.samples import sample
from tests.strategies import values

MSGPACK: Final = {"content-type": "application/msgpack"}
JSON: Final = {"content-type": "application/json"}
STRANGER: Final = SigningKey.from_seed(b"stranger".ljust(32, b"\x00"))
_ids = itertools.count()
_nonces = itertools.count(1)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("submit"))
    try:
        yield n
    finally:
        n.close()


def make_tx(
    node: LocalNode,
    org: str | SigningKey = "shipper-acme",
    type_: str = "declaration.submit",
    body: dict[str, Any] | None = None,
    *,
    chain: str | None = None,
    expires: int | None = None,
    nonce: int | None = None,
) -> Transaction:
    """A signed transaction (by default a fresh declaration) with a nonce of its own."""
    key = org if isinstance(org, SigningKey) else node.key(org)
    kid = key.public.key_id
    env = Envelope(
        chain or node.genesis.chain,
        type_,
        kid,
        nonce or next(_nonces),
        body if body is not None else {"declaration": _fresh(node, org)},
        expires if expires is not None else node.service.chain.height + 100,
    )
    return Transaction.create(env, [key])


def _fresh(node: LocalNode, org: str | SigningKey) -> dict[str, Any]:
    """A fresh declaration, sealed as a member's client seals it."""
    doc = sample(decl_id=f"DG-SUB-{next(_ids)}")
    return doc if isinstance(org, SigningKey) else node.sealed(org, doc)


def submit(
    node: LocalNode, body: Any, headers: dict[str, str] | None = None, query: str = ""
) -> httpx.Response:
    response: httpx.Response = node.http.post(
        "/v1/transactions" + query, content=body, headers=MSGPACK if headers is None else headers
    )
    assert response.status_code < 500, response.text
    return response


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error object of a JSON error answer with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def committed(node: LocalNode, tx: Transaction) -> None:
    wait_for(lambda: node.service.chain.store.tx_location(tx.id), 20, "the commit")


# ------------------------------------------------------------- good bodies


def test_msgpack_submission_is_accepted_then_committed(node: LocalNode) -> None:
    tx = make_tx(node)
    r = submit(node, tx.wire)
    assert r.status_code == 202
    assert r.json() == {"tx_id": tx.id.hex(), "status": "pending"}
    committed(node, tx)
    # Submitting it again is harmless and answers with its receipt when asked to wait.
    r = submit(node, tx.wire, query="?wait=commit")
    assert r.status_code == 200
    assert (r.json()["tx_id"], r.json()["status"]) == (tx.id.hex(), "committed")
    # ... and also without waiting: it is committed, not pending.
    r = submit(node, tx.wire)
    assert r.status_code == 200
    assert (r.json()["tx_id"], r.json()["status"]) == (tx.id.hex(), "committed")


def test_json_submission_waits_for_the_commit(node: LocalNode) -> None:
    tx = make_tx(node)
    body = json.dumps({"tx": base64.b64encode(tx.wire).decode()}).encode()
    r = submit(node, body, JSON, "?wait=commit")
    assert r.status_code == 200
    summary = r.json()
    assert (summary["tx_id"], summary["status"]) == (tx.id.hex(), "committed")
    location = node.service.chain.store.tx_location(tx.id)
    assert location is not None
    assert summary["height"] == location.height


# ------------------------------------------------------------------ sizes


def test_oversized_body_is_413(node: LocalNode) -> None:
    limit = body_limit(node.service)
    error = error_of(submit(node, b"\x00" * (limit + 1)), 413)
    assert error["code"] == "request.too_large"
    # A body of exactly the limit is read (room for base64 in JSON), and refused for what it
    # is: a transaction over the transaction size limit, also 413.
    error = error_of(submit(node, b"\x00" * limit), 413)
    assert error["code"] == "request.too_large"
    assert "transaction" in error["message"]
    error = error_of(submit(node, b"\x00" * (MAX_TX_SIZE + 1)), 413)
    assert error["code"] == "request.too_large"
    # At the limit itself it is read and refused for what it holds.
    assert error_of(submit(node, b"\x00" * MAX_TX_SIZE), 400)["code"] != "request.too_large"
    assert limit > MAX_TX_SIZE


def test_lying_or_missing_length_is_still_bounded(node: LocalNode) -> None:
    limit = body_limit(node.service)
    # Declared over the limit: refused on the header alone.
    r = submit(node, b"\x90", {**MSGPACK, "content-length": str(limit + 1)})
    assert error_of(r, 413)["code"] == "request.too_large"
    r = submit(node, b"\x90", {**MSGPACK, "content-length": "9" * 5000})
    assert error_of(r, 413)["code"] == "request.too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(limit // 4096 + 2):
            yield b"\x00" * 4096

    # No Content-Length at all (chunked): counted while read, refused past the limit.
    r = submit(node, chunks())
    assert error_of(r, 413)["code"] == "request.too_large"


@pytest.mark.parametrize("length", [b"twelve", b"-1", b"1e3", b" 12", b"0x10"])
def test_content_length_that_is_not_a_number_is_400(node: LocalNode, length: bytes) -> None:
    r = node.http.post(
        "/v1/transactions",
        content=b"\x90",
        headers={b"content-type": b"application/msgpack", b"content-length": length},
    )
    assert error_of(r, 400)["code"] == "request.bad_length"


@pytest.mark.parametrize(
    ("length", "status"), [(b"\xb2", 400), (b"\xb9\xb3", 400), (b"9" * 5000, 413), (b"7", 0)]
)
def test_read_body_judges_the_raw_header(length: bytes, status: int) -> None:
    """Header bytes as a server hands them over (latin-1): "²" is a digit to str.isdigit()."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"1234567", "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-length", length)]}

    async def read() -> bytes:
        return await read_body(Request(scope, receive), 100)

    if status == 0:
        assert asyncio.run(read()) == b"1234567"
        return
    with pytest.raises(ApiError) as info:
        asyncio.run(read())
    assert info.value.status == status


# -------------------------------------------------------------- JSON bodies


@pytest.mark.parametrize(
    ("body", "code", "path"),
    [
        (b"{not json", "request.bad_json", None),
        (b"\xff\xfe{}", "request.bad_json", None),
        (b"[" * 100_000, "request.bad_json", None),
        (b'{"a":' * 50_000, "request.bad_json", None),
        (b"[]", "request.bad_field", "$.tx"),
        (b'{"tx": 5}', "request.bad_field", "$.tx"),
        (b'{"tx": "AA==", "extra": 1}', "request.bad_field", "$.tx"),
        (b'{"tx": "not base64!"}', "request.bad_field", "$.tx"),
        (b'{"tx": "\\u00e9t\\u00e9"}', "request.bad_field", "$.tx"),
        (b'{"tx": ""}', "invalid_encoding", "$"),
    ],
)
def test_malformed_json_is_400_naming_the_field(
    node: LocalNode, body: bytes, code: str, path: str | None
) -> None:
    error = error_of(submit(node, body, JSON), 400)
    assert error["code"] == code
    assert error.get("path") == path


# ----------------------------------------------------------- msgpack bodies


def _unsigned(node: LocalNode) -> bytes:
    return encode({"env": make_tx(node).env_bytes, "sigs": []})


def _signer_not_signing(node: LocalNode) -> bytes:
    tx = make_tx(node)
    other = STRANGER.sign_raw(tx.signed_message())
    return encode({"env": tx.env_bytes, "sigs": [[STRANGER.public.raw, other]]})


MALFORMED: Final[dict[str, tuple[Callable[[LocalNode], bytes], str, str]]] = {
    "empty": (lambda n: b"", "invalid_encoding", "$"),
    "truncated": (lambda n: make_tx(n).wire[:-9], "invalid_encoding", "$"),
    "trailing": (lambda n: make_tx(n).wire + b"\xc0", "invalid_encoding", "$"),
    "non_canonical": (lambda n: b"\xde\x00\x02" + make_tx(n).wire[1:], "non_canonical", "$"),
    "not_a_map": (lambda n: encode([1, 2]), "invalid_schema", "$.tx"),
    "missing_sigs": (lambda n: encode({"env": make_tx(n).env_bytes}), "invalid_schema", "$.tx"),
    "env_not_bytes": (lambda n: encode({"env": "x", "sigs": []}), "invalid_schema", "$.env"),
    "unsigned": (_unsigned, "invalid_schema", "$.sigs"),
    "signer_not_signing": (_signer_not_signing, "invalid_schema", "$.signer"),
    "bad_sig_shape": (
        lambda n: encode({"env": make_tx(n).env_bytes, "sigs": [[b"k", b"s"]]}),
        "invalid_schema",
        "$.sigs[0]",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_transaction_is_400_naming_the_field(node: LocalNode, case: str) -> None:
    make, code, path = MALFORMED[case]
    error = error_of(submit(node, make(node)), 400)
    assert (error["code"], error.get("path")) == (code, path)


def test_wrong_chain_is_400(node: LocalNode) -> None:
    error = error_of(submit(node, make_tx(node, chain="dg-other").wire), 400)
    assert (error["code"], error["path"]) == ("tx.wrong_chain", "$.env.chain")


def test_bad_signature_is_422(node: LocalNode) -> None:
    tx = make_tx(node)
    pub, sig = tx.signatures[0].public.raw, tx.signatures[0].signature
    forged = encode({"env": tx.env_bytes, "sigs": [[pub, sig[:-1] + bytes([sig[-1] ^ 1])]]})
    error = error_of(submit(node, forged), 422)
    assert (error["code"], error["path"], error["tx_id"]) == (
        "tx.invalid_signature",
        "$.sigs",
        tx.id.hex(),
    )


@pytest.mark.parametrize(
    ("case", "code", "path"),
    [
        ("expired", "tx.expired", "$.env.expires"),
        ("stranger", "auth.unknown_key", "$.env.signer"),
        ("too_far", "tx.expires_too_far", "$.env.expires"),
        (
            "invalid_document",
            "imo_number.check_digit",
            "$.body.declaration.transport.vesselIMONumber",
        ),
    ],
)
def test_rule_refusals_are_422_with_violations(
    node: LocalNode, case: str, code: str, path: str
) -> None:
    if case == "expired":
        committed(node, submit_ok(node, make_tx(node)))
        tx = make_tx(node, expires=node.service.chain.height)
    elif case == "stranger":
        tx = make_tx(node, STRANGER)
    elif case == "too_far":
        # Admission judges for the next block, one above the committed height.
        tx = make_tx(node, expires=node.service.chain.height + 1 + MAX_TX_LIFETIME + 1)
    else:
        doc = sample(decl_id=f"DG-SUB-{next(_ids)}")
        doc["transport"]["vesselIMONumber"] = "9454437"
        tx = make_tx(node, body={"declaration": doc})
    error = error_of(submit(node, tx.wire), 422)
    assert (error["code"], error["path"], error["tx_id"]) == (code, path, tx.id.hex())
    assert error["violations"][0]["code"] == code
    assert error["violations"][0]["path"] == path


def submit_ok(node: LocalNode, tx: Transaction) -> Transaction:
    assert submit(node, tx.wire).status_code == 202
    return tx


def test_governance_with_an_unhashable_action_is_a_4xx(node: LocalNode) -> None:
    tx = make_tx(node, "customs", "governance", {"action": [], "effective_height": 9, "params": {}})
    r = submit(node, tx.wire)
    assert 400 <= r.status_code < 500


# ----------------------------------------------------------- query and rate


@pytest.mark.parametrize("wait", ["bogus", "", "COMMIT"])
def test_wait_must_be_commit(node: LocalNode, wait: str) -> None:
    error = error_of(submit(node, make_tx(node).wire, query=f"?wait={wait}"), 400)
    assert (error["code"], error["path"]) == ("request.invalid", "$.wait")


@pytest.fixture(scope="module")
def strict_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    """A node that allows one request a second per key (bursts of two)."""

    def one_a_second(path: str | Path) -> NodeConfig:
        return replace(load_config(path), api=ApiConfig(rate_per_key=1))

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reads_support, "load_config", one_a_second)
        n = LocalNode(tmp_path_factory.mktemp("rate"))
    try:
        yield n
    finally:
        n.close()


def test_rate_limit_per_key_is_429(strict_node: LocalNode) -> None:
    tx = make_tx(strict_node)
    codes = [submit(strict_node, tx.wire).status_code for _ in range(4)]
    assert codes[:2] == [202, 202]
    assert 429 in codes[2:]
    r = submit(strict_node, tx.wire)
    assert error_of(r, 429)["code"] == "rate_limited"
    # Another key has its own allowance.
    assert submit(strict_node, make_tx(strict_node, "shipper-beta").wire).status_code == 202


def test_forged_submissions_do_not_use_up_a_members_allowance(strict_node: LocalNode) -> None:
    """The limit is charged to the key that signed, not to the one a forger names."""
    victim = strict_node.key("auditor")
    for _ in range(5):
        tx = make_tx(strict_node, STRANGER)
        env = Envelope(**{**tx.envelope.to_value(), "signer": victim.public.key_id})
        forged = encode(
            {"env": env.encode(), "sigs": [[victim.public.raw, STRANGER.sign_raw(b"x")]]}
        )
        assert error_of(submit(strict_node, forged), 422)["code"] == "tx.invalid_signature"
    doc = {"declaration": sample(decl_id="DG-SUB-VICTIM")}
    r = submit(strict_node, make_tx(strict_node, "auditor", body=doc).wire)
    # Refused by the rules (an auditor does not declare), not by the rate limit.
    assert error_of(r, 422)["code"] == "role.not_allowed"


# ------------------------------------------------------- node routes, fuzz


def test_healthz(node: LocalNode) -> None:
    r = node.http.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_metrics_expose_the_named_series(node: LocalNode) -> None:
    committed(node, submit_ok(node, make_tx(node)))
    assert error_of(submit(node, make_tx(node, STRANGER).wire), 422)
    r = node.http.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    samples = scrape(node.http)
    plain = {name: value for (name, labels), value in samples.items() if not labels}
    assert plain["dgledger_height"] == node.service.chain.height
    assert plain["dgledger_consensus_round"] >= 0
    assert plain["dgledger_mempool_txs"] == len(node.service.mempool)
    assert plain["dgledger_mempool_bytes"] == node.service.mempool.size_bytes
    assert plain["dgledger_peers_connected"] == 0
    assert plain["dgledger_committed_txs_total"] >= 1
    assert plain["dgledger_commit_latency_ms_count"] >= 1
    reads = plain["dgledger_read_latency_ms_count"]
    node.client("auditor").checkpoint()
    with pytest.raises(ClientError):
        node.client("auditor").declaration("DG-NO-SUCH-ID")
    samples = scrape(node.http)
    plain = {name: value for (name, labels), value in samples.items() if not labels}
    # Answers and refusals alike are observed, once each.
    assert plain["dgledger_read_latency_ms_count"] == reads + 2
    assert plain["dgledger_read_build_ms_count"] == reads + 2
    assert plain["dgledger_read_latency_ms_sum"] >= plain["dgledger_read_build_ms_sum"] > 0
    for summary in ("commit_latency_ms", "read_latency_ms", "read_build_ms"):
        quantiles = {
            dict(labels)["quantile"]
            for (name, labels), _ in samples.items()
            if name == f"dgledger_{summary}"
        }
        assert quantiles == {"0.5", "0.9", "0.99"}, summary
    reasons = {
        dict(labels)["reason"]
        for (name, labels), _ in samples.items()
        if name == "dgledger_rejected_messages_total"
    }
    assert "mempool_auth.unknown_key" in reasons


def test_unknown_route_and_method_are_json_errors(node: LocalNode) -> None:
    assert error_of(node.http.get("/v1/nothing"), 404)["code"] == "not_found"
    assert error_of(node.http.get("/v1/transactions"), 405)["code"] == "method_not_allowed"


_bodies = st.one_of(
    st.binary(max_size=300),
    values.map(encode),
    values.map(lambda v: json.dumps({"tx": v} if isinstance(v, str) else v, default=repr).encode()),
    st.builds(lambda v: json.dumps({"tx": base64.b64encode(encode(v)).decode()}).encode(), values),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    body=_bodies,
    content_type=st.sampled_from(["application/msgpack", "application/json", "text/plain", ""]),
    query=st.sampled_from(["", "?wait=commit", "?wait=x", "?other=1"]),
)
def test_no_body_is_ever_a_server_error(
    node: LocalNode, body: bytes, content_type: str, query: str
) -> None:
    r = submit(node, body, {"content-type": content_type}, query)
    if r.status_code >= 400:
        error_of(r, r.status_code)
        assert r.status_code < 500


def test_a_node_at_capacity_refuses_early_with_503_and_when_to_retry(
    node: LocalNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond its bound of pending transactions a node answers 503 at once, with Retry-After."""
    monkeypatch.setattr(
        node.service, "backpressure", Backpressure(floor=len(node.service.mempool) + 1)
    )
    first, second = make_tx(node, "shipper-beta"), make_tx(node, "shipper-beta")
    verified = node.service.tx_verifier.verified
    assert submit(node, first.wire).status_code == 202
    r = node.http.post(
        "/v1/transactions", content=second.wire, headers={"content-type": "application/msgpack"}
    )
    error = error_of(r, 503)
    assert (error["code"], error["tx_id"]) == ("mempool.busy", second.id.hex())
    assert int(r.headers["retry-after"]) == error["retry_after"] >= 1
    # Refused before anything was checked: one signature verified, the first one's.
    assert node.service.tx_verifier.verified == verified + 1
    assert second.id not in node.service.mempool
    committed(node, first)


def test_the_framework_route_answers_as_the_fast_path_does(node: LocalNode) -> None:
    """Without the fast path in front, the FastAPI route gives the same statuses and bodies."""
    plain = TestClient(create_app(node.service, fast_submissions=False))  # no lifespan: shared
    forged = make_tx(node)
    pub, sig = forged.signatures[0].public.raw, forged.signatures[0].signature
    bad_sig = encode({"env": forged.env_bytes, "sigs": [[pub, sig[:-1] + bytes([sig[-1] ^ 1])]]})
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (b"\xc1", MSGPACK, ""),
        (bad_sig, MSGPACK, ""),
        (make_tx(node, chain="dg-other").wire, MSGPACK, ""),
        (b'{"tx": 1}', {"content-type": "application/json"}, ""),
        (b"x" * (MAX_TX_SIZE * 2 + 1), MSGPACK, ""),
        (make_tx(node).wire, MSGPACK, "?wait=bogus"),
    ]
    for body, headers, query in cases:
        fast = node.http.post("/v1/transactions" + query, content=body, headers=headers)
        slow = plain.post("/v1/transactions" + query, content=body, headers=headers)
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), body[:20]
        assert fast.status_code >= 400
    for client in (node.http, plain):
        tx = make_tx(node)
        r = client.post("/v1/transactions?wait=commit", content=tx.wire, headers=MSGPACK)
        assert (r.status_code, r.json()["status"], r.json()["tx_id"]) == (
            200,
            "committed",
            tx.id.hex(),
        )
        again = client.post("/v1/transactions", content=tx.wire, headers=MSGPACK)
        assert (again.status_code, again.json()["height"]) == (200, r.json()["height"])
