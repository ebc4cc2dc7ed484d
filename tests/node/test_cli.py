"""The ``dgledger`` command line against four validator processes on loopback.

Every command runs as its own process through the ``node.cli:main`` entry
point that the installed ``dgledger`` script calls, and is judged by its
exit status and what it prints: declarations submitted and refused,
decisions by the right and the wrong roles, ``show``, ``verify`` of a
receipt from genesis alone (and of a tampered saved one), ``export`` and
``audit`` of an exported chain (and of tampered copies), and user errors
that must be one line with no traceback.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from contracts.checks import check_declaration
from contracts.describe import describe
from contracts.dgl_builtin import builtin_list
from contracts.document import parse_declaration
from ledger.block import Block
from ledger.encoding import decode
from ledger.keyfile import load_signing_key
from ledger.votes import Certificate
from node.api.app import KEEP_ALIVE_S
from node.chainfile import MAGIC
from node.client.client import Client
from node.client.errors import ClientError
from node.client.receipt import verify_receipt
from node.devnet.localnet import LocalNetwork
from node.genesis_file import load_genesis
from node.network import init_network
from tests.node.reads_support import REPO
from tests.samples import INVALID, VALID, sample

pytestmark = pytest.mark.slow

# What the installed ``dgledger`` script runs (pyproject: dgledger = "node.cli:main").
ENTRY: Final = "import sys; from node.cli.main import main; sys.exit(main())"
Run = subprocess.CompletedProcess[str]


def dgledger(*args: str | Path, module: bool = False) -> Run:
    """Run the command line in a new process; its exit status, stdout and stderr."""
    launcher = ["-m", "node.cli"] if module else ["-c", ENTRY]
    env = {k: v for k, v in os.environ.items() if k != "DGLEDGER_NODE"}
    return subprocess.run(
        [sys.executable, *launcher, *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ok(run: Run) -> Run:
    """``run``, asserting it succeeded and printed no error."""
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stderr
    return run


def one_line_error(run: Run) -> str:
    """The single error line of a failed command (no traceback, nothing else)."""
    assert run.returncode != 0, run.stdout
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("dgledger: "), lines[0]
    return lines[0]


@dataclass
class Net:
    """The running network and the paths a user of it holds."""

    local: LocalNetwork
    work: Path

    @property
    def genesis(self) -> Path:
        """The network's genesis file."""
        return self.local.genesis_path

    def key(self, org: str) -> Path:
        """The member key file of ``org``."""
        return self.local.key_path(org)

    def url(self, name: str = "customs") -> str:
        """The URL of node ``name``."""
        return self.local.url(name)

    def as_(self, org: str, name: str = "customs") -> list[str | Path]:
        """``--key`` and ``--node`` of ``org`` talking to node ``name`` (synced first)."""
        return [
            "--key",
            self.key(org),
            "--node",
            self.synced(name) if name != "customs" else self.url(),
        ]

    def client(self, org: str) -> Client:
        """A Python client of customs' node signing as ``org`` (the test's own reads)."""
        return Client.connect(self.url(), load_signing_key(self.key(org)), ca=self.local.ca)

    def synced(self, name: str) -> str:
        """Node ``name``'s URL, once it has every block customs (where writes go) has."""
        self.local.wait_height([name], self.local.height("customs"), timeout=20)
        return self.url(name)

    def document(self, decl_id: str, **changes: Any) -> Path:
        """The valid sample under another id, written to a file of its own."""
        doc = sample(decl_id=decl_id)
        doc.update(changes)
        path = self.work / f"{decl_id}.json"
        path.write_text(json.dumps(doc))
        return path

    def sample_file(self, name: str = VALID) -> Path:
        """A reference sample as the file the command line reads, in the work directory."""
        path = self.work / f"{name}.json"
        path.write_text(json.dumps(sample(name)))
        return path


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    base = tmp_path_factory.mktemp("cli")
    with LocalNetwork(base / "net") as local:
        local.start()
        work = base / "work"
        work.mkdir()
        yield Net(local, work)


# ------------------------------------------------------------- declarations


