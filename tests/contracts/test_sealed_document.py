"""A declaration with a ``sealed`` section: its shape is read, and a sealed field counts as there.

Validators cannot open the section; they read its shape (coded violations
at ``$.sealed...``), keep it in the canonical record byte for byte, and
judge the rules on the clear fields, a sealed path standing for the field
it removed. Sections are made here as a writer makes them
(:func:`node.client.sealing.seal`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.checks import validate
from contracts.codes import CODES
from contracts.declaration import SEALABLE_ITEM, SEALABLE_TOP, Declaration
from contracts.document import parse_declaration, read_declaration
from contracts.errors import DeclarationInvalid
from ledger.encoding import decode, encode
from node.client import sealing
from tests.contracts.dg_strategies import LIST
from tests.samples import sample

Doc = dict[str, Any]
ITEM = "containers[0].dangerousGoods[0].emergencyContactDetails"


def _keys(*orgs: str) -> dict[str, bytes]:
    return {o: X25519PrivateKey.generate().public_key().public_bytes_raw() for o in orgs}


def full() -> Doc:
    """The sample with every sealable field present."""
    doc = sample()
    doc["forwarder"] = {"partyName": "ALPHA FREIGHT SARL", "address": "3 QUAI, LE HAVRE"}
    doc["carrierBookingReference"] = "BKG-778812"
    doc["transportDocumentReference"] = "BL-2026-0042"
    return doc


def sealed(doc: Doc | None = None, **kw: Any) -> Doc:
    return sealing.seal(
        full() if doc is None else doc,
        owner="shipper-acme",
        version=1,
        recipients=_keys("customs", "port-authority", "shipper-acme"),
        **kw,
    )


def violations(doc: Any) -> list[tuple[str, str]]:
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(doc)
    found = [(v.code, v.path) for v in info.value.violations]
    assert all(code in CODES for code, _ in found), found
    return found


def test_the_sealable_fields_are_the_clients() -> None:
    assert sealing.SENSITIVE_TOP == SEALABLE_TOP
    assert sealing.SENSITIVE_ITEM == SEALABLE_ITEM


def test_a_sealed_document_reads_and_passes_the_rules() -> None:
    doc = sealed()
    assert "consignee" not in doc
    decl = validate(json.dumps(doc), LIST)
    assert decl.consignee is None and decl.forwarder is None
    assert decl.sealed is not None
    assert decl.sealed.paths == tuple(doc["sealed"]["paths"])
    assert [r.organisation for r in decl.sealed.recipients] == [
        "customs",
        "port-authority",
        "shipper-acme",
    ]
    assert decl.containers[0].dangerous_goods[0].emergency_contact is None


def test_the_section_is_written_back_byte_for_byte() -> None:
    doc = sealed()
    value = parse_declaration(json.dumps(doc)).to_value()
    assert encode(value["sealed"]) == encode(doc["sealed"])
    assert read_declaration(decode(encode(value))).to_value() == value
    assert parse_declaration(value) == parse_declaration(doc)


def test_a_clear_document_has_no_section() -> None:
    decl = parse_declaration(sample())
    assert decl.sealed is None
    assert "sealed" not in decl.to_value()


def test_only_some_fields_may_be_sealed() -> None:
    doc = sealed(paths=["consignee"])
    decl = validate(doc, LIST)
    assert decl.sealed is not None and decl.sealed.paths == ("consignee",)
    assert decl.forwarder is not None and decl.carrier_booking_reference == "BKG-778812"


def test_a_sealed_consignee_counts_as_there_an_absent_one_is_still_missing() -> None:
    doc = sealed(paths=["carrierBookingReference"])
    del doc["consignee"]
    assert violations(doc) == [("field.missing", "$.consignee")]


def test_a_sealed_emergency_contact_leaves_its_item_whole() -> None:
    doc = sealed(paths=[ITEM])
    item = validate(doc, LIST).containers[0].dangerous_goods[0]
    assert item.emergency_contact is None and item.un_number == "1203"


def test_every_problem_of_the_shape_is_reported_at_its_path() -> None:
    doc = sealed()
    s = doc["sealed"]
    s["version"] = 2
    s["digest"] = s["digest"].upper()
    s["nonce"] = sealing.b64(b"\0" * 11)
    s["ciphertext"] += "="
    s["recipients"][0]["key"] = sealing.b64(b"\1" * 31)
    s["recipients"][1]["wrapped"] = "not base64!"
    s["recipients"][2]["extra"] = 1
    found = violations(doc)
    assert found == [
        ("sealed.version", "$.sealed.version"),
        ("sealed.digest", "$.sealed.digest"),
        ("sealed.length", "$.sealed.nonce"),
        ("sealed.encoding", "$.sealed.ciphertext"),
        ("sealed.length", "$.sealed.recipients[0].key"),
        ("sealed.encoding", "$.sealed.recipients[1].wrapped"),
        ("field.unknown", "$.sealed.recipients[2].extra"),
    ]


def test_a_padded_or_non_canonical_base64_is_refused() -> None:
    doc = sealed()
    nonce = doc["sealed"]["nonce"]  # 12 bytes: 16 characters, no padding needed
    doc["sealed"]["nonce"] = nonce + "=="
    assert violations(doc) == [("sealed.encoding", "$.sealed.nonce")]
    doc = sealed()
    key = doc["sealed"]["recipients"][0]["key"]  # 32 bytes: the last character holds 2 spare bits
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    spare = last[last.index(key[-1]) + 1]
    doc["sealed"]["recipients"][0]["key"] = key[:-1] + spare
    assert violations(doc) == [("sealed.encoding", "$.sealed.recipients[0].key")]


def test_missing_and_unknown_parts_of_the_section_are_named() -> None:
    doc = sealed()
    del doc["sealed"]["digest"]
    doc["sealed"]["note"] = "x"
    assert violations(doc) == [
        ("field.unknown", "$.sealed.note"),
        ("field.missing", "$.sealed.digest"),
    ]
    doc = sealed()
    doc["sealed"] = "opaque"
    assert ("field.type", "$.sealed") in violations(doc)


@pytest.mark.parametrize(
    ("paths", "where"),
    [
        (["forwarder", "consignee"], "$.sealed.paths"),  # not sorted
        (["consignee", "consignee"], "$.sealed.paths"),  # twice
        (["consignee", "shipper"], "$.sealed.paths[1]"),  # not sealable
        (["consignee", "containers[0].dangerousGoods[0].UNNumber"], "$.sealed.paths[1]"),
        (["consignee", "containers[0].dangerousGoods[00].emergencyContactDetails"], None),
        (["consignee", "containers[0].dangerousGoods[7].emergencyContactDetails"], None),
        (["consignee", "containers[3].dangerousGoods[0].emergencyContactDetails"], None),
        ([], "$.sealed.paths"),
    ],
    ids=[
        "unsorted",
        "twice",
        "shipper",
        "un-number",
        "index-form",
        "no-item",
        "no-container",
        "none",
    ],
)
def test_paths_are_a_sorted_set_of_sealable_fields_of_this_document(
    paths: list[str], where: str | None
) -> None:
    doc = sealed()
    doc["sealed"]["paths"] = paths
    found = violations(doc)
    assert {code for code, _ in found} <= {"sealed.path", "field.length", "field.missing"}, found
    assert found[0][1] == (where or "$.sealed.paths[1]")


def test_a_sealed_path_in_clear_too_is_refused() -> None:
    doc = sealed(paths=["consignee", ITEM])
    doc["consignee"] = full()["consignee"]
    doc["containers"][0]["dangerousGoods"][0]["emergencyContactDetails"] = {
        "contact": "X",
        "phone": "+33 1",
    }
    assert violations(doc) == [
        ("sealed.path", "$.sealed.paths[0]"),
        ("sealed.path", "$.sealed.paths[1]"),
    ]


def test_recipients_are_sorted_unique_and_bounded() -> None:
    doc = sealed()
    r = doc["sealed"]["recipients"]
    r[0], r[1] = r[1], r[0]
    assert violations(doc) == [("sealed.recipients", "$.sealed.recipients")]
    doc = sealed()
    doc["sealed"]["recipients"][1] = copy.deepcopy(doc["sealed"]["recipients"][0])
    assert violations(doc) == [("sealed.recipients", "$.sealed.recipients")]
    doc = sealed()
    doc["sealed"]["recipients"] = []
    assert violations(doc) == [("field.length", "$.sealed.recipients")]
    doc = sealed()
    doc["sealed"]["recipients"][0]["organisation"] = "Not An Org"
    assert violations(doc) == [("sealed.recipients", "$.sealed.recipients[0].organisation")]


def test_a_ciphertext_too_short_for_its_tag_is_refused() -> None:
    doc = sealed()
    doc["sealed"]["ciphertext"] = sealing.b64(b"\0" * 16)
    assert violations(doc) == [("sealed.length", "$.sealed.ciphertext")]


def test_the_rules_still_judge_the_clear_fields_of_a_sealed_document() -> None:
    doc = full()
    doc["containers"][0]["dangerousGoods"][0]["imoClass"] = "8"
    with pytest.raises(DeclarationInvalid) as info:
        validate(sealed(doc), LIST)
    assert "class.mismatch" in {v.code for v in info.value.violations}


def test_declaration_is_still_built_only_with_its_consignee_or_a_section() -> None:
    decl = parse_declaration(sealed())
    assert isinstance(decl, Declaration)
    value = decl.to_value()
    assert "consignee" not in value and value["sealed"]["version"] == 1
