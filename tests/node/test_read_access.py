"""Who reads what, over HTTP: competitors see nothing of each other's declarations.

One validator (customs) in this process, with two shippers, a forwarder
that shipper-acme delegated and that runs an observer node (forwarder-a), a
competing forwarder that runs no node (forwarder-b), the port authority
(no node either) and an auditor. A declaration is read by its owner, the
forwarders it delegated, the port authority, customs and the auditor; to
anyone else every route answers exactly as for an id that does not exist,
and lists leave it out before they page. Blocks and raw transactions are
for organisations running a node and auditors: 403 ``auth.not_entitled``
to the others; the header chain stays open to every member.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any, Final

import msgpack
import pytest

from node.client.errors import ClientError
from tests.node.reads_support import LocalNode
from tests.samples import member, sample

ACME: Final = ("ACME-ACCESS-1", "ACME-ACCESS-2")
BETA: Final = "BETA-ACCESS-1"
OWN_B: Final = "FWDB-ACCESS-1"
"""A declaration forwarder-b submits in its own name: the one it may read."""
UNKNOWN_ID: Final = "NO-SUCH-DECLARATION"
UNKNOWN_TX: Final = "ab" * 32
MEMBERS: Final = tuple(
    member(o)
    for o in (
        "port-authority",
        "shipper-acme",
        "shipper-beta",
        "forwarder-a",
        "forwarder-b",
        "auditor",
    )
)
SEE_ALL: Final = ("port-authority", "customs", "auditor")
DOC: Final = sample()
VESSEL: Final = DOC["transport"]["vesselIMONumber"]
VOYAGE: Final = DOC["transport"]["voyageNumber"]
CONTAINER: Final = DOC["containers"][0]["equipmentReference"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(
        tmp_path_factory.mktemp("access"),
        members=MEMBERS,
        observers=("forwarder-a",),
        chain="dg-access",
    )
    try:
        acme = n.client("shipper-acme")
        for decl_id in ACME:
            acme.declare(sample(decl_id=decl_id))
        acme.send("delegation.grant", {"forwarder": "forwarder-a"})
        n.client("shipper-beta").declare(sample(decl_id=BETA))
        n.client("forwarder-b").declare(sample(decl_id=OWN_B))
        n.client("port-authority").decide(ACME[0], "accepted", owner="shipper-acme")
        n.client("customs").decide(ACME[0], "cleared", owner="shipper-acme")
        yield n
    finally:
        n.close()


def version_txs(node: LocalNode, decl_id: str) -> list[str]:
    """The transaction of every version of ``decl_id`` (read by the auditor)."""
    return [v["tx"] for v in node.client("auditor").declaration(decl_id)["history"]]


def listed(node: LocalNode, org: str, **filters: str) -> list[dict[str, Any]]:
    """Every list item ``org`` is shown for ``filters``, page after page."""
    return list(node.client(org).iter_declarations(**filters))


FILTERS: Final[tuple[dict[str, str], ...]] = (
    {},
    {"vessel": VESSEL},
    {"vessel": VESSEL, "voyage": VOYAGE},
    {"container": CONTAINER},
    {"status": "submitted"},
    {"status": "cleared"},
)


def assert_hidden(node: LocalNode, org: str, decl_id: str, owner: str) -> None:
    """``decl_id`` does not exist for ``org``: on every route, in every list."""
    unknown = node.get(org, f"/v1/declarations/{UNKNOWN_ID}")
    r = node.get(org, f"/v1/declarations/{decl_id}")
    assert r.status_code == unknown.status_code == 404, r.text
    assert r.json() == {
        "error": {"code": "declaration.unknown", "message": f"no declaration {decl_id}"}
    }
    assert r.text == unknown.text.replace(UNKNOWN_ID, decl_id)
    assert r.headers["content-type"] == unknown.headers["content-type"]
    unknown_tx = node.get(org, f"/v1/transactions/{UNKNOWN_TX}")
    for tx in version_txs(node, decl_id):
        r = node.get(org, f"/v1/transactions/{tx}")
        assert r.status_code == unknown_tx.status_code == 404, r.text
        assert r.text == unknown_tx.text.replace(UNKNOWN_TX, tx)
    for filters in (*FILTERS, {"organisation": owner}):
        items = listed(node, org, **filters)
        assert decl_id not in {i["id"] for i in items}, filters
        assert owner not in {i["org"] for i in items}, filters


def assert_readable(node: LocalNode, org: str, decl_id: str, owner: str) -> None:
    """``org`` reads ``decl_id``: the document, each version's receipt, the lists."""
    doc = node.client(org).declaration(decl_id)
    assert doc["id"] == decl_id
    assert doc["record"]["org"] == owner
    for tx in version_txs(node, decl_id):
        assert node.client(org).transaction(tx)["tx"]["id"] == tx
    for filters in ({}, {"organisation": owner}, {"vessel": VESSEL}, {"container": CONTAINER}):
        assert decl_id in {i["id"] for i in listed(node, org, **filters)}, filters


# ------------------------------------------------------------ declarations


@pytest.mark.parametrize("org", ["shipper-beta", "forwarder-b"])
def test_a_competitor_finds_no_trace_of_another_shippers_declaration(
    node: LocalNode, org: str
) -> None:
    for decl_id in ACME:
        assert_hidden(node, org, decl_id, "shipper-acme")


