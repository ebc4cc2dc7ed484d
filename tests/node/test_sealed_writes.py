"""Writers seal: ``GET /v1/readers`` says to whom, and the client seals before it signs.

One validator (customs) in this process; two shippers, two forwarders (one
delegated by shipper-acme), the port authority and an auditor, each with the
encryption key ``network init`` gave it. The route answers the owner and the
forwarders it delegated, from the current state; ``Client.declare`` and
``amend`` seal the sensitive fields to those readers, and the node stores the
document as sent, sealed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.keyfile import encryption_public, load_encryption_key
from node.client import sealing
from node.client.errors import ClientError
from tests.node.reads_support import LocalNode
from tests.samples import member, sample

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
ACME_READERS: Final = ["auditor", "customs", "port-authority", "shipper-acme"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("sealed-writes"), members=MEMBERS, chain="dg-sealed")
    try:
        yield n
    finally:
        n.close()


def enc_key(node: LocalNode, org: str) -> X25519PrivateKey:
    return load_encryption_key(node.dir / "keys" / f"{org}.enc.pem")


def test_the_owner_is_told_its_readers_and_their_keys(node: LocalNode) -> None:
    r = node.get("shipper-acme", "/v1/readers")
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["owner"] == "shipper-acme"
    assert [x["organisation"] for x in answer["readers"]] == ACME_READERS
    for x in answer["readers"]:
        assert bytes.fromhex(x["key"]) == encryption_public(enc_key(node, x["organisation"]))
    assert node.get("shipper-acme", "/v1/readers?owner=shipper-acme").json() == answer


def test_only_the_owner_and_its_delegated_forwarders_ask(node: LocalNode) -> None:
    for org in ("forwarder-b", "customs", "shipper-beta"):
        r = node.get(org, "/v1/readers?owner=shipper-beta" if org == "forwarder-b" else
                "/v1/readers?owner=shipper-acme")  # fmt: skip
        assert r.status_code == 403, (org, r.text)
        assert r.json()["error"]["code"] == "auth.not_entitled"
    r = node.get("shipper-acme", "/v1/readers?owner=shipper-zeta")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "owner.unknown")
    r = node.get("shipper-acme", "/v1/readers?ownr=shipper-acme")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "request.unknown_parameter")


def test_a_delegated_forwarder_asks_for_its_delegator_and_is_among_the_readers(
    node: LocalNode,
) -> None:
    node.client("shipper-beta").send("delegation.grant", {"forwarder": "forwarder-a"})
    owner, keys = node.client("forwarder-a").readers("shipper-beta")
    assert owner == "shipper-beta"
    assert sorted(keys) == ["auditor", "customs", "forwarder-a", "port-authority", "shipper-beta"]


def test_declare_seals_and_every_reader_opens_the_stored_document(node: LocalNode) -> None:
    document = sample(decl_id="ACME-SEALED-1")
    document["carrierBookingReference"] = "BKG-778812"
    committed = node.client("shipper-acme").declare(document)
    assert committed["status"] == "committed"
    for org in ACME_READERS:
        answer = node.client(org).declaration("ACME-SEALED-1", "shipper-acme")
        stored = answer["declaration"]
        assert "consignee" not in stored and "carrierBookingReference" not in stored
        assert [r["organisation"] for r in stored["sealed"]["recipients"]] == ACME_READERS
        opened = sealing.open_sealed(
            stored["sealed"],
            owner="shipper-acme",
            declaration_id="ACME-SEALED-1",
            version=1,
            organisation=org,
            private_key=enc_key(node, org),
        )
        assert opened.fields["consignee"] == document["consignee"]
        assert opened.fields["carrierBookingReference"] == "BKG-778812"


def test_amend_seals_for_the_next_version(node: LocalNode) -> None:
    client = node.client("shipper-acme")
    client.declare(sample(decl_id="ACME-SEALED-2"))
    document = sample(decl_id="ACME-SEALED-2")
    document["consignee"]["partyName"] = "SOUTHEAST FUELS INC"
    result = client.amend("ACME-SEALED-2", document, reason="new consignee")
    assert result["result"]["version"] == 2
    stored = node.client("customs").declaration("ACME-SEALED-2", "shipper-acme")["declaration"]
    opened = sealing.open_sealed(
        stored["sealed"],
        owner="shipper-acme",
        declaration_id="ACME-SEALED-2",
        version=2,
        organisation="customs",
        private_key=enc_key(node, "customs"),
    )
    assert opened.fields["consignee"]["partyName"] == "SOUTHEAST FUELS INC"


def test_told_not_to_seal_the_client_sends_in_clear_and_the_rules_refuse(node: LocalNode) -> None:
    with pytest.raises(ClientError) as e:
        node.client("shipper-acme").declare(sample(decl_id="ACME-CLEAR-1"), seal=False)
    assert e.value.code == "sealed.required"
    assert {v["path"] for v in e.value.violations} >= {"$.body.declaration.consignee"}


def test_readers_that_changed_since_the_client_asked_are_asked_again(node: LocalNode) -> None:
    client = node.client("shipper-beta")
    owner, before = client.readers()
    assert owner == "shipper-beta" and "forwarder-b" not in before
    node.client("shipper-beta").send("delegation.grant", {"forwarder": "forwarder-b"})
    # The client's remembered readers leave forwarder-b out: refused, asked again, resealed.
    result = client.declare(sample(decl_id="BETA-SEALED-1"))
    assert result["status"] == "committed"
    stored = node.client("auditor").declaration("BETA-SEALED-1", "shipper-beta")["declaration"]
    assert "forwarder-b" in [r["organisation"] for r in stored["sealed"]["recipients"]]


def test_a_forwarder_that_may_not_amend_is_told_so_by_the_rules(node: LocalNode) -> None:
    node.client("shipper-acme").declare(sample(decl_id="ACME-SEALED-4"))
    with pytest.raises(ClientError) as e:
        # Not told whom to seal to (403), the client sends the document as given.
        node.client("forwarder-b").amend(
            "ACME-SEALED-4", sample(decl_id="ACME-SEALED-4"), owner="shipper-acme"
        )
    assert e.value.code == "role.not_allowed"
