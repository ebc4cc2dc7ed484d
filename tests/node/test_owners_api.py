"""Declaration ids namespaced per owner, over HTTP, the client and the command line.

One validator (customs) in this process, two shippers, a forwarder that
shipper-acme delegated, the port authority and an auditor. shipper-beta
declares ACME's id first; ACME's own declaration of it then succeeds, and
each reads its own. A read that names no owner answers the caller's own,
or the only one it may read, or ``409 declaration.ambiguous`` listing the
owners to choose from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from node.cli.common import failure
from node.cli.declarations import render
from node.client.errors import ClientError
from node.client.receipt import verify_receipt
from tests.node.reads_support import LocalNode
from tests.samples import member, sample

ID: Final = "FRLEH-ACME-2026-000124"
MEMBERS: Final = tuple(
    member(o) for o in ("port-authority", "shipper-acme", "shipper-beta", "forwarder-a", "auditor")
)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("owners"), members=MEMBERS, chain="dg-owners")
    try:
        beta = sample(decl_id=ID)
        beta["shipper"]["partyName"] = "BETA POLYMERS GMBH"
        assert n.client("shipper-beta").declare(beta)["result"]["owner"] == "shipper-beta"
        assert n.client("shipper-acme").declare(sample(decl_id=ID))["result"]["owner"] == (
            "shipper-acme"
        )
        n.client("shipper-acme").send("delegation.grant", {"forwarder": "forwarder-a"})
        n.client("port-authority").decide(ID, "accepted", owner="shipper-acme")
        yield n
    finally:
        n.close()


def test_each_owner_reads_its_own_declaration_of_the_same_id(node: LocalNode) -> None:
    acme = node.client("shipper-acme").declaration(ID)
    beta = node.client("shipper-beta").declaration(ID)
    assert (acme["owner"], acme["status"]) == ("shipper-acme", "accepted")
    assert (beta["owner"], beta["status"]) == ("shipper-beta", "submitted")
    assert acme["declaration"]["shipper"]["partyName"] == "ACME CHEMICALS SAS"
    assert beta["declaration"]["shipper"]["partyName"] == "BETA POLYMERS GMBH"


def test_a_reader_of_several_owners_is_asked_to_name_one(node: LocalNode) -> None:
    for org in ("customs", "port-authority", "auditor"):
        r = node.get(org, f"/v1/declarations/{ID}")
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert (error["code"], error["path"]) == ("declaration.ambiguous", "$.owner")
        assert error["owners"] == ["shipper-acme", "shipper-beta"]
    with pytest.raises(ClientError) as info:
        node.client("auditor").declaration(ID)
    assert info.value.code == "declaration.ambiguous"


def test_naming_the_owner_reads_that_owners_declaration(node: LocalNode) -> None:
    auditor = node.client("auditor")
    for owner, status in (("shipper-acme", "accepted"), ("shipper-beta", "submitted")):
        doc = auditor.declaration(ID, owner)
        assert (doc["owner"], doc["status"], doc["record"]["org"]) == (owner, status, owner)
        assert doc["receipt"]["owner"] == owner
        doc["headers"] = auditor.header_chain(doc["receipt"]["header"]["height"])
        checks = verify_receipt(doc, node.genesis)
        assert f"state decl/{owner}/{ID}: {status}" in checks[3]


def test_a_delegated_forwarder_gets_the_only_one_it_may_read(node: LocalNode) -> None:
    assert node.client("forwarder-a").declaration(ID)["owner"] == "shipper-acme"


def test_another_owners_declaration_is_as_unknown_as_no_declaration(node: LocalNode) -> None:
    mine = node.get("shipper-acme", f"/v1/declarations/{ID}?owner=shipper-beta")
    unknown = node.get("shipper-acme", f"/v1/declarations/{ID}?owner=nobody")
    assert mine.status_code == unknown.status_code == 404
    assert mine.json() == unknown.json()
    assert mine.json()["error"]["code"] == "declaration.unknown"


def test_a_malformed_owner_is_refused_naming_the_parameter(node: LocalNode) -> None:
    r = node.get("auditor", f"/v1/declarations/{ID}?owner=Shipper%20ACME")
    assert r.status_code == 400
    assert r.json()["error"]["path"] == "$.owner"


def test_lists_show_each_owners_declaration_once(node: LocalNode) -> None:
    items = node.client("auditor").declarations(status="submitted")["items"]
    assert [(i["org"], i["id"]) for i in items if i["id"] == ID] == [("shipper-beta", ID)]
    items = node.client("auditor").declarations(organisation="shipper-acme")["items"]
    assert [(i["org"], i["status"]) for i in items if i["id"] == ID] == [
        ("shipper-acme", "accepted")
    ]


def test_a_decision_changes_only_the_named_owners_declaration(node: LocalNode) -> None:
    customs = node.client("customs")
    summary = customs.decide(ID, "cleared", owner="shipper-acme")
    assert summary["result"]["owner"] == "shipper-acme"
    assert node.client("auditor").declaration(ID, "shipper-beta")["status"] == "submitted"
    with pytest.raises(ClientError) as info:
        customs.decide(ID, "cleared", owner="shipper-beta")
    assert info.value.code == "lifecycle.transition_not_allowed"


def test_a_delegated_forwarder_amends_naming_the_owner(node: LocalNode) -> None:
    forwarder = node.client("forwarder-a")
    with pytest.raises(ClientError) as info:
        forwarder.amend(ID, sample(decl_id=ID), reason="weights")
    assert info.value.code == "declaration.unknown"  # forwarder-a has no such declaration
    summary = forwarder.amend(ID, sample(decl_id=ID), reason="weights", owner="shipper-acme")
    assert (summary["result"]["owner"], summary["result"]["org"]) == (
        "shipper-acme",
        "forwarder-a",
    )


def test_show_names_the_owner_and_who_submitted(node: LocalNode) -> None:
    lines = render(node.client("auditor").declaration(ID, "shipper-beta"))
    assert lines[1].startswith("owner shipper-beta, submitted by shipper-beta,")
    assert f"dgledger verify {ID} --owner shipper-beta" in lines[-1]


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("declaration.ambiguous", "--owner"),
        ("owner.unknown", "--owner"),
        ("identity.shipper_mismatch", "legal name"),
        ("identity.not_delegated", "dgledger delegate"),
    ],
)
def test_the_cli_says_what_to_do_about_each_new_refusal(code: str, hint: str) -> None:
    error = failure(ClientError(code, "as the node said"))
    assert error.code == code
    assert str(error).startswith(f"{code}: as the node said: ") and hint in str(error)
