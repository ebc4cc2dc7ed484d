"""Membership: legal identities and encryption keys in genesis and by governance."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from contracts import identity as ids
from contracts.dgl_builtin import builtin_list
from contracts.errors import ContractError
from contracts.lifecycle import Role
from contracts.membership import AppGenesis, Identity, Organisation, normalised
from tests.contracts.fixtures import (
    IDENTITIES,
    Community,
    community,
    enc_key_for,
    enc_public,
    key_for,
)

P = 2**255 - 19
ORDER_8 = 325606250916557431795983626356110631294008115727848805560023387167927233504
"""The u-coordinate of a point of order 8."""
SIGNERS = ["customs", "port-authority", "forwarder-a"]


def _app(*orgs: dict[str, Any]) -> dict[str, Any]:
    return {"orgs": list(orgs), "dgl": builtin_list().digest(), "params": {"governance_delay": 2}}


def _org(name: str = "shipper-acme", **extra: Any) -> dict[str, Any]:
    return {"name": name, "role": "shipper", "keys": [key_for(name).public.raw], **extra}


def _refused(app: dict[str, Any]) -> ContractError:
    with pytest.raises(ContractError) as info:
        AppGenesis.from_value(app)
    assert info.value.code == "genesis.invalid"
    return info.value


def test_identity_and_encryption_keys_round_trip_through_genesis() -> None:
    org = _org(
        legal_name="ACME CHEMICALS SAS",
        identifiers={"eori": "FR12345678901234"},
        enc_keys=[enc_public("shipper-acme")],
    )
    app = AppGenesis.from_value(_app(org))
    (read,) = app.orgs
    assert read.identity == Identity("ACME CHEMICALS SAS", (("eori", "FR12345678901234"),))
    assert read.identity.eori == "FR12345678901234"
    assert read.enc_keys == (enc_public("shipper-acme"),)
    assert app.to_value() == _app(org)


def test_a_genesis_without_identities_reads_and_encodes_as_before() -> None:
    app = AppGenesis.from_value(_app(_org()))
    assert app.orgs[0].identity is None and app.orgs[0].enc_keys == ()
    assert app.to_value()["orgs"] == [_org()]


@pytest.mark.parametrize(
    "eori", ["FR1", "FR12345678901234X", "DE987654321", "GB123456789000", "XI0A1B2C"]
)
def test_eori_numbers_of_the_right_form_are_taken(eori: str) -> None:
    AppGenesis.from_value(_app(_org(legal_name="ACME", identifiers={"eori": eori})))


@pytest.mark.parametrize(
    "eori",
    ["FR", "fr123456", "F1234567", "FR1234567890123456", "FR 12345", "FR-12345", "12FR345", 123],
)
def test_eori_numbers_of_another_form_are_refused(eori: Any) -> None:
    error = _refused(_app(_org(legal_name="ACME", identifiers={"eori": eori})))
    assert error.path == "$.app.orgs[0].identifiers.eori"


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"legal_name": ""}, "$.app.orgs[0].legal_name"),
        ({"legal_name": " ACME"}, "$.app.orgs[0].legal_name"),
        ({"legal_name": "ACME\u202e SAS"}, "$.app.orgs[0].legal_name"),
        ({"legal_name": "A" * 71}, "$.app.orgs[0].legal_name"),
        ({"legal_name": b"ACME"}, "$.app.orgs[0].legal_name"),
        ({"identifiers": {"eori": "FR1"}}, "$.app.orgs[0].identifiers"),
        ({"legal_name": "ACME", "identifiers": {}}, "$.app.orgs[0].identifiers"),
        ({"legal_name": "ACME", "identifiers": {"lei": "X"}}, "$.app.orgs[0].identifiers.lei"),
        ({"legal_name": "ACME", "identifiers": ["FR1"]}, "$.app.orgs[0].identifiers"),
        ({"enc_keys": []}, "$.app.orgs[0].enc_keys"),
        ({"enc_keys": [b"\x01" * 31]}, "$.app.orgs[0].enc_keys[0]"),
        ({"enc_keys": [enc_public("a"), enc_public("a")]}, "$.app.orgs[0].enc_keys"),
        ({"enc_keys": [enc_public("a")] * 17}, "$.app.orgs[0].enc_keys"),
        ({"website": "acme.example"}, "$.app.orgs[0]"),
    ],
)
def test_malformed_identities_and_keys_are_refused_with_their_path(
    extra: dict[str, Any], path: str
) -> None:
    assert _refused(_app(_org(**extra))).path == path


@pytest.mark.parametrize(
    "u", [0, 1, P - 1, P, P + 1, 2**255 - 1, ORDER_8]
)  # fmt: skip
def test_low_order_and_non_canonical_encryption_keys_are_refused(u: int) -> None:
    raw = u.to_bytes(32, "little")
    assert _refused(_app(_org(enc_keys=[raw]))).path == "$.app.orgs[0].enc_keys[0]"


def test_every_refused_low_order_key_is_one_that_x25519_itself_refuses() -> None:
    """The rule agrees with the library: these keys give an all-zero shared secret."""
    private = enc_key_for("x")
    for u in (
        0,
        1,
        P - 1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
    ):
        with pytest.raises(ValueError):
            private.exchange(X25519PublicKey.from_public_bytes(u.to_bytes(32, "little")))
    private.exchange(X25519PublicKey.from_public_bytes(enc_public("y")))  # fmt: skip


@pytest.mark.parametrize(
    ("first", "second", "what"),
    [
        ({"legal_name": "Acme Chemicals SAS"}, {"legal_name": "ACME  CHEMICALS  sas"},
         "legal name"),
        (
            {"legal_name": "ACME", "identifiers": {"eori": "FR1"}},
            {"legal_name": "OTHER", "identifiers": {"eori": "FR1"}},
            "eori",
        ),
        ({"enc_keys": [enc_public("k")]}, {"enc_keys": [enc_public("k")]}, "encryption key"),
    ],
)  # fmt: skip
def test_two_organisations_never_share_a_name_an_identifier_or_an_encryption_key(
    first: dict[str, Any], second: dict[str, Any], what: str
) -> None:
    error = _refused(_app(_org("shipper-a", **first), _org("shipper-b", **second)))
    assert what in error.message


def test_legal_names_are_compared_case_folded_with_spaces_collapsed() -> None:
    assert normalised("  Acme\u00a0 Chemicals   SAS ") == "acme chemicals sas"
    assert normalised("STRASSE GMBH") == normalised("Straße GmbH")


def test_genesis_records_identities_and_encryption_keys_in_the_state() -> None:
    c = community(identities=True)
    view = c.engine.view()
    assert ids.identity_of(view, "shipper-acme") == IDENTITIES["shipper-acme"]
    assert ids.holder_of_name(view, "acme chemicals  sas") == "shipper-acme"
    assert view.get("identifier/eori/FR12345678901234") == {"org": "shipper-acme"}
    assert ids.encryption_key_records(view, "shipper-acme") == [
        {"key": enc_public("shipper-acme"), "added_at": 0, "retired_at": None}
    ]
    assert ids.encryption_key_holder(view, enc_public("shipper-acme")) == "shipper-acme"
    assert ids.identity_of(community().engine.view(), "shipper-acme") is None


def test_a_genesis_without_identities_keeps_its_state_root() -> None:
    """Old genesis files give the state they always gave: no new leaf is written for them."""
    plain = community()
    assert not any(
        plain.engine.view().get(k) for k in ("identity/shipper-acme", "enc/shipper-acme")
    )
    assert plain.engine.root != community(identities=True).engine.root


# ------------------------------------------------------------------ governance


def _govern(c: Community, action: str, params: dict[str, Any], effective: int) -> dict[str, Any]:
    body = {"action": action, "effective_height": effective, "params": params}
    return c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]


def _codes(result: dict[str, Any]) -> set[str]:
    assert result["ok"] is False, result
    return {v["code"] for v in result["violations"]}


def test_a_legal_identity_set_by_governance_takes_effect_at_its_height() -> None:
    c = community(identities=True)
    params = {"org": "shipper-acme", "legal_name": "ACME SPECIALTY CHEMICALS SA", "identifiers": {}}
    assert _govern(c, "org.identity", params, 4)["ok"]  # proposed at height 1
    c.block([])  # height 2
    assert ids.identity_of(c.engine.view(), "shipper-acme") == IDENTITIES["shipper-acme"]
    c.block([])  # height 3: at its end the change for height 4 is applied
    view = c.engine.view()
    assert ids.identity_of(view, "shipper-acme") == Identity("ACME SPECIALTY CHEMICALS SA")
    assert ids.holder_of_name(view, "ACME SPECIALTY CHEMICALS SA") == "shipper-acme"
    # The old name and identifier are free again.
    assert ids.holder_of_name(view, "ACME CHEMICALS SAS") is None
    assert view.get("identifier/eori/FR12345678901234") is None


def test_an_organisation_without_an_identity_is_given_one_by_governance() -> None:
    c = community()
    params = {"org": "shipper-beta", "legal_name": "BETA SA", "identifiers": {"eori": "BE0123"}}
    assert _govern(c, "org.identity", params, 3)["ok"]
    c.block([])
    assert ids.identity_of(c.engine.view(), "shipper-beta") == Identity(
        "BETA SA", (("eori", "BE0123"),)
    )


@pytest.mark.parametrize(
    ("params", "code", "path"),
    [
        ({"org": "shipper-beta", "legal_name": "acme chemicals sas", "identifiers": {}},
         "governance.identity_taken", "$.body.params"),
        ({"org": "shipper-beta", "legal_name": "BETA", "identifiers": {"eori": "FR12345678901234"}},
         "governance.identity_taken", "$.body.params"),
        ({"org": "nobody", "legal_name": "BETA", "identifiers": {}},
         "governance.unknown_org", "$.body.params.org"),
        ({"org": "shipper-beta", "legal_name": "BETA", "identifiers": {"eori": "de123"}},
         "governance.invalid_params", "$.body.params.identifiers.eori"),
        ({"org": "shipper-beta", "legal_name": "", "identifiers": {}},
         "governance.invalid_params", "$.body.params.legal_name"),
        ({"org": "shipper-beta", "legal_name": "BETA"},
         "governance.invalid_params", "$.body.params"),
    ],
)  # fmt: skip
def test_identity_changes_that_cannot_be_made_are_refused(
    params: dict[str, Any], code: str, path: str
) -> None:
    c = community(identities=True)
    result = _govern(c, "org.identity", params, 3)
    assert _codes(result) == {code}
    assert result["violations"][0]["path"] == path


def test_keeping_its_own_name_while_changing_identifiers_is_no_conflict() -> None:
    c = community(identities=True)
    params = {"org": "shipper-acme", "legal_name": "Acme Chemicals SAS", "identifiers": {}}
    assert _govern(c, "org.identity", params, 3)["ok"]


def test_an_encryption_key_added_by_governance_is_in_force_from_its_height() -> None:
    c = community(identities=True)
    params = {"org": "customs", "key": enc_public("customs", 1)}
    assert _govern(c, "enc_key.add", params, 3)["ok"]
    assert ids.encryption_keys_in_force(c.engine.view(), "customs") == [enc_public("customs")]
    c.block([])  # height 2: at its end the change for height 3 is applied
    assert ids.encryption_keys_in_force(c.engine.view(), "customs") == [
        enc_public("customs"),
        enc_public("customs", 1),
    ]


def test_a_rotated_encryption_key_is_retired_at_the_height_and_kept_on_record() -> None:
    c = community(identities=True)
    params = {"org": "shipper-acme", "old": enc_public("shipper-acme"), "key": enc_public("a2")}
    assert _govern(c, "enc_key.rotate", params, 4)["ok"]
    c.block([])
    assert ids.encryption_keys_in_force(c.engine.view(), "shipper-acme") == [
        enc_public("shipper-acme")
    ]
    c.block([])
    view = c.engine.view()
    assert ids.encryption_keys_in_force(view, "shipper-acme") == [enc_public("a2")]
    assert ids.encryption_key_records(view, "shipper-acme") == [
        {"key": enc_public("shipper-acme"), "added_at": 0, "retired_at": 4},
        {"key": enc_public("a2"), "added_at": 4, "retired_at": None},
    ]
    # A retired key stays taken: it cannot be given to anyone again.
    again = {"org": "shipper-beta", "key": enc_public("shipper-acme")}
    assert _codes(_govern(c, "enc_key.add", again, c.height + 3)) == {"governance.key_exists"}


@pytest.mark.parametrize(
    ("action", "params", "code", "path"),
    [
        ("enc_key.add", {"org": "customs", "key": enc_public("shipper-beta")},
         "governance.key_exists", "$.body.params.key"),
        ("enc_key.add", {"org": "customs", "key": (1).to_bytes(32, "little")},
         "governance.invalid_params", "$.body.params.key"),
        ("enc_key.add", {"org": "customs", "key": b"short"},
         "governance.invalid_params", "$.body.params.key"),
        ("enc_key.add", {"org": "nobody", "key": enc_public("n")},
         "governance.unknown_org", "$.body.params.org"),
        ("enc_key.rotate",
         {"org": "customs", "old": enc_public("shipper-beta"), "key": enc_public("n")},
         "governance.unknown_key", "$.body.params.old"),
        ("enc_key.rotate", {"org": "customs", "key": enc_public("n")},
         "governance.invalid_params", "$.body.params"),
    ],
)  # fmt: skip
def test_encryption_key_changes_that_cannot_be_made_are_refused(
    action: str, params: dict[str, Any], code: str, path: str
) -> None:
    c = community(identities=True)
    result = _govern(c, action, params, 3)
    assert _codes(result) == {code}
    assert result["violations"][0]["path"] == path


def test_an_organisation_holds_at_most_max_enc_keys_encryption_keys() -> None:
    c = community(identities=True)
    for i in range(1, 16):
        assert _govern(
            c, "enc_key.add", {"org": "auditor", "key": enc_public("au", i)}, c.height + 3
        )["ok"]
    c.block([])
    c.block([])
    assert len(ids.encryption_key_records(c.engine.view(), "auditor")) == 16
    result = _govern(
        c, "enc_key.add", {"org": "auditor", "key": enc_public("au", 99)}, c.height + 3
    )
    assert _codes(result) == {"governance.too_many_keys"}


def test_a_new_member_comes_with_its_identity_and_encryption_keys() -> None:
    c = community(identities=True)
    org = Organisation(
        "shipper-gamma",
        Role.SHIPPER,
        (key_for("shipper-gamma").public,),
        Identity("GAMMA PAINTS SPA", (("eori", "IT01234567890"),)),
        (enc_public("shipper-gamma"),),
    )
    assert _govern(c, "org.add", org.to_value(), 3)["ok"]
    c.block([])
    view = c.engine.view()
    assert ids.identity_of(view, "shipper-gamma") == org.identity
    assert ids.encryption_keys_in_force(view, "shipper-gamma") == [enc_public("shipper-gamma")]
    assert ids.encryption_key_records(view, "shipper-gamma")[0]["added_at"] == 3


def test_a_new_member_may_not_take_an_existing_name_or_encryption_key() -> None:
    c = community(identities=True)
    base = {
        "name": "shipper-gamma",
        "role": "shipper",
        "keys": [key_for("shipper-gamma").public.raw],
    }
    taken_name = {**base, "legal_name": "Beta Polymers GmbH"}
    assert _codes(_govern(c, "org.add", taken_name, 3)) == {"governance.identity_taken"}
    taken_key = {**base, "enc_keys": [enc_public("customs")]}
    assert _codes(_govern(c, "org.add", taken_key, 4)) == {"governance.key_exists"}


def test_two_pending_claims_to_one_name_give_it_to_the_first_to_take_effect() -> None:
    c = community(identities=True)
    first = {"org": "shipper-beta", "legal_name": "NEW NAME", "identifiers": {}}
    second = {"org": "auditor", "legal_name": "new  name", "identifiers": {}}
    assert _govern(c, "org.identity", first, 5)["ok"]
    assert _govern(c, "org.identity", second, 4)["ok"]  # proposed while the name is free
    for _ in range(3):
        c.block([])
    view = c.engine.view()
    assert ids.holder_of_name(view, "NEW NAME") == "auditor"
    assert ids.identity_of(view, "shipper-beta") == IDENTITIES["shipper-beta"]