@pytest.fixture(scope="module")
def declared(net: Net) -> tuple[str, Run]:
    """The valid reference sample, declared with --wait."""
    run = dgledger("declare", net.sample_file(), *net.as_("shipper-acme"), "--wait")
    return sample()["declarationId"], run


def test_declare_wait_exits_0_once_committed(net: Net, declared: tuple[str, Run]) -> None:
    decl_id, run = declared
    ok(run)
    line = run.stdout.strip()
    assert line.startswith(f"committed: {decl_id} is submitted (version 1) at block ")
    tx_id = line.rsplit("transaction ", 1)[1]
    height = int(line.split(" at block ")[1].split(",")[0])
    # Committed before the command returned: the node has its receipt already.
    with net.client("auditor") as client:
        receipt = client.transaction(tx_id)
    assert receipt["tx"]["height"] == height
    assert receipt["result"]["ok"] is True


def _codes(name: str) -> set[str]:
    """The codes the domain rules give a reference sample (the oracle, not the CLI)."""
    declaration = parse_declaration(sample(name))
    return {v.code for v in check_declaration(declaration, builtin_list())}


@pytest.mark.parametrize("name", INVALID)
def test_declare_of_an_invalid_sample_is_refused_with_its_code(net: Net, name: str) -> None:
    expected = _codes(name)
    assert expected
    run = dgledger("declare", net.sample_file(name), *net.as_("shipper-beta"), "--wait")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    for code in expected:
        assert f": {code}: " in run.stderr
    assert run.stdout == ""


def test_declare_of_several_files_goes_in_one_batch_each_judged_on_its_own(net: Net) -> None:
    good = [net.document("DG-CLI-BATCH-1"), net.document("DG-CLI-BATCH-2")]
    bad = net.document("DG-CLI-BATCH-3")
    doc = json.loads(bad.read_text())
    doc["transport"]["vesselIMONumber"] = "9454437"
    bad.write_text(json.dumps(doc))
    run = dgledger("declare", good[0], bad, good[1], *net.as_("shipper-acme"), "--wait")
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = run.stdout.strip().splitlines()
    assert [line.split(": ")[:2] for line in lines] == [
        [str(good[0]), "committed"],
        [str(bad), "refused"],
        [str(good[1]), "committed"],
    ]
    assert "imo_number.check_digit" in lines[1]
    assert run.stderr.strip().splitlines() == [
        "dgledger: 1 of 3 declarations refused: correct those files and declare them again"
    ]
    with net.client("auditor") as client:
        assert client.declaration("DG-CLI-BATCH-2")["record"]["status"] == "submitted"


def test_declare_prints_every_rule_broken(net: Net) -> None:
    """One document breaking three rules: all three are printed, and nothing is committed."""
    samples = (
        "invalid-class-mismatch",
        "invalid-imo-check-digit",
        "invalid-container-check-digit",
    )
    docs = [sample(s) for s in samples]
    doc = copy.deepcopy(docs[0])
    doc["declarationId"] = "DG-CLI-BAD-3"
    doc["transport"]["vesselIMONumber"] = docs[1]["transport"]["vesselIMONumber"]
    container = docs[2]["containers"][0]["equipmentReference"]
    doc["containers"][0]["equipmentReference"] = container
    path = net.work / "bad-3.json"
    path.write_text(json.dumps(doc))
    expected = set().union(*(_codes(s) for s in samples))
    assert len(expected) == 3
    run = dgledger("declare", path, *net.as_("shipper-acme"), "--wait")
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    printed = {line.split(": ")[1] for line in lines[:-1]}
    assert printed == expected
    assert lines[-1].startswith("dgledger: ")
    assert "(3 rules broken)" in lines[-1]
    with net.client("auditor") as client, pytest.raises(ClientError) as e:
        client.declaration("DG-CLI-BAD-3")
    assert e.value.code == "declaration.unknown"


# ---------------------------------------------------------------- decisions


@pytest.fixture(scope="module")
def cleared(net: Net, declared: tuple[str, Run]) -> tuple[str, Run, Run]:
    """The declared sample accepted by the port authority, then cleared by customs."""
    decl_id, _ = declared
    accept = dgledger(
        "decide", decl_id, "--owner", "shipper-acme", "--decision", "accepted", "--reason", "",
        *net.as_("port-authority"), "--wait",
    )  # fmt: skip
    clear = dgledger(
        "decide", decl_id, "--owner", "shipper-acme", "--decision", "cleared",
        "--reason", "documents in order", *net.as_("customs"), "--wait",
    )  # fmt: skip
    return decl_id, accept, clear


