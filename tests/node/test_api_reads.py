"""The read API: signed access, receipts, list queries, block streams, proofs, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err, Ok
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from starlette.requests import Request

from ledger.block import Block
from ledger.crypto import SigningKey
from ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from ledger.smt_proof import StateProof, verify_state_proof
from ledger.tx import Transaction
from node.api import models as api_models
from node.api.app import create_app
from node.auth import sign_request
from node.client.errors import ClientError
from node.client.json_forms import read_header, read_state_proof
from node.config import load_config
from node.service import NodeService
from tests.node.reads_support import LocalNode, request_time
from tests.samples import sample

IDS = [f"DG-READS-{i}" for i in range(5)]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("reads"))
    try:
        shipper = n.client("shipper-acme")
        for decl_id in IDS[:3]:
            shipper.declare(sample(decl_id=decl_id))
        n.client("shipper-beta").declare(sample(decl_id=IDS[3]))
        shipper.declare(sample(decl_id=IDS[4]))
        port = n.client("port-authority")
        port.decide(IDS[0], "accepted", owner="shipper-acme")
        port.decide(IDS[1], "accepted", owner="shipper-acme")
        n.client("customs").decide(IDS[1], "cleared", owner="shipper-acme")
        yield n
    finally:
        n.close()


# ------------------------------------------------------------------ access


def test_signed_routes_refuse_unsigned_and_foreign_keys(node: LocalNode) -> None:
    for target in (f"/v1/declarations/{IDS[0]}", "/v1/declarations", "/v1/blocks/1"):
        r = node.http.get(target)
        assert r.status_code == 401, target
        assert r.json()["error"]["code"] == "auth.missing"
    stranger = SigningKey.from_seed(b"s" * 32)
    r = node.get(stranger, f"/v1/declarations/{IDS[0]}")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "auth.not_a_member"
    # A signature over another path does not open this one.
    headers = sign_request(
        node.key("auditor"),
        node.genesis.chain,
        "GET",
        "/v1/blocks/1",
        b"",
        request_time(),
        node="customs",
    )
    r = node.http.get("/v1/blocks/2", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "auth.bad_signature"


def test_checkpoint_needs_no_signature(node: LocalNode) -> None:
    cp = node.client(None).checkpoint()
    header = read_header(cp["header"], "header")
    assert cp["height"] == header.height == node.service.chain.height
    assert cp["certificate"]["block"] == header.hash.hex()
    assert cp["genesis"] == node.genesis.hash.hex()


# ---------------------------------------------------------- declarations


def test_declaration_has_history_with_signers_and_a_receipt(node: LocalNode) -> None:
    doc = node.client("auditor").declaration(IDS[1])
    assert doc["status"] == doc["record"]["status"] == "cleared"
    history = doc["history"]
    assert [v["action"] for v in history] == ["submit", "accept", "clear"]
    assert [v["org"] for v in history] == ["shipper-acme", "port-authority", "customs"]
    assert [v["signer"] for v in history] == [
        node.key(o).public.key_id for o in ("shipper-acme", "port-authority", "customs")
    ]
    assert history[0]["replaces"] is None
    assert history[1]["replaces"] == history[0]["tx"]
    times = [v["time"] for v in history]
    assert times == sorted(times)
    receipt = doc["receipt"]
    header = read_header(receipt["header"], "header")
    # Each version's result, then the document for the versions that brought one.
    assert [e["key"] for e in receipt["state"]] == [
        f"decl/shipper-acme/{IDS[1]}",
        f"tx/{history[0]['tx']}",
        f"doc/shipper-acme/{IDS[1]}/000001",
        *(f"tx/{entry['tx']}" for entry in history[1:]),
    ]
    assert [v["declaration"] is None for v in history] == [False, True, True]
    assert doc["record"]["txs"] == [v["tx"] for v in history]
    for entry in receipt["state"]:
        proof = read_state_proof(entry["proof"], "proof")
        verify_state_proof(
            header.state_root, entry["key"].encode(), bytes.fromhex(entry["value"]), proof
        )
    for tx_entry, version in zip(receipt["transactions"], history, strict=True):
        tx = Transaction.decode(__import__("base64").b64decode(tx_entry["wire"]))
        assert tx.id.hex() == tx_entry["id"] == version["tx"]
        verify_inclusion(
            leaf_hash(tx.wire),
            tx_entry["log_index"],
            header.log_size,
            [bytes.fromhex(h) for h in tx_entry["proof"]],
            header.log_root,
        )


def test_transaction_receipt(node: LocalNode) -> None:
    client = node.client("shipper-acme")
    version = client.declaration(IDS[0])["history"][1]
    receipt = client.transaction(version["tx"])
    assert receipt["kind"] == "transaction"
    assert receipt["result"]["ok"] is True
    assert receipt["result"]["status"] == "accepted"
    header = read_header(receipt["header"], "header")
    assert header.height == receipt["tx"]["height"] == version["height"]
    assert receipt["certificate"]["height"] == header.height
    entry = receipt["state"][0]
    assert entry["key"] == f"tx/{version['tx']}"
    proof = StateProof.from_value(
        {
            "siblings": [bytes.fromhex(s) for s in entry["proof"]["siblings"]],
            "leaf": None
            if entry["proof"]["leaf"] is None
            else {k: bytes.fromhex(v) for k, v in entry["proof"]["leaf"].items()},
        }
    )
    verify_state_proof(
        header.state_root, entry["key"].encode(), bytes.fromhex(entry["value"]), proof
    )


@pytest.mark.parametrize(
    ("model", "target"),
    [
        ("DeclarationModel", f"/v1/declarations/{IDS[1]}"),
        ("DeclarationPageModel", "/v1/declarations?status=submitted&limit=2"),
        ("DeclarationPageModel", "/v1/declarations?organisation=shipper-acme"),
        ("BlockModel", "/v1/blocks/2"),
        ("TransactionReceiptModel", "tx"),
    ],
)
def test_large_answers_have_exactly_their_documented_shape(
    node: LocalNode, model: str, target: str
) -> None:
    # The framework checks answers against their model leniently (it coerces
    # types); here the strict model (no field missing, none extra, every type as
    # documented, no coercion) accepts the answer and gives back the same JSON.

    if target == "tx":
        version = node.client("auditor").declaration(IDS[0])["history"][0]
        target = f"/v1/transactions/{version['tx']}"
    response = node.get(node.key("auditor"), target)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    checked = getattr(api_models, model).model_validate(answer, strict=True)
    assert checked.model_dump(mode="json") == answer


def test_unknown_ids_answer_404_with_a_code(node: LocalNode) -> None:
    client = node.client("auditor")
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: client.declaration("NO-SUCH-DECL"), "declaration.unknown"),
        (lambda: client.transaction("ab" * 32), "tx.unknown"),
        (lambda: client.block(10**6), "block.unknown"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as e:
            call()
        assert (e.value.status, e.value.code) == (404, code)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/v1/declarations/bad%20id", "$.decl_id"),
        ("/v1/declarations?limit=0", "$.limit"),
        ("/v1/declarations?limit=many", "$.limit"),
        ("/v1/declarations?voyage=0AB12W", "$.voyage"),
        ("/v1/declarations?status=lost", "$.status"),
        ("/v1/declarations?vessel=12", "$.vessel"),
        ("/v1/declarations?organisation=shipper-acme&after=idx/status/x", "$.after"),
        ("/v1/transactions/xyz", "$.tx_id"),
        ("/v1/blocks/0", "$.height"),
        ("/v1/blocks?from=5&to=2", "$.to"),
        ("/v1/blocks?from=1&to=20000", "$.to"),
        ("/v1/blocks?format=xml", "$.format"),
    ],
)
def test_bad_parameters_answer_400_naming_the_parameter(
    node: LocalNode, target: str, path: str
) -> None:
    r = node.get(node.key("auditor"), target)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "request.invalid"
    assert error["path"] == path


def test_consistency_route_checks_its_sizes(node: LocalNode) -> None:
    size = node.service.chain.log_size
    for query, path in (("from=3&to=2", "$.from"), (f"from=0&to={size + 1}", "$.to")):
        r = node.http.get(f"/v1/proofs/consistency?{query}")
        assert r.status_code == 400
        assert r.json()["error"]["path"] == path


# ---------------------------------------------------------------- lists


def test_list_pages_through_every_declaration_with_its_status(node: LocalNode) -> None:
    client = node.client("auditor")
    seen: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        page = client.declarations(after=after, limit=2)
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages >= 3
    assert sorted(i["id"] for i in seen if i["id"] in IDS) == sorted(IDS)
    assert len({i["id"] for i in seen}) == len(seen)
    status = {i["id"]: i["status"] for i in seen}
    assert status[IDS[0]] == "accepted"
    assert status[IDS[1]] == "cleared"
    assert status[IDS[2]] == "submitted"
    assert [i["id"] for i in client.iter_declarations()] == [i["id"] for i in seen]


def test_list_filters(node: LocalNode) -> None:
    client = node.client("auditor")

    def ids(**filters: str) -> set[str]:
        # Other tests add declarations of their own; these filters are about IDS.
        return {i["id"] for i in client.iter_declarations(**filters)} & set(IDS)

    doc = sample()
    vessel = doc["transport"]["vesselIMONumber"]
    voyage = doc["transport"]["voyageNumber"]
    container = doc["containers"][0]["equipmentReference"]
    assert ids(status="accepted") == {IDS[0]}
    assert ids(status="submitted") == {IDS[2], IDS[3], IDS[4]}
    assert ids(organisation="shipper-beta") == {IDS[3]}
    assert ids(organisation="shipper-acme", status="submitted") == {IDS[2], IDS[4]}
    assert ids(vessel=vessel) == set(IDS)
    assert ids(vessel=vessel, voyage=voyage, status="cleared") == {IDS[1]}
    assert ids(vessel=vessel, voyage="OTHER") == set()
    assert ids(container=container, organisation="shipper-beta") == {IDS[3]}
    assert ids(vessel="9074729") == set()


# --------------------------------------------------------------- blocks


def test_block_by_height(node: LocalNode) -> None:
    block = node.client("auditor").block(2)
    assert block["height"] == block["header"]["height"] == 2
    assert block["last_commit"]["height"] == 1
    assert block["certificate"]["block"] == block["header"]["hash"]
    for tx in block["txs"]:
        decoded = Transaction.decode(__import__("base64").b64decode(tx["wire"]))
        assert decoded.id.hex() == tx["id"]
        assert decoded.nonce == tx["nonce"]


def test_blocks_stream_as_json_lines_and_msgpack(node: LocalNode) -> None:
    height = node.service.chain.height
    client = node.client("auditor")
    blocks = list(client.blocks(1, height))
    assert [b["height"] for b in blocks] == list(range(1, height + 1))
    links = list(client.blocks(2, height, headers=True))
    assert [item["header"]["height"] for item in links] == list(range(2, height + 1))
    assert all(item["validators"] is None for item in links)
    for before, after in zip(blocks[1:], links, strict=True):
        assert before["header"] == after["header"]
    raw = b"".join(client.block_records(1, height))
    records = list(msgpack.Unpacker(__import__("io").BytesIO(raw), raw=False))
    assert [r["height"] for r in records] == list(range(1, height + 1))
    for r, b in zip(records, blocks, strict=True):
        assert Block.decode(r["block"]).hash.hex() == b["header"]["hash"]
    r = node.get(node.key("auditor"), "/v1/blocks?from=1&to=2&headers=1&format=msgpack")
    assert r.headers["content-type"] == "application/msgpack"
    items = list(msgpack.Unpacker(__import__("io").BytesIO(r.content), raw=False))
    assert [i["header"]["height"] for i in items] == [1, 2]


def test_consistency_proof_between_two_headers(node: LocalNode) -> None:
    client = node.client("auditor")
    old = read_header(client.block(2)["header"], "h")
    new = read_header(client.checkpoint()["header"], "h")
    answer = client.consistency(old.log_size, new.log_size)
    assert answer["old_root"] == old.log_root.hex()
    assert answer["new_root"] == new.log_root.hex()
    verify_consistency(
        old.log_size,
        new.log_size,
        old.log_root,
        new.log_root,
        [bytes.fromhex(h) for h in answer["proof"]],
    )


def test_a_client_picks_its_nonces_without_asking_the_node(node: LocalNode) -> None:
    """No nonce route: nonces have no order, so clients of one key need not agree on them."""
    key_id = node.key("shipper-beta").public.key_id
    with pytest.raises(ClientError) as gone:
        node.client("shipper-beta").get(f"/v1/keys/{key_id}/nonce")
    assert gone.value.status == 404
    one, two = node.client("shipper-beta"), node.client("shipper-beta")
    body = {"declaration": sample(decl_id="DG-NONCE-1")}
    built = [one.build("declaration.submit", body) for _ in range(3)]
    assert built[0].nonce < built[1].nonce < built[2].nonce
    other = {"declaration": sample(decl_id="DG-NONCE-2")}
    assert one.submit(built[0], wait=False)["status"] == "pending"
    assert two.submit(two.build("declaration.submit", other))["status"] == "committed"
    # The same content under another nonce is another transaction, which the rules judge.
    with pytest.raises(ClientError) as taken:
        one.submit(built[1])
    assert taken.value.code == "declaration.exists"


# ----------------------------------------------------------- schemathesis


class SignEveryGet:
    """Test-only ASGI wrapper: signs each GET it forwards, exactly as a member would."""

    def __init__(self, app: Any, key: SigningKey, chain: str) -> None:
        self.app = app
        self.key = key
        self.chain = chain

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            url = Request(scope).url
            target = url.path + (f"?{url.query}" if url.query else "")
            signed = sign_request(
                self.key, self.chain, "GET", target, b"", request_time(), node="customs"
            )
            extra = [(k.encode(), v.encode()) for k, v in signed.items()]
            scope = {**scope, "headers": [*scope["headers"], *extra]}
        await self.app(scope, receive, send)


def test_openapi_fuzz_gives_no_500_and_no_schema_violation(tmp_path: Any) -> None:

    seeded = LocalNode(tmp_path)
    try:
        seeded.client("shipper-acme").declare(sample(decl_id="DG-FUZZ-1"))
    finally:
        seeded.close()
    service = NodeService(load_config(tmp_path / "customs" / "node.toml"))
    app = SignEveryGet(create_app(service), seeded.key("auditor"), seeded.genesis.chain)
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    try:
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        results = list(schema.get_all_operations())
        refused = [r.err() for r in results if isinstance(r, Err)]
        assert not refused, refused
        operations = [r.ok() for r in results if isinstance(r, Ok)]
        assert {op.path for op in operations} >= {
            "/v1/declarations/{decl_id}",
            "/v1/declarations",
            "/v1/transactions/{tx_id}",
            "/v1/blocks",
            "/v1/checkpoint",
            "/v1/proofs/consistency",
        }
        for op in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @settings(
                    max_examples=15,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=op.as_strategy(generation_mode=mode))
                def run(case: Any) -> None:
                    case.call_and_validate(checks=checks)

                try:
                    run()
                except Unsatisfiable:
                    # No parameter to make invalid (GET /v1/status, /healthz, ...).
                    assert mode is GenerationMode.NEGATIVE
    finally:
        asgi.shutdown_lifespans()
