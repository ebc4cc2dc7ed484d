"""A schema-driven reader of decoded JSON that collects every violation.

A :class:`Schema` maps each allowed key of an object to the attribute it
fills and a :class:`Field`. :meth:`Reader.fields` walks only the keys present
(unknown keys are reported by name, duplicates too), reads each field, then
reports the required keys that are absent. An optional key whose value is
JSON null is read as absent; a required one is refused as of the wrong type.
A field's ``read`` returns the checked value, or records a
:class:`Violation` and returns None; an object with any violation yields no
record, so a placeholder never escapes.

Speed matters (every node validates every declaration): a field may carry
``kind``, the exact type a good value has, and ``fast``, a C-level predicate
(a compiled pattern's ``fullmatch``, a set's or range's ``__contains__``)
that accepts a good value of that type without a Python call; ``read`` runs
only when they do not, and paths are built only for violations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from contracts import formats as f
from contracts.declaration import Quantity
from contracts.errors import Violation

FieldReader = Callable[["Reader", Any, str, str], Any]
"""``(reader, value, object_path, key) -> checked value or None``."""
Predicate = Callable[[Any], object]

FIELD_PARAGRAPHS: Final[dict[str, str]] = {
    # IMDG paragraphs that make a field part of the transport information.
    "UNNumber": "5.4.1.4.1.1",
    "properShippingName": "5.4.1.4.1.2",
    "imoClass": "5.4.1.4.1.3",
    "subsidiaryRisk1": "5.4.1.4.1.4",
    "subsidiaryRisk2": "5.4.1.4.1.4",
    "packingGroup": "5.4.1.4.1.5",
    "numberOfPackages": "5.4.1.5.1",
    "grossWeight": "5.4.1.5.1",
    "shipper": "5.4.1.2",
    "consignee": "5.4.1.2",
}


class Pairs(list[tuple[str, Any]]):
    """A JSON object as decoded: its key-value pairs in order, duplicates kept.

    The decoder builds objects as ``Pairs`` (a C-level constructor, cheaper
    than a Python hook) so that the reader sees and reports duplicate keys.
    """

    __slots__ = ()


_JSON_TYPES: Final = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "an object",
    Pairs: "an object",
    list: "an array",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


@dataclass(frozen=True, slots=True)
class Field:
    """How to read one field.

    A value of exactly type ``kind`` that ``fast`` accepts (or any value of
    that type when ``fast`` is None) is taken as it is; every other value goes
    through ``read``, which checks it fully. ``kind`` None means always ``read``.
    """

    read: FieldReader
    kind: type | None = None
    fast: Predicate | None = None


Spec = tuple[str, type | None, Predicate | None, FieldReader]


@dataclass(frozen=True, slots=True)
class Schema:
    """The keys an object may have, key -> (attribute, kind, fast, read), and those required."""

    fields: Mapping[str, Spec]
    required: frozenset[str]
    required_attributes: frozenset[str]
    paragraphs: Mapping[str, str]
    """The IMDG paragraph that makes a key required, where it is not the key's own
    (:data:`FIELD_PARAGRAPHS`): a certificate's date is 5.4.1.6.1 or 5.4.2.1."""

    @classmethod
    def of(
        cls,
        fields: Mapping[str, tuple[str, Field]],
        *required: str,
        paragraphs: Mapping[str, str] | None = None,
    ) -> Schema:
        """A schema of ``key: (attribute, field)`` whose ``required`` keys must be present."""
        return cls(
            {key: (attr, f.kind, f.fast, f.read) for key, (attr, f) in fields.items()},
            frozenset(required),
            frozenset(fields[k][0] for k in required),
            {**FIELD_PARAGRAPHS, **(paragraphs or {})},
        )