def test_decisions_by_the_right_roles(cleared: tuple[str, Run, Run]) -> None:
    decl_id, accept, clear = cleared
    assert ok(accept).stdout.startswith(f"committed: {decl_id} is accepted (version 2)")
    assert ok(clear).stdout.startswith(f"committed: {decl_id} is cleared (version 3)")


@pytest.fixture(scope="module")
def submitted(net: Net) -> str:
    """A declaration left as submitted, for decisions that must be refused."""
    decl_id = "DG-CLI-ROLE"
    ok(dgledger("declare", net.document(decl_id), *net.as_("shipper-acme"), "--wait"))
    return decl_id


@pytest.mark.parametrize(
    ("org", "decision"),
    [("shipper-acme", "accepted"), ("customs", "accepted"), ("forwarder-a", "cleared")],
)
def test_decision_by_a_wrong_role_is_refused_with_its_code(
    net: Net, submitted: str, org: str, decision: str
) -> None:
    run = dgledger(
        "decide", submitted, "--owner", "shipper-acme", "--decision", decision, "--reason", "",
        *net.as_(org), "--wait",
    )  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    assert ": role.not_allowed: " in run.stderr
    with net.client("auditor") as client:
        assert client.declaration(submitted)["status"] == "submitted"


def test_amend_then_cancel(net: Net) -> None:
    decl_id = "DG-CLI-AMEND"
    ok(dgledger("declare", net.document(decl_id), *net.as_("shipper-acme"), "--wait"))
    amended = net.document(decl_id, shipperCertification={
        "date": "2026-11-30", "place": "LE HAVRE", "signatoryName": "ANNE MARTIN",
    })  # fmt: skip
    run = ok(
        dgledger(
            "amend", decl_id, amended, "--reason", "new signatory",
            *net.as_("shipper-acme"), "--wait",
        )
    )  # fmt: skip
    assert run.stdout.startswith(f"committed: {decl_id} is amended (version 2)")
    run = ok(
        dgledger("cancel", decl_id, "--reason", "withdrawn", *net.as_("shipper-acme"), "--wait")
    )
    assert run.stdout.startswith(f"committed: {decl_id} is cancelled (version 3)")
    shown = json.loads(ok(dgledger("show", decl_id, *net.as_("auditor"), "--json")).stdout)
    history = shown["history"]
    assert [v["action"] for v in history] == ["submit", "amend", "cancel"]
    assert [v["reason"] for v in history[1:]] == ["new signatory", "withdrawn"]
    assert history[1]["declaration"]["shipperCertification"]["signatoryName"] == "ANNE MARTIN"


# --------------------------------------------------------------------- show


def test_show_json_has_history_with_signers(net: Net, cleared: tuple[str, Run, Run]) -> None:
    decl_id = cleared[0]
    run = ok(dgledger("show", decl_id, *net.as_("auditor", "forwarder-b"), "--json"))
    doc = json.loads(run.stdout)
    assert doc["status"] == doc["record"]["status"] == "cleared"
    history = doc["history"]
    orgs = ["shipper-acme", "port-authority", "customs"]
    assert [v["action"] for v in history] == ["submit", "accept", "clear"]
    assert [v["org"] for v in history] == orgs
    assert [v["signer"] for v in history] == [
        load_signing_key(net.key(o)).public.key_id for o in orgs
    ]
    assert [v["time"] for v in history] == sorted(v["time"] for v in history)
    assert history[2]["reason"] == "documents in order"
    assert doc["receipt"]["kind"] == "declaration"


