"""The msgspec fast path: each msgspec behaviour it relies on, and one answer with the reference.

``ledger.encoding`` encodes and decodes with msgspec first and hands any
doubt to the msgpack reference path. Each test below names one behaviour of
msgspec 0.23 that the fast path relies on or guards against, shows it on
msgspec itself, then shows that ``encode``/``decode`` still answer exactly as
the reference does (same bytes or value, or same error class and message).
The property tests at the end compare the two paths on values, on loosely
spelled encodings and on mutated ones.
"""

from __future__ import annotations

import collections
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import tracemalloc
import uuid
from typing import Any, NamedTuple

import msgpack
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import encoding
from ledger.encoding import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_SIZE,
    INT_MAX,
    INT_MIN,
    decode,
    encode,
    fast_decode,
    fast_decode_as,
)
from ledger.errors import TooLarge
from tests.strategies import (
    LENGTH_BOUNDARIES,
    NUMBER_BOUNDARIES,
    edge_values,
    loose_packings,
    mutations,
    wild_values,
)

pytestmark = pytest.mark.skipif(not encoding._FAST, reason="msgspec older than 0.23: fast path off")

SORTED = msgspec.msgpack.Encoder(order="sorted")
ANY = msgspec.msgpack.Decoder()


def reference_encode(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    return encoding._encode_reference(value, max_depth)


def reference_decode(
    data: Any, max_size: int = DEFAULT_MAX_SIZE, max_depth: int = DEFAULT_MAX_DEPTH
) -> Any:
    return encoding._decode_reference(data, max_size, max_depth)


def outcome(f: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """What ``f`` returns (with the type of every part), or the class and message it raises."""
    try:
        return "ok", typed(f(*args, **kwargs))
    except Exception as e:
        return type(e).__name__, str(e)


def typed(value: Any) -> Any:
    """``value`` with each leaf paired with its type, so that True and 1 differ."""
    if type(value) in (list, tuple):
        return [type(value), *map(typed, value)]
    if type(value) is dict:
        return [dict, *((k, typed(v)) for k, v in value.items())]
    return (type(value), value)


def declines(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> bool:
    """Whether the fast decoder hands ``data`` to the reference path."""
    sure, _ = encoding._decode_fast(data, max_depth)
    return not sure


def same_decoding(data: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[str, Any]:
    got = outcome(decode, data, max_depth=max_depth)
    assert got == outcome(reference_decode, data, DEFAULT_MAX_SIZE, max_depth), data[:60]
    return got


def same_encoding(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> tuple[str, Any]:
    got = outcome(encode, value, max_depth=max_depth)
    assert got == outcome(reference_encode, value, max_depth)
    return got


# -- encoding: the bytes msgspec writes ------------------------------------------------------


def test_sorted_encoder_orders_keys_by_utf8_bytes() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 code units, before it in UTF-8 bytes.
    value = {"😀": 1, "\ue000": 2, "\uffff": 3, "z": 4, "": 5, "é": 6, "e\x00": 7, "e": 8}
    data = SORTED.encode(value)
    assert data == reference_encode(value) == encode(value)
    assert list(ANY.decode(data)) == sorted(value, key=lambda k: k.encode())


@pytest.mark.parametrize(
    "n", NUMBER_BOUNDARIES + [n + d for n in NUMBER_BOUNDARIES for d in (-1, 1)]
)
def test_integer_headers_are_the_shortest(n: int) -> None:
    if not INT_MIN <= n <= INT_MAX:
        return
    assert SORTED.encode(n) == msgpack.packb(n) == encode(n)
    assert decode(encode(n)) == n


def _header(n: int, fix: tuple[int, int] | None, *sized: tuple[int, int]) -> bytes:
    """The shortest MessagePack header for length ``n``: fix form (base, limit), then sized ones."""
    if fix is not None and n < fix[1]:
        return bytes([fix[0] | n])
    marker, width = next((m, w) for m, w in sized if n < 256**w)
    return bytes([marker]) + n.to_bytes(width, "big")


@pytest.mark.parametrize("n", [*LENGTH_BOUNDARIES, 65537, 70000])
def test_length_headers_are_the_shortest(n: int) -> None:
    cases: list[tuple[Any, bytes]] = [
        ("é" * (n // 2) + "x" * (n % 2), _header(n, (0xA0, 32), (0xD9, 1), (0xDA, 2), (0xDB, 4))),
        (b"\x00" * n, _header(n, None, (0xC4, 1), (0xC5, 2), (0xC6, 4))),
        ([None] * n, _header(n, (0x90, 16), (0xDC, 2), (0xDD, 4))),
        ({f"{i:06d}": 0 for i in range(n)}, _header(n, (0x80, 16), (0xDE, 2), (0xDF, 4))),
    ]
    for value, header in cases:
        data = SORTED.encode(value)
        assert data.startswith(header)
        assert data == encode(value)
        assert not declines(data)


def test_str_and_bytes_take_their_own_families() -> None:
    assert SORTED.encode("ab")[0] == 0xA2
    assert SORTED.encode(b"ab")[0] == 0xC4
    assert SORTED.encode("x" * 40)[0] == 0xD9  # str8, as the reference writes it
    assert encode("ab") == reference_encode("ab") != encode(b"ab") == reference_encode(b"ab")
    assert typed(decode(encode(b"ab"))) == (bytes, b"ab")
    assert typed(decode(encode("ab"))) == (str, "ab")


def test_tuples_bool_and_none_encode_as_the_reference_does() -> None:
    for value in [(1, (2, "x")), True, False, None, [True, None, (False,)], {"t": ()}]:
        assert SORTED.encode(value) == reference_encode(value) == encode(value)


@pytest.mark.parametrize("n", [2**64, -(2**63) - 1, 10**30, -(10**30)])
def test_integers_past_64_bits_get_the_reference_error(n: int) -> None:
    with pytest.raises(OverflowError):
        SORTED.encode(n)
    assert same_encoding(n)[0] == "EncodingError"
    assert same_encoding({"n": [n]})[0] == "EncodingError"


@pytest.mark.parametrize("n", [INT_MAX + 1, 2**64 - 1])
def test_integers_above_int_max_that_msgspec_writes_are_still_refused(n: int) -> None:
    assert SORTED.encode(n)[0] == 0xCF  # msgspec writes them as uint64
    assert same_encoding(n)[0] == "EncodingError"
    assert same_encoding([0, {"n": n}])[0] == "EncodingError"


@pytest.mark.parametrize("value", [1.5, 0.0, float("nan"), float("inf"), {"a": [2.0]}])
def test_floats_that_msgspec_writes_are_refused(value: Any) -> None:
    assert SORTED.encode(value)  # msgspec writes floats as float64
    assert same_encoding(value)[0] == "EncodingError"


@pytest.mark.parametrize("value", [{1: "a"}, {b"k": 1}, {None: 1}, {"a": 1, 2: "b"}, {(1,): 1}])
def test_non_string_keys_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="str keys"):
        SORTED.encode(value)
    assert same_encoding(value)[0] == "EncodingError"


class Code(enum.StrEnum):
    A = "a"


class MyStr(str):
    __slots__ = ()


@pytest.mark.parametrize("value", [{Code.A: 1}, {MyStr("k"): 1}, {"x": {MyStr("k"): 1}}])
def test_str_subclass_keys_that_msgspec_writes_are_refused(value: Any) -> None:
    assert SORTED.encode(value)  # msgspec accepts any str instance as a key
    assert same_encoding(value)[0] == "EncodingError"


class Colour(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    ONE = 1


@dataclasses.dataclass
class Point:
    x: int


class Pair(msgspec.Struct):
    a: int


class Named(NamedTuple):
    a: int


MSGSPEC_WRITES_THE_MODEL_REFUSES: list[Any] = [
    Colour.RED,
    Code.A,
    Level.ONE,
    bytearray(b"ab"),
    memoryview(b"ab"),
    {1, 2},
    frozenset({1}),
    datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC),
    datetime.datetime(2026, 12, 7),  # a naive one is written as a string
    datetime.date(2026, 12, 7),
    datetime.time(1, 2),
    datetime.timedelta(days=1),
    uuid.UUID(int=7),
    decimal.Decimal("1.5"),
    Point(1),
    Pair(1),
    msgspec.Raw(b"\xc0"),
    msgspec.msgpack.Ext(1, b"x"),
    Named(1),
    collections.OrderedDict([("b", 1), ("a", 2)]),
    type("MyList", (list,), {})([1]),
    type("MyDict", (dict,), {})(a=1),
    {"nested": [bytearray(b"x")]},
]


@pytest.mark.parametrize("value", MSGSPEC_WRITES_THE_MODEL_REFUSES, ids=lambda v: type(v).__name__)
def test_types_msgspec_writes_but_the_model_refuses(value: Any) -> None:
    assert SORTED.encode(value)
    assert encoding._encode_fast(value, DEFAULT_MAX_DEPTH) is None
    # The reference copies other mappings into maps; everything else it refuses.
    other_mapping = type(value) is not dict and isinstance(value, collections.abc.Mapping)
    expected = "ok" if other_mapping else "EncodingError"
    assert same_encoding(value)[0] == expected


def test_lone_surrogates_are_refused_with_the_reference_error() -> None:
    for value in ("\ud800", {"\udfff": 1}, ["ok", "\udc00"]):
        with pytest.raises(UnicodeEncodeError):
            SORTED.encode(value)
        assert same_encoding(value)[0] == "EncodingError"


def _deep(levels: int, leaf: Any = 0) -> Any:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("levels", [31, 32, 33, 127, 128, 129, 5000])
def test_deep_nesting_gets_the_reference_error(levels: int) -> None:
    value = _deep(levels)
    for max_depth in (DEFAULT_MAX_DEPTH, 128, 200):
        same_encoding(value, max_depth)


# -- decoding: what msgspec accepts that the model does not -----------------------------------


def test_duplicate_keys_are_refused() -> None:
    data = b"\x82\xa1a\x01\xa1a\x02"
    assert ANY.decode(data) == {"a": 2}  # msgspec keeps the last
    assert declines(data)
    assert same_decoding(data)[0] == "NonCanonical"


@pytest.mark.parametrize(
    "data",
    [
        b"\xcc\x05",
        b"\xcd\x00\x05",
        b"\xd0\x05",
        b"\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\xd9\x01a",
        b"\xda\x00\x01a",
        b"\xc5\x00\x01a",
        b"\xdc\x00\x01\x01",
        b"\xde\x00\x01\xa1a\x01",
    ],
)
def test_headers_longer_than_needed_are_refused(data: bytes) -> None:
    ANY.decode(data)  # msgspec reads any header MessagePack allows
    assert declines(data)
    assert same_decoding(data)[0] == "NonCanonical"


@pytest.mark.parametrize(
    "data",
    [
        b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
        b"\xcb\x00\x00\x00\x00\x00\x00\x00\x00",
        b"\xca\x3f\xc0\x00\x00",
        b"\x81\xa1a\xcb\x40\x00\x00\x00\x00\x00\x00\x00",
        b"\x91\x92\x01\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00",
    ],
)
def test_floats_are_refused(data: bytes) -> None:
    ANY.decode(data)  # msgspec decodes floats
    assert declines(data)
    assert same_decoding(data)[0] == "EncodingError"


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x01\x00",
        b"\xd6\xff\x00\x00\x00\x00",  # timestamp32: msgspec gives a datetime
        b"\xd7\xff" + b"\x00" * 8,
        b"\xc7\x0c\xff" + b"\x00" * 12,
        b"\xc7\x03\x05abc",
        b"\x81\xa1t\xd6\xff\x00\x00\x00\x01",
        b"\x92\x01\xd5\x02\x00\x00",
    ],
)
def test_extension_values_are_refused(data: bytes) -> None:
    assert type(ANY.decode(data)) is not int  # an Ext object or a datetime
    assert declines(data)
    assert same_decoding(data)[0] == "EncodingError"


def test_a_canonical_looking_timestamp_is_refused() -> None:
    # msgspec writes the datetime it decoded back to the very same bytes.
    data = b"\xd6\xff\x00\x00\x00\x01"
    assert SORTED.encode(ANY.decode(data)) == data
    assert declines(data)
    assert same_decoding(data)[0] == "EncodingError"


@pytest.mark.parametrize("n", [INT_MAX + 1, 2**64 - 1])
def test_uint64_above_int_max_is_refused(n: int) -> None:
    for data in (msgpack.packb(n), msgpack.packb({"n": [n]})):
        assert SORTED.encode(ANY.decode(data)) == data
        assert declines(data)
        assert same_decoding(data)[0] == "EncodingError"


@pytest.mark.parametrize(
    "data", [b"\x81\x01\x02", b"\x81\xc4\x01k\x01", b"\x81\xc0\x01", b"\x81\x91\x01\x02"]
)
def test_keys_that_are_not_strings_are_refused(data: bytes) -> None:
    assert type(next(iter(ANY.decode(data)))) is not str  # msgspec decodes them
    assert declines(data)
    assert same_decoding(data)[0] != "ok"


@pytest.mark.parametrize("data", [b"\x01\x02", b"\x90\x90", b"\x81\xa1a\x01\xc0", b"\xa1a\x00"])
def test_trailing_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(msgspec.DecodeError, match="trailing"):
        ANY.decode(data)
    assert same_decoding(data)[0] == "EncodingError"


def test_truncated_input_is_refused() -> None:
    data = reference_encode({"key": ["value" * 10, b"\x00" * 300, {"n": INT_MIN}]})
    for cut in range(len(data)):
        with pytest.raises(msgspec.DecodeError):
            ANY.decode(data[:cut])
        assert same_decoding(data[:cut])[0] == "EncodingError"


class Spy:
    """A decoder that records what it was asked to decode."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[bytes] = []

    def decode(self, data: bytes) -> Any:
        self.seen.append(data)
        return self.inner.decode(data)


def test_the_size_limit_is_checked_before_msgspec_sees_the_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(ANY)
    monkeypatch.setattr(encoding, "_DECODER", spy)
    data = reference_encode(b"x" * 1000)
    limit = len(data) - 1
    with pytest.raises(TooLarge):
        decode(data, max_size=limit)
    assert fast_decode(data, max_size=limit) == (False, None)
    typed_spy: Any = Spy(FORM)
    assert fast_decode_as(typed_spy, data, max_size=limit) is None
    assert spy.seen == typed_spy.seen == []
    assert decode(data, max_size=len(data)) == b"x" * 1000
    assert spy.seen == [data]


HOSTILE_HEADERS = [
    b"\xdd\xff\xff\xff\xff",  # array32 of 2**32 - 1 items
    b"\xdd\xff\xff\xff\xff" + b"\xc0" * 10,
    b"\xdc\xff\xff" + b"\x90" * 10,
    b"\xdf\xff\xff\xff\xff\xa1a\xc0",
    b"\xde\xff\xff\xa1a\xc0",
    b"\xdb\xff\xff\xff\xffabc",
    b"\xc6\xff\xff\xff\xffabc",
    b"\xc9\xff\xff\xff\xff\x01",
    b"\x91" * 3 + b"\xdd\x7f\xff\xff\xff" + b"\x01" * 100,
]


@pytest.mark.parametrize("data", HOSTILE_HEADERS)
def test_msgspec_sizes_no_container_from_its_length_header(data: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(msgspec.DecodeError, match="truncated"):
            ANY.decode(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert same_decoding(data)[0] == "EncodingError"


@pytest.mark.parametrize("levels", [1000, 100_000])
def test_msgspec_stops_at_the_recursion_limit_and_the_reference_explains(levels: int) -> None:
    data = b"\x91" * levels + b"\xc0"
    with pytest.raises(RecursionError):
        ANY.decode(data)
    assert declines(data)
    assert same_decoding(data)[0] in ("EncodingError", "TooLarge")


@pytest.mark.parametrize("max_depth", [0, 1, 31, 32, 33, 128, 129])
def test_depth_limits_match_the_reference(max_depth: int) -> None:
    for levels in (0, 1, 30, 31, 32, 33, 127, 128, 129):
        for data in (msgpack.packb(_deep(levels)), b"\x81\xa1a" * levels + b"\x01"):
            same_decoding(data, max_depth)


def test_invalid_utf8_and_encoded_surrogates_are_refused() -> None:
    for data in (b"\xa2\xff\xfe", b"\x81\xa2\xc3\x28\x01", b"\xa3\xed\xa0\x80"):
        with pytest.raises(msgspec.DecodeError):
            ANY.decode(data)
        assert same_decoding(data)[0] == "EncodingError"


# -- typed decoding: fast_decode_as ---------------------------------------------------------


class Form(msgspec.Struct, forbid_unknown_fields=True):
    a: int
    b: list[bytes]


FORM = msgspec.msgpack.Decoder(Form)
CANONICAL_FORM = reference_encode({"a": 5, "b": [b"x"]})


def test_typed_decoding_accepts_the_canonical_encoding() -> None:
    form = fast_decode_as(FORM, CANONICAL_FORM, max_size=100)
    assert form == Form(5, [b"x"])


@pytest.mark.parametrize(
    "data",
    [
        b"\x82\xa1b\x91\xc4\x01x\xa1a\x05",  # fields out of order
        b"\x83\xa1a\x05\xa1a\x05\xa1b\x91\xc4\x01x",  # a field twice
        b"\x82\xa1a\xcc\x05\xa1b\x91\xc4\x01x",  # a longer integer header
        b"\x82\xa1a\x05\xa1b\xdc\x00\x01\xc4\x01x",  # a longer array header
        b"\x82\xa1a\x05\xa1b\x91\xa1x",  # str for bytes
        b"\x81\xa1a\x05",  # a field missing
        b"\x83\xa1a\x05\xa1b\x90\xa1c\x01",  # a field too many
        CANONICAL_FORM + b"\xc0",
        CANONICAL_FORM[:-1],
    ],
)
def test_typed_decoding_declines_what_is_not_canonical_or_not_the_type(data: bytes) -> None:
    assert fast_decode_as(FORM, data, max_size=100) is None


def test_typed_decoding_takes_only_bytes_within_the_limit() -> None:
    assert fast_decode_as(FORM, CANONICAL_FORM, max_size=len(CANONICAL_FORM) - 1) is None
    as_bytearray: Any = bytearray(CANONICAL_FORM)
    assert fast_decode_as(FORM, as_bytearray, max_size=100) is None


# -- one answer: the two paths on every kind of input ------------------------------------------


@settings(max_examples=300)
@given(edge_values)
def test_every_value_encodes_to_the_reference_bytes(value: Any) -> None:
    expected = reference_encode(value)
    assert SORTED.encode(value) == expected
    assert encode(value) == expected
    sure, decoded = encoding._decode_fast(expected, DEFAULT_MAX_DEPTH)
    assert sure
    assert typed(decoded) == typed(reference_decode(expected))


@settings(max_examples=300)
@given(wild_values)
def test_values_outside_the_model_encode_as_the_reference_does(value: Any) -> None:
    same_encoding(value)


@settings(max_examples=500)
@given(st.binary(max_size=80))
def test_arbitrary_bytes_decode_as_the_reference_does(data: bytes) -> None:
    same_decoding(data)


@settings(max_examples=500)
@given(st.data())
def test_loosely_spelled_encodings_decode_as_the_reference_does(data: st.DataObject) -> None:
    value = data.draw(st.one_of(edge_values, wild_values))
    raw = data.draw(loose_packings(value))
    got = same_decoding(raw)
    if got[0] == "ok":
        assert reference_encode(reference_decode(raw)) == raw


@settings(max_examples=500)
@given(st.data())
def test_mutated_canonical_encodings_decode_as_the_reference_does(data: st.DataObject) -> None:
    raw = data.draw(mutations(reference_encode(data.draw(edge_values))))
    same_decoding(raw)
    if not declines(raw):
        assert reference_encode(reference_decode(raw)) == raw
