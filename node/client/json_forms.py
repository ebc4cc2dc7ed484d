"""JSON forms of ledger objects, shared by the HTTP API, receipts and the client.

Bytes are lower-case hex everywhere except transaction wire bytes, which are
base64 (as ``POST /v1/transactions`` takes them). Each ``*_json`` function
writes a form; each ``read_*`` function reads one back strictly (exactly the
expected keys, each of the expected type) and raises :class:`JsonFormError`
naming the JSON path of the first field that is wrong, so a receipt that was
altered anywhere is refused with a precise reason.

::

    header       {"hash", "chain", "height", "time", "prev_hash", "txs_root", "log_size",
                  "log_root", "state_root", "validators_hash", "next_validators_hash",
                  "proposer"}
    certificate  {"height", "round", "block", "sigs": [[key id, signature hex], ...]}
    state proof  {"siblings": [hex, ...], "leaf": null | {"key_hash", "value_hash"}}
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ledger.block import Header
from ledger.errors import LedgerError
from ledger.smt_proof import StateLeaf, StateProof
from ledger.votes import Certificate
from node.client.errors import JsonFormError

HEADER_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Header))
_HASH_FIELDS: Final = frozenset(
    {"prev_hash", "txs_root", "log_root", "state_root", "validators_hash", "next_validators_hash"}
)
MAX_JSON_INT: Final = 2**63 - 1


def hexed(value: Any) -> Any:
    """A decoded canonical value with every byte string as hex (for JSON answers)."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: hexed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hexed(v) for v in value]
    return value


# ------------------------------------------------------------------ readers


def read_map(value: Any, path: str, keys: Sequence[str]) -> Mapping[str, Any]:
    """``value`` as a JSON object with exactly ``keys``."""
    if type(value) is not dict:
        raise JsonFormError(path, "must be an object")
    if set(value) != set(keys):
        missing = sorted(set(keys) - set(value))
        extra = sorted(set(value) - set(keys))
        what = f"missing {missing[0]!r}" if missing else f"unexpected field {extra[0]!r}"
        raise JsonFormError(path, what)
    return value


def read_int(value: Any, path: str, lo: int = 0, hi: int = MAX_JSON_INT) -> int:
    """An integer within ``[lo, hi]`` (booleans are not integers here)."""
    if type(value) is not int or not lo <= value <= hi:
        raise JsonFormError(path, f"must be an integer in [{lo}, {hi}]")
    return value


def read_str(value: Any, path: str, max_len: int = 1024) -> str:
    """A string of at most ``max_len`` characters."""
    if type(value) is not str or len(value) > max_len:
        raise JsonFormError(path, f"must be a string of at most {max_len} characters")
    return value


def read_list(value: Any, path: str, max_len: int = 100_000) -> list[Any]:
    """A JSON array of at most ``max_len`` items."""
    if type(value) is not list or len(value) > max_len:
        raise JsonFormError(path, f"must be an array of at most {max_len} items")
    return value


def read_hex(value: Any, path: str, size: int | None = None, max_len: int = 1 << 21) -> bytes:
    """Lower-case hex of ``size`` bytes (any size when ``None``)."""
    if type(value) is not str or len(value) > 2 * max_len:
        raise JsonFormError(path, "must be a hex string")
    if value != value.lower():
        raise JsonFormError(path, "hex must be lower-case")
    try:
        raw = bytes.fromhex(value)
    except ValueError as e:
        raise JsonFormError(path, "must be a hex string") from e
    if raw.hex() != value:
        raise JsonFormError(path, "hex must have no spaces")
    if size is not None and len(raw) != size:
        raise JsonFormError(path, f"must be {size} bytes of hex")
    return raw


def read_hash(value: Any, path: str) -> bytes:
    """A 32-byte hash in hex."""
    return read_hex(value, path, 32)