def test_show_prints_state_items_and_history(net: Net, cleared: tuple[str, Run, Run]) -> None:
    decl_id = cleared[0]
    lines = ok(dgledger("show", decl_id, *net.as_("auditor"))).stdout.splitlines()
    assert lines[0].startswith(f"{decl_id}: cleared (version 3, block ")
    declaration = parse_declaration(sample())
    items = [item for c in declaration.containers for item in c.dangerous_goods]
    for i, item in enumerate(items, 1):
        assert f"  {i}. {describe(item)}" in lines
    # IMDG 5.4.1.4: UN number, name, class, subsidiary hazard in brackets, packing group.
    assert any(line.startswith("  2. UN 1230, METHANOL, 3 (6.1), PG II") for line in lines)
    history = lines[lines.index("history:") + 1 :]
    for org, action in (("shipper-acme", "submit"), ("port-authority", "accept")):
        key_id = load_signing_key(net.key(org)).public.key_id
        assert any(f": {action} -> " in h and f"by {org} (key {key_id})" in h for h in history)


# ------------------------------------------------------------------- verify


@pytest.fixture(scope="module")
def verified(net: Net, cleared: tuple[str, Run, Run]) -> tuple[str, Run, Path]:
    decl_id = cleared[0]
    saved = net.work / "receipt.json"
    run = dgledger(
        "verify", decl_id, "--genesis", net.genesis, *net.as_("auditor", "port-authority"),
        "--save", saved,
    )  # fmt: skip
    return decl_id, run, saved


def test_verify_prints_its_checks_and_exits_0(net: Net, verified: tuple[str, Run, Path]) -> None:
    decl_id, run, saved = verified
    lines = ok(run).stdout.splitlines()
    checks = [line.removeprefix("ok      ") for line in lines if line.startswith("ok      ")]
    document = json.loads(saved.read_text())
    # The receipt's checks, then the sealed fields opened with the auditor's key beside --key.
    assert checks[:-1] == verify_receipt(document, load_genesis(net.genesis))
    assert checks[-1].startswith("sealed fields of version 1 (consignee, ")
    assert "open with auditor's encryption key and match the proven digest" in checks[-1]
    assert any(c.startswith("header chain 1..") for c in checks)
    assert any("certificate signed by" in c for c in checks)
    for version in document["history"]:
        assert any(version["tx"] in c and "signature(s) valid" in c for c in checks)
    assert lines[-1] == f"verified: {decl_id} is cleared, from genesis alone"


def test_verify_of_a_saved_receipt_offline(net: Net, verified: tuple[str, Run, Path]) -> None:
    run = ok(dgledger("verify", "--receipt", verified[2], "--genesis", net.genesis))
    assert run.stdout.splitlines()[-1] == f"verified: {verified[0]} is cleared, from genesis alone"


def _status(doc: dict[str, Any]) -> None:
    doc["record"]["status"] = doc["status"] = "released"


def _certificate(doc: dict[str, Any]) -> None:
    sig = doc["headers"][0]["certificate"]["sigs"][0]
    sig[1] = ("0" if sig[1][0] != "0" else "1") + sig[1][1:]


@pytest.mark.parametrize(
    ("tamper", "failed"),
    [
        (_status, "FAILED  receipt.state: $.record:"),
        (_certificate, "FAILED  receipt.header: $.headers[0].certificate:"),
        (lambda d: d["history"].pop(), "FAILED  receipt.malformed: $.history:"),
    ],
)
def test_verify_of_a_tampered_receipt_fails(
    net: Net,
    verified: tuple[str, Run, Path],
    tamper: Callable[[dict[str, Any]], None],
    failed: str,
) -> None:
    doc = json.loads(verified[2].read_text())
    tamper(doc)
    path = net.work / "tampered-receipt.json"
    path.write_text(json.dumps(doc))
    run = dgledger("verify", "--receipt", path, "--genesis", net.genesis)
    line = one_line_error(run)
    assert line.startswith("dgledger: the receipt does not hold: ")
    assert any(out.startswith(failed) for out in run.stdout.splitlines()), run.stdout
    assert "verified:" not in run.stdout


def test_verify_against_another_networks_genesis_fails(
    net: Net, verified: tuple[str, Run, Path], tmp_path: Path
) -> None:
    init_network(tmp_path, validators=["customs"], members=[], genesis_time=1, chain="other")
    run = dgledger("verify", "--receipt", verified[2], "--genesis", tmp_path / "genesis.json")
    one_line_error(run)
    assert run.stdout.startswith("FAILED  receipt.header: $.receipt.chain:")


