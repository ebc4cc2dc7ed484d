"""``dgledger`` as a new user meets it: no traceback, each error said once, nothing half-done.

Whatever the user types or points at, a command ends with one line saying
what is wrong and what to do (deeply nested JSON included), or quietly when
the reader of its output went away (``dgledger show ID | head -1``). A
refused transaction prints every broken rule once, then one line that does
not repeat them. ``network init`` and ``keygen`` check every argument before
they write a file, and no message speaks Python (``overwrite=True``). Roles
read as people say them: "the port authority may not ...".

Commands run in this process through :func:`node.cli.main.main` where that
shows the behaviour; the closed pipe needs a process of its own, and a node
to read from: a one-validator :class:`node.devnet.localnet.LocalNetwork`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from contracts.lifecycle import Role
from ledger.keyfile import load_signing_key
from node.cli import declarations
from node.cli.common import CliError, failure
from node.cli.main import build_parser, main
from node.client.client import Client
from node.client.errors import ClientError
from node.devnet.localnet import LocalNetwork
from node.devnet.samples import valid_declaration
from node.network import init_network
from tests.contracts.fixtures import community
from tests.node.reads_support import REPO

Run = tuple[int, str, str]
NOWHERE: Final = "http://127.0.0.1:9"
"""A node URL nothing answers at: the commands below must fail before they connect."""


def dgledger(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Run:
    """Run the command line in this process: exit status, stdout, stderr."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def one_line(run: Run) -> str:
    """The one error line of a failed command; nothing else on stderr."""
    status, _, err = run
    assert status == 1, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dgledger: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A network's files (one validator, one shipper); nothing runs."""
    directory = tmp_path_factory.mktemp("offline")
    init_network(
        directory, validators=["customs"], members=["shipper-acme:shipper"], genesis_time=1
    )
    return directory


# ------------------------------------------------------ deeply nested input

DEPTH: Final = 100_000
DEEP: Final = {
    "arrays": "[" * DEPTH + "]" * DEPTH,
    "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
}
# Every place a verb reads a JSON (or TOML) file the user names; {file} is the deep one.
READERS: Final = {
    "declare": "declare {file} --key {key} --node {nowhere}",
    "amend": "amend X {file} --key {key} --node {nowhere}",
    "governance show": "governance show {file}",
    "governance sign": "governance sign {file} --key {key}",
    "governance submit": "governance submit {file} --node {nowhere}",
    "verify --receipt": "verify --receipt {file} --genesis {genesis}",
    "verify --genesis": "verify X --genesis {file} --key {key} --node {nowhere}",
    "audit --genesis": "audit --file {file} --genesis {file}",
    "export --genesis": "export --data {dir} --genesis {file} --out {dir}/chain.dgl",
}


@pytest.mark.parametrize("shape", sorted(DEEP))
@pytest.mark.parametrize("command", sorted(READERS))
def test_deeply_nested_json_is_one_line_naming_the_file(
    capsys: pytest.CaptureFixture[str], offline: Path, tmp_path: Path, command: str, shape: str
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP[shape], encoding="utf-8")
    argv = READERS[command].format(
        file=deep,
        key=offline / "keys" / "shipper-acme.pem",
        nowhere=NOWHERE,
        genesis=offline / "genesis.json",
        dir=tmp_path,
    )
    line = one_line(dgledger(capsys, *argv.split()))
    assert str(deep) in line
    assert "nested too deeply" in line


def test_a_deeply_nested_configuration_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "node.toml"
    config.write_text("a = " + "[" * DEPTH + "]" * DEPTH + "\n", encoding="utf-8")
    line = one_line(dgledger(capsys, "node", "start", "--config", config))
    assert str(config) in line
    assert "nested too deeply" in line


# ---------------------------------------------- network init and keygen: check, then write


