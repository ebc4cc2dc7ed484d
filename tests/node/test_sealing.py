"""Sealed fields: only the recipients open them, and every reader sees the same ones."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import decode, encode
from node.client import sealing
from node.client.sealing import SealingError, open_sealed, seal, sensitive_paths, unseal
from node.devnet.samples import valid_declaration


def _keys(*orgs: str) -> dict[str, X25519PrivateKey]:
    return {org: X25519PrivateKey.generate() for org in orgs}


def _public(keys: dict[str, X25519PrivateKey]) -> dict[str, bytes]:
    return {org: k.public_key().public_bytes_raw() for org, k in keys.items()}


def _document() -> dict[str, Any]:
    doc = valid_declaration()
    doc["forwarder"] = {"partyName": "FORWARDER B", "address": "1 QUAI, LE HAVRE"}
    doc["carrierBookingReference"] = "BKG-778812"
    item = doc["containers"][0]["dangerousGoods"][0]
    item["emergencyContactDetails"] = {"contact": "DUTY CHEMIST", "phone": "+33 1 23 45 67 89"}
    return doc


READERS = ("customs", "port-authority", "shipper-acme")


def _open(doc: dict[str, Any], org: str, key: X25519PrivateKey, **kw: Any) -> sealing.Opened:
    args = {"owner": "shipper-acme", "declaration_id": doc["declarationId"], "version": 1}
    args.update(kw)
    return open_sealed(doc["sealed"], organisation=org, private_key=key, **args)


def test_every_recipient_opens_the_same_fields_and_gets_the_document_back() -> None:
    doc = _document()
    keys = _keys(*READERS)
    sealed = seal(doc, owner="shipper-acme", version=1, recipients=_public(keys))
    section = sealed["sealed"]
    assert section["paths"] == sensitive_paths(doc)
    assert "containers[0].dangerousGoods[0].emergencyContactDetails" in section["paths"]
    for field in ("consignee", "forwarder", "carrierBookingReference"):
        assert field not in sealed
    assert "emergencyContactDetails" not in sealed["containers"][0]["dangerousGoods"][0]
    assert sealed["shipper"] == doc["shipper"]  # the shipper stays in clear
    assert [r["organisation"] for r in section["recipients"]] == sorted(READERS)
    for org, key in keys.items():
        opened = _open(sealed, org, key)
        assert opened.digest == section["digest"]
        assert unseal(sealed, opened) == doc


def test_the_sealed_document_holds_no_sensitive_text_in_plaintext() -> None:
    doc = _document()
    sealed = seal(doc, owner="shipper-acme", version=1, recipients=_public(_keys(*READERS)))
    wire = encode(sealed)
    for text in (doc["consignee"]["partyName"], "FORWARDER B", "BKG-778812", "DUTY CHEMIST"):
        assert text.encode() not in wire


def test_a_competitor_cannot_open_and_a_wrong_key_is_named() -> None:
    keys = _keys(*READERS)
    sealed = seal(_document(), owner="shipper-acme", version=1, recipients=_public(keys))
    with pytest.raises(SealingError) as e:
        _open(sealed, "forwarder-b", X25519PrivateKey.generate())
    assert e.value.code == "sealed.not_a_recipient"
    with pytest.raises(SealingError) as e:
        _open(sealed, "customs", X25519PrivateKey.generate())
    assert e.value.code == "sealed.key"


@pytest.mark.parametrize(
    "bind",
    [{"owner": "shipper-beta"}, {"declaration_id": "OTHER-1"}, {"version": 2}],
    ids=["owner", "id", "version"],
)
def test_a_section_moved_to_another_declaration_does_not_open(bind: dict[str, Any]) -> None:
    keys = _keys(*READERS)
    sealed = seal(_document(), owner="shipper-acme", version=1, recipients=_public(keys))
    with pytest.raises(SealingError) as e:
        _open(sealed, "customs", keys["customs"], **bind)
    assert e.value.code == "sealed.tampered"


def test_tampered_ciphertext_digest_or_paths_are_refused() -> None:
    keys = _keys(*READERS)
    sealed = seal(_document(), owner="shipper-acme", version=1, recipients=_public(keys))
    for field, value in (
        ("ciphertext", sealed["sealed"]["ciphertext"][:-2] + "AA"),
        ("digest", "00" * 32),
        ("paths", ["consignee"]),
    ):
        bad = copy.deepcopy(sealed)
        bad["sealed"][field] = value
        with pytest.raises(SealingError) as e:
            _open(bad, "customs", keys["customs"])
        assert e.value.code == "sealed.tampered", field


def _forged(doc: dict[str, Any], keys: dict[str, X25519PrivateKey], fields: dict[str, Any]) -> Any:
    """A writer who seals other fields to one reader, under the same digest."""
    sealed = seal(doc, owner="shipper-acme", version=1, recipients=_public(keys))
    bound = sealing.context("shipper-acme", doc["declarationId"], 1)
    plaintext = encode({"fields": fields, "salt": b"\0" * 32})
    data_key = ChaCha20Poly1305.generate_key()
    nonce = b"\1" * 12
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
    entry = sealed["sealed"]["recipients"][0]
    public = keys[entry["organisation"]].public_key()
    entry["wrapped"] = sealing.b64(suite.encrypt(data_key, public, info=bound))
    sealed["sealed"]["nonce"] = sealing.b64(nonce)
    sealed["sealed"]["ciphertext"] = sealing.b64(
        ChaCha20Poly1305(data_key).encrypt(nonce, plaintext, bound)
    )
    return sealed, entry["organisation"]


def test_a_writer_cannot_show_one_reader_other_fields() -> None:
    doc = _document()
    keys = _keys(*READERS)
    paths = sensitive_paths(doc)
    forged, org = _forged(doc, keys, {p: "SOMETHING ELSE" for p in paths})
    with pytest.raises(SealingError) as e:
        _open(forged, org, keys[org])
    assert e.value.code == "sealed.tampered"


def test_the_format_is_as_the_docstring_says() -> None:
    """An independent reading of the module docstring opens a section."""
    doc = _document()
    key = X25519PrivateKey.generate()
    sealed = seal(
        doc,
        owner="shipper-acme",
        version=3,
        recipients={"customs": key.public_key().public_bytes_raw()},
    )
    s = sealed["sealed"]
    bound = encode(["dgledger/sealed/v1", "shipper-acme", doc["declarationId"], 3])
    wrapped = sealing.unb64(s["recipients"][0]["wrapped"], "w")
    assert len(wrapped) == sealing.WRAPPED_BYTES
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
    data_key = suite.decrypt(wrapped, key, info=bound)
    plaintext = ChaCha20Poly1305(data_key).decrypt(
        sealing.unb64(s["nonce"], "n"), sealing.unb64(s["ciphertext"], "c"), bound
    )
    assert hashlib.sha256(bound + plaintext).hexdigest() == s["digest"]
    value = decode(plaintext)
    assert sorted(value) == ["fields", "salt"] and len(value["salt"]) == 32
    assert value["fields"]["consignee"] == doc["consignee"]


def test_two_seals_of_one_document_share_no_digest() -> None:
    """The salt: a digest does not let anyone confirm a guessed consignee."""
    doc = _document()
    recipients = _public(_keys("customs"))
    a = seal(doc, owner="shipper-acme", version=1, recipients=recipients)
    b = seal(doc, owner="shipper-acme", version=1, recipients=recipients)
    assert a["sealed"]["digest"] != b["sealed"]["digest"]


def test_refusals_are_coded() -> None:
    doc = _document()
    with pytest.raises(SealingError) as e:
        seal(doc, owner="o", version=1, recipients={})
    assert e.value.code == "sealed.recipients"
    with pytest.raises(SealingError) as e:
        seal(doc, owner="o", version=1, recipients={"customs": b"short"})
    assert e.value.code == "sealed.key"
    with pytest.raises(SealingError) as e:
        seal(doc, owner="o", version=1, recipients=_public(_keys("customs")), paths=["shipper"])
    assert e.value.code == "sealed.path"
    twice = seal(doc, owner="o", version=1, recipients=_public(_keys("customs")))
    with pytest.raises(SealingError) as e:
        seal(twice, owner="o", version=1, recipients=_public(_keys("customs")))
    assert e.value.code == "sealed.twice"
    with pytest.raises(SealingError) as e:
        sealing.unb64("a+b/", "nonce")
    assert e.value.code == "sealed.invalid"


@settings(max_examples=30, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=3),
    phone=st.text(max_size=30),
)
def test_any_field_values_round_trip(names: list[str], phone: str) -> None:
    doc = _document()
    doc["consignee"]["partyName"] = names[0]
    doc["containers"][0]["dangerousGoods"][0]["emergencyContactDetails"]["phone"] = phone
    keys = _keys("customs")
    sealed = seal(doc, owner="shipper-acme", version=1, recipients=_public(keys))
    assert unseal(sealed, _open(sealed, "customs", keys["customs"])) == doc


def test_a_reader_that_knows_only_its_key_finds_its_entry() -> None:
    keys = _keys(*READERS)
    sealed = seal(_document(), owner="shipper-acme", version=1, recipients=_public(keys))
    args = {"owner": "shipper-acme", "declaration_id": sealed["declarationId"], "version": 1}
    org, opened = sealing.open_with(sealed["sealed"], private_key=keys["customs"], **args)
    assert org == "customs" and opened.fields["carrierBookingReference"] == "BKG-778812"
    with pytest.raises(SealingError) as e:
        sealing.open_with(sealed["sealed"], private_key=X25519PrivateKey.generate(), **args)
    assert e.value.code == "sealed.not_a_recipient"
    assert "customs" in e.value.message