# ------------------------------------------------------------ export, audit


@dataclass
class Export:
    """The chain file ``export --node`` wrote, its run, and its records."""

    path: Path
    run: Run
    records: list[bytes]

    def blocks(self) -> list[Block]:
        """The exported blocks, decoded."""
        return [Block.decode(decode(r)[0]) for r in self.records[1:]]


def read_records(path: Path) -> list[bytes]:
    """The length-prefixed records of a chain file (genesis first)."""
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    records, at = [], len(MAGIC)
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        records.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return records


def write_records(path: Path, records: list[bytes]) -> Path:
    """Write ``records`` as a chain file (magic, then each length-prefixed)."""
    path.write_bytes(MAGIC + b"".join(struct.pack(">I", len(r)) + r for r in records))
    return path


@pytest.fixture(scope="module")
def exported(net: Net, cleared: tuple[str, Run, Run]) -> Export:
    # More blocks, so tampering has a middle block with transactions to work on.
    for i in range(3):
        ok(dgledger("declare", net.document(f"DG-CLI-EXP-{i}"), *net.as_("shipper-beta"), "--wait"))
    out = net.work / "chain.dgl"
    run = dgledger("export", "--node", net.synced("forwarder-b"), "--key", net.key("auditor"),
                   "--genesis", net.genesis, "--out", out)  # fmt: skip
    return Export(out, run, read_records(out) if run.returncode == 0 else [])


def test_export_then_audit_file_is_sound(net: Net, exported: Export) -> None:
    blocks = exported.blocks()
    assert (
        ok(exported.run).stdout.strip()
        == f"wrote {exported.path}: genesis and {len(blocks)} blocks"
    )
    assert len(blocks) >= 5
    assert [b.height for b in blocks] == list(range(1, len(blocks) + 1))
    run = ok(dgledger("audit", "--file", exported.path, "--genesis", net.genesis))
    assert "SOUND" in run.stdout.splitlines()[0]
    assert f"  blocks        {len(blocks):,}" in run.stdout.splitlines()
    report = json.loads(
        ok(dgledger("audit", "--file", exported.path, "--genesis", net.genesis, "--json")).stdout
    )
    assert report["sound"] is True
    assert report["blocks"] == len(blocks)
    assert report["transactions"] == sum(len(b.txs) for b in blocks)
    assert report["tip_hash"] == blocks[-1].hash.hex()
    assert report["state_root"] == blocks[-1].header.state_root.hex()
    assert report["declarations_by_status"]["cleared"] >= 1


def _flip(record: bytes, inside: bytes, offset: int) -> bytes:
    at = record.index(inside) + offset
    return record[:at] + bytes([record[at] ^ 0x01]) + record[at + 1 :]


def _first_submit(records: list[bytes]) -> int:
    """A middle block whose first transaction is a submitted declaration (it names ACME)."""
    for k in range(2, len(records) - 2):
        if Block.decode(decode(records[k])[0]).txs[0].type == "declaration.submit":
            return k
    raise AssertionError("no block with a declaration in the middle of the chain")


def _tx_text(records: list[bytes], k: int) -> None:
    wire = Block.decode(decode(records[k])[0]).txs[0].wire
    # One letter of the shipper's name, inside the signed body: still a valid encoding.
    records[k] = _flip(records[k], wire, wire.index(b"ACME") + 1)


def _tx_encoding(records: list[bytes], k: int) -> None:
    wire = Block.decode(decode(records[k])[0]).txs[0].wire
    at = records[k].index(wire)
    # 0xc1 is never used by MessagePack: the transaction's bytes no longer decode.
    records[k] = records[k][:at] + b"\xc1" + records[k][at + 1 :]


def _last_commit(records: list[bytes], k: int) -> None:
    commit = Block.decode(decode(records[k + 1])[0]).last_commit
    assert commit is not None
    records[k + 1] = _flip(records[k + 1], commit.signatures[0][1], 10)


def _final_certificate(records: list[bytes], k: int) -> None:
    certificate = Certificate.decode(decode(records[-1])[1])
    records[-1] = _flip(records[-1], certificate.signatures[0][1], 10)


