"""Receipts checked from genesis alone; every part altered is refused with its class and path.

One in-process validator (``LocalNode``) makes the chain: a declaration
submitted, accepted by the port authority and cleared by customs, and a
second node whose validator set changes by governance. Each tampering case
changes one part of a good receipt and expects the :class:`ReceiptError`
subclass and the JSON path that name it.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from typing import Any, Final

import pytest

from ledger.block import Header
from ledger.crypto import SigningKey
from ledger.encoding import encode
from ledger.genesis import Genesis
from ledger.tx import Transaction
from ledger.validators import Validator, ValidatorSet
from ledger.votes import Vote, VoteType
from node.client.errors import (
    MalformedReceipt,
    ReceiptError,
    StateMismatch,
    TransactionInvalid,
    UntrustedHeader,
)
from node.client.receipt import verify_receipt
from tests.node.reads_support import LocalNode, change_validators
from tests.samples import sample

DECL: Final = "DG-RCPT-1"
OTHER: Final = "DG-RCPT-2"
HASH_FIELDS: Final = (
    "prev_hash",
    "txs_root",
    "log_root",
    "state_root",
    "validators_hash",
    "next_validators_hash",
)
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("receipts"))
    try:
        n.client("shipper-acme").declare(sample(decl_id=DECL))
        n.client("port-authority").decide(DECL, "accepted", owner="shipper-acme")
        n.client("customs").decide(
            DECL, "cleared", owner="shipper-acme", reason="documents in order"
        )
        n.client("shipper-beta").declare(sample(decl_id=OTHER))
        yield n
    finally:
        n.close()


def with_headers(node: LocalNode, document: Doc, height: int) -> Doc:
    """The document with the header chain 1..height embedded, as ``verify --save`` keeps it."""
    return {**document, "headers": node.client("auditor").header_chain(height)}


@pytest.fixture(scope="module")
def declaration(node: LocalNode) -> Doc:
    doc = node.client("auditor").declaration(DECL)
    return with_headers(node, doc, doc["receipt"]["header"]["height"])


@pytest.fixture(scope="module")
def transaction(node: LocalNode, declaration: Doc) -> Doc:
    receipt = node.client("auditor").transaction(declaration["history"][1]["tx"])
    return with_headers(node, receipt, receipt["header"]["height"])


# ------------------------------------------------------------ helpers to tamper


def flip_hex(value: str, at: int = 0) -> str:
    """The hex string with one digit changed."""
    digit = "1" if value[at] != "1" else "2"
    return value[:at] + digit + value[at + 1 :]


def rehash(header: dict[str, Any]) -> None:
    """Restate a JSON header's hash after one of its fields was changed."""
    fields = {
        k: bytes.fromhex(v) if k in HASH_FIELDS else v for k, v in header.items() if k != "hash"
    }
    header["hash"] = Header.from_value(fields).hash.hex()


def alter_wire(entry: dict[str, Any], *, restate_id: bool) -> None:
    """Change one byte inside a signed string of a transaction entry's wire bytes."""
    wire = bytearray(base64.b64decode(entry["wire"]))
    for needle in (b"GASOLINE", b"accepted", b"cleared"):
        at = bytes(wire).find(needle)
        if at >= 0:
            break
    assert at >= 0, "no known text in the transaction"
    wire[at + 1] ^= 0x01
    entry["wire"] = base64.b64encode(bytes(wire)).decode()
    if restate_id:
        entry["id"] = Transaction.decode(bytes(wire)).id.hex()


def swap(items: list[Any], i: int, j: int) -> None:
    items[i], items[j] = items[j], items[i]


def stranger_certificate(doc: Doc, genesis: Genesis) -> None:
    """A real precommit over the receipt's block, signed by a key outside the validator set."""
    cert = doc["receipt"]["certificate"]
    vote = Vote.sign(
        SigningKey.from_seed(b"z" * 32),
        genesis.chain,
        VoteType.PRECOMMIT,
        cert["height"],
        cert["round"],
        bytes.fromhex(cert["block"]),
    )
    cert["sigs"] = [[vote.validator, vote.signature.hex()]]


def expect(
    doc: Doc, genesis: Genesis, kind: type[ReceiptError], path: str, good: list[str]
) -> ReceiptError:
    with pytest.raises(ReceiptError) as caught:
        verify_receipt(doc, genesis)
    error = caught.value
    assert type(error) is kind, f"{type(error).__name__} at {error.path}: {error.message}"
    assert error.path == path, error.message
    assert error.code == kind.code
    # Checks made before the failure are kept for the report; never all of them.
    assert all(type(c) is str for c in error.passed)
    assert len(error.passed) < len(good)
    return error