def files_under(directory: Path) -> list[Path]:
    """Every file ``directory`` holds, at any depth (none if it does not exist)."""
    return sorted(p for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--members", "shipper-x:captain"], "unknown role 'captain'"),
        (["--members", "shipper-acme:shipper,auditor:auditor", "--observers", "ghost"], "ghost"),
        (["--members", "shipper-acme"], "shipper-acme"),
        (["--validators", "customs,shipper-x:shipper", "--members", ""], "shipper-x"),
    ],
    ids=["unknown-role", "observer-not-a-member", "member-without-role", "shipper-validator"],
)
def test_network_init_writes_nothing_when_an_argument_is_wrong(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], says: str
) -> None:
    directory = tmp_path / "net"
    line = one_line(dgledger(capsys, "network", "init", "--dir", directory, *flags))
    assert says in line
    assert files_under(directory) == []


def test_network_init_refuses_a_directory_holding_its_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A key left by an earlier run is named, with what to do; nothing is added beside it."""
    left = tmp_path / "keys" / "customs.pem"
    left.parent.mkdir()
    left.write_text("an earlier key")
    line = one_line(dgledger(capsys, "network", "init", "--dir", tmp_path))
    assert str(left) in line
    assert "overwrite" not in line
    assert "choose" in line
    assert files_under(tmp_path) == [left]
    assert left.read_text() == "an earlier key"


def test_network_init_on_a_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    file = tmp_path / "not-a-directory"
    file.write_text("")
    assert str(file) in one_line(dgledger(capsys, "network", "init", "--dir", file))


def test_keygen_over_an_existing_file_says_what_to_do(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key = tmp_path / "k.pem"
    status, out, _ = dgledger(capsys, "keygen", "--out", key)
    assert status == 0, out
    before = key.read_bytes()
    line = one_line(dgledger(capsys, "keygen", "--out", key))
    assert str(key) in line
    assert "overwrite" not in line
    assert "choose another --out" in line
    assert key.read_bytes() == before


def test_keygen_into_a_missing_directory_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = one_line(dgledger(capsys, "keygen", "--out", tmp_path / "no" / "k.pem"))
    assert f"{tmp_path / 'no'} does not exist" in line
    assert ".tmp" not in line


def test_no_message_speaks_the_python_api() -> None:
    """The phrase a user cannot act on is gone from every module that can reach them."""
    for package in ("node", "ledger", "contracts"):
        for path in (REPO / package).rglob("*.py"):
            assert "pass overwrite=True" not in path.read_text(encoding="utf-8"), path


# --------------------------------------------------------------------- roles in words


def subcommand(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    """The parser of ``names`` (``"network", "init"``) under ``parser``."""
    for name in names:
        [verbs] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = verbs.choices[name]
    return parser


def test_network_init_help_describes_every_option_and_role() -> None:
    init = subcommand(build_parser(), "network", "init")
    for action in init._actions:
        assert action.help, f"{action.option_strings} has no help text"
    text = init.format_help()
    for role in Role:
        assert f"\n  {role.value} " in text, role


def test_roles_are_said_as_people_say_them() -> None:
    assert [r.phrase for r in Role] == [
        "customs",
        "the port authority",
        "a freight forwarder",
        "a shipper",
        "an auditor",
    ]


def _refusal(org: str, type_: str, body: dict[str, Any]) -> str:
    """The one violation message a transaction of ``org`` gets (the contracts, no node)."""
    c = community()
    c.block([c.tx("shipper-acme", "declaration.submit", {"declaration": valid_declaration("R")})])
    result = c.block([c.tx(org, type_, body)])[0]
    assert result["ok"] is False, result
    [violation] = result["violations"]
    assert violation["code"] == "role.not_allowed"
    message: str = violation["message"]
    return message


@pytest.mark.parametrize(
    ("org", "type_", "body", "message"),
    [
        (
            "port-authority",
            "declaration.decide",
            {"id": "R", "decision": "cleared"},
            "the port authority may not decide 'cleared'; allowed: accepted, discharged,"
            " loaded, refused",
        ),
        (
            "shipper-acme",
            "declaration.decide",
            {"id": "R", "decision": "accepted"},
            "a shipper may not decide 'accepted'; it takes no decisions",
        ),
        (
            "auditor",
            "declaration.submit",
            {"declaration": valid_declaration("R2")},
            "an auditor may not submit; only a freight forwarder or a shipper may",
        ),
        (
            "customs",
            "declaration.submit",
            {"declaration": valid_declaration("R2")},
            "customs may not submit; only a freight forwarder or a shipper may",
        ),
        (
            "forwarder-a",
            "declaration.amend",
            {"id": "R", "owner": "shipper-acme", "declaration": valid_declaration("R")},
            "only shipper-acme or a freight forwarder it delegated to may amend this declaration",
        ),
    ],
    ids=["port-authority", "shipper", "auditor", "customs", "forwarder"],
)
def test_role_refusals_name_the_role_in_words(
    org: str, type_: str, body: dict[str, Any], message: str
) -> None:
    said = _refusal(org, type_, body)
    assert said == message
    assert "port_authority" not in said


# ------------------------------------------------------------------ refusals, said once


VIOLATIONS: Final = [
    {"code": "class.mismatch", "path": "$.a", "message": "class 8, list says 3", "paragraph": "2"},
    {"code": "imo_number.check_digit", "path": "$.b", "message": "check digit is 6"},
]


@pytest.mark.parametrize("count", [1, 2])
def test_a_refusal_prints_each_rule_once_then_one_line(
    capsys: pytest.CaptureFixture[str], count: int
) -> None:
    violations = VIOLATIONS[:count]
    first = violations[0]
    error = failure(ClientError(first["code"], first["message"], first["path"], violations))
    err = capsys.readouterr().err + f"dgledger: {error}\n"
    for v in violations:
        assert err.count(v["message"]) == 1, err
        assert err.count(v["code"]) == 1, err
    last = err.splitlines()[-1]
    assert f"({count} rule{'s' if count > 1 else ''} broken)" in last
    assert len(err.splitlines()) == count + 1
    assert error.code == first["code"]


def test_a_cli_error_keeps_the_code_it_reports() -> None:
    error = failure(ClientError("declaration.unknown", "no declaration X"))
    assert (error.code, str(error)) == (
        "declaration.unknown",
        "declaration.unknown: no declaration X: check the declaration id",
    )
    assert CliError("give --node").code == "cli.user_error"


# -------------------------------------------------------- a node, and closed pipes


DECLARED: Final = "FRLEH-MANNERS-1"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    """One validator (customs) with the port authority, a shipper and an auditor; one filing."""
    members = (
        "port-authority:port_authority",
        "shipper-acme:shipper",
        "auditor:auditor",
    )
    directory = tmp_path_factory.mktemp("manners") / "net"
    with LocalNetwork(directory, validators=["customs"], members=members) as net:
        net.start()
        key = load_signing_key(net.key_path("shipper-acme"))
        with Client.connect(net.url("customs"), key, ca=net.ca) as client:
            client.declare(valid_declaration(DECLARED), wait=True)
        yield net


def as_(net: LocalNetwork, org: str) -> list[str | Path]:
    """``--key`` of ``org`` and ``--node`` of the network's one node."""
    return ["--key", net.key_path(org), "--node", net.url("customs")]