def _dropped(records: list[bytes], k: int) -> None:
    del records[k]


@pytest.mark.parametrize(
    ("tamper", "at", "tx_index", "reason"),
    [
        (_tx_text, 0, 0, "transaction signature does not verify"),
        (_tx_encoding, 0, 0, "malformed transaction"),
        (_last_commit, 1, None, "certificate of block {k}: precommit signature"),
        (_final_certificate, None, None, "certificate held for the block: precommit signature"),
        (_dropped, 0, None, "expected height {k}, found {next}"),
    ],
    ids=["tx-byte", "tx-encoding", "certificate-in-next-block", "final-certificate", "dropped"],
)
def test_tampered_export_fails_audit_naming_height_tx_and_reason(
    net: Net,
    exported: Export,
    tamper: Callable[[list[bytes], int], None],
    at: int | None,
    tx_index: int | None,
    reason: str,
) -> None:
    records = list(exported.records)
    k = _first_submit(records)
    tamper(records, k)
    assert records != exported.records
    height = len(exported.records) - 1 if at is None else k + at
    reason = reason.format(k=k, next=k + 1)
    path = write_records(net.work / f"tampered-{tamper.__name__}.dgl", records)
    run = dgledger("audit", "--file", path, "--genesis", net.genesis)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    where = f"height {height}" + (f", transaction {tx_index}" if tx_index is not None else "")
    assert run.stderr.strip().startswith(f"audit FAILED at {where}: {reason}"), run.stderr
    assert "SOUND" not in run.stdout
    run = dgledger("audit", "--file", path, "--genesis", net.genesis, "--json")
    assert run.returncode == 1
    verdict = json.loads(run.stdout)
    assert verdict["sound"] is False
    assert (verdict["height"], verdict["tx_index"]) == (height, tx_index)
    assert verdict["reason"].startswith(reason)


def test_altered_certificate_of_an_earlier_block_fails_audit(net: Net, exported: Export) -> None:
    records = list(exported.records)
    k = _first_submit(records)
    certificate = Certificate.decode(decode(records[k])[1])
    records[k] = _flip(records[k], certificate.signatures[0][1], 10)
    path = write_records(net.work / "tampered-earlier-certificate.dgl", records)
    run = dgledger("audit", "--file", path, "--genesis", net.genesis)
    assert run.returncode == 1


def test_audit_of_a_node_is_sound(net: Net, exported: Export) -> None:
    run = ok(dgledger("audit", "--node", net.synced("port-authority"), "--key", net.key("auditor"),
                      "--genesis", net.genesis, "--json"))  # fmt: skip
    report = json.loads(run.stdout)
    assert report["sound"] is True
    assert report["blocks"] >= len(exported.records) - 1


# -------------------------------------------------------------- user errors


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def bad_key(net: Net) -> Path:
    path = net.work / "garbage.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    # A copy anyone may read: the key loader refuses it and says how to fix it.
    open_copy = path.with_name("open.pem")
    open_copy.write_bytes(net.key("auditor").read_bytes())
    open_copy.chmod(0o644)
    return path


# (case, command line with {placeholders}, what the one error line says)
USER_ERRORS: Final = [
    ("missing declaration file", "declare {work}/nope.json {shipper} --wait", "does not exist"),
    ("bad key file", "declare {valid} --key {bad} --node {node} --wait", "garbage.pem is not"),
    ("key file open to others", "show X --key {open} --node {node}", "chmod 600"),
    ("missing key file", "show X --key {work}/nope.pem --node {node}", "check --key"),
    ("unreachable node", "declare {valid} --key {key} --node {closed}", "is the node running?"),
    ("not a URL", "show X --key {key} --node https://[::1", "give https://HOST:PORT"),
    ("unknown declaration", "show DG-NO-SUCH {auditor}", "declaration.unknown"),
    ("verify unknown", "verify DG-NO-SUCH --genesis {genesis} {auditor}", "check the declaration"),
    ("verify bad genesis", "verify X --genesis {work}/nope.json {auditor}", "check --genesis"),
    ("audit missing file", "audit --file {work}/nope.dgl --genesis {genesis}", "check --file"),
    (
        "audit unreachable node",
        "audit --node {closed} --key {key} --genesis {genesis}",
        "is the node running?",
    ),
    ("audit no store", "audit --data {work} --genesis {genesis}", "holds no node store"),
    (
        "export to a missing directory",
        "export {auditor} --genesis {genesis} --out {work}/no/chain.dgl",
        "does not exist",
    ),
]


