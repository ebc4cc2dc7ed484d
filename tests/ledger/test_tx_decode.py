"""Typed decoding of transactions and blocks answers exactly as the field-by-field decoding did.

``Transaction.decode`` and ``Block.decode`` now read their bytes as msgspec
Structs. The oracle below is a copy of how they decoded before that change
(msgpack reference decoding, then the ``ledger.schema`` field readers): on
every input, valid or not, the new decoders must build the same object or
raise the same error class with the same code, field and message.
"""

from __future__ import annotations

import functools
import itertools
import tracemalloc
from collections.abc import Iterator, Mapping
from typing import Any, Final

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import encoding
from ledger import tx as tx_module
from ledger.block import MAX_BLOCK_SIZE, MAX_BLOCK_TXS, Block, Header
from ledger.crypto import PublicKey
from ledger.encoding import DEFAULT_MAX_DEPTH, encode
from ledger.errors import ChainError, LedgerError, SchemaError, TooLarge
from ledger.schema import as_map, get_bytes, get_int, get_list, get_str
from ledger.tx import MAX_SIGNATURES, MAX_TX_SIZE, Envelope, Signature, Transaction
from ledger.votes import Certificate
from tests.ledger.chainmaker import make_chain
from tests.strategies import block_encodings, mutations, signing_keys, transaction_wires

# -- the oracle: decoding as it was before the typed forms ----------------------------------

_ENV_KEYS: Final = frozenset({"chain", "type", "signer", "nonce", "body", "expires"})
_WIRE_KEYS: Final = frozenset({"env", "sigs"})


def reference_decode(data: Any, max_size: int) -> Any:
    return encoding._decode_reference(data, max_size, DEFAULT_MAX_DEPTH)


def oracle_check_envelope(m: Mapping[str, Any]) -> None:
    as_map(m, "env", _ENV_KEYS)
    get_str(m, "chain", max_len=64)
    get_str(m, "type", max_len=64)
    get_str(m, "signer", min_len=40, max_len=40)
    get_int(m, "nonce", lo=1)
    get_int(m, "expires", lo=1)
    if type(m["body"]) is not dict:
        raise SchemaError("must be a map", field="body")


def oracle_transaction(data: Any) -> Transaction:
    """``Transaction.decode`` as it was: reference decoding, then every field read in Python."""
    wire = bytes(data) if isinstance(data, bytes | bytearray | memoryview) else data
    m = as_map(reference_decode(data, MAX_TX_SIZE), "tx", _WIRE_KEYS)
    env_bytes = get_bytes(m, "env", max_len=MAX_TX_SIZE)
    env_value = reference_decode(env_bytes, MAX_TX_SIZE)
    oracle_check_envelope(as_map(env_value, "env"))
    envelope = Envelope(**env_value)
    sigs = []
    for i, item in enumerate(get_list(m, "sigs", max_len=MAX_SIGNATURES)):
        if type(item) is not list or len(item) != 2:
            raise SchemaError("must be [public key, signature]", field=f"sigs[{i}]")
        pub, sig = item
        if type(pub) is not bytes or type(sig) is not bytes or len(sig) != 64:
            raise SchemaError("must be [32 bytes, 64 bytes]", field=f"sigs[{i}]")
        try:
            sigs.append(Signature(PublicKey(pub), sig))
        except LedgerError as e:
            raise SchemaError(f"bad public key: {e.message}", field=f"sigs[{i}]") from e
    if not sigs:
        raise SchemaError("a transaction needs at least one signature", field="sigs")
    if len(sigs) > MAX_SIGNATURES:
        raise SchemaError(f"at most {MAX_SIGNATURES} signatures", field="sigs")
    raws = [s.public.raw for s in sigs]
    if any(a >= b for a, b in itertools.pairwise(raws)):
        raise SchemaError("signatures must be sorted by key with no key twice", field="sigs")
    if envelope.signer not in {s.public.key_id for s in sigs}:
        raise SchemaError("the signer's key has not signed", field="signer")
    if len(wire) > MAX_TX_SIZE:
        raise SchemaError(f"transaction over {MAX_TX_SIZE} bytes", field="env")
    return Transaction(envelope, env_bytes, tuple(sigs), encoding.sha256(env_bytes), wire)


