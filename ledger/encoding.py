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
error. The *fast* path (``msgspec``, 0.23 or later) answers first, and it
only ever answers with success; any doubt hands the input to the reference
path, so a refusal always carries the reference path's error and the bytes
never depend on which path made them:

* it encodes with ``Encoder(order="sorted")`` (keys compared as UTF-8 bytes,
  shortest headers, the same bytes as the reference) after a type walk that
  copies and sorts nothing: msgspec also writes floats, integers up to
  2**64 - 1, enums, bytearrays, sets, dates, dataclasses and, as map keys,
  subclasses of ``str``, all of which the model refuses, so the walk lets
  only exact model types pass;
* it decodes with msgspec and proves canonicity by encoding again: equal
  bytes mean shortest headers, keys in order and none twice, nothing after
  the value, and ``str`` keys only (the sorted encoder refuses any other).
  What equal bytes cannot show (floats, extension values, integers above
  ``INT_MAX``, nesting past the limit) a scan of the header bytes rules
  out, or else a walk of the value;
* :func:`fast_decode_as` decodes into a typed msgspec Struct, so that an
  object's field checks run in C as it is decoded (``ledger.tx``,
  ``ledger.block``), with the same proof of canonicity.

``tests/ledger/test_encoding_fast.py`` and ``test_encoding_msgspec.py``
check that both paths give the same bytes, values and errors.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import msgpack
import msgspec

from ledger.errors import EncodingError, NonCanonical, TooLarge

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

DEFAULT_MAX_SIZE: Final = 1 << 20
DEFAULT_MAX_DEPTH: Final = 32

Value = Any  # None | bool | int | str | bytes | list[Value] | dict[str, Value]
T = TypeVar("T")

# The behaviours the fast path relies on (tests/ledger/test_encoding_msgspec.py)
# were checked on msgspec 0.23.0; with an older one the reference path answers.
_FAST_MIN_VERSION: Final = (0, 23)
try:
    _FAST = tuple(int(p) for p in msgspec.__version__.split(".")[:2]) >= _FAST_MIN_VERSION
except ValueError:  # a version string we cannot read
    _FAST = False
# msgspec nests as deep as Python's recursion limit allows; the fast path stays
# far below so that it never meets that limit.
_FAST_MAX_DEPTH: Final = 128
# Both are thread-safe: each call keeps its own state.
_ENCODER: Final = msgspec.msgpack.Encoder(order="sorted")
_DECODER: Final = msgspec.msgpack.Decoder()

_LEAF_TYPES: Final = frozenset({str, bytes, bool, type(None)})
_NESTED_TYPES: Final = frozenset({dict, list, tuple})
_LONG: Final = 32  # lists longer than this are screened in C first
_NO_KEYS: Final = itertools.repeat("")

# Header bytes that start a map or an array; those of float32 and float64, of
# uint64 (the only integer header that can hold a value above INT_MAX), and of
# the extension types (msgspec decodes them to Ext objects and timestamps).
_CONTAINER_MARKERS: Final = bytes([*range(0x80, 0xA0), 0xDC, 0xDD, 0xDE, 0xDF])
_SUSPECT_MARKERS: Final = bytes([0xC7, 0xC8, 0xC9, 0xCA, 0xCB, 0xCF, *range(0xD4, 0xD9)])
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


def _in_model(value: Value, depth_left: int) -> bool:
    """Whether ``value`` is built of exactly the model's types, within the depth limit.

    Exact types only (no subclasses, no other mappings), map keys included,
    and integers in range: everything else is left to the reference path. A
    plain loop is fastest for the small maps of typical documents (a list's
    items go through it as a map's, under str keys); long lists are first
    screened in C.
    """
    kind = type(value)
    if kind is dict:
        pairs: Any = value.items()
    elif kind is list or kind is tuple:
        if len(value) > _LONG and _LEAF_TYPES.issuperset(map(type, value)):
            return depth_left > 0  # a long list of leaves, say a block's transactions
        pairs = zip(_NO_KEYS, value)  # noqa: B905 - _NO_KEYS never ends
    elif kind is int:
        return bool(INT_MIN <= value <= INT_MAX)
    else:
        return kind in _LEAF_TYPES
    if depth_left <= 0:
        return False
    depth_left -= 1
    for key, item in pairs:
        kind = type(item)
        if type(key) is not str:
            return False
        if kind in _LEAF_TYPES:
            continue
        if kind is int:
            if not INT_MIN <= item <= INT_MAX:
                return False
        elif kind not in _NESTED_TYPES or not _in_model(item, depth_left):
            return False
    return True