@pytest.mark.parametrize(("line", "says"), [pytest.param(a, s, id=c) for c, a, s in USER_ERRORS])
def test_user_errors_are_one_line_without_traceback(
    net: Net, bad_key: Path, line: str, says: str
) -> None:
    key = net.key("shipper-acme")
    args = line.format(
        work=net.work,
        valid=net.sample_file(),
        bad=bad_key,
        open=bad_key.with_name("open.pem"),
        key=key,
        node=net.url(),
        closed=_closed_port(),
        genesis=net.genesis,
        shipper=f"--key {key} --node {net.url()}",
        auditor=f"--key {net.key('auditor')} --node {net.url()}",
    ).split()
    run = dgledger(*args)
    assert run.returncode == 1
    assert says in one_line_error(run)


def test_python_dash_m_gives_one_line_errors(net: Net) -> None:
    run = dgledger("show", "X", "--key", net.work / "nope.pem", "--node", net.url(), module=True)
    one_line_error(run)


# ------------------------------------------------- a stopped node's data (runs last)


def test_export_and_audit_of_a_stopped_nodes_data(net: Net, exported: Export) -> None:
    node_dir = net.local.directory / "forwarder-b"
    running = dgledger("audit", "--data", node_dir, "--genesis", net.genesis)
    assert "is the node still running?" in one_line_error(running)
    net.synced("forwarder-b")
    net.local.kill("forwarder-b")
    out = net.work / "from-data.dgl"
    ok(dgledger("export", "--data", node_dir / "data", "--genesis", net.genesis, "--out", out))
    records = read_records(out)
    # The same blocks as the node export (certificates may carry other signers).
    common = len(exported.records)
    assert [decode(r)[0] for r in records[1:common]] == [
        decode(r)[0] for r in exported.records[1:common]
    ]
    sources: list[list[str | Path]] = [["--data", node_dir], ["--file", out]]
    for source in sources:
        report = json.loads(
            ok(dgledger("audit", *source, "--genesis", net.genesis, "--json")).stdout
        )
        assert report["sound"] is True
        assert report["blocks"] == len(records) - 1


# ------------------------------------------------------------- governance


def test_governance_after_the_delay_takes_effect_when_submitted_at_once(net: Net) -> None:
    """``--after N`` counts from the block that includes it: N = the delay is accepted."""
    new_key = net.work / "shipper-after.pem"
    public = ok(dgledger("keygen", "--out", new_key)).stdout.split("public key ")[1].strip()
    proposal = net.work / "org-add-after.json"
    url = net.url()
    ok(
        dgledger(
            "governance", "propose", "org.add", "--name", "shipper-after", "--role", "shipper",
            "--public-key", public, "--after", "2", "--out", proposal,
            "--key", net.key("customs"), "--node", url,
        )
    )  # fmt: skip
    for org in ("port-authority", "forwarder-a"):
        ok(dgledger("governance", "sign", proposal, "--key", net.key(org)))
    ok(dgledger("governance", "submit", proposal, "--node", url, "--ca", net.local.ca, "--wait"))