class Reader:
    """Reads decoded JSON against schemas, recording every violation in ``out``."""

    __slots__ = ("kept", "last", "out")

    def __init__(self) -> None:
        self.out: list[Violation] = []
        self.last: dict[str, Any] | None = None
        """The values that read of the last object :meth:`fields` refused."""
        self.kept: list[Any] = []
        """What a schema's readers keep for the checks after reading (the items, read or not)."""

    def add(self, code: str, path: str, message: str, paragraph: str | None = None) -> None:
        """Record a violation."""
        self.out.append(Violation(code, path, message, paragraph))

    def wrong_type(self, value: Any, path: str, key: str, wanted: str) -> None:
        """Record a value of the wrong JSON type."""
        self.add(
            "field.type",
            f"{path}.{key}",
            f"{key} must be {wanted}, not {_kind(value)}",
            FIELD_PARAGRAPHS.get(key),
        )

    def fields(self, value: Any, path: str, schema: Schema) -> dict[str, Any] | None:
        """Attribute -> checked value for the keys present; None if anything was wrong.

        Nested objects are read (and their violations recorded) either way. The
        values of the keys that did read stay in :attr:`last` until the next
        object is read, for a caller that must judge what it can of a flawed
        object (the rules that need the list); None if ``value`` is no object.
        """
        self.last = None
        kind = type(value)
        if kind is Pairs:
            pairs: Iterable[tuple[Any, Any]] = value
        elif kind is dict or isinstance(value, Mapping):
            pairs = value.items()
        else:
            self.add("field.type", path, f"must be an object, not {_kind(value)}")
            return None
        start = len(self.out)
        specs = schema.fields
        out: dict[str, Any] = {}
        nulls: set[str] | None = None  # optional keys given as null: read as absent
        for key, item in pairs:
            spec = specs.get(key)
            if spec is None:
                name = key if type(key) is str else repr(key)
                self.add(
                    "field.unknown",
                    f"{path}.{name[:80]}",
                    f"unknown field {name[:80]!r}: not part of the declaration schema",
                )
                continue
            attr, expected, fast, read = spec
            if attr in out or (nulls is not None and attr in nulls):
                # Only a decoded JSON object (Pairs) can repeat a key.
                self.add(
                    "json.duplicate_key",
                    f"{path}.{key}",
                    f"key {key!r} appears twice in the object",
                )
            elif type(item) is expected and (fast is None or fast(item)):
                out[attr] = item
            elif item is None and key not in schema.required:
                # Many JSON writers emit null for an empty optional field.
                if nulls is None:
                    nulls = set()
                nulls.add(attr)
            else:
                out[attr] = read(self, item, path, key)
        if not schema.required_attributes.issubset(out):
            for key in sorted(schema.required):
                if specs[key][0] not in out:
                    self.add(
                        "field.missing",
                        f"{path}.{key}",
                        f"{key} is required",
                        schema.paragraphs.get(key),
                    )
        if len(self.out) == start:
            return out
        self.last = out
        return None


# --- field readers ------------------------------------------------------------------


def text(most: int) -> Field:
    """Printable text of 1 to ``most`` characters without surrounding spaces."""

    ok = partial(f.is_text, most=most)

    def read(r: Reader, v: Any, path: str, key: str) -> str | None:
        if type(v) is not str:
            r.wrong_type(v, path, key, "a string")
        elif len(v) > most:
            r.add("field.length", f"{path}.{key}", f"{key} has {len(v)} characters; limit {most}")
        elif not ok(v):
            r.add(
                "text.format",
                f"{path}.{key}",
                f"{key} must be non-empty printable text without surrounding spaces",
            )
        else:
            return v
        return None

    # Printable ASCII without surrounding spaces passes one C-level match;
    # any other text (accents, say) goes through ``read`` and ``is_text``.
    ascii_text = re.compile("[!-~]" if most == 1 else f"[!-~](?:[ -~]{{0,{most - 2}}}[!-~])?")
    return Field(read, str, ascii_text.fullmatch)


def code(pattern: re.Pattern[str], code: str, what: str) -> Field:
    """A string that ``pattern`` matches entirely."""

    def read(r: Reader, v: Any, path: str, key: str) -> str | None:
        if type(v) is str and pattern.fullmatch(v) is not None:
            return v
        if type(v) is not str:
            r.wrong_type(v, path, key, "a string")
        else:
            r.add(
                code, f"{path}.{key}", f"{key} {v[:40]!r} is not {what}", FIELD_PARAGRAPHS.get(key)
            )
        return None

    return Field(read, str, pattern.fullmatch)


def choice(allowed: frozenset[str], code: str) -> Field:
    """One of the ``allowed`` strings."""
    listed = ", ".join(sorted(allowed))

    def read(r: Reader, v: Any, path: str, key: str) -> str | None:
        if type(v) is str and v in allowed:
            return v
        if type(v) is not str:
            r.wrong_type(v, path, key, "a string")
        else:
            r.add(
                code,
                f"{path}.{key}",
                f"{key} {v[:40]!r} is not one of {listed}",
                FIELD_PARAGRAPHS.get(key),
            )
        return None

    return Field(read, str, allowed.__contains__)


def _date(r: Reader, v: Any, path: str, key: str) -> str | None:
    if type(v) is str and len(v) <= 40 and f.valid_date(v):
        return v
    if type(v) is not str:
        r.wrong_type(v, path, key, "a string")
    else:
        r.add(
            "date.format",
            f"{path}.{key}",
            f"{key} {v[:40]!r} is not a date (YYYY-MM-DD) or a date-time with zone",
        )
    return None


# Days 1 - 28 exist in every month: a date (or date-time) with one of them
# passes one C-level match; any other goes through ``_date`` and ``valid_date``.
_COMMON_DATE: Final = re.compile(
    r"(?!0000)[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]))?"
)