def with_stdout_closed(*argv: str | Path, buffered: bool = True) -> tuple[int, str]:
    """Run ``python -m node.cli`` whose reader has gone (``| head -1``): status, stderr.

    With ``buffered``, the output waits in Python's buffer for the flush at
    exit; without (``PYTHONUNBUFFERED``), the first ``print`` meets the pipe.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DGLEDGER_NODE", "PYTHONUNBUFFERED")}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "node.cli", *map(str, argv)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    # Closed before the command writes a byte: every write it makes meets EPIPE,
    # as the rest of `dgledger show ID | head -1` does once head has its line.
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


CUT: Final = {
    "show": ["show", DECLARED],
    "show-json": ["show", DECLARED, "--json"],
    "status": ["status"],
    "status-json": ["status", "--json"],
}


@pytest.mark.slow
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", sorted(CUT))
def test_output_cut_by_a_closed_pipe_ends_quietly(
    live: LocalNetwork, command: str, buffered: bool
) -> None:
    argv = CUT[command]
    key: list[str | Path] = ["--key", live.key_path("auditor")] if argv[0] == "show" else []
    node: list[str | Path] = ["--node", live.url("customs"), "--ca", live.ca]
    status, err = with_stdout_closed(*argv, *key, *node, buffered=buffered)
    assert (status, err) == (141, "")


@pytest.mark.slow
def test_help_cut_by_a_closed_pipe_ends_quietly() -> None:
    # argparse ignores a failed write of its help; the text still waits in the buffer.
    assert with_stdout_closed("network", "init", "--help") == (141, "")


@pytest.mark.slow
def test_keygen_with_its_output_cut_still_writes_the_key(tmp_path: Path) -> None:
    assert with_stdout_closed("keygen", "--out", tmp_path / "k.pem") == (141, "")
    load_signing_key(tmp_path / "k.pem")


@pytest.mark.slow
def test_a_refused_declaration_says_each_rule_once(
    capsys: pytest.CaptureFixture[str], live: LocalNetwork, tmp_path: Path
) -> None:
    doc = valid_declaration("FRLEH-MANNERS-BAD")
    doc["transport"]["vesselIMONumber"] = "9454437"  # check digit is 6
    doc["containers"][0]["equipmentReference"] = "CSQU3054384"  # check digit is 3
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    status, out, err = dgledger(capsys, "declare", path, *as_(live, "shipper-acme"), "--wait")
    assert (status, out) == (1, "")
    *rules, last = err.splitlines()
    assert len(rules) == 2, err
    for rule in rules:
        message = rule.split(": ", 2)[2]
        assert err.count(message) == 1, err
    assert last.startswith("dgledger: ")
    assert "(2 rules broken)" in last
    assert str(path) in last


@pytest.mark.slow
def test_a_wrong_role_is_said_once_in_words(
    capsys: pytest.CaptureFixture[str], live: LocalNetwork
) -> None:
    run = dgledger(
        capsys, "decide", DECLARED, "--owner", "shipper-acme", "--decision", "cleared",
        *as_(live, "port-authority"), "--wait",
    )  # fmt: skip
    status, _, err = run
    assert status == 1
    said = "the port authority may not decide 'cleared'"
    assert err.count(said) == 1, err
    assert "port_authority" not in err
    rule, last = err.splitlines()
    assert ": role.not_allowed: " in rule
    assert last.startswith("dgledger: ") and "(1 rule broken)" in last


# ------------------------------------------------------ text the terminal would act on


HOSTILE_TEXT: Final = "\x1b]0;pwned\x07\x1b[2J\x1b[31mCLEARED BY CUSTOMS\u202e\x00"


def _shown(text: str) -> None:
    """Nothing a terminal acts on, and the hostile text still readable as escapes."""
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text, text
    assert "\u202e" not in text, text
    assert "\\x1b]0;pwned\\x07" in text, text


def test_show_escapes_what_a_node_sends() -> None:
    """A hostile node's answer is printed with its control characters escaped."""
    doc = {
        "record": {
            "id": "FT-1",
            "status": "held",
            "version": 2,
            "height": 3,
            "updated_at": 1_790_000_000_000,
            "org": HOSTILE_TEXT,
        },
        "declaration": valid_declaration("FT-1"),
        "history": [
            {
                "version": 2,
                "time": 1_790_000_000_000,
                "height": 3,
                "action": "hold",
                "status": "held",
                "org": "customs",
                "signer": "ab" * 20,
                "reason": HOSTILE_TEXT,
            }
        ],
    }
    lines = declarations.render(doc)
    assert all("\n" not in line for line in lines)
    _shown("\n".join(lines))


def test_a_refusal_escapes_the_rules_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    violations = [{"code": "x.y", "path": "$.a", "message": HOSTILE_TEXT}]
    failure(ClientError("x.y", HOSTILE_TEXT, "$.a", violations))
    _shown(capsys.readouterr().err)


def test_the_error_line_escapes_what_it_quotes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "\x1b]0;pwned\x07\u202e.json"
    status, _, err = dgledger(capsys, "declare", missing, "--node", NOWHERE, "--key", missing)
    assert status == 1
    assert err.count("\n") == 1
    assert "\x1b" not in err and "\u202e" not in err and "\\x1b]0;pwned" in err