def _encode_fast(value: Value, max_depth: int) -> bytes | None:
    """The canonical encoding through msgspec, or None to defer to the reference."""
    if max_depth > _FAST_MAX_DEPTH or not _in_model(value, max_depth):
        return None
    try:
        return _ENCODER.encode(value)
    except Exception:  # a lone surrogate: not ours to explain
        return None


def _plainly_in_model(data: bytes, max_depth: int) -> bool:
    """Whether the bytes alone show that their value (if any) passes the model's checks.

    Every container, float, uint64 and extension value in MessagePack starts
    with its own header byte, so bytes with none of the suspect header bytes
    anywhere hold no float, no extension value and no integer above INT_MAX,
    and bytes with at most ``max_depth`` container header bytes cannot nest
    deeper than that. Bytes inside strings and binaries can only raise false
    alarms.
    """
    marks = data.translate(None, _UNREMARKABLE)
    return len(marks) <= max_depth and not marks.translate(None, _CONTAINER_MARKERS)


def _decode_fast(data: bytes, max_depth: int) -> tuple[bool, Value]:
    """``(True, value)`` when ``data`` is surely canonical, else ``(False, None)``."""
    if max_depth > _FAST_MAX_DEPTH:
        return False, None
    try:
        # msgspec refuses trailing bytes, truncated input and invalid UTF-8,
        # and sizes no container from its untrusted length header.
        value = _DECODER.decode(data)
        # Equal bytes: the input is the canonical encoding of ``value``, keys in
        # order and none twice, every header shortest. The sorted encoder
        # refuses any key that is not a str, and a decoded key is never a
        # subclass of str.
        if _ENCODER.encode(value) != data:
            return False, None
    except Exception:  # every refusal is the reference path's to explain
        return False, None
    if _plainly_in_model(data, max_depth) or _in_model(value, max_depth):
        return True, value
    return False, None


def fast_decode(
    data: bytes, *, max_size: int, max_depth: int = DEFAULT_MAX_DEPTH
) -> tuple[bool, Value]:
    """``(True, value)`` when the fast path vouches that :func:`decode` returns ``value``.

    Otherwise ``(False, None)``, and :func:`decode` has the answer: the fast
    path never refuses, it only declines. For a part of a typed value that
    :func:`fast_decode_as` left as ``msgspec.Raw``, ``max_depth`` is the
    limit less the part's own depth.
    """
    if _FAST and type(data) is bytes and 0 < len(data) <= max_size:
        return _decode_fast(data, max_depth)
    return False, None


def fast_decode_as(
    decoder: msgspec.msgpack.Decoder[T],
    data: bytes,
    *,
    max_size: int,
    loose: Callable[[T], Value] | None = None,
) -> T | None:
    """``data`` decoded by a typed msgspec decoder, when it is surely canonical; else None.

    None means only that the fast path declines: the caller then decodes
    ``data`` with :func:`decode` and checks it field by field, which explains
    any refusal. The decoder's type must be a Struct whose fields are ``str``,
    ``bytes``, ``bool``, integers bounded within the signed 64-bit range
    (``msgspec.Meta(ge=..., le=...)``), lists, tuples and Structs of these,
    ``msgspec.Raw`` (a part the caller decodes with :func:`fast_decode`), and
    at most one field (of the top Struct) holding ``Any``, which ``loose``
    returns. Equal bytes after encoding again prove the encoding canonical;
    the typed fields are of the model by their types, and the loose one is
    checked as :func:`decode` checks a value one level down. A loose field
    suits a part that is most of the bytes (a scan of them may spare a walk
    of it), ``Raw`` a small part beside large typed ones.
    """
    if not (_FAST and type(data) is bytes and 0 < len(data) <= max_size):
        return None
    try:
        value = decoder.decode(data)
        if _ENCODER.encode(value) != data:
            return None
    except Exception:  # a field check, or bytes that are not MessagePack: the caller explains
        return None
    if loose is None or _plainly_in_model(data, DEFAULT_MAX_DEPTH):
        return value
    return value if _in_model(loose(value), DEFAULT_MAX_DEPTH - 1) else None


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
    sure, value = fast_decode(data, max_size=max_size, max_depth=max_depth)
    if sure:
        return value
    return _decode_reference(data, max_size, max_depth)


def digest(value: Value) -> bytes:
    """SHA-256 of the canonical encoding of ``value``."""
    return sha256(encode(value))
