"""Canonical MessagePack: one value, one byte string, one hash.

The value model is deliberately small: ``None``, ``bool``, integers in the
signed 64-bit range, ``str`` (UTF-8), ``bytes``, lists (tuples encode as
lists) and maps with ``str`` keys. Floats are refused everywhere: quantities
are integers in stated units or decimal strings.

Canonical form:

* maps are written with keys sorted by their UTF-8 bytes (for ``str`` this is
  the same as code-point order), and no key twice;
* every integer, string, binary, array and map uses the shortest header
  MessagePack allows (msgpack's own packer does this);
* ``str`` and ``bytes`` are distinct types (str8 and bin families).

``decode`` enforces a total size limit, per-container length limits, a
nesting-depth limit, and then re-encodes the value and compares the bytes:
anything that is not exactly the canonical encoding of the value it decodes
to is refused with :class:`NonCanonical`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import msgpack

from ledger.errors import EncodingError, NonCanonical, TooLarge

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

DEFAULT_MAX_SIZE: Final = 1 << 20
DEFAULT_MAX_DEPTH: Final = 32

Value = Any  # None | bool | int | str | bytes | list[Value] | dict[str, Value]


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def _canon(value: Value, depth: int, max_depth: int) -> Value:
    """A copy of ``value`` with maps in canonical key order, checking every type."""
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return value
    if kind is int:
        if INT_MIN <= value <= INT_MAX:
            return value
        raise EncodingError(f"integer {value} outside the signed 64-bit range")
    if depth >= max_depth:
        raise TooLarge(f"nesting deeper than {max_depth}")
    if kind is dict or isinstance(value, Mapping):
        out = {}
        for key in sorted(value):
            if type(key) is not str:
                raise EncodingError(f"map key {key!r} is not a string")
            out[key] = _canon(value[key], depth + 1, max_depth)
        return out
    if kind is list or kind is tuple:
        return [_canon(item, depth + 1, max_depth) for item in value]
    if kind is float:
        raise EncodingError("floats are not allowed: use an integer or a decimal string")
    raise EncodingError(f"type {kind.__name__} cannot be encoded")


def encode(value: Value, *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """The canonical encoding of ``value``."""
    canonical = _canon(value, 0, max_depth)
    return msgpack.packb(canonical, use_bin_type=True)  # type: ignore[no-any-return]


def _check(value: Value, depth: int, max_depth: int) -> None:
    """Check a freshly decoded value: types, integer range, key order, depth."""
    kind = type(value)
    if kind is dict:
        if depth >= max_depth:
            raise TooLarge(f"nesting deeper than {max_depth}")
        previous = None
        for key, item in value.items():
            if type(key) is not str:
                raise NonCanonical(f"map key {key!r} is not a string")
            if previous is not None and key <= previous:
                raise NonCanonical(f"map keys out of canonical order at {key!r}")
            previous = key
            _check(item, depth + 1, max_depth)
    elif kind is list:
        if depth >= max_depth:
            raise TooLarge(f"nesting deeper than {max_depth}")
        for item in value:
            _check(item, depth + 1, max_depth)
    elif kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise EncodingError(f"integer {value} outside the signed 64-bit range")
    elif kind is float:
        raise EncodingError("floats are not allowed")
    elif not (kind is str or kind is bytes or kind is bool or value is None):
        raise EncodingError(f"type {kind.__name__} is not allowed")


def decode(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Value:
    """Decode exactly one canonical value from ``data``, or raise."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size > max_size:
        raise TooLarge(f"{size} bytes is over the limit of {max_size}")
    if size == 0:
        raise EncodingError("empty input")
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=False,
            max_str_len=size,
            max_bin_len=size,
            max_array_len=size,
            max_map_len=size // 2,
            max_ext_len=0,
        )
    except msgpack.ExtraData as e:
        raise EncodingError("trailing bytes after the value") from e
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as e:
        # Truncated input, invalid UTF-8, unknown or forbidden type bytes, or
        # nesting beyond msgpack's own stack all land here.
        raise EncodingError(f"malformed MessagePack: {e}") from e
    _check(value, 0, max_depth)
    if msgpack.packb(value, use_bin_type=True) != bytes(data):
        raise NonCanonical("not the canonical encoding of its value")
    return value


def digest(value: Value) -> bytes:
    """SHA-256 of the canonical encoding of ``value``."""
    return sha256(encode(value))
