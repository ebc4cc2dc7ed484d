"""Receipts that prove themselves: offline verification from genesis alone.

:func:`verify_receipt` trusts the genesis document and nothing else. Given a
receipt (the answer of ``GET /v1/declarations/<id>`` or of
``GET /v1/transactions/<id>``) and the header chain from block 1 (the lines
of ``GET /v1/blocks?from=1&to=<h>&headers=1``, passed in or embedded in the
receipt under ``headers``), it checks, and lists what it checked:

1. the receipt names this chain and this genesis;
2. the header chain: each header links to the one before (genesis for block
   1), its time increases, its ``validators_hash`` is the set in force, and
   its commit certificate holds precommits of more than two thirds of that
   set's power; where ``next_validators_hash`` changes, the new set is
   proven by a state proof of key ``validators`` at that header's
   ``state_root``, and followed from there;
3. the receipt's header is the header of that chain at its height, and its
   certificate verifies against the set in force there;
4. every transaction: it decodes, its id is the one stated, it is for this
   chain, every signature verifies under the ledger's rule, and its RFC 9162
   inclusion proof leads to the header's ``log_root`` at ``log_size``;
5. every state value by its proof at the header's ``state_root``, and every
   value shown (record, history, result) is exactly the proven one; the
   record is the owner's (``decl/<owner>/<id>``, its ``org`` the owner); the
   history is complete: the record lists one transaction per version
   (``txs``), each version is described by its transaction's proven result
   ``tx/<id>`` (and, for a submission or an amendment, its proven document
   ``doc/<owner>/<id>/<version>``), replaces the one before, and was made by
   that transaction (signer, type, body, and the owner it names or, where
   it names none, its signer's organisation); the record's current document is the
   last version that brought one, the document shown is that one, and the
   record's vessel, voyage and containers are that document's.

Any receipt altered anywhere fails with a :class:`ReceiptError` naming the
JSON path and the check; the checks passed before it are in ``passed``.

::

    ReceiptError(code, path, message)
    ├── MalformedReceipt      receipt.malformed    a field missing, extra, or of the wrong form
    ├── UntrustedHeader       receipt.header       chain, genesis, header links, certificates,
    │                                              validator sets
    ├── TransactionInvalid    receipt.transaction  decoding, id, signature, inclusion in the log
    └── StateMismatch         receipt.state        a state proof, or a shown value that is not
                                                   the proven one
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from contracts.declarations_tx import (
    DOCUMENT_ACTIONS,
    VERSION_FIELDS,
    document_fields,
    document_key,
    record_key,
    version_entry,
)
from contracts.document import parse_declaration
from contracts.errors import ContractError
from contracts.lifecycle import DECISIONS
from ledger.block import Header
from ledger.crypto import Verifier
from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.smt_proof import verify_state_proof
from ledger.tx import MAX_TX_SIZE, Transaction
from ledger.validators import ValidatorSet
from ledger.votes import Certificate
from node.client.errors import (
    JsonFormError,
    MalformedReceipt,
    ReceiptError,
    StateMismatch,
    TransactionInvalid,
    UntrustedHeader,
)
from node.client.json_forms import (
    hexed,
    read_b64,
    read_certificate,
    read_hash,
    read_hashes,
    read_header,
    read_hex,
    read_int,
    read_list,
    read_map,
    read_state_proof,
    read_str,
)

RECEIPT_VERSION: Final = 2
"""Version 2: declarations are named by owner and id."""
MAX_VALUE: Final = 4 * 1024 * 1024
_TX_FIELDS: Final = ("id", "wire", "height", "index", "log_index", "proof")
_DECL_TX_TYPES: Final = {
    "submit": "declaration.submit",
    "amend": "declaration.amend",
    "cancel": "declaration.cancel",
}


@dataclass(slots=True)
class TrustedChain:
    """Headers followed from genesis, with the validator set in force at each height."""

    headers: list[Header] = field(default_factory=list)
    validators: list[ValidatorSet] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)


def verify_receipt(
    document: Mapping[str, Any],
    genesis: Genesis,
    headers: Sequence[Any] | None = None,
    *,
    verifier: Verifier | None = None,
) -> list[str]:
    """Check a receipt against ``genesis``; return the checks made, raise :class:`ReceiptError`."""
    checks: list[str] = []
    own = verifier is None
    verifier = Verifier(workers=1) if verifier is None else verifier
    try:
        _verify(document, genesis, headers, verifier, checks)
    except JsonFormError as e:
        error: ReceiptError = MalformedReceipt(e.path, e.message)
        error.passed = checks
        raise error from e
    except ReceiptError as e:
        e.passed = checks
        raise
    finally:
        if own:
            verifier.close()
    return checks


def _verify(
    document: Mapping[str, Any],
    genesis: Genesis,
    headers: Sequence[Any] | None,
    verifier: Verifier,
    checks: list[str],
) -> None:
    if type(document) is not dict:
        raise MalformedReceipt("$", "a receipt is a JSON object")
    body = {k: v for k, v in document.items() if k != "headers"}
    chain_items: Any = document.get("headers")
    path = "$.headers"
    if headers is not None:
        # A tuple is as good as a list here; a string or a map is not a header chain.
        chain_items = list(headers) if isinstance(headers, list | tuple) else headers
        path = "headers"
    if chain_items is None:
        raise MalformedReceipt(
            path,
            "the header chain from block 1 is needed (GET /v1/blocks?from=1&to=<h>&headers=1)",
        )
    if body.get("kind") == "transaction":
        receipt, where = body, "$"
    else:
        read_map(
            body, "$", ("id", "owner", "status", "record", "declaration", "history", "receipt")
        )
        receipt, where = body["receipt"], "$.receipt"
        if type(receipt) is not dict or receipt.get("kind") != "declaration":
            raise MalformedReceipt(f"{where}.kind", "must be 'declaration' or 'transaction'")
    _identity(receipt, where, genesis, checks)
    trusted = follow_headers(genesis, read_list(chain_items, path), path, verifier)
    checks.append(
        f"header chain 1..{len(trusted.headers)}: every header links to the one before it"
        f" (genesis for block 1) and carries a certificate of more than two thirds of the"
        f" validator set in force; {len(trusted.changes)} validator set change(s) followed"
        f" by state proofs{_at(trusted.changes)}"
    )
    header = _receipt_header(receipt, where, genesis, trusted, verifier, checks)
    if receipt["kind"] == "transaction":
        _transaction_receipt(receipt, header, genesis, verifier, checks)
    else:
        _declaration(body, header, genesis, verifier, checks)


def _at(heights: list[int]) -> str:
    return f" (after block {', '.join(map(str, heights))})" if heights else ""


def _identity(receipt: Mapping[str, Any], where: str, genesis: Genesis, checks: list[str]) -> None:
    version = read_int(receipt.get("version"), f"{where}.version")
    if version != RECEIPT_VERSION:
        raise MalformedReceipt(f"{where}.version", f"version {version} is not understood")
    if read_str(receipt.get("chain"), f"{where}.chain", 64) != genesis.chain:
        raise UntrustedHeader(f"{where}.chain", f"the receipt is not for chain {genesis.chain}")
    if read_hash(receipt.get("genesis"), f"{where}.genesis") != genesis.hash:
        raise UntrustedHeader(f"{where}.genesis", "the receipt names another genesis")
    checks.append(f"receipt is for chain {genesis.chain}, genesis {genesis.hash.hex()}")


def follow_headers(
    genesis: Genesis, items: Sequence[Any], path: str, verifier: Verifier
) -> TrustedChain:
    """Follow header-chain items from genesis; raise :class:`UntrustedHeader` on any break."""
    trusted = TrustedChain()
    validators = genesis.validators
    prev_hash = genesis.hash
    prev_time = genesis.time
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        height = i + 1
        m = read_map(item, where, ("header", "certificate", "validators"))
        header = read_header(m["header"], f"{where}.header")
        certificate = read_certificate(m["certificate"], f"{where}.certificate")
        if header.height != height or header.chain != genesis.chain:
            raise UntrustedHeader(f"{where}.header", f"is not block {height} of {genesis.chain}")
        if header.prev_hash != prev_hash:
            raise UntrustedHeader(f"{where}.header.prev_hash", "does not link to the block before")
        if header.time <= prev_time:
            raise UntrustedHeader(f"{where}.header.time", "block time does not increase")
        if header.validators_hash != validators.hash:
            raise UntrustedHeader(
                f"{where}.header.validators_hash", "is not the validator set in force"
            )
        _check_certificate(certificate, header, validators, genesis, verifier, where)
        trusted.headers.append(header)
        trusted.validators.append(validators)
        if header.next_validators_hash != validators.hash:
            validators = _next_validators(m["validators"], header, f"{where}.validators")
            trusted.changes.append(height)
        elif m["validators"] is not None:
            raise UntrustedHeader(f"{where}.validators", "the set does not change here")
        prev_hash = header.hash
        prev_time = header.time
    return trusted


def _check_certificate(
    certificate: Certificate,
    header: Header,
    validators: ValidatorSet,
    genesis: Genesis,
    verifier: Verifier,
    where: str,
) -> None:
    try:
        certificate.verify(
            genesis.chain, validators, verifier, height=header.height, block_hash=header.hash
        )
    except LedgerError as e:
        raise UntrustedHeader(f"{where}.certificate", e.message) from e


def _next_validators(value: Any, header: Header, where: str) -> ValidatorSet:
    if value is None:
        raise UntrustedHeader(where, "the validator set changes here: its proof is missing")
    m = read_map(value, where, ("value", "proof"))
    raw = read_hex(m["value"], f"{where}.value", max_len=MAX_VALUE)
    proof = read_state_proof(m["proof"], f"{where}.proof")
    try:
        verify_state_proof(header.state_root, b"validators", raw, proof)
        new = ValidatorSet.from_value(decode(raw, max_size=MAX_VALUE))
    except LedgerError as e:
        raise UntrustedHeader(f"{where}.proof", f"validator set not proven: {e}") from e
    if new.hash != header.next_validators_hash:
        raise UntrustedHeader(f"{where}.value", "is not the set next_validators_hash names")
    return new


def _receipt_header(
    receipt: Mapping[str, Any],
    where: str,
    genesis: Genesis,
    trusted: TrustedChain,
    verifier: Verifier,
    checks: list[str],
) -> Header:
    header = read_header(receipt.get("header"), f"{where}.header")
    certificate = read_certificate(receipt.get("certificate"), f"{where}.certificate")
    if not 1 <= header.height <= len(trusted.headers):
        raise UntrustedHeader(
            f"{where}.header.height", "the header chain does not reach this height"
        )
    if trusted.headers[header.height - 1].hash != header.hash:
        raise UntrustedHeader(f"{where}.header", f"is not block {header.height} of the chain")
    validators = trusted.validators[header.height - 1]
    _check_certificate(certificate, header, validators, genesis, verifier, where)
    power = sum(v.power for v in validators if v.key_id in {k for k, _ in certificate.signatures})
    checks.append(
        f"block {header.height} ({header.hash.hex()}): certificate signed by"
        f" {len(certificate.signatures)} of {len(validators)} validators,"
        f" {power} of {validators.total_power} voting power"
    )
    return header


# ----------------------------------------------------------------- pieces


def _tx_entry(
    value: Any, where: str, header: Header, genesis: Genesis, verifier: Verifier
) -> tuple[Transaction, Mapping[str, Any]]:
    m = read_map(value, where, _TX_FIELDS)
    wire = read_b64(m["wire"], f"{where}.wire", MAX_TX_SIZE)
    stated = read_hash(m["id"], f"{where}.id")
    height = read_int(m["height"], f"{where}.height", 1)
    read_int(m["index"], f"{where}.index")
    log_index = read_int(m["log_index"], f"{where}.log_index")
    proof = read_hashes(m["proof"], f"{where}.proof", 64)
    try:
        tx = Transaction.decode(wire)
    except LedgerError as e:
        raise TransactionInvalid(f"{where}.wire", f"not a transaction: {e}") from e
    if tx.id != stated:
        raise TransactionInvalid(f"{where}.id", "is not the id of the transaction given")
    if tx.chain != genesis.chain:
        raise TransactionInvalid(f"{where}.wire", f"is for chain {tx.chain}")
    if height > header.height:
        raise TransactionInvalid(f"{where}.height", "is above the receipt's block")
    try:
        tx.verify(verifier)
    except LedgerError as e:
        raise TransactionInvalid(f"{where}.wire", f"signature: {e}") from e
    try:
        verify_inclusion(leaf_hash(wire), log_index, header.log_size, proof, header.log_root)
    except LedgerError as e:
        raise TransactionInvalid(f"{where}.proof", f"not in the log: {e}") from e
    return tx, m


def _state(value: Any, where: str, key: str, header: Header) -> Any:
    """The proven value of ``key`` (decoded) from a state entry; it must be present."""
    m = read_map(value, where, ("key", "value", "proof"))
    if read_str(m["key"], f"{where}.key") != key:
        raise StateMismatch(f"{where}.key", f"expected the state key {key}")
    if m["value"] is None:
        raise StateMismatch(f"{where}.value", f"{key} must be present")
    raw = read_hex(m["value"], f"{where}.value", max_len=MAX_VALUE)
    proof = read_state_proof(m["proof"], f"{where}.proof")
    try:
        verify_state_proof(header.state_root, key.encode(), raw, proof)
        return decode(raw, max_size=MAX_VALUE)
    except LedgerError as e:
        raise StateMismatch(f"{where}.proof", f"{key} not proven: {e}") from e


def _shown(shown: Any, proven: Any, where: str) -> None:
    if not same_json(shown, hexed(proven)):
        raise StateMismatch(where, "is not the value the state proof proves")


def same_json(a: Any, b: Any) -> bool:
    """Equality of JSON values that tells ``true`` from ``1`` (Python's ``==`` does not)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _result(
    value: Any, where: str, tx: Transaction, entry: Mapping[str, Any], header: Header
) -> Mapping[str, Any]:
    result = _state(value, where, f"tx/{tx.id.hex()}", header)
    if type(result) is not dict or (result.get("height"), result.get("index")) != (
        entry["height"],
        entry["index"],
    ):
        raise StateMismatch(f"{where}.value", "the transaction is recorded at another place")
    if result.get("type") != tx.type or result.get("signer") != tx.signer:
        raise StateMismatch(f"{where}.value", "the result is of another transaction")
    return result


