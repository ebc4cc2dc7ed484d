"""Sealed to the right readers: the check with state at submission and amendment.

Where the owner has an encryption key in force, its declarations' sensitive
fields must be sealed, to exactly the organisations entitled to read them at
that height that have a key in force, each with a key of its own in force.
A network without encryption keys works in clear. Validators cannot open the
section: they judge the rules on the clear fields and the section's shape.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts import sealed as sealed_rule
from contracts.document import parse_declaration
from contracts.engine import Engine
from contracts.errors import TransactionRejected
from contracts.handler import Context
from contracts.membership import AppGenesis
from node.client import sealing
from tests.contracts.fixtures import Community, community, enc_key_for, enc_public
from tests.samples import sample

ID = "FRLEH-ACME-2026-000777"
SEE_ALL = ("auditor", "customs", "port-authority")
ACME_READERS = ("auditor", "customs", "port-authority", "shipper-acme")
SIGNERS = ["customs", "port-authority", "forwarder-a"]


def doc(decl_id: str = ID) -> dict[str, Any]:
    document = sample(decl_id=decl_id)
    document["forwarder"] = {"partyName": "ALPHA FREIGHT SARL", "address": "3 QUAI, LE HAVRE"}
    document["carrierBookingReference"] = "BKG-778812"
    return document


def seal_to(
    document: dict[str, Any],
    orgs: tuple[str, ...],
    *,
    owner: str = "shipper-acme",
    version: int = 1,
    keys: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    recipients = {o: enc_public(o) for o in orgs}
    recipients.update(keys or {})
    return sealing.seal(document, owner=owner, version=version, recipients=recipients)


def send(c: Community, org: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    return c.block([c.tx(org, type_, body, seal=False)])[0]


def submit(c: Community, org: str, document: dict[str, Any]) -> dict[str, Any]:
    return send(c, org, "declaration.submit", {"declaration": document})


def refused(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    assert result["ok"] is False, result
    return [(v["code"], v["path"], v["message"]) for v in result["violations"]]


def test_sealed_to_every_reader_it_is_stored_and_each_reader_opens_it() -> None:
    c = community(identities=True)
    document = doc()
    result = submit(c, "shipper-acme", seal_to(document, ACME_READERS))
    assert result["ok"], result
    stored = c.engine.view().get(f"doc/shipper-acme/{ID}/000001")
    assert "consignee" not in stored and "forwarder" not in stored
    for org in ACME_READERS:
        opened = sealing.open_sealed(
            stored["sealed"],
            owner="shipper-acme",
            declaration_id=ID,
            version=1,
            organisation=org,
            private_key=enc_key_for(org),
        )
        assert sealing.unseal(stored, opened) == parse_declaration(document).to_value()


def test_a_sensitive_field_in_clear_is_refused_at_its_path() -> None:
    c = community(identities=True)
    found = refused(submit(c, "shipper-acme", doc()))
    paths = [(code, path) for code, path, _ in found]
    assert paths == [
        ("sealed.required", "$.body.declaration.carrierBookingReference"),
        ("sealed.required", "$.body.declaration.consignee"),
        (
            "sealed.required",
            "$.body.declaration.containers[0].dangerousGoods[0].emergencyContactDetails",
        ),
        (
            "sealed.required",
            "$.body.declaration.containers[0].dangerousGoods[1].emergencyContactDetails",
        ),
        ("sealed.required", "$.body.declaration.forwarder"),
    ]
    assert "shipper-acme has an encryption key" in found[0][2]
    # Sealing some of them is not enough either.
    partial = sealing.seal(
        doc(),
        owner="shipper-acme",
        version=1,
        recipients={o: enc_public(o) for o in ACME_READERS},
        paths=["consignee"],
    )
    assert {p for _, p, _ in refused(submit(c, "shipper-acme", partial))} == {
        "$.body.declaration.carrierBookingReference",
        "$.body.declaration.containers[0].dangerousGoods[0].emergencyContactDetails",
        "$.body.declaration.containers[0].dangerousGoods[1].emergencyContactDetails",
        "$.body.declaration.forwarder",
    }


def test_a_reader_left_out_is_named() -> None:
    c = community(identities=True)
    found = refused(submit(c, "shipper-acme", seal_to(doc(), ("customs", "shipper-acme"))))
    ((code, path, message),) = found
    assert (code, path) == ("sealed.recipients", "$.body.declaration.sealed.recipients")
    assert "auditor" in message and "port-authority" in message


def test_a_competitor_among_the_recipients_is_named() -> None:
    c = community(identities=True)
    result = submit(c, "shipper-acme", seal_to(doc(), (*ACME_READERS, "forwarder-b")))
    ((code, path, message),) = refused(result)
    assert (code, path) == ("sealed.recipients", "$.body.declaration.sealed.recipients")
    assert "forwarder-b may not read" in message


def test_a_key_that_is_not_the_organisations_own_in_force_is_named() -> None:
    c = community(identities=True)
    stranger = X25519PrivateKey.generate().public_key().public_bytes_raw()
    document = seal_to(doc(), ACME_READERS, keys={"customs": stranger})
    ((code, path, message),) = refused(submit(c, "shipper-acme", document))
    assert (code, path) == ("sealed.key", "$.body.declaration.sealed.recipients[1].key")
    assert "customs" in message


def test_a_rotated_key_reads_no_new_version() -> None:
    c = community(identities=True)
    rotate = {"org": "auditor", "old": enc_public("auditor"), "key": enc_public("auditor", 1)}
    body = {"action": "enc_key.rotate", "effective_height": 3, "params": rotate}
    assert c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]["ok"]
    c.block([])  # the rotation is in force from height 3
    old = seal_to(doc(), ACME_READERS)
    ((code, path, _),) = refused(submit(c, "shipper-acme", old))
    assert (code, path) == ("sealed.key", "$.body.declaration.sealed.recipients[0].key")
    new = seal_to(doc(), ACME_READERS, keys={"auditor": enc_public("auditor", 1)})
    assert submit(c, "shipper-acme", new)["ok"]
    assert sealed_rule.recipients(c.engine.view(), "shipper-acme")["auditor"] == [
        enc_public("auditor", 1)
    ]


def test_a_delegated_forwarder_reads_while_the_delegation_stands() -> None:
    c = community(identities=True)
    assert send(c, "shipper-acme", "delegation.grant", {"forwarder": "forwarder-a"})["ok"]
    with_a = (*ACME_READERS, "forwarder-a")
    assert sorted(sealed_rule.recipients(c.engine.view(), "shipper-acme")) == sorted(with_a)
    refused(submit(c, "shipper-acme", seal_to(doc(), ACME_READERS)))
    # The forwarder declares in ACME's name: sealed for ACME, bound to ACME.
    assert submit(c, "forwarder-a", seal_to(doc(), with_a))["owner"] == "shipper-acme"
    assert send(c, "shipper-acme", "delegation.revoke", {"forwarder": "forwarder-a"})["ok"]
    amended = seal_to(doc(), with_a, version=2)
    found = refused(
        send(c, "shipper-acme", "declaration.amend", {"id": ID, "declaration": amended})
    )
    assert found[0][:2] == ("sealed.recipients", "$.body.declaration.sealed.recipients")
    assert "forwarder-a may not read" in found[0][2]
    amended = seal_to(doc(), ACME_READERS, version=2)
    assert send(c, "shipper-acme", "declaration.amend", {"id": ID, "declaration": amended})["ok"]


def test_an_amendment_must_be_sealed_too() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme", seal_to(doc(), ACME_READERS))["ok"]
    body = {"id": ID, "declaration": doc()}
    found = refused(send(c, "shipper-acme", "declaration.amend", body))
    assert {code for code, _, _ in found} == {"sealed.required"}


def test_admission_refuses_before_any_block() -> None:
    c = community(identities=True)
    tx = c.tx("shipper-acme", "declaration.submit", {"declaration": doc()}, seal=False)
    with pytest.raises(TransactionRejected) as info:
        c.engine.precheck(c.engine.view(), tx, Context(c.height + 1, c.time))
    assert info.value.code == "sealed.required"


def test_a_network_without_encryption_keys_works_in_clear() -> None:
    c = community()
    assert submit(c, "shipper-acme", doc())["ok"]
    assert sealed_rule.recipients(c.engine.view(), "shipper-acme") == {}
    # There is no one to seal to: a section names organisations with no key.
    found = refused(submit(c, "shipper-acme", seal_to(doc("OTHER-1"), ACME_READERS)))
    assert found[0][:2] == ("sealed.recipients", "$.body.declaration.sealed.recipients")
    assert "no encryption key in force" in found[0][2]


def test_the_fixtures_community_seals_as_a_writer_does() -> None:
    c = community(identities=True)
    result = c.block([c.tx("shipper-acme", "declaration.submit", {"declaration": doc()})])[0]
    assert result["ok"], result
    assert "sealed" in c.engine.view().get(f"doc/shipper-acme/{ID}/000001")


def test_same_sealed_blocks_give_the_same_root() -> None:
    a, b = community(identities=True), community(identities=True)
    txs = [a.tx("shipper-acme", "declaration.submit", {"declaration": doc()})]
    assert a.block(txs) == b.block(txs)
    assert a.engine.root == b.engine.root


def test_the_recipients_list_is_written_only_where_keys_are() -> None:
    """Networks without encryption keys keep the state root they had."""
    assert community().engine.view().get(sealed_rule.ENC_ORGS) is None
    listed = community(identities=True).engine.view().get(sealed_rule.ENC_ORGS)
    assert listed == {"orgs": sorted(listed["orgs"])} and "forwarder-b" in listed["orgs"]


def test_a_shape_violation_comes_before_the_check_with_state() -> None:
    c = community(identities=True)
    document = seal_to(doc(), ACME_READERS)
    bad = copy.deepcopy(document)
    bad["sealed"]["digest"] = "XYZ"
    found = refused(submit(c, "shipper-acme", bad))
    assert [(code, path) for code, path, _ in found] == [
        ("sealed.digest", "$.body.declaration.sealed.digest")
    ]
    assert isinstance(c.engine, Engine)


def test_the_readers_at_genesis_are_those_the_state_names_at_genesis() -> None:
    c = community(identities=True)
    orgs = AppGenesis.from_value(c.genesis.app).orgs
    for owner in ("shipper-acme", "forwarder-b", "customs"):
        expected = sealed_rule.sealing_keys(c.engine.view(), owner)
        assert sealed_rule.genesis_sealing_keys(orgs, owner) == expected


def test_one_who_may_not_amend_is_told_so_before_whom_to_seal_to() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme", seal_to(doc(), ACME_READERS))["ok"]
    body = {"id": ID, "owner": "shipper-acme", "declaration": doc()}
    found = refused(send(c, "forwarder-b", "declaration.amend", body))
    assert [code for code, _, _ in found] == ["role.not_allowed"]