def test_governance_proposal_file_gathers_signatures_then_adds_an_organisation(
    net: Net,
) -> None:
    """propose / sign / show / submit: three of four validator organisations add a shipper."""
    new_key = net.work / "shipper-new.pem"
    public = ok(dgledger("keygen", "--out", new_key)).stdout.split("public key ")[1].strip()
    proposal = net.work / "org-add.json"
    url = net.url()
    run = ok(
        dgledger(
            "governance", "propose", "org.add", "--name", "shipper-new", "--role", "shipper",
            "--public-key", public, "--after", "4", "--out", proposal,
            "--key", net.key("customs"), "--node", url,
        )
    )  # fmt: skip
    assert "signed by 1" in run.stdout and "org.add" in run.stdout
    # One signature is not a supermajority: refused, and the proposal stays usable.
    early = dgledger(
        "governance", "submit", proposal, "--node", url, "--ca", net.local.ca, "--wait"
    )
    assert early.returncode != 0 and "governance.no_supermajority" in early.stderr, early.stderr
    for org in ("port-authority", "forwarder-a"):
        run = ok(dgledger("governance", "sign", proposal, "--key", net.key(org)))
        assert "shipper-new" in run.stdout
    again = one_line_error(dgledger("governance", "sign", proposal, "--key", net.key("customs")))
    assert "already carries" in again
    assert "signed by 3" in ok(dgledger("governance", "show", proposal)).stdout
    # A proposal altered after signing is refused before anyone signs or sends it.
    value = json.loads(proposal.read_text())
    tampered = net.work / "tampered.json"
    value["envelope"] = value["envelope"].replace(public, "00" * 32)
    tampered.write_text(json.dumps(value))
    assert "does not verify" in one_line_error(dgledger("governance", "show", tampered))

    ok(dgledger("governance", "submit", proposal, "--node", url, "--ca", net.local.ca, "--wait"))
    with net.client("shipper-acme") as client:
        status = client.status()
        for i in range(6):  # blocks until the change is in force
            doc = sample(decl_id=f"GOV-FILL-{status['height']}-{i}")
            client.declare(doc)
    new: list[str | Path] = ["--key", new_key, "--node", url, "--ca", net.local.ca, "--wait"]
    run = ok(dgledger("declare", net.document("GOV-NEW-1"), *new))
    assert "GOV-NEW-1 is submitted" in run.stdout


def test_delegate_lets_a_forwarder_amend_until_revoked(net: Net) -> None:
    decl = net.document("DELEG-1")
    ok(dgledger("declare", decl, *net.as_("shipper-beta"), "--wait"))
    beta: list[str | Path] = ["--owner", "shipper-beta"]
    refused = dgledger("amend", "DELEG-1", decl, *beta, *net.as_("forwarder-a"), "--wait")
    assert refused.returncode != 0 and "role.not_allowed" in refused.stderr
    run = ok(dgledger("delegate", "forwarder-a", *net.as_("shipper-beta"), "--wait"))
    assert "granted (committed)" in run.stdout
    # The declaration is shipper-beta's: without --owner the forwarder means one of its own.
    mine = dgledger("amend", "DELEG-1", decl, *net.as_("forwarder-a"), "--wait")
    assert mine.returncode != 0 and "declaration.unknown" in mine.stderr
    run = ok(dgledger("amend", "DELEG-1", decl, *beta, *net.as_("forwarder-a"), "--wait"))
    assert "owner shipper-beta" in run.stdout
    ok(dgledger("delegate", "forwarder-a", "--revoke", *net.as_("shipper-beta"), "--wait"))
    refused = dgledger("cancel", "DELEG-1", *beta, *net.as_("forwarder-a"), "--wait")
    assert refused.returncode != 0 and "role.not_allowed" in refused.stderr


def _get(conn: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 GET on an open connection; the status line of its answer (b"" if closed)."""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: node\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(
        int(v) for k, _, v in (h.partition(b":") for h in lines) if k.lower() == b"content-length"
    )
    while len(body) < length:
        body += conn.recv(65536)
    return lines[0]


def test_an_idle_connection_outlives_the_clients_pool(net: Net) -> None:
    # httpx keeps an idle connection 5 s (the project's client, peer transport and
    # block sync all use it). A node that closed idle connections as soon could
    # close one as a client reuses it; the node must still answer after that long.
    idle = httpx.Limits().keepalive_expiry
    assert idle is not None and idle < KEEP_ALIVE_S
    host, _, port = net.url().removeprefix("https://").rpartition(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        net.local.tls.wrap_socket(raw, server_hostname=host) as conn,
    ):
        assert _get(conn, "/healthz") == b"HTTP/1.1 200 OK"
        time.sleep(idle + 1)  # the idle time under test, not a wait for something to happen
        try:
            assert _get(conn, "/healthz") == b"HTTP/1.1 200 OK"
        except ConnectionError as e:
            raise AssertionError(f"the node closed a connection idle for {idle + 1} s: {e}") from e
