"""``network init``, genesis files and governance flags: legal identities and encryption keys."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from contracts import identity as ids
from contracts.dgl_builtin import builtin_list
from contracts.engine import Engine
from contracts.membership import AppGenesis, Identity
from ledger.keyfile import encryption_public, load_encryption_key
from ledger.kv import MemoryKV, Overlay
from node.cli import governance
from node.cli.common import CliError
from node.cli.main import build_parser, main
from node.errors import GenesisFileError, NetworkInitError
from node.genesis_file import genesis_from_json, load_genesis
from node.network import init_network
from tests.samples import member

ACME = Identity("ACME CHEMICALS SAS", (("eori", "FR12345678901234"),))
ORGS = ("customs", "port-authority", "shipper-acme", "shipper-beta")


def _init(directory: Path, **extra: Any) -> None:
    init_network(
        directory,
        validators=["customs"],
        members=[member(o) for o in ORGS[1:]],
        chain="dg-identity",
        genesis_time=time.time_ns() // 1_000_000,
        **extra,
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("identity") / "net"
    _init(directory, identities={"shipper-acme": ACME})
    return directory


def _orgs(directory: Path) -> dict[str, dict[str, Any]]:
    value = json.loads((directory / "genesis.json").read_text())
    return {o["name"]: o for o in value["app"]["orgs"]}


def test_every_organisation_gets_an_encryption_key_beside_its_member_key(network: Path) -> None:
    orgs = _orgs(network)
    for name in ORGS:
        path = network / "keys" / f"{name}.enc.pem"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        public = encryption_public(load_encryption_key(path))
        assert orgs[name]["enc_keys"] == [public.hex()]
    # No encryption key is written anywhere else: each stays with its organisation.
    assert sorted(p.name for p in network.rglob("*.enc.pem")) == sorted(
        f"{name}.enc.pem" for name in ORGS
    )


def test_legal_identities_given_to_init_are_in_genesis_and_its_state(network: Path) -> None:
    orgs = _orgs(network)
    assert orgs["shipper-acme"]["legal_name"] == "ACME CHEMICALS SAS"
    assert orgs["shipper-acme"]["identifiers"] == {"eori": "FR12345678901234"}
    assert "legal_name" not in orgs["shipper-beta"]
    genesis = load_genesis(network / "genesis.json")
    app = AppGenesis.from_value(genesis.app)
    assert {o.name: o.identity for o in app.orgs}["shipper-acme"] == ACME
    dgl = builtin_list()
    view = Engine(genesis, Overlay(MemoryKV()), {dgl.digest(): dgl}).view()
    assert ids.identity_of(view, "shipper-acme") == ACME
    assert ids.holder_of_name(view, "acme chemicals sas") == "shipper-acme"
    assert ids.encryption_keys_in_force(view, "shipper-beta") == [
        bytes.fromhex(_orgs(network)["shipper-beta"]["enc_keys"][0])
    ]


def test_the_genesis_hash_does_not_depend_on_its_json_layout(network: Path) -> None:
    value = json.loads((network / "genesis.json").read_text())
    compact = genesis_from_json(json.dumps(value, separators=(",", ":")))
    assert compact.hash == load_genesis(network / "genesis.json").hash


def test_a_genesis_file_written_before_identities_reads_as_before(network: Path) -> None:
    value = json.loads((network / "genesis.json").read_text())
    for org in value["app"]["orgs"]:
        for name in ("legal_name", "identifiers", "enc_keys"):
            org.pop(name, None)
    genesis = genesis_from_json(json.dumps(value))
    assert all(set(o) == {"name", "role", "keys"} for o in genesis.app["orgs"])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda o: o.update(enc_keys=["zz"]), "app.orgs[2].enc_keys: not hex"),
        (lambda o: o.update(enc_keys=["00" * 32]), "app.orgs[2].enc_keys[0]: a low-order"),
        (lambda o: o.update(enc_keys="00"), "validators and orgs must be objects"),
        (lambda o: o.update(identifiers={"eori": "fr1"}), "app.orgs[2].identifiers.eori"),
        (lambda o: o.update(legal_name=""), "app.orgs[2].legal_name"),
    ],
)
def test_a_bad_identity_or_encryption_key_in_a_genesis_file_is_named(
    network: Path, change: Any, expected: str
) -> None:
    value = json.loads((network / "genesis.json").read_text())
    org = value["app"]["orgs"][2]
    assert org["name"] == "shipper-acme"
    change(org)
    with pytest.raises(GenesisFileError) as info:
        genesis_from_json(json.dumps(value))
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("identities", "says"),
    [
        ({"shipper-zeta": ACME}, "shipper-zeta, which is not one of the organisations"),
        (
            {"shipper-acme": ACME, "shipper-beta": Identity("Acme Chemicals  SAS")},
            "shipper-acme and shipper-beta have the same legal name",
        ),
    ],
)
def test_init_refuses_identities_it_cannot_record_before_writing_anything(
    tmp_path: Path, identities: dict[str, Identity], says: str
) -> None:
    with pytest.raises(NetworkInitError, match=says):
        _init(tmp_path / "net", identities=identities)
    assert not (tmp_path / "net").exists()


# ------------------------------------------------------------------ the CLI


def test_network_init_takes_legal_names_and_eori_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "net"
    status = main(
        [
            "network", "init", "--dir", str(directory), "--validators", "customs",
            "--members", "shipper-acme:shipper",
            "--legal-name", "shipper-acme=ACME CHEMICALS SAS",
            "--eori", "shipper-acme=FR12345678901234",
            "--legal-name", "customs=DIRECTION GENERALE DES DOUANES",
        ]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    orgs = _orgs(directory)
    assert orgs["shipper-acme"]["identifiers"] == {"eori": "FR12345678901234"}
    assert orgs["customs"]["legal_name"] == "DIRECTION GENERALE DES DOUANES"
    assert "legal identities recorded in genesis: customs, shipper-acme" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--eori", "shipper-acme=FR1"], "give shipper-acme's --legal-name too"),
        (["--legal-name", "shipper-acme=ACME", "--eori", "shipper-acme=fr1"],
         "--eori shipper-acme"),
        (["--legal-name", "shipper-acme= ACME"], "--legal-name shipper-acme"),
        (["--legal-name", "ACME"], "give ORG=LEGAL NAME"),
        (["--legal-name", "shipper-acme=A", "--legal-name", "shipper-acme=B"], "given twice"),
    ],
)  # fmt: skip
def test_network_init_refuses_a_bad_identity_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], says: str
) -> None:
    argv = ["network", "init", "--dir", str(tmp_path / "net"), "--validators", "customs"]
    status = main([*argv, "--members", "shipper-acme:shipper", *flags])
    err = capsys.readouterr().err
    assert status == 1
    assert says in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "net").exists()


def test_keygen_writes_an_encryption_key_and_prints_its_public_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "acme.enc.pem"
    assert main(["keygen", "--encryption", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    public = encryption_public(load_encryption_key(path))
    assert f"encryption public key {public.hex()}" in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---------------------------------------------------------- governance flags

OLD, NEW = "11" * 32, "22" * 32


@pytest.mark.parametrize(
    ("flags", "params"),
    [
        (
            ["org.identity", "--org", "shipper-acme", "--legal-name", "ACME SA", "--eori", "FR1"],
            {"org": "shipper-acme", "legal_name": "ACME SA", "identifiers": {"eori": "FR1"}},
        ),
        (
            ["org.identity", "--org", "shipper-acme", "--legal-name", "ACME SA"],
            {"org": "shipper-acme", "legal_name": "ACME SA", "identifiers": {}},
        ),
        (
            ["enc_key.add", "--org", "customs", "--enc-key", NEW],
            {"org": "customs", "key": bytes.fromhex(NEW)},
        ),
        (
            ["enc_key.rotate", "--org", "customs", "--old-enc-key", OLD, "--enc-key", NEW],
            {"org": "customs", "key": bytes.fromhex(NEW), "old": bytes.fromhex(OLD)},
        ),
        (
            ["org.add", "--name", "shipper-new", "--role", "shipper", "--public-key", OLD,
             "--legal-name", "NEW SA", "--enc-key", NEW],
            {"name": "shipper-new", "role": "shipper", "keys": [bytes.fromhex(OLD)],
             "legal_name": "NEW SA", "enc_keys": [bytes.fromhex(NEW)]},
        ),
    ],
)  # fmt: skip
def test_governance_proposals_of_identities_and_encryption_keys(
    flags: list[str], params: dict[str, Any]
) -> None:
    argv = ["governance", "propose", *flags, "--out", "p.json", "--node", "http://x"]
    args = build_parser().parse_args([*argv, "--key", "k.pem"])
    assert governance._params(args) == params


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["org.identity", "--org", "customs"], "org.identity needs --legal-name"),
        (["org.identity", "--org", "customs", "--eori", "FR1"], "needs --legal-name"),
        (["enc_key.rotate", "--org", "customs", "--enc-key", NEW], "needs --old-enc-key"),
        (["enc_key.add", "--org", "customs", "--enc-key", "00"], "--enc-key must be 32 bytes"),
    ],
)
def test_governance_proposals_missing_a_flag_say_which(flags: list[str], says: str) -> None:
    argv = ["governance", "propose", *flags, "--out", "p.json", "--node", "http://x"]
    args = build_parser().parse_args([*argv, "--key", "k.pem"])
    with pytest.raises(CliError, match=says):
        governance._params(args)
