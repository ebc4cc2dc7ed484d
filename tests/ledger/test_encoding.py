"""Canonical encoding: one value, one byte string; everything else refused."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.encoding import INT_MAX, INT_MIN, decode, digest, encode
from ledger.errors import EncodingError, NonCanonical, TooLarge
from tests.strategies import values


@given(values)
def test_round_trip_is_identity(value: Any) -> None:
    data = encode(value)
    assert decode(data) == value
    assert encode(decode(data)) == data


@given(st.dictionaries(st.text(max_size=8), st.integers(0, 5), min_size=2, max_size=8))
def test_key_order_does_not_change_bytes(m: dict[str, int]) -> None:
    reversed_map = dict(reversed(list(m.items())))
    assert encode(m) == encode(reversed_map)
    assert digest(m) == digest(reversed_map)


@given(st.binary(max_size=200))
def test_decoder_never_raises_foreign_errors(data: bytes) -> None:
    try:
        value = decode(data)
    except EncodingError:
        return
    assert encode(value) == data


@given(values, st.data())
def test_any_mutation_is_refused_or_canonical(value: Any, data: st.DataObject) -> None:
    raw = bytearray(encode(value))
    i = data.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= data.draw(st.integers(1, 255))
    try:
        decoded = decode(bytes(raw))
    except EncodingError:
        return
    assert encode(decoded) == bytes(raw)


def test_unsorted_keys_refused() -> None:
    data = msgpack.packb({"b": 1, "a": 2})
    with pytest.raises(NonCanonical):
        decode(data)


def test_duplicate_keys_refused() -> None:
    # map of 2 entries, both with key "a"
    data = b"\x82\xa1a\x01\xa1a\x02"
    with pytest.raises(NonCanonical):
        decode(data)


def test_non_minimal_integer_refused() -> None:
    data = b"\xcd\x00\x05"  # uint16 holding 5, which fits a positive fixint
    with pytest.raises(NonCanonical):
        decode(data)


def test_str8_for_short_string_refused() -> None:
    data = b"\xd9\x01a"  # str8 of length 1, canonical form is fixstr
    with pytest.raises(NonCanonical):
        decode(data)


@pytest.mark.parametrize("value", [1.5, {"a": 0.0}, [float("nan")]])
def test_floats_refused_both_ways(value: Any) -> None:
    with pytest.raises(EncodingError):
        encode(value)
    with pytest.raises(EncodingError):
        decode(msgpack.packb(value))


@pytest.mark.parametrize("n", [INT_MAX + 1, INT_MIN - 1, 2**64 - 1])
def test_integers_outside_int64_refused(n: int) -> None:
    with pytest.raises(EncodingError):
        encode(n)
    if 0 <= n <= 2**64 - 1:
        with pytest.raises(EncodingError):
            decode(msgpack.packb(n))


def test_int64_bounds_accepted() -> None:
    for n in (INT_MIN, INT_MAX, 0, -1):
        assert decode(encode(n)) == n


def test_non_string_keys_refused() -> None:
    with pytest.raises(EncodingError):
        encode({1: "a"})
    with pytest.raises(EncodingError):
        decode(msgpack.packb({1: "a"}))
    with pytest.raises(EncodingError):
        decode(msgpack.packb({b"k": "a"}, use_bin_type=True))


def test_trailing_bytes_refused() -> None:
    with pytest.raises(EncodingError, match="trailing"):
        decode(encode(1) + b"\x00")


def test_truncated_refused() -> None:
    data = encode({"key": "value" * 10})
    for cut in range(len(data)):
        with pytest.raises(EncodingError):
            decode(data[:cut])


def test_size_limit() -> None:
    data = encode(b"x" * 1000)
    with pytest.raises(TooLarge):
        decode(data, max_size=999)


def test_depth_limit() -> None:
    deep: Any = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(TooLarge):
        encode(deep)
    with pytest.raises(TooLarge):
        decode(msgpack.packb(deep), max_depth=32)


def test_hostile_lengths_do_not_allocate() -> None:
    # array32 header claiming 2**32-1 items in a 5-byte input
    with pytest.raises(EncodingError):
        decode(b"\xdd\xff\xff\xff\xff")
    with pytest.raises(EncodingError):
        decode(b"\xdf\xff\xff\xff\xff")
    with pytest.raises(EncodingError):
        decode(b"\xdb\xff\xff\xff\xff")


def test_very_deep_input_is_an_error_not_a_crash() -> None:
    with pytest.raises(EncodingError):
        decode(b"\x91" * 100_000 + b"\xc0", max_size=1 << 20)


def test_ext_and_timestamp_types_refused() -> None:
    with pytest.raises(EncodingError):
        decode(b"\xd4\x01\x00")  # fixext1
    with pytest.raises(EncodingError):
        decode(b"\xd6\xff\x00\x00\x00\x00")  # timestamp32


def test_invalid_utf8_refused() -> None:
    with pytest.raises(EncodingError):
        decode(b"\xa2\xff\xfe")


def test_bytes_and_str_are_distinct() -> None:
    assert encode("a") != encode(b"a")
    assert decode(encode(b"a")) == b"a"


def test_tuples_encode_as_lists() -> None:
    assert encode((1, 2)) == encode([1, 2])


def test_mixed_key_types_are_an_encoding_error_not_a_type_error() -> None:
    with pytest.raises(EncodingError, match="not a string"):
        encode({1: "a", "b": 2})
    with pytest.raises(EncodingError, match="not a string"):
        encode({None: 1, "b": 2})


def test_lone_surrogate_is_an_encoding_error() -> None:
    with pytest.raises(EncodingError, match="Unicode"):
        encode("\ud800")
    with pytest.raises(EncodingError, match="Unicode"):
        encode({"\ud800": 1})


def test_reserved_type_byte_gets_a_reason() -> None:
    with pytest.raises(EncodingError, match=r"malformed MessagePack: \S"):
        decode(b"\xc1")