# ----------------------------------------------------------------- good receipts


def test_declaration_receipt_verifies_from_genesis_alone(node: LocalNode, declaration: Doc) -> None:
    checks = verify_receipt(copy.deepcopy(declaration), node.genesis)
    history = declaration["history"]
    height = declaration["receipt"]["header"]["height"]
    assert [v["action"] for v in history] == ["submit", "accept", "clear"]
    assert checks[0] == (
        f"receipt is for chain {node.genesis.chain}, genesis {node.genesis.hash.hex()}"
    )
    assert checks[1].startswith(f"header chain 1..{height}: ")
    assert checks[2].startswith(f"block {height} ({declaration['receipt']['header']['hash']})")
    assert "1 of 1 validators" in checks[2]
    assert checks[3] == (
        f"state decl/shipper-acme/{DECL}: cleared, version 3, proven at block {height}"
    )
    for v, version in enumerate(history, 1):
        assert any(version["tx"] in c and "signature(s) valid" in c for c in checks)
        made = [c for c in checks if c.startswith(f"state tx/{version['tx']}: version {v},")]
        assert len(made) == 1
        assert f"by {version['org']} (key {version['signer']})" in made[0]
        assert (f"doc/shipper-acme/{DECL}/{v:06d}" in made[0]) is (v == 1)
    assert checks[-1].startswith(f"history of shipper-acme's {DECL}: versions 1..3")
    assert len(checks) == 4 + 2 * len(history) + 1


def test_header_chain_may_be_given_apart(node: LocalNode, declaration: Doc) -> None:
    doc = copy.deepcopy(declaration)
    headers = doc.pop("headers")
    assert verify_receipt(doc, node.genesis, headers) == verify_receipt(declaration, node.genesis)


def test_transaction_receipt_verifies_from_genesis_alone(node: LocalNode, transaction: Doc) -> None:
    checks = verify_receipt(copy.deepcopy(transaction), node.genesis)
    tx_id = transaction["tx"]["id"]
    height = transaction["header"]["height"]
    assert transaction["result"]["status"] == "accepted"
    assert checks[0].endswith(node.genesis.hash.hex())
    assert checks[1].startswith(f"header chain 1..{height}: ")
    assert checks[2].startswith(f"block {height} ")
    assert checks[3].startswith(f"transaction {tx_id} (declaration.decide): 1 signature(s) valid")
    assert checks[4] == (
        f"state tx/{tx_id}: accepted at block {height}, index"
        f" {transaction['tx']['index']}, proven at block {height}"
    )
    assert len(checks) == 5


# -------------------------------------------------------- tampered declarations