# ---------------------------------------------------------- the two kinds


def _transaction_receipt(
    receipt: Mapping[str, Any],
    header: Header,
    genesis: Genesis,
    verifier: Verifier,
    checks: list[str],
) -> None:
    read_map(
        receipt,
        "$",
        ("kind", "version", "chain", "genesis", "tx", "result", "header", "certificate", "state"),
    )
    # The receipt's block is the transaction's own or a later one (a node that
    # pruned the state of the transaction's block proves the result at its tip):
    # the result names the block and index, and stays the same in every later state.
    tx, entry = _tx_entry(receipt["tx"], "$.tx", header, genesis, verifier)
    checks.append(_tx_check(tx, entry, header))
    state = read_list(receipt["state"], "$.state", 1)
    if len(state) != 1:
        raise MalformedReceipt("$.state", "holds exactly the transaction's result")
    result = _result(state[0], "$.state[0]", tx, entry, header)
    _shown(receipt["result"], result, "$.result")
    outcome = "accepted" if result.get("ok") is True else "rejected by the rules"
    checks.append(
        f"state tx/{tx.id.hex()}: {outcome} at block {entry['height']}, index"
        f" {entry['index']}, proven at block {header.height}"
    )


def _tx_check(tx: Transaction, entry: Mapping[str, Any], header: Header) -> str:
    return (
        f"transaction {tx.id.hex()} ({tx.type}): {len(tx.signatures)} signature(s) valid;"
        f" leaf {entry['log_index']} of the log of {header.log_size} transactions at block"
        f" {header.height}"
    )