def read_b64(value: Any, path: str, max_len: int = 1 << 20) -> bytes:
    """Canonical standard base64 (padding included) of at most ``max_len`` bytes."""
    if type(value) is not str or len(value) > (max_len * 4) // 3 + 4:
        raise JsonFormError(path, "must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise JsonFormError(path, "must be base64") from e
    if base64.b64encode(raw).decode() != value:
        raise JsonFormError(path, "must be canonical base64")
    return raw


def read_hashes(value: Any, path: str, max_len: int = 256) -> list[bytes]:
    """An array of 32-byte hashes in hex."""
    items = read_list(value, path, max_len)
    return [read_hash(h, f"{path}[{i}]") for i, h in enumerate(items)]


# --------------------------------------------------------- headers and certificates


def header_json(header: Header) -> dict[str, Any]:
    """The JSON form of a block header, with its hash."""
    value = header.to_value()
    out: dict[str, Any] = {"hash": header.hash.hex()}
    for name in HEADER_FIELDS:
        v = value[name]
        out[name] = v.hex() if isinstance(v, bytes) else v
    return out


def read_header(value: Any, path: str) -> Header:
    """A header from its JSON form; its ``hash`` must be the hash of the fields."""
    m = read_map(value, path, ("hash", *HEADER_FIELDS))
    fields: dict[str, Any] = {}
    for name in HEADER_FIELDS:
        where = f"{path}.{name}"
        if name in _HASH_FIELDS:
            fields[name] = read_hash(m[name], where)
        elif name in ("chain", "proposer"):
            fields[name] = read_str(m[name], where, 64)
        else:
            fields[name] = read_int(m[name], where)
    try:
        header = Header.from_value(fields)
    except LedgerError as e:
        raise JsonFormError(f"{path}.{e.field or ''}".rstrip("."), e.message) from e
    if read_hash(m["hash"], f"{path}.hash") != header.hash:
        raise JsonFormError(f"{path}.hash", "is not the hash of this header")
    return header


def certificate_json(certificate: Certificate) -> dict[str, Any]:
    """The JSON form of a commit certificate."""
    return {
        "height": certificate.height,
        "round": certificate.round,
        "block": certificate.block_hash.hex(),
        "sigs": [[key_id, sig.hex()] for key_id, sig in certificate.signatures],
    }


def read_certificate(value: Any, path: str) -> Certificate:
    """A commit certificate from its JSON form (signatures are checked by the caller)."""
    m = read_map(value, path, ("height", "round", "block", "sigs"))
    sigs = []
    for i, item in enumerate(read_list(m["sigs"], f"{path}.sigs", 256)):
        where = f"{path}.sigs[{i}]"
        pair = read_list(item, where, 2)
        if len(pair) != 2:
            raise JsonFormError(where, "must be [key id, signature]")
        sigs.append([read_str(pair[0], f"{where}[0]", 40), read_hex(pair[1], f"{where}[1]", 64)])
    try:
        return Certificate.from_value(
            {
                "height": read_int(m["height"], f"{path}.height", 1),
                "round": read_int(m["round"], f"{path}.round"),
                "block": read_hash(m["block"], f"{path}.block"),
                "sigs": sigs,
            }
        )
    except LedgerError as e:
        raise JsonFormError(f"{path}.{e.field or ''}".rstrip("."), e.message) from e


# --------------------------------------------------------------- state proofs


def state_proof_json(proof: StateProof) -> dict[str, Any]:
    """The JSON form of a state proof."""
    leaf = proof.leaf
    return {
        "siblings": [s.hex() for s in proof.siblings],
        "leaf": None
        if leaf is None
        else {"key_hash": leaf.key_hash.hex(), "value_hash": leaf.value_hash.hex()},
    }


def read_state_proof(value: Any, path: str) -> StateProof:
    """A state proof from its JSON form."""
    m = read_map(value, path, ("siblings", "leaf"))
    siblings = tuple(read_hashes(m["siblings"], f"{path}.siblings"))
    leaf = None
    if m["leaf"] is not None:
        lm = read_map(m["leaf"], f"{path}.leaf", ("key_hash", "value_hash"))
        leaf = StateLeaf(
            read_hash(lm["key_hash"], f"{path}.leaf.key_hash"),
            read_hash(lm["value_hash"], f"{path}.leaf.value_hash"),
        )
    return StateProof(siblings, leaf)


def b64(data: bytes) -> str:
    """Standard base64 with padding (transaction wire bytes in JSON)."""
    return base64.b64encode(data).decode()
