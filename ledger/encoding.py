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

Two implementations, one answer. The *reference* path (``msgpack`` plus a
Python walk that copies maps in sorted order) defines every result and every
error. When ``ormsgpack`` (1.13.1 or later) is installed, a *fast* path
answers first, and it only ever answers with success: it packs with
``OPT_SORT_KEYS`` (keys compared as UTF-8 bytes, shortest headers, the same
bytes as the reference) after a type walk that copies and sorts nothing, and
it decodes with ``ormsgpack`` and proves canonicity by packing again. Any
doubt (a type outside the model, a float or integer marker, nesting near the
limit, any ``ormsgpack`` error) hands the input to the reference path, so a
refusal always carries the reference path's error, and the bytes never
depend on which library is installed (``tests/ledger/test_encoding_fast.py``
checks both claims).
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

# ormsgpack before 1.13.1 sized a list from its untrusted length header before
# reading any item (an array32 header asks for 32 GiB); later versions cap it.
_FAST_MIN_VERSION: Final = (1, 13, 1)
# Both libraries stop near 1024 levels, at slightly different places; the fast
# path stays far below so that it never meets either limit.
_FAST_MAX_DEPTH: Final = 128

try:
    import ormsgpack

    _FAST = tuple(int(p) for p in ormsgpack.__version__.split(".")[:3]) >= _FAST_MIN_VERSION
    _SORT_KEYS: Final = ormsgpack.OPT_SORT_KEYS
except (ImportError, ValueError):  # absent, or a version string we cannot read
    _FAST = False

_LEAF_TYPES: Final = frozenset({str, bytes, bool, type(None)})
_NESTED_TYPES: Final = frozenset({dict, list, tuple})
_LONG: Final = 32  # containers longer than this are screened with set(map(type, ...))

# Header bytes that start a map or an array, and those of float32, float64 and
# uint64 (the only integer header that can hold a value above INT_MAX).
_CONTAINER_MARKERS: Final = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])
_SUSPECT_MARKERS: Final = bytes([0xCA, 0xCB, 0xCF])
_UNREMARKABLE: Final = bytes(
    b for b in range(256) if b not in _CONTAINER_MARKERS and b not in _SUSPECT_MARKERS
)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


# -- reference path: defines every result and every error ---------------------


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
        keys = list(value)
        for key in keys:
            if type(key) is not str:
                raise EncodingError(f"map key {key!r} is not a string")
        return {key: _canon(value[key], depth + 1, max_depth) for key in sorted(keys)}
    if kind is list or kind is tuple:
        return [_canon(item, depth + 1, max_depth) for item in value]
    if kind is float:
        raise EncodingError("floats are not allowed: use an integer or a decimal string")
    raise EncodingError(f"type {kind.__name__} cannot be encoded")


def _encode_reference(value: Value, max_depth: int) -> bytes:
    """The canonical encoding of ``value`` through msgpack and a sorting copy."""
    canonical = _canon(value, 0, max_depth)
    try:
        return msgpack.packb(canonical, use_bin_type=True)  # type: ignore[no-any-return]
    except UnicodeEncodeError as e:
        raise EncodingError("a string is not valid Unicode (lone surrogate)") from e


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


def _decode_reference(data: bytes, max_size: int, max_depth: int) -> Value:
    """Decode exactly one canonical value from ``data`` with msgpack, or raise."""
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
        raise EncodingError(f"malformed MessagePack: {str(e) or type(e).__name__}") from e
    _check(value, 0, max_depth)
    if msgpack.packb(value, use_bin_type=True) != bytes(data):
        raise NonCanonical("not the canonical encoding of its value")
    return value


# -- fast path: answers only when it is sure -----------------------------------


def _in_model(value: Value, depth_left: int, check_ints: bool) -> bool:
    """Whether ``value`` is built of exactly the model's types, within the depth limit.

    Exact types only (no subclasses, no other mappings): everything else is
    left to the reference path. Integers are range-checked only when
    ``check_ints`` is set. A plain loop is fastest for the small maps of
    typical documents; long containers are first screened in C.
    """
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
    elif kind is int:
        return not check_ints or bool(INT_MIN <= value <= INT_MAX)
    else:
        return kind in _LEAF_TYPES
    if depth_left <= 0:
        return False
    if len(items) > _LONG and set(map(type, items)) <= _LEAF_TYPES:
        return True
    depth_left -= 1
    for item in items:
        kind = type(item)
        if kind in _LEAF_TYPES:
            continue
        if kind is int:
            if check_ints and not INT_MIN <= item <= INT_MAX:
                return False
        elif kind not in _NESTED_TYPES or not _in_model(item, depth_left, check_ints):
            return False
    return True


def _encode_fast(value: Value, max_depth: int) -> bytes | None:
    """The canonical encoding through ormsgpack, or None to defer to the reference."""
    if max_depth > _FAST_MAX_DEPTH or not _in_model(value, max_depth, False):
        return None
    try:
        data = ormsgpack.packb(value, option=_SORT_KEYS)
    except Exception:  # a non-str key, a lone surrogate, an int past 64 bits: not ours to explain
        return None
    # ormsgpack writes integers from INT_MIN up to 2**64 - 1; those above
    # INT_MAX need the uint64 header, so without that byte anywhere all fit.
    if b"\xcf" in data and not _in_model(value, max_depth, True):
        return None
    return data


def _plainly_in_model(data: bytes, max_depth: int) -> bool:
    """Whether the bytes alone show that their value (if any) passes the model's checks.

    Every container, float and uint64 in a MessagePack value starts with its
    own header byte, so bytes with no float or uint64 header byte anywhere
    hold no float and no integer above INT_MAX, and bytes with at most
    ``max_depth`` container header bytes cannot nest deeper than that. Bytes
    inside strings and binaries can only raise false alarms.
    """
    marks = data.translate(None, _UNREMARKABLE)
    return len(marks) <= max_depth and not marks.translate(None, _CONTAINER_MARKERS)


def _decode_fast(data: bytes, max_depth: int) -> tuple[bool, Value]:
    """``(True, value)`` when ``data`` is surely canonical, else ``(False, None)``."""
    if max_depth > _FAST_MAX_DEPTH:
        return False, None
    try:
        # Maps come back with str keys only, and there are no ext values
        # (without a hook, ormsgpack refuses them). Trailing bytes are
        # ignored here and caught by the comparison below.
        value = ormsgpack.unpackb(data)
    except Exception:  # every refusal is the reference path's to explain
        return False, None
    if not (_plainly_in_model(data, max_depth) or _in_model(value, max_depth, True)):
        return False, None
    try:
        again = ormsgpack.packb(value, option=_SORT_KEYS)
    except Exception:
        return False, None
    # Equal bytes: the input is the canonical encoding of ``value``, keys in
    # order and none twice, every header shortest, nothing after the value.
    return again == data, value


# -- public API ----------------------------------------------------------------


def encode(value: Value, *, max_depth: int = DEFAULT_MAX_DEPTH) -> bytes:
    """The canonical encoding of ``value``."""
    if _FAST:
        data = _encode_fast(value, max_depth)
        if data is not None:
            return data
    return _encode_reference(value, max_depth)


def decode(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Value:
    """Decode exactly one canonical value from ``data``, or raise."""
    if _FAST and type(data) is bytes and 0 < len(data) <= max_size:
        sure, value = _decode_fast(data, max_depth)
        if sure:
            return value
    return _decode_reference(data, max_size, max_depth)


def digest(value: Value) -> bytes:
    """SHA-256 of the canonical encoding of ``value``."""
    return sha256(encode(value))