def oracle_block(data: Any, known: Mapping[bytes, Transaction] | None = None) -> Block:
    """``Block.decode`` as it was, each transaction decoded by the oracle."""
    keys = frozenset({"header", "txs", "last_commit"})
    m = as_map(reference_decode(data, MAX_BLOCK_SIZE), "block", keys)
    header = Header.from_value(m["header"])
    txs = []
    for i, raw in enumerate(get_list(m, "txs", max_len=MAX_BLOCK_TXS)):
        if type(raw) is not bytes or len(raw) > MAX_TX_SIZE:
            raise ChainError("must be transaction bytes", height=header.height, tx_index=i)
        tx = known.get(raw) if known is not None else None
        if tx is not None:
            txs.append(tx)
            continue
        try:
            txs.append(oracle_transaction(raw))
        except LedgerError as e:
            raise ChainError(f"malformed transaction: {e}", height=header.height, tx_index=i) from e
    commit = None if m["last_commit"] is None else Certificate.from_value(m["last_commit"])
    return Block(header, tuple(txs), commit)


def outcome(f: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    """What ``f`` builds (by value and repr, so True and 1 differ), or all that its error says."""
    try:
        result = f(*args, **kwargs)
    except LedgerError as e:
        where = (e.height, e.tx_index) if isinstance(e, ChainError) else ()
        return type(e), e.code, e.field, str(e), where
    return "ok", result, repr(result)


def same_transaction(data: Any) -> tuple[Any, ...]:
    got = outcome(Transaction.decode, data)
    assert got == outcome(oracle_transaction, data), bytes(data[:80])
    return got


def same_block(data: bytes, known: Mapping[bytes, Transaction] | None = None) -> tuple[Any, ...]:
    got = outcome(Block.decode, data, known=known)
    assert got == outcome(oracle_block, data, known), data[:80]
    return got


# -- fixed cases -------------------------------------------------------------------------------

KEYS = signing_keys(6)
CHAIN = "dg-ledger-test"


def spelled(value: Any) -> bytes:
    """MessagePack of ``value`` with shortest headers and sorted keys, whatever it holds."""

    def sort(v: Any) -> Any:
        if type(v) is dict:
            return {k: sort(v[k]) for k in sorted(v)}
        return [sort(x) for x in v] if type(v) is list else v

    return msgpack.packb(sort(value), use_bin_type=True)  # type: ignore[no-any-return]


def wire_of(envelope: Any, sigs: Any = None) -> bytes:
    """A wire form of ``envelope`` (a value, or its bytes) signed by nobody in particular."""
    if sigs is None:
        sigs = [[KEYS[0].public.raw, bytes(64)]]
    env = envelope if type(envelope) is bytes else spelled(envelope)
    return encode({"env": env, "sigs": sigs})


def envelope(**changes: Any) -> dict[str, Any]:
    value = {
        "chain": CHAIN,
        "type": "test.note",
        "signer": KEYS[0].public.key_id,
        "nonce": 1,
        "body": {"n": 1},
        "expires": 9,
    }
    return {**value, **changes}


def test_a_valid_transaction_decodes_to_the_same_object() -> None:
    data = wire_of(envelope(body={"a": [1, "x", b"y", None, True, {"k": -5}]}))
    got = same_transaction(data)
    assert got[0] == "ok"
    assert got[1].wire == data


EDGES: list[tuple[str, Any]] = [
    ("chain", ""),
    ("chain", "a" * 64),
    ("chain", "😀" * 64),
    ("chain", "😀" * 65),
    ("chain", b"x"),
    ("type", "t" * 65),
    ("signer", KEYS[0].public.key_id[:39]),
    ("signer", KEYS[0].public.key_id + "0"),
    ("signer", KEYS[1].public.key_id),
    ("nonce", 0),
    ("nonce", 2**63 - 1),
    ("nonce", 2**63),
    ("nonce", 2**64 - 1),
    ("nonce", True),
    ("nonce", -1),
    ("expires", 0),
    ("expires", "9"),
    ("body", []),
    ("body", None),
    ("body", {"d": [[[[[]]]]]}),
]


@pytest.mark.parametrize(("name", "value"), EDGES, ids=lambda x: repr(x)[:20])
def test_envelope_fields_at_their_edges_answer_as_before(name: str, value: Any) -> None:
    same_transaction(wire_of(envelope(**{name: value})))


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [29, 30, 31, 32])
def test_body_nesting_at_the_depth_limit_answers_as_before(levels: int) -> None:
    # The body is at depth 1, its "d" list at 2: the limit of 32 falls at 30 list levels.
    data = wire_of(envelope(body={"d": _deep(levels)}))
    got = same_transaction(data)
    assert (got[0] == "ok") == (levels <= 30)