def test_shipper_acme_does_not_see_its_competitors_either(node: LocalNode) -> None:
    assert_hidden(node, "shipper-acme", BETA, "shipper-beta")
    assert_hidden(node, "shipper-acme", OWN_B, "forwarder-b")


@pytest.mark.parametrize("org", ["shipper-acme", *SEE_ALL])
def test_owner_port_authority_customs_and_auditor_read_everything(
    node: LocalNode, org: str
) -> None:
    for decl_id in ACME:
        assert_readable(node, org, decl_id, "shipper-acme")
    if org != "shipper-acme":
        assert_readable(node, org, BETA, "shipper-beta")
        assert_readable(node, org, OWN_B, "forwarder-b")
    # Decisions and receipts alike: the clearance's transaction was signed by customs.
    history = node.client(org).declaration(ACME[0])["history"]
    assert [v["action"] for v in history] == ["submit", "accept", "clear"]


def test_a_delegated_forwarder_reads_its_delegators_declarations_only(node: LocalNode) -> None:
    for decl_id in ACME:
        assert_readable(node, "forwarder-a", decl_id, "shipper-acme")
    assert_hidden(node, "forwarder-a", BETA, "shipper-beta")
    assert_hidden(node, "forwarder-a", OWN_B, "forwarder-b")


def test_a_revoked_delegation_ends_the_forwarders_reads(node: LocalNode) -> None:
    beta = node.client("shipper-beta")
    assert_hidden(node, "forwarder-a", BETA, "shipper-beta")
    beta.send("delegation.grant", {"forwarder": "forwarder-a"})
    assert_readable(node, "forwarder-a", BETA, "shipper-beta")
    beta.send("delegation.revoke", {"forwarder": "forwarder-a"})
    assert_hidden(node, "forwarder-a", BETA, "shipper-beta")
    # shipper-acme's delegation is untouched.
    assert_readable(node, "forwarder-a", ACME[1], "shipper-acme")


def test_lists_are_filtered_before_they_page(node: LocalNode) -> None:
    # forwarder-b may read one declaration among several on the same vessel
    # and container: one page of one item, and no cursor pointing past it at
    # entries it may not see.
    for filters in FILTERS[:4]:
        page = node.client("forwarder-b").declarations(limit=1, **filters)
        assert [i["id"] for i in page["items"]] == [OWN_B], filters
        assert page["next"] is None, filters
    for owner in ("shipper-acme", "shipper-beta"):
        page = node.client("forwarder-b").declarations(organisation=owner)
        nobody = node.client("forwarder-b").declarations(organisation="no-such-org")
        assert page == nobody == {"items": [], "next": None}


def test_a_rejected_transaction_is_its_signers_alone(node: LocalNode) -> None:
    # shipper-beta declares its own id a second time; the rules refuse it.
    beta = node.client("shipper-beta")
    with pytest.raises(ClientError) as refused:
        beta.declare(sample(decl_id=BETA))
    tx_id = refused.value.tx_id
    assert tx_id is not None
    assert beta.transaction(tx_id)["result"]["ok"] is False
    assert node.client("auditor").transaction(tx_id)["result"]["ok"] is False
    r = node.get("forwarder-b", f"/v1/transactions/{tx_id}")
    unknown = node.get("forwarder-b", f"/v1/transactions/{UNKNOWN_TX}")
    assert r.status_code == 404
    assert r.text == unknown.text.replace(UNKNOWN_TX, tx_id)


# ------------------------------------------------------------------ blocks

BLOCK_ROUTES: Final = (
    "/v1/blocks/1",
    "/v1/blocks?from=1&to=2",
    "/v1/blocks?from=1&to=2&format=msgpack",
    "/peer/v1/blocks?from=1&count=2",
)


@pytest.mark.parametrize("org", ["shipper-acme", "shipper-beta", "forwarder-b", "port-authority"])
def test_blocks_are_refused_to_organisations_running_no_node(node: LocalNode, org: str) -> None:
    for target in BLOCK_ROUTES:
        r = node.get(org, target)
        assert r.status_code == 403, (target, r.text)
        error = r.json()["error"]
        assert error["code"] == "auth.not_entitled"
        assert "blocks" in error["message"]
        assert org in error["message"]


@pytest.mark.parametrize("org", ["customs", "forwarder-a", "auditor"])
def test_blocks_are_read_by_node_operators_and_auditors(node: LocalNode, org: str) -> None:
    for target in BLOCK_ROUTES:
        r = node.get(org, target)
        assert r.status_code == 200, (target, r.text)
    r = node.get(org, "/v1/blocks?from=1&to=3&format=msgpack")
    records = list(msgpack.Unpacker(io.BytesIO(r.content), raw=False))
    assert [rec["height"] for rec in records] == [1, 2, 3]


@pytest.mark.parametrize("org", ["shipper-acme", "forwarder-b"])
def test_the_header_chain_stays_open_to_every_member(node: LocalNode, org: str) -> None:
    # What 'dgledger verify' follows a receipt's certificate from: no transaction in it.
    height = node.service.chain.height
    items = node.client(org).header_chain(height)
    assert [i["header"]["height"] for i in items] == list(range(1, height + 1))
    assert all("txs" not in i for i in items)
