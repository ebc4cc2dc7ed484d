"""``dgledger declare``, ``decide --stowage`` and ``stowage`` against a validator process.

One validator (customs) as a real process, the port authority, two
shippers and an auditor. shipper-acme's gasoline is loaded on deck at
010282; shipper-beta's ammonium nitrate ("separated from", IMDG 7.2.4) is
refused next to it at 030282 (IMDG 7.4.3.3, on deck, fore and aft: one
container space), naming both containers, then accepted at 050282; a class
9 container goes under deck. ``dgledger stowage`` prints the positions, on
deck or the hold, the goods and the checks; each shipper sees only its own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from ledger.keyfile import load_signing_key
from node.cli.main import main
from node.client.client import Client
from node.devnet.localnet import LocalNetwork
from node.devnet.traffic import container_number
from tests.samples import ammonium_nitrate, benzaldehyde, sample

pytestmark = pytest.mark.slow

VESSEL: Final = "9454436"
VOYAGE: Final = "0AB12W"
GAS, NITRATE, BENZ = (container_number("CLI", "U", n) for n in (1, 2, 3))
MEMBERS: Final = (
    "port-authority:port_authority",
    "shipper-acme:shipper",
    "shipper-beta:shipper",
    "auditor:auditor",
)
NAMES: Final = {"shipper-acme": "ACME CHEMICALS SAS", "shipper-beta": "BETA POLYMERS GMBH"}
EMERGENCY: Final = {"contact": "ACME 24H", "phone": "+33 2 35 00 00 00"}
NITRATE_ITEM: Final = ammonium_nitrate(EMERGENCY)
BENZ_ITEM: Final = benzaldehyde(EMERGENCY)
Run = tuple[int, str, str]


def declare(net: LocalNetwork, org: str, decl_id: str, container: str, item: Any) -> None:
    """``dgledger declare`` of a declaration of ``org`` with ``item`` in ``container``."""
    doc = sample(decl_id=decl_id)
    doc["shipper"]["partyName"] = NAMES[org]
    doc["containers"][0]["equipmentReference"] = container
    if item is not None:
        doc["containers"][0]["dangerousGoods"] = [copy.deepcopy(item)]
    path = net.directory / f"{decl_id}.json"
    path.write_text(json.dumps(doc))
    assert main(["declare", str(path), "--wait", *map(str, as_(net, org))]) == 0, decl_id


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    directory = tmp_path_factory.mktemp("cli-stowage") / "net"
    with LocalNetwork(directory, validators=["customs"], members=MEMBERS) as network:
        network.start()
        for org, decl_id, container, item in (
            ("shipper-acme", "GAS-1", GAS, None),
            ("shipper-beta", "AN-1", NITRATE, NITRATE_ITEM),
            ("shipper-acme", "BZ-1", BENZ, BENZ_ITEM),
        ):
            declare(network, org, decl_id, container, item)
        yield network


def dgledger(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    """Run the command line in this process: exit status, stdout, stderr."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def as_(net: LocalNetwork, org: str) -> list[str | Path]:
    return ["--key", net.key_path(org), "--node", net.url("customs")]


def decide(
    net: LocalNetwork,
    capsys: pytest.CaptureFixture[str],
    decl_id: str,
    owner: str,
    decision: str,
    *extra: str,
) -> Run:
    org = "customs" if decision == "cleared" else "port-authority"
    return dgledger(
        capsys,
        "decide", decl_id, "--owner", owner, "--decision", decision, *extra, "--wait",
        *as_(net, org),
    )  # fmt: skip


@pytest.fixture(scope="module")
def cleared(net: LocalNetwork) -> LocalNetwork:
    for decl_id, owner in (
        ("GAS-1", "shipper-acme"),
        ("AN-1", "shipper-beta"),
        ("BZ-1", "shipper-acme"),
    ):
        for decision, org in (("accepted", "port-authority"), ("cleared", "customs")):
            key = load_signing_key(net.key_path(org))
            with Client.connect(net.url("customs"), key, ca=net.ca) as client:
                client.decide(decl_id, decision, owner=owner)
    return net


def test_load_with_positions_then_print_what_is_on_board(
    cleared: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    """IMDG 7.4.3.3, "separated from", on deck, fore and aft: one container space: refused
    next to the gasoline, accepted one bay on; then ``dgledger stowage`` as the port
    authority, a shipper and the auditor."""
    net = cleared
    status, out, err = decide(
        net, capsys, "GAS-1", "shipper-acme", "loaded", "--stowage", f"{GAS}=010282"
    )
    assert (status, err) == (0, ""), err
    assert "GAS-1 is loaded" in out
    status, out, err = decide(
        net, capsys, "AN-1", "shipper-beta", "loaded", "--stowage", f"{NITRATE}=030282"
    )
    assert status == 1
    lines = err.strip().splitlines()
    assert f"$.body.stowage.{NITRATE}: stowage.segregation:" in lines[0]
    assert GAS in lines[0] and NITRATE in lines[0] and "(IMDG 7.4.3.3)" in lines[0]
    assert "shipper-acme" not in lines[0]
    assert lines[-1].startswith("dgledger: the node refused the decision 'loaded' (1 rule broken)")
    assert "dgledger stowage" in lines[-1]
    status, out, err = decide(
        net, capsys, "AN-1", "shipper-beta", "loaded", "--stowage", f"{NITRATE}=050282"
    )
    assert (status, err) == (0, ""), err
    status, out, err = decide(
        net, capsys, "BZ-1", "shipper-acme", "loaded", "--stowage", f"{BENZ}=1004"
    )
    assert status == 1 and "stowage.format" in err
    status, out, err = decide(
        net, capsys, "BZ-1", "shipper-acme", "loaded", "--stowage", f"{BENZ}=100406"
    )
    assert (status, err) == (0, ""), err

    # What is on board: positions, on deck or the hold, goods, and the checks.
    status, out, err = dgledger(
        capsys, "stowage", "--vessel", VESSEL, "--voyage", VOYAGE, *as_(net, "port-authority")
    )
    assert (status, err) == (0, ""), err
    assert f"{GAS}  010282  bay 01 row 02 tier 82  on deck" in out
    assert f"{NITRATE}  050282  bay 05 row 02 tier 82  on deck" in out
    assert f"{BENZ}  100406  bay 10 row 04 tier 06  under deck in hold 2" in out
    assert "UN 1942, AMMONIUM NITRATE, 5.1, PG III" in out
    assert f'{GAS} / {NITRATE}: "separated from" holds' in out
    status, out, err = dgledger(
        capsys, "stowage", "--vessel", VESSEL, "--voyage", VOYAGE, *as_(net, "shipper-beta")
    )
    assert (status, err) == (0, ""), err
    assert NITRATE in out and GAS not in out and BENZ not in out
    status, out, err = dgledger(
        capsys, "stowage", "--vessel", VESSEL, "--voyage", VOYAGE, "--json", *as_(net, "auditor")
    )
    assert status == 0 and f'"{BENZ}"' in out


def test_stowage_options_are_one_line_errors(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = dgledger(
        capsys, "decide", "AN-1", "--owner", "shipper-beta", "--decision", "cleared",
        "--stowage", f"{NITRATE}=050282", *as_(net, "customs"),
    )  # fmt: skip
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "--stowage goes with --decision loaded" in err
    status, _, err = dgledger(
        capsys, "stowage", "--vessel", "12345", "--voyage", VOYAGE, *as_(net, "auditor")
    )
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
