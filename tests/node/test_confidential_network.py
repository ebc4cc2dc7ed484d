"""Issue 21's test network: a competitor holds none of another shipper's sealed fields.

Three validators (customs, the port authority, and forwarder-b, a forwarder
competing for shipper-acme's business), two shippers, forwarder-a (which
shipper-acme delegated) and an auditor, each organisation with the
encryption key ``network init`` gave it. shipper-acme declares with
``dgledger declare`` (its client seals the consignee, the forwarder party,
the commercial references and the emergency contacts to the organisations
entitled to read the declaration) and amends once. Then:

* forwarder-b's node holds every block, yet its data directory (every key
  and value of its LevelDB, read through plyvel since snappy compression
  would hide plaintext from a byte search of the files, and every other
  file: configuration, keys, sign state, the node's log) and its
  ``dgledger export`` hold none of the sealed fields in plaintext;
* ``dgledger show`` prints every field to the owner, forwarder-a, the port
  authority, customs and the auditor, opened with their keys and marked
  sealed and verified against the chain's digest; to forwarder-b the
  declaration does not exist; without a key ``show`` says what is sealed and
  how to open it;
* ``dgledger verify`` proves the document and checks the opened fields
  against the proven digest;
* ``dgledger audit`` verifies the whole chain from forwarder-b's export.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import plyvel
import pytest

from ledger.keyfile import load_signing_key
from node.cli.main import main
from node.client.client import Client
from node.devnet.localnet import LocalNetwork
from tests.samples import member, sample

pytestmark = pytest.mark.slow

DECL_ID: Final = "ACME-CONFIDENTIAL-1"
VALIDATORS: Final = ("customs", "port-authority", "forwarder-b")
MEMBERS: Final = tuple(
    member(o) for o in ("shipper-acme", "shipper-beta", "forwarder-a", "auditor")
)
READERS: Final = ("shipper-acme", "forwarder-a", "port-authority", "customs", "auditor")
SECRETS: Final = (
    "ZEPHYR FUELS CONFIDENTIAL INC",  # the consignee
    "77 HIDDEN QUAY, NEWARK",  # its address
    "ALPHA FREIGHT LEHAVRE SARL",  # the forwarder party
    "3 QUAI DISCRET",  # its address
    "BKGCONF778812",  # the booking reference
    "BLCONF0042",  # the transport document reference
    "DUTY CHEMIST XENON",  # an emergency contact
    "+33 1 98 76 54 32",  # its phone
    "NIGHT DESK KRYPTON",  # the other item's contact
    "AMENDED CONSIGNEE ARGON LTD",  # the amendment's consignee
)
Run = tuple[int, str, str]


def document(consignee: str = SECRETS[0]) -> dict[str, Any]:
    doc = sample(decl_id=DECL_ID)
    doc["consignee"] = {"partyName": consignee, "address": "77 HIDDEN QUAY, NEWARK NJ 07114, US"}
    doc["forwarder"] = {"partyName": SECRETS[2], "address": "3 QUAI DISCRET, 76600 LE HAVRE, FR"}
    doc["carrierBookingReference"] = SECRETS[4]
    doc["transportDocumentReference"] = SECRETS[5]
    first, second = doc["containers"][0]["dangerousGoods"]
    first["emergencyContactDetails"] = {"contact": SECRETS[6], "phone": SECRETS[7]}
    second["emergencyContactDetails"] = {"contact": SECRETS[8], "phone": "+33 2 11 22 33 44"}
    return doc


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    directory = tmp_path_factory.mktemp("confidential") / "net"
    with LocalNetwork(directory, validators=list(VALIDATORS), members=MEMBERS) as network:
        network.start()
        key = load_signing_key(network.key_path("shipper-acme"))
        with Client.connect(network.url("customs"), key, ca=network.ca) as client:
            client.send("delegation.grant", {"forwarder": "forwarder-a"})
        yield network


def dgledger(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    """Run the command line in this process: exit status, stdout, stderr."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def as_(net: LocalNetwork, org: str, node: str = "customs") -> list[str | Path]:
    return ["--key", net.key_path(org), "--node", net.url(node)]


@pytest.fixture(scope="module")
def declared(net: LocalNetwork, tmp_path_factory: pytest.TempPathFactory) -> LocalNetwork:
    """shipper-acme's declaration, submitted and amended with the command line."""
    work = tmp_path_factory.mktemp("files")
    (work / "v1.json").write_text(json.dumps(document()))
    (work / "v2.json").write_text(json.dumps(document(SECRETS[9])))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DGLEDGER_NODE", raising=False)
        assert (
            main(["declare", str(work / "v1.json"), "--wait", *map(str, as_(net, "shipper-acme"))])
            == 0
        )
        assert (
            main(
                [
                    "amend",
                    DECL_ID,
                    str(work / "v2.json"),
                    "--wait",
                    *map(str, as_(net, "shipper-acme")),
                ]
            )
            == 0
        )
    net.wait_converged()
    return net


def test_the_stored_document_is_sealed_to_exactly_its_readers(declared: LocalNetwork) -> None:
    key = load_signing_key(declared.key_path("auditor"))
    with Client.connect(declared.url("forwarder-b"), key, ca=declared.ca) as client:
        answer = client.declaration(DECL_ID, "shipper-acme")
    stored = answer["declaration"]
    assert answer["record"]["version"] == 2
    for field in (
        "consignee",
        "forwarder",
        "carrierBookingReference",
        "transportDocumentReference",
    ):
        assert field not in stored
    assert [r["organisation"] for r in stored["sealed"]["recipients"]] == sorted(READERS)
    assert not any(secret in json.dumps(answer) for secret in SECRETS)