def _declaration(
    document: Mapping[str, Any],
    header: Header,
    genesis: Genesis,
    verifier: Verifier,
    checks: list[str],
) -> None:
    receipt = read_map(
        document["receipt"],
        "$.receipt",
        (
            "kind",
            "version",
            "chain",
            "genesis",
            "declaration",
            "owner",
            "header",
            "certificate",
            "state",
            "transactions",
        ),
    )
    decl_id = read_str(document["id"], "$.id", 100)
    owner = read_str(document["owner"], "$.owner", 63)
    if receipt["declaration"] != decl_id:
        raise MalformedReceipt("$.receipt.declaration", "names another declaration")
    if receipt["owner"] != owner:
        raise MalformedReceipt("$.receipt.owner", "names another owner")
    state = read_list(receipt["state"], "$.receipt.state")
    txs = read_list(receipt["transactions"], "$.receipt.transactions")
    history = read_list(document["history"], "$.history")
    if not state:
        raise MalformedReceipt("$.receipt.state", "the declaration's record is missing")
    record = _state(state[0], "$.receipt.state[0]", record_key(owner, decl_id), header)
    _shown(document["record"], record, "$.record")
    if type(record) is not dict or record.get("id") != decl_id or record.get("org") != owner:
        raise StateMismatch("$.record", "is not the record of this declaration")
    if document["status"] != record["status"]:
        raise StateMismatch("$.status", "is not the proven status")
    versions = record["version"]
    made = record.get("txs")
    if type(made) is not list or len(made) != versions:
        raise StateMismatch("$.record.txs", "does not list one transaction per version")
    for where, items in (("$.history", history), ("$.receipt.transactions", txs)):
        if len(items) != versions:
            raise MalformedReceipt(
                where, f"the record has {versions} versions: {versions} entries are needed"
            )
    checks.append(
        f"state {record_key(owner, decl_id)}: {record['status']}, version {versions}, proven"
        f" at block {header.height}"
    )
    at = 1  # the next state entry: each version's result, then its document if it has one
    last: Mapping[str, Any] | None = None
    documented: tuple[int, Any] | None = None
    for v in range(1, versions + 1):
        where = f"$.history[{v - 1}]"
        tx, tx_entry = _tx_entry(
            txs[v - 1], f"$.receipt.transactions[{v - 1}]", header, genesis, verifier
        )
        checks.append(_tx_check(tx, tx_entry, header))
        if tx.id != made[v - 1]:
            raise StateMismatch(
                f"$.receipt.transactions[{v - 1}].id",
                f"is not the transaction of version {v} that the record lists",
            )
        _present(state, at, f"the result of version {v}")
        result = _result(state[at], f"$.receipt.state[{at}]", tx, tx_entry, header)
        at += 1
        doc = None
        if result.get("action") in DOCUMENT_ACTIONS:
            _present(state, at, f"the document of version {v}")
            key = document_key(owner, decl_id, v)
            doc = _state(state[at], f"$.receipt.state[{at}]", key, header)
            at += 1
            documented = (v, doc)
        replaces = made[v - 2] if v > 1 else None
        _version_made_by(result, doc, v, tx, (owner, decl_id), replaces, where)
        _shown(history[v - 1], version_entry(tx.id, result, doc), where)
        with_doc = "" if doc is None else f", with its document {document_key(owner, decl_id, v)}"
        checks.append(
            f"state tx/{tx.id.hex()}: version {v}, {result['action']} -> {result['status']} by"
            f" {result['org']} (key {result['signer']}) at block {result['height']}, time"
            f" {result['time']}{with_doc}; made by that transaction, proven"
        )
        last = result
    if at != len(state):
        raise MalformedReceipt("$.receipt.state", "holds entries that no version needs")
    if last is None or record["status"] != last["status"]:
        raise StateMismatch("$.record.status", "is not the status of the last version")
    _current_document(document, record, documented)
    checks.append(
        f"history of {owner}'s {decl_id}: versions 1..{versions}, each replacing the one before;"
        f" the current record is version {versions}"
    )


