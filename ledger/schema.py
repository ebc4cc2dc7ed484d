"""Field readers for decoding canonical values into typed objects.

Each reader takes the decoded map and a field name and returns the field
checked for type and bounds, or raises :class:`SchemaError` naming the field.
Decoders in ``tx``, ``block`` and ``genesis`` are built from these, so every
object is validated the same way on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.encoding import INT_MAX
from ledger.errors import SchemaError


def as_map(value: Any, what: str, keys: frozenset[str] | None = None) -> Mapping[str, Any]:
    """``value`` as a map; when ``keys`` is given, exactly those keys."""
    if type(value) is not dict:
        raise SchemaError(f"{what} must be a map", field=what)
    if keys is not None and value.keys() != keys:
        missing = sorted(keys - value.keys())
        extra = sorted(value.keys() - keys)
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"unexpected {', '.join(extra)}")
        raise SchemaError(f"{what}: {'; '.join(detail)}", field=what)
    return value


def get_int(m: Mapping[str, Any], key: str, *, lo: int = 0, hi: int = INT_MAX) -> int:
    """An integer field within ``[lo, hi]``."""
    value = m.get(key)
    if type(value) is not int or not lo <= value <= hi:
        raise SchemaError(f"must be an integer in [{lo}, {hi}]", field=key)
    return value


def get_str(m: Mapping[str, Any], key: str, *, max_len: int = 256, min_len: int = 1) -> str:
    """A string field with a length (in characters) within bounds."""
    value = m.get(key)
    if type(value) is not str or not min_len <= len(value) <= max_len:
        raise SchemaError(f"must be a string of {min_len} to {max_len} characters", field=key)
    return value


def get_bytes(
    m: Mapping[str, Any], key: str, *, size: int | None = None, max_len: int = 64
) -> bytes:
    """A bytes field of an exact size, or at most ``max_len`` bytes."""
    value = m.get(key)
    if type(value) is not bytes:
        raise SchemaError("must be bytes", field=key)
    if size is not None and len(value) != size:
        raise SchemaError(f"must be exactly {size} bytes", field=key)
    if size is None and len(value) > max_len:
        raise SchemaError(f"must be at most {max_len} bytes", field=key)
    return value


def get_hash(m: Mapping[str, Any], key: str) -> bytes:
    """A 32-byte SHA-256 digest field."""
    return get_bytes(m, key, size=32)


def get_list(m: Mapping[str, Any], key: str, *, max_len: int) -> list[Any]:
    """A list field with at most ``max_len`` items."""
    value = m.get(key)
    if type(value) is not list:
        raise SchemaError("must be a list", field=key)
    if len(value) > max_len:
        raise SchemaError(f"must have at most {max_len} items", field=key)
    return value