SIG_CASES: dict[str, Any] = {
    "none": [],
    "unsorted": [[k.public.raw, bytes(64)] for k in reversed(KEYS[:2])],
    "twice": [[KEYS[0].public.raw, bytes(64)]] * 2,
    "too many": [[k.public.raw, bytes(64)] for k in signing_keys(MAX_SIGNATURES + 1)],
    "key of 31 bytes": [[KEYS[0].public.raw[:31], bytes(64)]],
    "key off the curve": [[b"\x02" + bytes(31), bytes(64)]],
    "signature of 63 bytes": [[KEYS[0].public.raw, bytes(63)]],
    "a triple": [[KEYS[0].public.raw, bytes(64), b""]],
    "not a list": {"k": 1},
    "signer missing": [[KEYS[1].public.raw, bytes(64)]],
}


@pytest.mark.parametrize("case", sorted(SIG_CASES))
def test_signature_lists_answer_as_before(case: str) -> None:
    got = same_transaction(wire_of(envelope(), SIG_CASES[case]))
    assert got[0] is SchemaError


def test_non_bytes_input_answers_as_before() -> None:
    data = wire_of(envelope())
    forms: list[Any] = [bytearray(data), memoryview(data), "text", None, b""]
    for form in forms:
        same_transaction(form)


# -- properties --------------------------------------------------------------------------------


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(transaction_wires())
def test_transaction_decoding_answers_as_before(data: bytes) -> None:
    same_transaction(data)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_edited_transaction_bytes_answer_as_before(data: st.DataObject) -> None:
    wire = data.draw(transaction_wires())
    same_transaction(data.draw(mutations(wire)))


@functools.cache
def chain_blocks() -> tuple[Block, ...]:
    """Two blocks of three transactions; the second carries the first one's certificate."""
    return tuple(make_chain(2, txs_per_block=3).blocks)


def test_blocks_of_a_chain_decode_to_the_same_objects() -> None:
    for block in chain_blocks():
        got = same_block(block.encode())
        assert got[1] == block