@pytest.mark.parametrize("org", READERS)
def test_every_reader_reads_every_field_with_its_key(
    declared: LocalNetwork, capsys: pytest.CaptureFixture[str], org: str
) -> None:
    status, out, err = dgledger(
        capsys, "show", DECL_ID, "--owner", "shipper-acme", *as_(declared, org)
    )
    assert (status, err) == (0, ""), err
    assert f"sealed fields, opened with {org}'s encryption key and verified against" in out
    assert f"  consignee: {SECRETS[9]}, 77 HIDDEN QUAY, NEWARK NJ 07114, US  [sealed]" in out
    assert f"  forwarder: {SECRETS[2]}, 3 QUAI DISCRET, 76600 LE HAVRE, FR  [sealed]" in out
    assert f"  carrierBookingReference: {SECRETS[4]}  [sealed]" in out
    assert f"  transportDocumentReference: {SECRETS[5]}  [sealed]" in out
    assert f"item 1 emergency contact: {SECRETS[6]}, {SECRETS[7]}  [sealed]" in out
    assert f"item 2 emergency contact: {SECRETS[8]}" in out


def test_to_the_competitor_the_declaration_does_not_exist(
    declared: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = dgledger(
        capsys, "show", DECL_ID, "--owner", "shipper-acme", *as_(declared, "forwarder-b")
    )
    assert (status, out) == (1, "")
    assert "declaration.unknown" in err


def test_without_a_key_show_says_what_is_sealed_and_how_to_open_it(
    declared: LocalNetwork, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    shutil.copy(declared.key_path("customs"), keys / "customs.pem")  # no .enc.pem beside it
    (keys / "customs.pem").chmod(0o600)
    ca: list[str | Path] = ["--ca", declared.ca]
    status, out, err = dgledger(
        capsys, "show", DECL_ID, "--owner", "shipper-acme", "--key", keys / "customs.pem",
        "--node", declared.url("customs"), *ca,
    )  # fmt: skip
    assert (status, err) == (0, ""), err
    assert (
        "sealed fields: carrierBookingReference, consignee, forwarder,"
        " transportDocumentReference, 2 emergency contacts; encrypted to auditor, customs,"
        " forwarder-a, port-authority, shipper-acme"
    ) in out
    assert "--enc-key FILE" in out
    assert not any(secret in out for secret in SECRETS)
    # Named explicitly, the key opens them.
    enc = declared.key_path("customs").with_name("customs.enc.pem")
    status, out, _ = dgledger(
        capsys, "show", DECL_ID, "--owner", "shipper-acme", "--key", keys / "customs.pem",
        "--node", declared.url("customs"), *ca, "--enc-key", enc,
    )  # fmt: skip
    assert status == 0 and SECRETS[9] in out


def test_verify_proves_the_document_and_checks_the_opened_fields(
    declared: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = dgledger(
        capsys, "verify", DECL_ID, "--owner", "shipper-acme", "--genesis", declared.genesis_path,
        *as_(declared, "auditor"),
    )  # fmt: skip
    assert (status, err) == (0, ""), err
    lines = out.splitlines()
    assert any(
        line.startswith("ok      sealed fields of version 2 (carrierBookingReference, consignee,")
        and "open with auditor's encryption key and match the proven digest" in line
        for line in lines
    ), out
    assert lines[-1] == f"verified: {DECL_ID} is amended, from genesis alone"


def test_the_competitors_export_holds_none_and_audits_sound(
    declared: LocalNetwork, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "chain.dgl"
    status, _, err = dgledger(
        capsys, "export", "--out", out, "--genesis", declared.genesis_path,
        *as_(declared, "forwarder-b", node="forwarder-b"),
    )  # fmt: skip
    assert (status, err) == (0, ""), err
    data = out.read_bytes()
    assert len(data) > 0
    assert [s for s in SECRETS if s.encode() in data] == []
    status, report, err = dgledger(
        capsys, "audit", "--file", out, "--genesis", declared.genesis_path
    )
    assert (status, err) == (0, ""), err
    assert "SOUND" in report


def test_the_competitors_data_directory_holds_none_of_the_sealed_fields(
    declared: LocalNetwork,
) -> None:
    declared.stop("forwarder-b")  # LevelDB is opened by one process at a time
    node = declared.nodes["forwarder-b"]
    found: list[str] = []
    store = node.data_dir / "chain"
    db = plyvel.DB(str(store), create_if_missing=False)
    clear = b"ACME CHEMICALS SAS"  # the shipper stays in clear: the search must find it
    seen_clear = 0
    try:
        pairs = 0
        for key, value in db.iterator():
            pairs += 1
            seen_clear += clear in value
            found += [f"leveldb {key[:40]!r}: {s}" for s in SECRETS if s.encode() in key + value]
    finally:
        db.close()
    assert pairs > 100  # blocks, transactions, state: the chain is there
    assert seen_clear >= 2  # both versions' documents, as stored
    files = [p for p in node.config.parent.rglob("*") if p.is_file()] + [node.log]
    assert node.config in files and node.log.stat().st_size > 0
    for path in files:
        data = path.read_bytes()
        found += [f"{path}: {s}" for s in SECRETS if s.encode() in data]
    assert found == []
