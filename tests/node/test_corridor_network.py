"""The corridor from the operator's side: network init, the genesis file, governance flags, show.

Issue 22, build item 4. ``dgledger network init`` lists HAROPA's three ports
(Le Havre FRLEH, Rouen FRURO, Paris FRPAR; UN/LOCODE, UNECE Recommendation
16) as the network's port authority's unless told others, records the lead
time, and a genesis file without ports keeps the hash it had. ``dgledger
show`` names a port the network serves beside its code; governance flags make
the port and lead-time actions the contracts take.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from contracts.lifecycle import Role
from contracts.membership import Port
from node.cli.common import CliError
from node.cli.declarations import render
from node.cli.governance import _params
from node.cli.main import build_parser, main
from node.errors import GenesisFileError, NetworkInitError
from node.genesis_file import genesis_from_json, genesis_to_json, load_genesis
from node.network import HAROPA, corridor, init_network
from tests.contracts.fixtures import community
from tests.contracts.test_corridor import SIGNERS
from tests.samples import sample


def _app(directory: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((directory / "genesis.json").read_text())["app"]
    return value


def init(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    status = main(["network", "init", "--dir", str(tmp_path / "net"), *flags])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


# --- network init ---------------------------------------------------------------------------


def test_network_init_serves_haropa_s_ports_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = init(tmp_path, capsys)
    assert status == 0, out
    app = _app(tmp_path / "net")
    assert app["ports"] == [
        {"locode": "FRLEH", "name": "Le Havre", "authority": "port-authority"},
        {"locode": "FRURO", "name": "Rouen", "authority": "port-authority"},
        {"locode": "FRPAR", "name": "Paris", "authority": "port-authority"},
    ]
    assert "lead_time_hours" not in app["params"]
    assert "ports served: FRLEH Le Havre, FRURO Rouen, FRPAR Paris (port-authority)" in out


def test_network_init_takes_ports_their_authorities_and_a_lead_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = init(
        tmp_path,
        capsys,
        "--validators", "customs,haropa:port_authority,port-antwerp",
        "--port", "FRLEH=Le Havre", "--port", "BEANR=Antwerp",
        "--port-authority", "FRLEH=haropa", "--port-authority", "BEANR=port-antwerp",
        "--lead-time", "24",
    )  # fmt: skip
    assert status == 0, out
    app = _app(tmp_path / "net")
    assert [(p["locode"], p["authority"]) for p in app["ports"]] == [
        ("FRLEH", "haropa"),
        ("BEANR", "port-antwerp"),
    ]
    assert app["params"]["lead_time_hours"] == 24
    assert "lead time: declarations at least 24 hours before departure" in out


def test_network_init_without_ports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out = init(tmp_path, capsys, "--no-ports")
    assert status == 0, out
    assert "ports" not in _app(tmp_path / "net")
    assert "none listed" in out


def test_a_network_without_a_port_authority_lists_no_port_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = init(tmp_path, capsys, "--validators", "customs", "--members", "")
    assert status == 0, out
    assert "ports" not in _app(tmp_path / "net")


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--validators", "customs,port-a,port-b"], "--port-authority FRLEH=ORG"),
        (["--port", "ZZZZZ=Nowhere"], "port ZZZZZ"),
        (["--port", "FRLEH"], "give LOCODE=NAME"),
        (["--port", "FRLEH=Le Havre", "--port", "FRLEH=Havre"], "listed twice"),
        (["--port-authority", "FRLEH=customs"], "customs, not a port authority"),
        (["--port-authority", "FRLEH=nobody"], "not one of the organisations"),
        (["--port-authority", "NLRTM=port-authority"], "not one of the ports listed"),
        (["--no-ports", "--port", "FRLEH=Le Havre"], "--no-ports"),
        (["--lead-time", "-1"], "lead time -1"),
        (["--validators", "customs", "--members", "", "--port", "FRLEH=Le Havre"], "FRLEH"),
    ],
)
def test_network_init_refuses_ports_in_one_line_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], says: str
) -> None:
    status, out = init(tmp_path, capsys, *flags)
    assert status == 1
    assert says in out and len(out.splitlines()) == 1, out
    assert not (tmp_path / "net").exists()


def test_corridor_is_haropa_s_for_the_one_port_authority(tmp_path: Path) -> None:
    ports = corridor({"customs": Role.CUSTOMS, "haropa": Role.PORT_AUTHORITY})
    assert ports == tuple(Port(code, name, "haropa") for code, name in HAROPA)
    with pytest.raises(NetworkInitError, match="customs is customs"):
        init_network(
            tmp_path / "net",
            validators=["customs"],
            members=[],
            genesis_time=1,
            ports=[Port("FRLEH", "Le Havre", "customs")],
        )
    assert not (tmp_path / "net").exists()


# --- the genesis file -------------------------------------------------------------------------


def test_the_genesis_file_keeps_its_ports_and_hash(tmp_path: Path) -> None:
    init_network(
        tmp_path / "net",
        validators=["customs", "port-authority"],
        members=[],
        genesis_time=1_790_000_000_000,
        ports=[Port(code, name, "port-authority") for code, name in HAROPA],
        lead_time_hours=12,
    )
    genesis = load_genesis(tmp_path / "net" / "genesis.json")
    again = genesis_from_json(genesis_to_json(genesis))
    assert again.hash == genesis.hash
    assert again.app["ports"][0] == {
        "locode": "FRLEH",
        "name": "Le Havre",
        "authority": "port-authority",
    }


def test_a_genesis_file_written_before_ports_reads_with_its_hash(tmp_path: Path) -> None:
    init_network(
        tmp_path / "net", validators=["customs"], members=[], genesis_time=1_790_000_000_000
    )
    text = (tmp_path / "net" / "genesis.json").read_text()
    assert "ports" not in json.loads(text)["app"]
    genesis = genesis_from_json(text)
    assert genesis_to_json(genesis) == text


def test_a_bad_port_in_a_genesis_file_is_named(tmp_path: Path) -> None:
    init_network(
        tmp_path / "net",
        validators=["customs", "port-authority"],
        members=[],
        genesis_time=1,
        ports=[Port("FRLEH", "Le Havre", "port-authority")],
    )
    value = json.loads((tmp_path / "net" / "genesis.json").read_text())
    value["app"]["ports"][0]["authority"] = "customs"
    with pytest.raises(GenesisFileError, match=r"app.ports\[0\].authority: customs is customs"):
        genesis_from_json(json.dumps(value))


# --- show and governance flags ------------------------------------------------------------------


def test_show_names_the_network_s_ports_beside_their_codes() -> None:
    doc = sample()
    record = {"id": "D-1", "status": "submitted", "version": 1, "height": 2, "org": "acme"}
    record["updated_at"] = time.time_ns() // 1_000_000
    history = [{"version": 1, "time": 0, "height": 2, "action": "submit", "status": "submitted"}]
    history[0].update(org="acme", signer="k")
    document = {"record": record, "declaration": doc, "history": history}
    ports = {"FRLEH": {"name": "Le Havre", "authority": "port-authority"}}
    [voyage] = [line for line in render(document, ports) if line.startswith("vessel")]
    assert "FRLEH (Le Havre) -> USNYC," in voyage
    [voyage] = [line for line in render(document) if line.startswith("vessel")]
    assert "FRLEH -> USNYC," in voyage


def params(*argv: str) -> dict[str, Any]:
    args = build_parser().parse_args(
        ["governance", "propose", *argv, "--out", "p.json", "--key", "k.pem"]
    )
    return _params(args)


def test_governance_flags_make_the_corridor_actions_the_contracts_take() -> None:
    c = community()
    steps = [
        ("port.add", "--locode", "BEANR", "--port-name", "Antwerp", "--authority",
         "port-authority"),
        ("port.add", "--locode", "FRLEH", "--port-name", "Le Havre", "--authority",
         "port-authority"),
        ("port.authority", "--locode", "BEANR", "--authority", "port-authority"),
        ("port.remove", "--locode", "BEANR"),
        ("params.set", "--lead-time-hours", "36"),
    ]  # fmt: skip
    for action, *flags in steps:
        body = {
            "action": action,
            "effective_height": c.height + 3,
            "params": params(action, *flags),
        }
        result = c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]
        assert result["ok"], (action, result)
        c.block([])
        c.block([])
    view = c.engine.view()
    assert view.get("ports") == {"FRLEH": {"name": "Le Havre", "authority": "port-authority"}}
    assert view.get("params")["lead_time_hours"] == 36


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["port.add", "--locode", "BEANR", "--authority", "x"], "--port-name"),
        (["port.authority", "--locode", "BEANR"], "--authority"),
        (["port.remove"], "--locode"),
        (["params.set"], "--lead-time-hours"),
    ],
)
def test_governance_corridor_flags_missing_are_named(argv: list[str], says: str) -> None:
    with pytest.raises(CliError, match=says):
        params(*argv)