@settings(
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_block_decoding_answers_as_before(data: st.DataObject) -> None:
    same_block(data.draw(block_encodings(chain_blocks()[1].to_value())))


HEADER_EDGES: list[tuple[str, Any]] = [
    ("chain", ""),
    ("chain", "😀" * 64),
    ("chain", "😀" * 65),
    ("height", 0),
    ("height", 2**63),
    ("time", -1),
    ("time", 2**63 - 1),
    ("time", 2**63),
    ("log_size", -1),
    ("log_size", 2**64 - 1),
    ("prev_hash", bytes(31)),
    ("txs_root", bytes(33)),
    ("state_root", "x" * 32),
    ("proposer", "p" * 39),
    ("proposer", b"p" * 40),
]


@pytest.mark.parametrize(("name", "value"), HEADER_EDGES, ids=lambda x: repr(x)[:20])
def test_header_fields_at_their_edges_answer_as_before(name: str, value: Any) -> None:
    block = chain_blocks()[1].to_value()
    block["header"][name] = value
    same_block(spelled(block))


@pytest.mark.parametrize("levels", [28, 29, 30, 31])
def test_certificate_nesting_at_the_depth_limit_answers_as_before(levels: int) -> None:
    # The certificate is at depth 1, its "d" list at 2: the limit of 32 falls at 30 list levels.
    block = chain_blocks()[1].to_value()
    block["last_commit"] = {"d": _deep(levels)}
    got = same_block(spelled(block))
    assert got[0] is (SchemaError if levels <= 30 else TooLarge)


@pytest.mark.parametrize(
    "txs", [[b"\x00" * (MAX_TX_SIZE + 1)], [b""] * (MAX_BLOCK_TXS + 1), [b"x", "x"], {}]
)
def test_transaction_lists_answer_as_before(txs: Any) -> None:
    block = chain_blocks()[1].to_value()
    block["txs"] = txs
    same_block(spelled(block))


def test_known_transactions_are_taken_as_before() -> None:
    block = chain_blocks()[1]
    known = {tx.wire: tx for tx in block.txs[:2]}
    got = same_block(block.encode(), known)
    assert got[1].txs[0] is block.txs[0]


# -- decoded once, and never from an untrusted length ------------------------------------------


class Counting:
    """A decoder that counts its calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def decode(self, data: bytes) -> Any:
        self.calls += 1
        return self.inner.decode(data)


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the reference path was taken")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Counting]]:
    """Counting decoders in place of the typed forms and of untyped msgspec decoding."""
    forms = {
        "wire": Counting(tx_module._WIRE_FORM),
        "envelope": Counting(tx_module._ENVELOPE_FORM),
        "any": Counting(encoding._DECODER),
    }
    monkeypatch.setattr(tx_module, "_WIRE_FORM", forms["wire"])
    monkeypatch.setattr(tx_module, "_ENVELOPE_FORM", forms["envelope"])
    monkeypatch.setattr(encoding, "_DECODER", forms["any"])
    monkeypatch.setattr(encoding, "_decode_reference", _refuse)
    monkeypatch.setattr(tx_module, "decode", _refuse)
    yield forms


def test_a_valid_transaction_is_decoded_once(counted: dict[str, Counting]) -> None:
    body = {"items": [{"n": i, "raw": bytes([i]) * 40} for i in range(40)]}  # no scan passes
    tx = Transaction.decode(wire_of(envelope(body=body)))
    assert tx.body == body
    assert {name: c.calls for name, c in counted.items()} == {"wire": 1, "envelope": 1, "any": 0}


def test_a_valid_block_is_decoded_once(counted: dict[str, Counting]) -> None:
    block = chain_blocks()[1]
    assert Block.decode(block.encode()) == block
    # Each transaction's wire form and envelope once; the certificate once, apart.
    n = len(block.txs)
    assert {name: c.calls for name, c in counted.items()} == {"wire": n, "envelope": n, "any": 1}


HOSTILE: Final = [
    # Wire forms: env and sigs claiming 4 GiB or 2**31 items.
    b"\x82\xa3env\xc6\xff\xff\xff\xff",
    b"\x82\xa3env\xc4\x00\xa4sigs\xdd\xff\xff\xff\xff",
    b"\x82\xa3env\xc4\x00\xa4sigs\xdd\x7f\xff\xff\xff" + b"\x92\xc4\x00\xc4\x00" * 10,
    # An envelope whose body claims 2**32 - 1 entries, in a well-formed wire form.
    encode({"env": b"\x86\xa4body\xdf\xff\xff\xff\xff\xa5chain\xa1c", "sigs": []}),
    # Blocks: a header, a transaction list and a certificate claiming as much.
    b"\x83\xa6header\xdf\xff\xff\xff\xff",
    b"\x83\xa6header\x80\xablast_commit\xc0\xa3txs\xdd\xff\xff\xff\xff\xc4\x00",
    b"\x83\xa6header\x80\xablast_commit\xdf\xff\xff\xff\xff\xa3txs\x90",
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_lengths_in_typed_fields_are_refused_without_allocating(data: bytes) -> None:
    tracemalloc.start()
    try:
        same_transaction(data)
        same_block(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
