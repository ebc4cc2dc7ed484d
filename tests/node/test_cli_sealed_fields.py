"""What ``show`` and ``verify`` say of sealed fields, with a key, without one, with the wrong one.

Answers here are built as a node gives them (the document as stored, the
record naming the version whose document is current); the commands against
a network are in ``test_confidential_network.py``.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.keyfile import save_encryption_key
from node.cli.common import CliError
from node.cli.sealed_fields import beside, encryption_key, show_lines, verify_lines
from node.client.sealing import seal
from tests.samples import sample

KEYS = {o: X25519PrivateKey.generate() for o in ("customs", "shipper-acme")}


def answer(version: int = 2) -> dict[str, Any]:
    doc = sample(decl_id="ACME-SHOW-1")
    doc["carrierBookingReference"] = "BKG-778812"
    public = {o: k.public_key().public_bytes_raw() for o, k in KEYS.items()}
    sealed = seal(doc, owner="shipper-acme", version=version, recipients=public)
    return {
        "id": "ACME-SHOW-1",
        "owner": "shipper-acme",
        "record": {"document": version},
        "declaration": sealed,
    }


def test_with_a_recipients_key_the_fields_are_printed_marked_sealed_and_verified() -> None:
    a = answer()
    lines, failed = show_lines(a, (KEYS["customs"], Path("customs.enc.pem")))
    assert failed is None
    assert lines[0].startswith("sealed fields, opened with customs's encryption key and verified")
    assert "  consignee: NORTHEAST FUELS INC, 1 HARBOR WAY, NEWARK NJ 07114, US  [sealed]" in lines
    assert "  carrierBookingReference: BKG-778812  [sealed]" in lines
    assert (
        "  container CSQU3054383 item 1 emergency contact: ACME 24H, +33 2 35 00 00 00  [sealed]"
        in lines
    )


def test_without_a_key_it_says_what_is_sealed_and_how_to_open_it() -> None:
    lines, failed = show_lines(answer(), None)
    assert failed is None
    assert lines[0] == (
        "sealed fields: carrierBookingReference, consignee, 2 emergency contacts;"
        " encrypted to customs, shipper-acme"
    )
    assert "--enc-key FILE" in lines[1]
    assert "NORTHEAST" not in "\n".join(lines)


def test_a_key_that_is_not_a_recipients_opens_nothing_and_says_so() -> None:
    lines, failed = show_lines(answer(), (X25519PrivateKey.generate(), Path("other.enc.pem")))
    assert failed is None
    assert lines[1].startswith("  not opened: other.enc.pem: the fields are sealed to customs")


def test_fields_that_do_not_match_the_digest_fail() -> None:
    a = answer()
    a["declaration"]["sealed"]["digest"] = "00" * 32
    lines, failed = show_lines(a, (KEYS["customs"], Path("k")))
    assert lines[1].startswith("  not opened: sealed.tampered")
    assert failed is not None and "sealed.tampered" in failed
    # Bound to the version whose document is current: another version does not open.
    b = answer()
    b["record"]["document"] = 1
    assert show_lines(b, (KEYS["customs"], Path("k")))[1] is not None


def test_verify_checks_the_opened_fields_against_the_digest() -> None:
    a = answer()
    (line,), failed = verify_lines(a, (KEYS["shipper-acme"], Path("k")))
    assert failed is None
    assert line.startswith(
        "ok      sealed fields of version 2 (carrierBookingReference, consignee,"
    )
    assert "open with shipper-acme's encryption key" in line
    assert line.endswith(a["declaration"]["sealed"]["digest"])
    (line,), failed = verify_lines(a, None)
    assert failed is None and line.startswith("sealed  the sealed fields (")
    tampered = copy.deepcopy(a)
    tampered["declaration"]["sealed"]["ciphertext"] = "A" * 40
    (line,), failed = verify_lines(tampered, (KEYS["customs"], Path("k")))
    assert line.startswith("FAILED  sealed.tampered: $.declaration.sealed:")
    assert failed is not None
    assert verify_lines({"id": "x", "declaration": sample()}, None) == ([], None)


def test_the_key_beside_the_member_key_is_the_default(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    save_encryption_key(keys / "customs.enc.pem", KEYS["customs"])
    assert beside(str(keys / "customs.pem")) == keys / "customs.enc.pem"
    found = encryption_key(argparse.Namespace(key=str(keys / "customs.pem"), enc_key=None))
    assert found is not None and found[1] == keys / "customs.enc.pem"
    none = argparse.Namespace(key=str(keys / "auditor.pem"), enc_key=None)
    assert encryption_key(none) is None
    with pytest.raises(CliError) as e:
        encryption_key(argparse.Namespace(key=None, enc_key=str(keys / "missing.enc.pem")))
    assert "check --enc-key" in str(e.value)
    (keys / "bad.enc.pem").write_text("not a key")
    (keys / "bad.enc.pem").chmod(0o600)
    with pytest.raises(CliError):
        encryption_key(argparse.Namespace(key=None, enc_key=str(keys / "bad.enc.pem")))
