"""The ormsgpack fast path: the same bytes, values and errors as the msgpack reference.

``ledger.encoding`` answers from ormsgpack only when it is sure and defers
everything else to the reference path, so two things must hold: for every
value of the model ormsgpack writes exactly the reference bytes, and on every
input, valid or hostile, ``encode``/``decode`` give exactly what the
reference gives (same bytes or value, or same error class and message).
Hostile inputs also run in a child process with a 1 GiB address-space limit,
so a crash or a multi-gigabyte allocation fails the test instead of the
machine.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import resource
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import encoding
from ledger.encoding import DEFAULT_MAX_DEPTH, INT_MAX, INT_MIN, decode, encode
from ledger.errors import EncodingError
from tests.strategies import values

ormsgpack = pytest.importorskip("ormsgpack", minversion="1.13.1")
pytestmark = pytest.mark.skipif(
    not encoding._FAST, reason="ormsgpack older than the audited 1.13.1: fast path off"
)

ROOT = Path(__file__).resolve().parents[2]
SORT = ormsgpack.OPT_SORT_KEYS


def reference_encode(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    return encoding._encode_reference(value, max_depth)


def reference_decode(data: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    return encoding._decode_reference(data, encoding.DEFAULT_MAX_SIZE, max_depth)


def outcome(f: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """What ``f`` returns, or the class and message of what it raises."""
    try:
        return "ok", f(*args, **kwargs)
    except Exception as e:
        return type(e).__name__, str(e)


# -- every value of the model: one byte string ----------------------------------------------

BOUNDARY_INTS = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, INT_MAX]
BOUNDARY_INTS += [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, INT_MIN]
boundary_ints = st.sampled_from(BOUNDARY_INTS)
# Text with keys that order differently by UTF-16 units than by code points.
tricky_text = st.text(
    alphabet=st.sampled_from(["a", "z", "é", "\u07ff", "\u0800", "\ue000", "\uffff", "😀", "\x00"]),
    max_size=6,
)
model_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(INT_MIN, INT_MAX),
        boundary_ints,
        st.text(max_size=40),
        tricky_text,
        st.binary(max_size=40),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=12), tricky_text), children, max_size=6),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(model_values)
def test_ormsgpack_sorted_packing_equals_reference_bytes(value: Any) -> None:
    expected = reference_encode(value)
    assert ormsgpack.packb(value, option=SORT) == expected
    assert encode(value) == expected
    assert reference_decode(expected) == decode(expected)
    sure, decoded = encoding._decode_fast(expected, DEFAULT_MAX_DEPTH)
    assert sure
    assert decoded == reference_decode(expected)


@settings(max_examples=100, deadline=None)
@given(values)
def test_shared_strategy_values_agree(value: Any) -> None:
    assert encode(value) == reference_encode(value)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000])
def test_length_header_boundaries(n: int) -> None:
    cases: list[Any] = ["x" * n, "é" * (n // 2), b"\x00" * n, [None] * n]
    if n <= 65536:
        cases.append({f"{i:06d}": i for i in range(n)})
    for value in cases:
        expected = reference_encode(value)
        assert encode(value) == expected
        assert decode(expected) == reference_decode(expected)


def test_keys_sort_by_utf8_bytes_not_utf16_units() -> None:
    # U+E000 sorts after U+1F600 in UTF-16 code units, before it in UTF-8 bytes.
    value = {"😀": 1, "\ue000": 2, "\uffff": 3, "z": 4, "": 5}
    data = encode(value)
    assert data == reference_encode(value)
    assert list(decode(data)) == sorted(value, key=lambda k: k.encode())


# -- encode: anything outside the model gets the reference answer ----------------------------


class Colour(enum.Enum):
    RED = 1


class Code(enum.StrEnum):
    A = "a"


class Level(enum.IntEnum):
    ONE = 1


class MyStr(str):
    pass


class MyList(list[Any]):
    pass


@dataclasses.dataclass
class Point:
    x: int


def _deep(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


OUTSIDE_MODEL: list[Any] = [
    1.5,
    float("nan"),
    {"a": [0.0]},
    INT_MAX + 1,
    2**64 - 1,
    2**64,
    INT_MIN - 1,
    [1, 2**63],
    {"n": 2**64 - 1},
    bytearray(b"ab"),
    memoryview(b"ab"),
    {"k": bytearray(b"x")},
    ormsgpack.Ext(1, b"x"),
    ormsgpack.Fragment(b"\xc0"),
    [ormsgpack.Fragment(b"\x82\xa1b\x01\xa1a\x02")],
    Colour.RED,
    Code.A,
    Level.ONE,
    MyStr("s"),
    {"a": MyStr("s")},
    MyList([1]),
    {MyStr("k"): 1},
    collections.OrderedDict([("b", 1), ("a", 2)]),
    types.MappingProxyType({"b": 1, "a": 2}),
    {"a": types.MappingProxyType({"y": 1, "x": 2})},
    datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC),
    datetime.date(2026, 11, 23),
    uuid.UUID(int=7),
    Point(1),
    {1: "a"},
    {b"k": 1},
    {None: 1},
    {"a": 1, 2: "b"},
    {1, 2},
    object(),
    "\ud800",
    {"\udfff": 1},
    _deep(DEFAULT_MAX_DEPTH),
    _deep(DEFAULT_MAX_DEPTH + 1),
    _deep(200),
]


@pytest.mark.parametrize("value", OUTSIDE_MODEL, ids=lambda v: type(v).__name__)
def test_encode_outside_model_matches_reference(value: Any) -> None:
    assert outcome(encode, value) == outcome(reference_encode, value)


@pytest.mark.parametrize("max_depth", [0, 1, 2, 3, 127, 128, 129, 500])
def test_encode_depth_limits_match_reference(max_depth: int) -> None:
    for levels in (0, 1, 2, 3, 127, 128, 129):
        value = _deep(levels)
        assert outcome(encode, value, max_depth=max_depth) == outcome(
            reference_encode, value, max_depth
        )


# -- decode: hostile bytes -------------------------------------------------------------------


def _hostile_inputs() -> list[bytes]:
    wire = reference_encode(
        {"env": reference_encode({"body": {"x": "y" * 40}, "nonce": 7}), "sigs": [[b"k" * 32]]}
    )
    cases = [
        # Length headers far beyond the input.
        b"\xdd\xff\xff\xff\xff",
        b"\xdd\xff\xff\xff\xff\xc0\xc0\xc0",
        b"\xdf\xff\xff\xff\xff\xa1a\xc0",
        b"\xdb\xff\xff\xff\xffabc",
        b"\xc6\xff\xff\xff\xffabc",
        b"\xc9\xff\xff\xff\xff\x01",
        b"\xdc\xff\xff" + b"\xc0" * 10,
        b"\xde\xff\xff\xa1a\xc0",
        b"\x91" * 3 + b"\xdd\x7f\xff\xff\xff" + b"\x01" * 100,
        # Deep nesting.
        b"\x91" * 100_000 + b"\xc0",
        b"\x81\xa1a" * 100_000 + b"\xc0",
        b"\xdc\x00\x01" * 100_000 + b"\xc0",
        b"\x91" * 1023 + b"\xc0",
        b"\x91" * 1024 + b"\xc0",
        b"\x91" * (DEFAULT_MAX_DEPTH + 1) + b"\xc0",
        # Invalid UTF-8, in a value and in a key.
        b"\xa2\xff\xfe",
        b"\x81\xa2\xc3\x28\x01",
        b"\xa3\xed\xa0\x80",  # an encoded surrogate
        # Ext and timestamp types.
        b"\xd4\x01\x00",
        b"\xd5\x01\x00\x00",
        b"\xd6\xff\x00\x00\x00\x00",
        b"\xd7\xff" + b"\x00" * 8,
        b"\xd8\x01" + b"\x00" * 16,
        b"\xc7\x0c\xff" + b"\x00" * 12,
        b"\xc8\x00\x01\x01\x00",
        b"\xc9\x00\x00\x00\x01\x01\x00",
        b"\x91\xd4\x01\x00",
        # Integers: above int64, and not in their shortest form.
        b"\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
        b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x81\xa1n\xcf\x80\x00\x00\x00\x00\x00\x00\x00",
        b"\x92\x01\xcf\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\xcf\x00\x00\x00\x00\x00\x00\x00\x05",
        b"\xcd\x00\x05",
        b"\xd3\x00\x00\x00\x00\x00\x00\x00\x01",
        b"\xd3\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\xd0\x05",
        # Floats.
        b"\xca\x3f\xc0\x00\x00",
        b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00",
        b"\x81\xa1a\xcb\x00\x00\x00\x00\x00\x00\x00\x00",
        b"\x91\xca\x7f\xc0\x00\x00",
        # Maps: duplicate, unsorted and non-string keys.
        b"\x82\xa1a\x01\xa1a\x02",
        b"\x82\xa1a\x01\xa1a\x01",
        b"\x82\xa1b\x01\xa1a\x02",
        b"\x81\x01\x02",
        b"\x81\xc4\x01k\x01",
        b"\x81\xc0\x01",
        b"\x81\x91\x01\x02",
        # Other non-canonical headers.
        b"\xd9\x01a",
        b"\xda\x00\x01a",
        b"\xc5\x00\x01a",
        b"\xdc\x00\x01\x01",
        b"\xde\x00\x01\xa1a\x01",
        # Reserved byte, trailing bytes, an empty container with junk after it.
        b"\xc1",
        b"\x01\x02",
        b"\x90\x90",
        reference_encode({"a": 1}) + b"\x00",
        wire + b"\xc0",
    ]
    cases += [wire[:cut] for cut in range(1, len(wire))]
    return cases


HOSTILE = _hostile_inputs()


def test_every_hostile_input_is_refused_like_the_reference() -> None:
    for data in HOSTILE:
        got = outcome(decode, data)
        assert got == outcome(reference_decode, data), data[:40]
        assert got[0] != "ok", data[:40]
        with pytest.raises(EncodingError):
            decode(data)
        sure, _ = encoding._decode_fast(data, DEFAULT_MAX_DEPTH)
        assert not sure, data[:40]


_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from ledger.encoding import decode
from ledger.errors import EncodingError
refused = 0
for line in sys.stdin:
    try:
        decode(bytes.fromhex(line.strip()))
    except EncodingError:
        refused += 1
print(refused, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_AS"), reason="needs RLIMIT_AS")
def test_hostile_inputs_neither_crash_nor_allocate_gigabytes() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input="\n".join(data.hex() for data in HOSTILE),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    refused, max_rss_kib = (int(x) for x in proc.stdout.split())
    assert refused == len(HOSTILE)
    assert max_rss_kib < 512 * 1024


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_decode_like_the_reference(data: bytes) -> None:
    assert outcome(decode, data) == outcome(reference_decode, data)


@settings(max_examples=200, deadline=None)
@given(model_values, st.data())
def test_mutated_encodings_decode_like_the_reference(value: Any, data: st.DataObject) -> None:
    raw = bytearray(reference_encode(value))
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    mutated = bytes(raw)
    assert outcome(decode, mutated) == outcome(reference_decode, mutated)


@pytest.mark.parametrize("max_depth", [0, 1, 2, 31, 32, 33, 128, 129])
def test_decode_depth_limits_match_reference(max_depth: int) -> None:
    for levels in (0, 1, 2, 31, 32, 33, 128, 129):
        for data in (msgpack.packb(_deep(levels)), b"\x81\xa1a" * levels + b"\x01"):
            assert outcome(decode, data, max_depth=max_depth) == outcome(
                reference_decode, data, max_depth
            )


def test_non_bytes_inputs_take_the_reference_path() -> None:
    data = reference_encode({"a": [1, b"x"]})
    forms: list[Any] = [bytearray(data), memoryview(data)]
    for form in forms:
        assert decode(form) == reference_decode(data)
    assert outcome(decode, bytearray(b"\xc1")) == outcome(reference_decode, b"\xc1")
    assert outcome(decode, "text") == outcome(reference_decode, "text")