Mutation = Callable[[Doc], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value(target[path[-1]]) if callable(value) else value

    return mutate


def _do(*steps: Mutation) -> Mutation:
    def mutate(doc: Doc) -> None:
        for step in steps:
            step(doc)

    return mutate


R = ("receipt",)
DECLARATION_CASES: Final[list[tuple[str, Mutation, type[ReceiptError], str]]] = [
    # The record and the status shown.
    ("record status", _set(("record", "status"), "held"), StateMismatch, "$.record"),
    ("status shown", _set(("status",), "held"), StateMismatch, "$.status"),
    ("record field added", _set(("record", "note"), "x"), StateMismatch, "$.record"),
    ("record's document", _set(("record", "document"), 2), StateMismatch, "$.record"),
    # The current document shown.
    (
        "document shown",
        _set(("declaration", "shipper", "partyName"), "SOMEONE ELSE"),
        StateMismatch,
        "$.declaration",
    ),
    # The sealed fields' digest: the chain's commitment to what readers open.
    (
        "sealed digest shown",
        _set(("declaration", "sealed", "digest"), "00" * 32),
        StateMismatch,
        "$.declaration",
    ),
    ("document dropped", lambda d: d.pop("declaration"), MalformedReceipt, "$"),
    # The history.
    ("history signer org", _set(("history", 1, "org"), "customs"), StateMismatch, "$.history[1]"),
    (
        "history reason",
        _set(("history", 2, "reason"), "none given"),
        StateMismatch,
        "$.history[2]",
    ),
    ("history time", _set(("history", 0, "time"), lambda t: t + 1), StateMismatch, "$.history[0]"),
    (
        "history entry dropped",
        lambda d: d["history"].pop(1),
        MalformedReceipt,
        "$.history",
    ),
    (
        "transaction dropped",
        lambda d: d["receipt"]["transactions"].pop(),
        MalformedReceipt,
        "$.receipt.transactions",
    ),
    (
        "state entry dropped",
        lambda d: d["receipt"]["state"].pop(),
        MalformedReceipt,
        "$.receipt.state",
    ),
    ("history reordered", lambda d: swap(d["history"], 0, 1), StateMismatch, "$.history[0]"),
    (
        "a document given to a decision",
        lambda d: d["history"][1].update(declaration=d["history"][0]["declaration"]),
        StateMismatch,
        "$.history[1]",
    ),
    # The state entries: record, then each version's result and (with one) its document.
    (
        "document entry dropped",
        lambda d: d["receipt"]["state"].pop(2),
        StateMismatch,
        "$.receipt.state[2].key",
    ),
    (
        "results swapped",
        lambda d: swap(d["receipt"]["state"], 3, 4),
        StateMismatch,
        "$.receipt.state[3].key",
    ),
    (
        "state entry added",
        lambda d: d["receipt"]["state"].append(d["receipt"]["state"][0]),
        MalformedReceipt,
        "$.receipt.state",
    ),
    # The transactions' bytes.
    (
        "tx byte changed",
        lambda d: alter_wire(d["receipt"]["transactions"][0], restate_id=False),
        TransactionInvalid,
        "$.receipt.transactions[0].id",
    ),
    (
        "tx byte changed, id restated",
        lambda d: alter_wire(d["receipt"]["transactions"][0], restate_id=True),
        TransactionInvalid,
        "$.receipt.transactions[0].wire",
    ),
    (
        "transactions swapped",
        lambda d: swap(d["receipt"]["transactions"], 0, 1),
        StateMismatch,
        "$.receipt.transactions[0].id",
    ),
    # Inclusion proofs.
    (
        "inclusion proof hash",
        _set((*R, "transactions", 1, "proof", 0), flip_hex),
        TransactionInvalid,
        "$.receipt.transactions[1].proof",
    ),
    (
        "inclusion proof leaf index",
        _set((*R, "transactions", 0, "log_index"), lambda i: i + 1),
        TransactionInvalid,
        "$.receipt.transactions[0].proof",
    ),
    (
        "inclusion proof emptied",
        _set((*R, "transactions", 2, "proof"), []),
        TransactionInvalid,
        "$.receipt.transactions[2].proof",
    ),
    # State proofs.
    (
        "state proof sibling",
        _set((*R, "state", 0, "proof", "siblings", 0), flip_hex),
        StateMismatch,
        "$.receipt.state[0].proof",
    ),
    (
        "state proof leaf",
        _set((*R, "state", 2, "proof", "leaf", "value_hash"), flip_hex),
        StateMismatch,
        "$.receipt.state[2].proof",
    ),
    (
        "state value",
        _set((*R, "state", 1, "value"), lambda v: flip_hex(v, len(v) - 1)),
        StateMismatch,
        "$.receipt.state[1].proof",
    ),
    (
        "state value withheld",
        _set((*R, "state", 0, "value"), None),
        StateMismatch,
        "$.receipt.state[0].value",
    ),
    (
        "state key",
        _set((*R, "state", 0, "key"), f"decl/shipper-beta/{OTHER}"),
        StateMismatch,
        "$.receipt.state[0].key",
    ),
    # Whose the declaration is: the owner shown, and the owner the proofs are for.
    ("owner shown", _set(("owner",), "shipper-beta"), MalformedReceipt, "$.receipt.owner"),
    (
        "another owner",
        _do(_set(("owner",), "shipper-beta"), _set((*R, "owner"), "shipper-beta")),
        StateMismatch,
        "$.receipt.state[0].key",
    ),
    (
        "another owner, keys restated",
        _do(
            _set(("owner",), "shipper-beta"),
            _set((*R, "owner"), "shipper-beta"),
            _set((*R, "state", 0, "key"), f"decl/shipper-beta/{DECL}"),
        ),
        StateMismatch,
        "$.receipt.state[0].proof",
    ),
    # The receipt's header and certificate.
    (
        "header field",
        _set((*R, "header", "state_root"), flip_hex),
        MalformedReceipt,
        "$.receipt.header.hash",
    ),
    (
        "header field, hash restated",
        _do(_set((*R, "header", "time"), lambda t: t + 1), lambda d: rehash(d[R[0]]["header"])),
        UntrustedHeader,
        "$.receipt.header",
    ),
    (
        "certificate signature removed",
        _set((*R, "certificate", "sigs"), []),
        UntrustedHeader,
        "$.receipt.certificate",
    ),
    (
        "certificate signature forged",
        _set((*R, "certificate", "sigs", 0, 1), flip_hex),
        UntrustedHeader,
        "$.receipt.certificate",
    ),
    (
        "certificate for another block",
        _set((*R, "certificate", "block"), flip_hex),
        UntrustedHeader,
        "$.receipt.certificate",
    ),
    # Chain and genesis.
    ("another chain", _set((*R, "chain"), "dg-elsewhere"), UntrustedHeader, "$.receipt.chain"),
    ("another genesis", _set((*R, "genesis"), flip_hex), UntrustedHeader, "$.receipt.genesis"),
    ("another declaration", _set(("id",), OTHER), MalformedReceipt, "$.receipt.declaration"),
    # The header chain.
    (
        "header chain link broken",
        _do(
            _set(("headers", 1, "header", "prev_hash"), flip_hex),
            lambda d: rehash(d["headers"][1]["header"]),
        ),
        UntrustedHeader,
        "$.headers[1].header.prev_hash",
    ),
    (
        "header chain header altered",
        _do(
            _set(("headers", 0, "header", "time"), lambda t: t + 1),
            lambda d: rehash(d["headers"][0]["header"]),
        ),
        UntrustedHeader,
        "$.headers[0].certificate",
    ),
    (
        "header chain block dropped",
        lambda d: d["headers"].pop(1),
        UntrustedHeader,
        "$.headers[1].header",
    ),
    (
        "header chain too short",
        lambda d: d["headers"].pop(),
        UntrustedHeader,
        "$.receipt.header.height",
    ),
    (
        "header chain certificate forged",
        _set(("headers", 0, "certificate", "sigs", 0, 1), flip_hex),
        UntrustedHeader,
        "$.headers[0].certificate",
    ),
    (
        "header chain claims a validator change",
        _set(("headers", 0, "validators"), {"value": "00", "proof": {}}),
        UntrustedHeader,
        "$.headers[0].validators",
    ),
    ("header chain missing", lambda d: d.pop("headers"), MalformedReceipt, "$.headers"),
    ("header chain not a list", _set(("headers",), 5), MalformedReceipt, "$.headers"),
    ("header chain a string", _set(("headers",), "1..3"), MalformedReceipt, "$.headers"),
    # Form.
    ("receipt version", _set((*R, "version"), 1), MalformedReceipt, "$.receipt.version"),
    ("unexpected field", _set((*R, "note"), "x"), MalformedReceipt, "$.receipt"),
]


@pytest.mark.parametrize(
    ("mutate", "kind", "path"),
    [pytest.param(m, k, p, id=name) for name, m, k, p in DECLARATION_CASES],
)
def test_tampered_declaration_receipt_is_refused(
    node: LocalNode,
    declaration: Doc,
    mutate: Mutation,
    kind: type[ReceiptError],
    path: str,
) -> None:
    good = verify_receipt(declaration, node.genesis)
    doc = copy.deepcopy(declaration)
    mutate(doc)
    assert json.dumps(doc) != json.dumps(declaration)
    expect(doc, node.genesis, kind, path, good)


def test_certificate_of_a_key_outside_the_set_is_refused(node: LocalNode, declaration: Doc) -> None:
    good = verify_receipt(declaration, node.genesis)
    doc = copy.deepcopy(declaration)
    stranger_certificate(doc, node.genesis)
    error = expect(doc, node.genesis, UntrustedHeader, "$.receipt.certificate", good)
    assert "not in the validator set" in error.message


@pytest.mark.parametrize(
    ("chain", "time_shift", "path"),
    [("dg-reads", 1, "$.receipt.genesis"), ("dg-elsewhere", 0, "$.receipt.chain")],
)
def test_receipt_of_another_network_is_refused(
    node: LocalNode, declaration: Doc, chain: str, time_shift: int, path: str
) -> None:
    # The same validators under another genesis: a network the receipt is not from.
    g = node.genesis
    other = Genesis.create(chain, g.time + time_shift, g.validators, g.app)
    assert other.hash != g.hash
    good = verify_receipt(declaration, g)
    error = expect(copy.deepcopy(declaration), other, UntrustedHeader, path, good)
    assert error.passed == []


# -------------------------------------------------------- tampered transactions

TRANSACTION_CASES: Final[list[tuple[str, Mutation, type[ReceiptError], str]]] = [
    ("result status", _set(("result", "status"), "cleared"), StateMismatch, "$.result"),
    ("result ok", _set(("result", "ok"), 1), StateMismatch, "$.result"),
    (
        "tx byte changed",
        lambda d: alter_wire(d["tx"], restate_id=False),
        TransactionInvalid,
        "$.tx.id",
    ),
    (
        "tx byte changed, id restated",
        lambda d: alter_wire(d["tx"], restate_id=True),
        TransactionInvalid,
        "$.tx.wire",
    ),
    ("tx place", _set(("tx", "index"), lambda i: i + 1), StateMismatch, "$.state[0].value"),
    ("tx height", _set(("tx", "height"), lambda h: h + 1), TransactionInvalid, "$.tx.height"),
    ("inclusion proof", _set(("tx", "proof", 0), flip_hex), TransactionInvalid, "$.tx.proof"),
    (
        "state proof",
        _set(("state", 0, "proof", "siblings", 0), flip_hex),
        StateMismatch,
        "$.state[0].proof",
    ),
    ("state entry added", lambda d: d["state"].append(d["state"][0]), MalformedReceipt, "$.state"),
    ("header field", _set(("header", "log_root"), flip_hex), MalformedReceipt, "$.header.hash"),
    (
        "certificate signature forged",
        _set(("certificate", "sigs", 0, 1), lambda s: flip_hex(s, 5)),
        UntrustedHeader,
        "$.certificate",
    ),
    ("certificate emptied", _set(("certificate", "sigs"), []), UntrustedHeader, "$.certificate"),
    ("another chain", _set(("chain",), "dg-elsewhere"), UntrustedHeader, "$.chain"),
]


@pytest.mark.parametrize(
    ("mutate", "kind", "path"),
    [pytest.param(m, k, p, id=name) for name, m, k, p in TRANSACTION_CASES],
)
def test_tampered_transaction_receipt_is_refused(
    node: LocalNode,
    transaction: Doc,
    mutate: Mutation,
    kind: type[ReceiptError],
    path: str,
) -> None:
    good = verify_receipt(transaction, node.genesis)
    doc = copy.deepcopy(transaction)
    mutate(doc)
    assert json.dumps(doc) != json.dumps(transaction)
    expect(doc, node.genesis, kind, path, good)


def test_not_a_receipt_is_refused_as_malformed(node: LocalNode) -> None:
    for value, path in (([], "$"), ({}, "$.headers"), ({"headers": []}, "$")):
        with pytest.raises(MalformedReceipt) as caught:
            verify_receipt(value, node.genesis)  # type: ignore[arg-type]
        assert caught.value.path == path


# ------------------------------------------------------ validator set changes


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNode, Doc, int]]:
    """A node whose validator set changes by governance, and a receipt from after the change."""
    n = LocalNode(tmp_path_factory.mktemp("governed"))
    try:
        effective = change_validators(n, "DG-GOV-", 4)
        doc = n.client("auditor").declaration("DG-GOV-4")
        yield n, with_headers(n, doc, doc["receipt"]["header"]["height"]), effective
    finally:
        n.close()


