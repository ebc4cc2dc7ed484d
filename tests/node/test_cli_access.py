"""``dgledger`` with a competitor's key: another shipper's declaration is not there.

One validator (customs) as a real process, with two shippers, a forwarder
running no node and an auditor. ``dgledger show`` of shipper-acme's
declaration with shipper-beta's or forwarder-b's key prints exactly what
an id that does not exist prints, and exits alike; ``dgledger export``
with a key of an organisation running no node is refused by its code,
while the auditor's export goes through.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from ledger.keyfile import load_signing_key
from node.cli.main import main
from node.client.client import Client
from node.devnet.localnet import LocalNetwork
from node.devnet.samples import valid_declaration

pytestmark = pytest.mark.slow

DECLARED: Final = "ACME-CLI-ACCESS-1"
UNKNOWN: Final = "NO-SUCH-DECLARATION-1"
MEMBERS: Final = (
    "port-authority:port_authority",
    "shipper-acme:shipper",
    "shipper-beta:shipper",
    "forwarder-b:forwarder",
    "auditor:auditor",
)
Run = tuple[int, str, str]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    directory = tmp_path_factory.mktemp("cli-access") / "net"
    with LocalNetwork(directory, validators=["customs"], members=MEMBERS) as network:
        network.start()
        key = load_signing_key(network.key_path("shipper-acme"))
        with Client.connect(network.url("customs"), key, ca=network.ca) as client:
            client.declare(valid_declaration(DECLARED), wait=True)
        yield network


def dgledger(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    """Run the command line in this process: exit status, stdout, stderr."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def as_(net: LocalNetwork, org: str) -> list[str | Path]:
    return ["--key", net.key_path(org), "--node", net.url("customs")]


@pytest.mark.parametrize("org", ["shipper-beta", "forwarder-b"])
def test_show_with_a_competitors_key_prints_what_an_unknown_id_prints(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str], org: str
) -> None:
    hidden = dgledger(capsys, "show", DECLARED, *as_(net, org))
    unknown = dgledger(capsys, "show", UNKNOWN, *as_(net, org))
    assert hidden[0] == unknown[0] == 1
    assert hidden[1] == unknown[1] == ""
    assert hidden[2] == unknown[2].replace(UNKNOWN, DECLARED)
    assert "declaration.unknown" in hidden[2]
    # --json says no more.
    assert dgledger(capsys, "show", DECLARED, "--json", *as_(net, org))[1:] == hidden[1:]


def test_show_with_the_owners_and_the_auditors_keys_prints_it(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str]
) -> None:
    for org in ("shipper-acme", "auditor", "port-authority", "customs"):
        status, out, err = dgledger(capsys, "show", DECLARED, *as_(net, org))
        assert (status, err) == (0, ""), err
        assert out.startswith(f"{DECLARED}: submitted")


def test_export_needs_an_organisation_running_a_node_or_an_auditor(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "chain.dgl"
    genesis = net.genesis_path
    status, _, err = dgledger(
        capsys, "export", "--out", out, "--genesis", genesis, *as_(net, "forwarder-b")
    )
    assert status == 1
    assert "auth.not_entitled" in err
    assert len(err.splitlines()) == 1
    assert not out.exists()
    status, _, err = dgledger(
        capsys, "export", "--out", out, "--genesis", genesis, *as_(net, "auditor")
    )
    assert (status, err) == (0, "")
    assert out.stat().st_size > 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_export_and_audit_draw_their_progress_on_a_terminal(
    net: LocalNetwork,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "chain.dgl"
    genesis = net.genesis_path
    status, printed, _ = dgledger(
        capsys, "export", "--out", out, "--genesis", genesis, *as_(net, "auditor")
    )
    assert status == 0
    height = re.search(r"genesis and (\d+) blocks", printed)
    assert height is not None
    total = f"of {int(height[1]):,}"
    drawn = terminal.getvalue()
    assert drawn.startswith(f"\rexport: block 1 {total} (") and drawn.endswith("\n"), drawn

    terminal.seek(0)
    terminal.truncate()
    status, printed, _ = dgledger(capsys, "audit", "--genesis", genesis, *as_(net, "auditor"))
    assert status == 0, printed
    drawn = terminal.getvalue()
    assert drawn.startswith("\raudit: block 1 of ") and " tx/s" in drawn, drawn
    assert drawn.endswith("\n")
