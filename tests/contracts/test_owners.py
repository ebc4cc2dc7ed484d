"""Whose a declaration is: ids namespaced per owner, the shipper bound to membership's identity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contracts import indexes
from contracts.errors import TransactionRejected
from contracts.handler import Context
from ledger.tx import Transaction
from tests.contracts.fixtures import Community, community, enc_public
from tests.samples import sample

ID = "FRLEH-ACME-2026-000124"
ACME = "ACME CHEMICALS SAS"
BETA = "BETA POLYMERS GMBH"
SHIPPER = "$.body.declaration.shipper.partyName"
SIGNERS = ["customs", "port-authority", "forwarder-a"]


def doc(shipper: str = ACME, decl_id: str = ID) -> dict[str, Any]:
    document = sample(decl_id=decl_id)
    document["shipper"]["partyName"] = shipper
    return document


def submit(c: Community, org: str, shipper: str = ACME, decl_id: str = ID) -> dict[str, Any]:
    body = {"declaration": doc(shipper, decl_id)}
    return c.block([c.tx(org, "declaration.submit", body)])[0]


def send(c: Community, org: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    return c.block([c.tx(org, type_, body)])[0]


def refusal(result: dict[str, Any]) -> tuple[str, str, str]:
    assert result["ok"] is False, result
    (v,) = result["violations"]
    return v["code"], v["path"], v["message"]


def record(c: Community, owner: str, decl_id: str = ID) -> Any:
    return c.engine.view().get(f"decl/{owner}/{decl_id}")


def grant(c: Community, owner: str, forwarder: str) -> None:
    assert send(c, owner, "delegation.grant", {"forwarder": forwarder})["ok"]


# ------------------------------------------------------------------ namespaces


def test_another_organisation_cannot_take_an_id_each_sees_its_own() -> None:
    c = community(identities=True)
    beta = submit(c, "shipper-beta", BETA)
    assert beta["ok"], beta
    assert (beta["declaration"], beta["owner"]) == (ID, "shipper-beta")
    acme = submit(c, "shipper-acme", ACME)
    assert acme["ok"], acme
    assert (acme["declaration"], acme["owner"]) == (ID, "shipper-acme")
    view = c.engine.view()
    assert record(c, "shipper-beta")["org"] == "shipper-beta"
    assert record(c, "shipper-acme")["org"] == "shipper-acme"
    assert view.get(f"doc/shipper-beta/{ID}/000001")["shipper"]["partyName"] == BETA
    assert view.get(f"doc/shipper-acme/{ID}/000001")["shipper"]["partyName"] == ACME
    assert indexes.owners(c.overlay.base, ID) == ["shipper-acme", "shipper-beta"]


def test_without_identities_an_id_is_still_namespaced() -> None:
    """Where membership records no identity the party is not checked, but the id is still own."""
    c = community()
    assert submit(c, "shipper-beta", ACME)["owner"] == "shipper-beta"
    assert submit(c, "shipper-acme", ACME)["owner"] == "shipper-acme"


def test_the_same_owner_cannot_use_an_id_twice() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme")["ok"]
    code, path, message = refusal(submit(c, "shipper-acme"))
    assert (code, path) == ("declaration.exists", "$.body.declaration.declarationId")
    assert "shipper-acme" in message


def test_a_transaction_on_a_declaration_finds_it_under_its_owner() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-beta", BETA)["ok"]
    assert submit(c, "shipper-acme")["ok"]
    # Each cancels its own: the owner defaults to the signer's organisation.
    assert send(c, "shipper-beta", "declaration.cancel", {"id": ID})["ok"]
    assert record(c, "shipper-beta")["status"] == "cancelled"
    assert record(c, "shipper-acme")["status"] == "submitted"
    # Naming another owner does not reach its declaration.
    result = send(c, "shipper-beta", "declaration.cancel", {"id": ID, "owner": "shipper-acme"})
    assert refusal(result)[0] == "role.not_allowed"
    assert record(c, "shipper-acme")["status"] == "submitted"


def test_a_decision_names_the_owner() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-beta", BETA)["ok"]
    assert submit(c, "shipper-acme")["ok"]
    body = {"id": ID, "owner": "shipper-acme", "decision": "accepted"}
    result = send(c, "port-authority", "declaration.decide", body)
    assert result["ok"], result
    assert result["owner"] == "shipper-acme"
    assert record(c, "shipper-acme")["status"] == "accepted"
    assert record(c, "shipper-beta")["status"] == "submitted"


@pytest.mark.parametrize(
    ("owner", "code", "path"),
    [
        (None, "body.missing_field", "$.body.owner"),
        ("Shipper ACME", "body.invalid_field", "$.body.owner"),
        (7, "body.invalid_field", "$.body.owner"),
        ("shipper-zeta", "owner.unknown", "$.body.owner"),
        ("shipper-beta", "declaration.unknown", "$.body.id"),
    ],
)
def test_a_decision_without_a_valid_owner_is_refused(owner: Any, code: str, path: str) -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme")["ok"]
    body: dict[str, Any] = {"id": ID, "decision": "accepted"}
    if owner is not None:
        body["owner"] = owner
    found = refusal(send(c, "port-authority", "declaration.decide", body))
    assert found[:2] == (code, path)
    assert record(c, "shipper-acme")["status"] == "submitted"


def test_an_unknown_declaration_names_its_owner() -> None:
    c = community(identities=True)
    code, path, message = refusal(send(c, "shipper-acme", "declaration.cancel", {"id": "NOPE"}))
    assert (code, path) == ("declaration.unknown", "$.body.id")
    assert message == "no declaration 'NOPE' of shipper-acme"


# ----------------------------------------------------------- shipper identity


def test_a_shipper_party_naming_another_organisation_is_refused() -> None:
    c = community(identities=True)
    code, path, message = refusal(submit(c, "shipper-beta", ACME))
    assert (code, path) == ("identity.shipper_mismatch", SHIPPER)
    assert "shipper-acme" in message and "shipper-beta" in message
    assert record(c, "shipper-beta") is None and record(c, "shipper-acme") is None
    # ACME's own submission of the id is untouched.
    assert submit(c, "shipper-acme")["ok"]


def test_a_shipper_party_that_is_not_the_signer_is_refused_naming_the_expected_name() -> None:
    c = community(identities=True)
    code, path, message = refusal(submit(c, "shipper-beta", "SOMEONE ELSE SA"))
    assert (code, path) == ("identity.shipper_mismatch", SHIPPER)
    assert BETA in message


def test_legal_names_match_case_folded_with_spaces_collapsed() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme", "Acme  Chemicals sas")["owner"] == "shipper-acme"


def test_a_signer_without_an_identity_may_not_name_one_that_has_one() -> None:
    c = community()
    params = {"org": "shipper-acme", "legal_name": ACME, "identifiers": {}}
    body = {"action": "org.identity", "effective_height": 3, "params": params}
    assert c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]["ok"]
    c.block([])
    assert refusal(submit(c, "shipper-beta", ACME))[0] == "identity.shipper_mismatch"
    assert submit(c, "shipper-beta", "ANY OTHER NAME")["owner"] == "shipper-beta"


def test_an_amendment_may_not_change_the_shipper_to_another_organisation() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme")["ok"]
    body = {"id": ID, "declaration": doc(BETA)}
    code, path, message = refusal(send(c, "shipper-acme", "declaration.amend", body))
    assert (code, path) == ("identity.shipper_mismatch", SHIPPER)
    assert "shipper-beta" in message and ACME in message
    body = {"id": ID, "declaration": doc("acme chemicals SAS")}
    assert send(c, "shipper-acme", "declaration.amend", body)["ok"]


def test_a_changed_legal_name_governs_submissions_from_its_height() -> None:
    c = community(identities=True)
    params = {"org": "shipper-acme", "legal_name": "ACME SPECIALTIES SA", "identifiers": {}}
    body = {"action": "org.identity", "effective_height": 4, "params": params}
    assert c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]["ok"]
    assert submit(c, "shipper-acme", ACME, "D-2")["ok"]  # height 2: the old name
    c.block([])  # height 3: at its end the new name comes into force
    assert refusal(submit(c, "shipper-acme", ACME, "D-3"))[0] == "identity.shipper_mismatch"
    assert submit(c, "shipper-acme", "ACME SPECIALTIES SA", "D-4")["ok"]


# ------------------------------------------------------------------ delegation


def test_a_delegated_forwarder_declares_in_its_delegators_name() -> None:
    c = community(identities=True)
    grant(c, "shipper-acme", "forwarder-a")
    result = submit(c, "forwarder-a", ACME)
    assert result["ok"], result
    assert (result["owner"], result["org"]) == ("shipper-acme", "forwarder-a")
    assert record(c, "shipper-acme")["org"] == "shipper-acme"
    assert record(c, "forwarder-a") is None
    # ACME reads and cancels it as its own; the forwarder amends it naming the owner.
    body = {"id": ID, "owner": "shipper-acme", "declaration": doc(ACME)}
    assert send(c, "forwarder-a", "declaration.amend", body)["ok"]
    assert send(c, "shipper-acme", "declaration.cancel", {"id": ID})["ok"]


def test_a_forwarder_not_delegated_may_not_declare_in_a_members_name() -> None:
    c = community(identities=True)
    grant(c, "shipper-beta", "forwarder-a")
    code, path, message = refusal(submit(c, "forwarder-a", ACME))
    assert (code, path) == ("identity.not_delegated", SHIPPER)
    assert "shipper-acme" in message and "forwarder-a" in message
    # A delegation to another forwarder is not one to this forwarder.
    grant(c, "shipper-acme", "forwarder-b")
    assert refusal(submit(c, "forwarder-a", ACME))[0] == "identity.not_delegated"
    assert submit(c, "forwarder-a", BETA)["owner"] == "shipper-beta"


def test_a_revoked_delegation_stops_declarations_in_the_delegators_name() -> None:
    c = community(identities=True)
    grant(c, "shipper-acme", "forwarder-a")
    assert send(c, "shipper-acme", "delegation.revoke", {"forwarder": "forwarder-a"})["ok"]
    assert refusal(submit(c, "forwarder-a", ACME))[0] == "identity.not_delegated"


def test_a_forwarder_declares_in_its_own_name_as_its_own() -> None:
    c = community(identities=True)
    assert submit(c, "forwarder-a", "Alpha Freight SARL")["owner"] == "forwarder-a"
    code, _, message = refusal(submit(c, "forwarder-a", "UNKNOWN TRADER LTD", "D-2"))
    assert code == "identity.shipper_mismatch"
    assert "ALPHA FREIGHT SARL" in message and "delegated" in message


def test_a_forwarder_amends_its_delegators_declaration_only_naming_the_owner() -> None:
    c = community(identities=True)
    assert submit(c, "shipper-acme")["ok"]
    grant(c, "shipper-acme", "forwarder-a")
    body = {"id": ID, "declaration": doc(ACME)}
    assert refusal(send(c, "forwarder-a", "declaration.amend", body))[0] == "declaration.unknown"
    body["owner"] = "shipper-acme"
    assert send(c, "forwarder-a", "declaration.amend", body)["ok"]
    assert record(c, "shipper-acme")["status"] == "amended"


def test_admission_refuses_a_claimed_identity_before_any_block() -> None:
    c = community(identities=True)
    tx = c.tx("shipper-beta", "declaration.submit", {"declaration": doc(ACME)})
    view = c.engine.view()
    with pytest.raises(TransactionRejected) as info:
        c.engine.precheck(view, tx, Context(c.height + 1, c.time))
    assert info.value.code == "identity.shipper_mismatch"


def test_same_blocks_same_state_root_with_identities_owners_and_keys() -> None:
    """Two engines given the same blocks agree on every root, identities and owners included."""
    a, b = community(identities=True), community(identities=True)
    assert a.engine.root == b.engine.root
    identity = {"org": "shipper-beta", "legal_name": "BETA SE", "identifiers": {}}
    rotate = {"org": "auditor", "old": enc_public("auditor"), "key": enc_public("auditor", 1)}
    # Each block's transactions are made when it is: a document is sealed to its
    # owner's readers as the state has them then (delegations, rotated keys).
    blocks: list[Callable[[], list[Transaction]]] = [
        lambda: [a.tx("shipper-acme", "delegation.grant", {"forwarder": "forwarder-a"})],
        lambda: [
            a.tx("shipper-beta", "declaration.submit", {"declaration": doc(BETA)}),
            a.tx("forwarder-a", "declaration.submit", {"declaration": doc(ACME)}),
            a.tx(SIGNERS[0], "governance", _gov("org.identity", identity, 5), extra=SIGNERS[1:]),
            a.tx(SIGNERS[0], "governance", _gov("enc_key.rotate", rotate, 5), extra=SIGNERS[1:]),
        ],
        list,
        list,
        lambda: [
            a.tx("shipper-beta", "declaration.submit", {"declaration": doc("BETA SE", "D-2")})
        ],
    ]
    for make in blocks:
        txs = make()
        first, second = a.block(txs), b.block(txs)
        assert first == second
        assert all(result["ok"] for result in first), first
        assert a.engine.root == b.engine.root
    assert record(a, "shipper-acme")["org"] == "shipper-acme"
    assert record(a, "shipper-beta", "D-2") is not None


def _gov(action: str, params: dict[str, Any], effective: int) -> dict[str, Any]:
    return {"action": action, "effective_height": effective, "params": params}