def _present(state: list[Any], at: int, what: str) -> None:
    if at >= len(state):
        raise MalformedReceipt("$.receipt.state", f"{what} is missing")


def _current_document(
    document: Mapping[str, Any], record: Mapping[str, Any], documented: tuple[int, Any] | None
) -> None:
    """The record's document is its last submitted or amended one, and the one shown."""
    if documented is None or record.get("document") != documented[0]:
        raise StateMismatch("$.record.document", "is not the last version with a document")
    current = documented[1]
    indexed = document_fields(current)
    if {name: record.get(name) for name in indexed} != indexed:
        raise StateMismatch("$.record", "its vessel, voyage or containers are not its document's")
    _shown(document["declaration"], current, "$.declaration")


def _version_made_by(
    result: Mapping[str, Any],
    doc: Any,
    version: int,
    tx: Transaction,
    declaration: tuple[str, str],
    replaces: bytes | None,
    where: str,
) -> None:
    """The version the result describes is what its transaction did, where the chain put it.

    ``declaration`` is (owner, id). ``_result`` has checked the result's place,
    type and signer already.
    """
    owner, decl_id = declaration
    if result.get("ok") is not True or any(name not in result for name in VERSION_FIELDS):
        raise StateMismatch(where, "its transaction's result describes no version")
    if result.get("declaration") != decl_id or result.get("owner") != owner:
        raise StateMismatch(f"{where}.tx", "the transaction is about another declaration")
    if result["version"] != version:
        raise StateMismatch(f"{where}.version", f"is not version {version}")
    if result["replaces"] != replaces:
        raise StateMismatch(f"{where}.replaces", "does not link to the version before")
    action = result["action"]
    body = tx.body
    expected_type = _DECL_TX_TYPES.get(str(action), "declaration.decide")
    if tx.type != expected_type:
        raise StateMismatch(f"{where}.action", f"{action} is not what a {tx.type} does")
    if action == "submit":
        signed_doc = body.get("declaration")
        target = signed_doc.get("declarationId") if type(signed_doc) is dict else None
        named = owner  # the rules find a submission's owner; its proven result says whose
    else:
        target = body.get("id")
        named = body.get("owner", result["org"])  # none named: the signer's organisation
    if target != decl_id or named != owner:
        raise StateMismatch(f"{where}.tx", "the transaction is about another declaration")
    if action in DOCUMENT_ACTIONS:
        try:
            signed = parse_declaration(body["declaration"]).to_value()
        except (ContractError, KeyError) as e:
            raise StateMismatch(f"{where}.declaration", "the signed document does not parse") from e
        if doc != signed:
            raise StateMismatch(f"{where}.declaration", "is not the document that was signed")
    else:
        allowed = {a.value for (word, _), a in DECISIONS.items() if word == body.get("decision")}
        if action != "cancel" and action not in allowed:
            raise StateMismatch(f"{where}.action", "is not the decision that was signed")
    if action != "submit" and result["reason"] != body.get("reason", ""):
        raise StateMismatch(f"{where}.reason", "is not the reason that was signed")