date: Final = Field(_date, str, _COMMON_DATE.fullmatch)
"""An ISO 8601 date, or a date-time with a zone."""


def _flag(r: Reader, v: Any, path: str, key: str) -> bool | None:
    if type(v) is bool:
        return v
    r.wrong_type(v, path, key, "a boolean")
    return None


flag: Final = Field(_flag, bool)
"""A boolean."""


def count(least: int, most: int, code: str = "count.range") -> Field:
    """An integer from ``least`` to ``most``."""

    def read(r: Reader, v: Any, path: str, key: str) -> int | None:
        if type(v) is int and least <= v <= most:
            return v
        if type(v) is not int:
            r.wrong_type(v, path, key, "an integer")
        else:
            shown = v if -(10**18) < v < 10**18 else "a number of that size"
            r.add(
                code,
                f"{path}.{key}",
                f"{key} must be from {least} to {most}, not {shown}",
                FIELD_PARAGRAPHS.get(key),
            )
        return None

    return Field(read, int, range(least, most + 1).__contains__)


def decimal(positive: bool) -> Field:
    """A decimal string, returned normalised; above zero if ``positive``."""

    def read(r: Reader, v: Any, path: str, key: str) -> str | None:
        if type(v) is not str:
            r.wrong_type(v, path, key, 'a decimal string such as "12.5"')
            return None
        number = f.normalise_decimal(v)
        if number is None:
            r.add(
                "decimal.format",
                f"{path}.{key}",
                f'{key} {v[:40]!r} is not a decimal string such as "12" or "-0.5"',
            )
            return None
        if positive and (number == "0" or number[0] == "-"):
            r.add("quantity.not_positive", f"{path}.{key}", f"{key} must be above zero")
            return None
        return number

    # Values already in canonical form need no rewriting.
    canonical = f.POSITIVE_DECIMAL if positive else f.CANONICAL_DECIMAL
    return Field(read, str, canonical.fullmatch)


Build = Callable[[Reader, dict[str, Any], str], Any]
"""``(reader, attribute values, object path) -> record or None``."""


def nested(schema: Schema, build: Build) -> Field:
    """An object read against ``schema`` and turned into a record by ``build``."""

    def read(r: Reader, v: Any, path: str, key: str) -> Any:
        p = f"{path}.{key}"
        values = r.fields(v, p, schema)
        return None if values is None else build(r, values, p)

    return Field(read)


def record(schema: Schema, cls: Callable[..., Any]) -> Field:
    """An object read against ``schema`` whose values are the keyword arguments of ``cls``."""

    def read(r: Reader, v: Any, path: str, key: str) -> Any:
        values = r.fields(v, f"{path}.{key}", schema)
        return None if values is None else cls(**values)

    return Field(read)


def nested_list(schema: Schema, build: Build, least: int, most: int) -> Field:
    """An array of ``least`` to ``most`` objects, returned as a tuple of records."""

    def read(r: Reader, v: Any, path: str, key: str) -> tuple[Any, ...] | None:
        if type(v) is not list and type(v) is not tuple:
            r.wrong_type(v, path, key, "an array")
            return None
        if not least <= len(v) <= most:
            r.add(
                "field.length",
                f"{path}.{key}",
                f"{key} must have {least} to {most} entries, not {len(v)}",
            )
            return None
        out = []
        for i, element in enumerate(v):
            p = f"{path}.{key}[{i}]"
            values = r.fields(element, p, schema)
            if values is not None:
                out.append(build(r, values, p))
        return tuple(out)

    return Field(read)


def strings(element: Field, most: int) -> Field:
    """An array of at most ``most`` distinct strings, each checked by ``element``."""

    def read(r: Reader, v: Any, path: str, key: str) -> tuple[str, ...] | None:
        if type(v) is not list and type(v) is not tuple:
            r.wrong_type(v, path, key, "an array of strings")
            return None
        if len(v) > most:
            r.add("field.length", f"{path}.{key}", f"{key} must hold at most {most} entries")
            return None
        out = [element.read(r, x, path, f"{key}[{i}]") for i, x in enumerate(v)]
        if None in out:
            return None
        if len(set(out)) != len(out):
            r.add("field.length", f"{path}.{key}", f"{key} must not repeat an entry")
            return None
        return tuple(out)

    return Field(read)


def quantity(units: frozenset[str]) -> Field:
    """A ``{value, unit}`` with a positive decimal value and a unit from ``units``."""
    schema = Schema.of(
        {"value": ("value", decimal(True)), "unit": ("unit", choice(units, "unit.invalid"))},
        "value",
        "unit",
    )
    return record(schema, Quantity)