def test_receipt_after_a_validator_set_change(governed: tuple[LocalNode, Doc, int]) -> None:
    node, doc, effective = governed
    changed = [i for i, item in enumerate(doc["headers"]) if item["validators"] is not None]
    # The header of block effective-1 names the next set; its item carries the proof.
    assert changed == [effective - 2]
    checks = verify_receipt(copy.deepcopy(doc), node.genesis)
    assert (
        f"1 validator set change(s) followed by state proofs (after block {effective - 1})"
        in (checks[1])
    )
    assert "20 of 20 voting power" in checks[2]


@pytest.mark.parametrize(
    ("part", "mutate", "path_tail"),
    [
        ("withheld", lambda item: item.update(validators=None), ".validators"),
        (
            "proof sibling",
            lambda item: item["validators"]["proof"]["siblings"].__setitem__(
                0, flip_hex(item["validators"]["proof"]["siblings"][0])
            ),
            ".validators.proof",
        ),
        ("another set", None, ".validators.proof"),
    ],
)
def test_tampered_validator_set_change_is_refused(
    governed: tuple[LocalNode, Doc, int],
    part: str,
    mutate: Callable[[dict[str, Any]], None] | None,
    path_tail: str,
) -> None:
    node, good_doc, effective = governed
    good = verify_receipt(good_doc, node.genesis)
    doc = copy.deepcopy(good_doc)
    index = effective - 2
    item = doc["headers"][index]
    if mutate is None:
        # A set the attacker controls, with the proof of the real one.
        forged = ValidatorSet.create([Validator(SigningKey.from_seed(b"m" * 32).public, 20, "x")])
        item["validators"]["value"] = encode(forged.to_value()).hex()
    else:
        mutate(item)
    expect(doc, node.genesis, UntrustedHeader, f"$.headers[{index}]{path_tail}", good)
