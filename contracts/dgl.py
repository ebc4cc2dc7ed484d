"""The Dangerous Goods List in force: an immutable, hashable set of entries.

Every node and auditor judges a declaration by the same list: its
:meth:`DangerousGoodsList.digest` is pinned in genesis and changed only by
governance. The digest is SHA-256 over the canonical encoding
(:func:`ledger.encoding.encode`) of the list of entry maps in canonical order,
so it does not depend on the order entries were given in, nor on the file
format they were read from.

Two text formats are read, both parsed purely from ``str`` (only
:meth:`DangerousGoodsList.load_file` touches a file):

* the project's own CSV (:meth:`~DangerousGoodsList.to_csv` /
  :meth:`~DangerousGoodsList.from_csv`): the header row :data:`CSV_COLUMNS`
  exactly (or :data:`CSV_COLUMNS_WITHOUT_SEGREGATION`, the format before
  entries carried segregation data), then one entry per row; lists (subsidiary
  hazards, special provisions, segregation groups and codes) are
  space-separated; an empty cell is ``None`` for the optional fields; booleans
  are ``true``/``false``; packing groups ``1``/``2``/``3``;
* the US Hazardous Materials Table (49 CFR 172.101) as published in CSV form
  (:func:`read_49cfr_csv`), keeping the international entries only.

An entry without segregation groups or codes encodes as it did before entries
had them, so a list that has none keeps its digest.

Every problem is a :class:`~contracts.errors.ReferenceDataError` with a
stable ``code`` (``dgl.*``) and a JSON-path-like ``path`` (``$[12].hazard_class``:
data row 12, counted from 0, or entry 12 of the constructor's input).
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final

from contracts.dgl_types import DglEntry
from contracts.errors import ReferenceDataError
from contracts.formats import COMPATIBILITY_GROUPS, HAZARD_CLASSES, SUBSIDIARY_CLASSES
from contracts.segregation_codes import CFR49_PROVISIONS, GROUP_CODE, SG_CODE, canonical
from ledger.encoding import encode, sha256

MAX_LIST_BYTES: Final = 16 * 1024 * 1024
"""Largest list text accepted, in UTF-8 bytes (the 49 CFR table is about 0.4 MiB)."""

MAX_NAME_CHARS: Final = 1000

CSV_COLUMNS: Final = (
    "un_number",
    "proper_shipping_name",
    "hazard_class",
    "subsidiary_hazards",
    "packing_group",
    "limited_quantity",
    "marine_pollutant",
    "ems",
    "technical_name_required",
    "special_provisions",
    "segregation_groups",
    "segregation_codes",
)
"""Header of the project's CSV format: one column per :class:`DglEntry` field."""
CSV_COLUMNS_WITHOUT_SEGREGATION: Final = CSV_COLUMNS[:10]
"""The header of list files written before entries carried segregation data (still read)."""

CFR49_COLUMNS: Final = (
    "idNumber",
    "properShippingName",
    "hazardClass",
    "symbols",
    "packingGroup",
    "subsidiaryRisks",
    "specialProvisions",
)
"""Columns of the 49 CFR 172.101 CSV that the importer needs (others are ignored)."""
CFR49_VESSEL_STOWAGE: Final = "vesselStowage_other"
"""Column 10B (vessel stowage provisions of 176.84), read when the table has it."""
_CFR49_PROVISION = re.compile(r"[0-9]+[A-Z]?")

_UN = re.compile(r"\A[0-9]{4}\Z")
# A subsidiary hazard is a class or division without compatibility group; "1"
# (explosive) is the subsidiary hazard of some self-reactive substances and peroxides.
_SUBSIDIARIES: Final = SUBSIDIARY_CLASSES - {"9"}
# "0" (not permitted) or a positive decimal and unit: "1 L", "500 mL", "0.5 kg".
_LIMITED_QUANTITY = re.compile(r"\A(0|([1-9][0-9]*(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*) (mL|L|g|kg))\Z")
_EMS = re.compile(r"\AF-[A-J] S-[A-Z]\Z")
_SPECIAL_PROVISION = re.compile(r"\A[A-Z0-9]{1,10}\Z")
_PACKING_GROUPS: Final = {"": None, "1": 1, "2": 2, "3": 3}
_ROMAN: Final = {"": None, "I": 1, "II": 2, "III": 3}
_BOOLS: Final = {"true": True, "false": False}
# 49 CFR 172.101(b): + fixed name/class, A air only, D domestic only, G technical
# name required, I international entry, W water (vessel) only.
_CFR49_SYMBOLS: Final = frozenset({"+", "A", "D", "G", "I", "W"})
# IMDG 3.1.2.8.1: generic and N.O.S. entries carrying special provision 274 or
# 318 need the technical name in brackets after the proper shipping name.
TECHNICAL_NAME_PROVISIONS: Final = frozenset({"274", "318"})


def _bad(code: str, path: str, message: str) -> ReferenceDataError:
    return ReferenceDataError(f"dgl.{code}", path, message)


def is_hazard_class(value: str) -> bool:
    """True for a class or division as a DGL entry states it (class 1 with group)."""
    if value in HAZARD_CLASSES:
        return True
    return len(value) == 4 and value[3] in COMPATIBILITY_GROUPS.get(value[:3], "")


def is_subsidiary_hazard(value: str) -> bool:
    """True for a class or division allowed as a subsidiary hazard."""
    return value in _SUBSIDIARIES


def _division(hazard_class: str) -> str:
    return hazard_class[:3] if hazard_class.startswith("1.") else hazard_class


def _check_name(name: object, path: str) -> None:
    if type(name) is not str or not name or len(name) > MAX_NAME_CHARS:
        raise _bad("bad_name", path, f"a name of 1 to {MAX_NAME_CHARS} characters, not {name!r}")
    if name != " ".join(name.split()) or any(unicodedata.category(c)[0] == "C" for c in name):
        raise _bad("bad_name", path, f"stray whitespace or control character in {name!r}")
    # Upper-case as printed, except the lower-case " or " between alternatives.
    if name.replace(" or ", " OR ") != name.upper():
        raise _bad("bad_name", path, f"not upper-case: {name!r}")


def _check_words(value: object, valid: Any, code: str, path: str, what: str) -> None:
    if type(value) is not tuple or any(type(v) is not str or not valid(v) for v in value):
        raise _bad(code, path, f"a tuple of {what}, not {value!r}")
    if len(set(value)) != len(value):
        raise _bad(code, path, f"{what} listed twice in {value!r}")


def check_entry(entry: DglEntry, path: str = "$") -> None:
    """Raise :class:`ReferenceDataError` unless every field of ``entry`` is well formed."""
    if type(entry) is not DglEntry:
        raise _bad("bad_entry", path, f"a DglEntry, not {type(entry).__name__}")
    un = entry.un_number
    if type(un) is not str or not _UN.match(un) or un == "0000":
        raise _bad("bad_un_number", f"{path}.un_number", f"four digits, not {un!r}")
    _check_name(entry.proper_shipping_name, f"{path}.proper_shipping_name")
    cls = entry.hazard_class
    if type(cls) is not str or not is_hazard_class(cls):
        raise _bad("bad_class", f"{path}.hazard_class", f"not a class or division: {cls!r}")
    subs_path = f"{path}.subsidiary_hazards"
    subs = entry.subsidiary_hazards
    _check_words(subs, is_subsidiary_hazard, "bad_subsidiary", subs_path, "subsidiary hazards")
    if _division(cls) in subs:
        raise _bad("bad_subsidiary", subs_path, f"primary hazard {cls} repeated as subsidiary")
    pg = entry.packing_group
    if pg is not None and (type(pg) is not int or pg not in (1, 2, 3)):
        raise _bad("bad_packing_group", f"{path}.packing_group", f"1, 2, 3 or None, not {pg!r}")
    lq = entry.limited_quantity
    if lq is not None and (type(lq) is not str or not _LIMITED_QUANTITY.match(lq)):
        raise _bad(
            "bad_limited_quantity",
            f"{path}.limited_quantity",
            f'"0", "<decimal> <mL|L|g|kg>" or None, not {lq!r}',
        )
    if entry.marine_pollutant is not None and type(entry.marine_pollutant) is not bool:
        raise _bad("bad_boolean", f"{path}.marine_pollutant", "True, False or None")
    ems = entry.ems
    if ems is not None and (type(ems) is not str or not _EMS.match(ems)):
        raise _bad("bad_ems", f"{path}.ems", f'"F-x S-y" or None, not {ems!r}')
    if type(entry.technical_name_required) is not bool:
        raise _bad("bad_boolean", f"{path}.technical_name_required", "True or False")
    _check_words(
        entry.special_provisions,
        _SPECIAL_PROVISION.match,
        "bad_special_provision",
        f"{path}.special_provisions",
        "special provision codes",
    )
    for name, pattern, what in (
        ("segregation_groups", GROUP_CODE, "segregation groups SGG1 to SGG18"),
        ("segregation_codes", SG_CODE, "segregation codes SG1 to SG99"),
    ):
        value = getattr(entry, name)
        _check_words(value, pattern.fullmatch, "bad_segregation", f"{path}.{name}", what)
        if not canonical(value):
            raise _bad("bad_segregation", f"{path}.{name}", f"{what} not in ascending order")


def entry_to_value(entry: DglEntry) -> dict[str, Any]:
    """The entry as a plain map (field name -> value) for canonical encoding."""
    return {
        "un_number": entry.un_number,
        "proper_shipping_name": entry.proper_shipping_name,
        "hazard_class": entry.hazard_class,
        "subsidiary_hazards": list(entry.subsidiary_hazards),
        "packing_group": entry.packing_group,
        "limited_quantity": entry.limited_quantity,
        "marine_pollutant": entry.marine_pollutant,
        "ems": entry.ems,
        "technical_name_required": entry.technical_name_required,
        "special_provisions": list(entry.special_provisions),
        # Absent rather than empty: lists without segregation data keep their digest.
        **({"segregation_groups": list(g)} if (g := entry.segregation_groups) else {}),
        **({"segregation_codes": list(c)} if (c := entry.segregation_codes) else {}),
    }


def _sort_key(entry: DglEntry) -> tuple[str, str, int, str, bytes]:
    # The encoded entry breaks every remaining tie, so the order is total.
    pg = entry.packing_group or 0
    return (
        entry.un_number,
        entry.proper_shipping_name,
        pg,
        entry.hazard_class,
        encode(entry_to_value(entry)),
    )


class DangerousGoodsList:
    """An immutable Dangerous Goods List: entries in canonical order, indexed by UN number."""

    __slots__ = ("_digest", "_entries", "_index")

    _entries: tuple[DglEntry, ...]
    _index: Mapping[str, tuple[DglEntry, ...]]
    _digest: bytes

    def __init__(self, entries: Iterable[DglEntry]) -> None:
        given = tuple(entries)
        for i, entry in enumerate(given):
            check_entry(entry, f"$[{i}]")
        ordered = tuple(sorted(given, key=_sort_key))
        for before, after in pairwise(ordered):
            if before == after:
                raise _bad(
                    "duplicate_entry",
                    "$",
                    f"UN{after.un_number} {after.proper_shipping_name} listed twice",
                )
        index: dict[str, list[DglEntry]] = {}
        for entry in ordered:
            index.setdefault(entry.un_number, []).append(entry)
        object.__setattr__(self, "_entries", ordered)
        object.__setattr__(
            self, "_index", MappingProxyType({k: tuple(v) for k, v in index.items()})
        )
        object.__setattr__(self, "_digest", sha256(encode(self.to_value())))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[type[DangerousGoodsList], tuple[tuple[DglEntry, ...]]]:
        """Pickled as its entries: the index and digest are made again (and checked)."""
        return (DangerousGoodsList, (self._entries,))

    @property
    def entries(self) -> tuple[DglEntry, ...]:
        """Every entry, in canonical order."""
        return self._entries

    def lookup(self, un_number: str) -> tuple[DglEntry, ...]:
        """The entries for a four-digit UN number (``"1203"``); empty if unknown."""
        if type(un_number) is not str:
            return ()
        return self._index.get(un_number, ())

    def un_numbers(self) -> tuple[str, ...]:
        """The distinct UN numbers, ascending."""
        return tuple(self._index)

    def __contains__(self, un_number: object) -> bool:
        return type(un_number) is str and un_number in self._index

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[DglEntry]:
        return iter(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DangerousGoodsList):
            return NotImplemented
        return self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._digest)

    def __repr__(self) -> str:
        return (
            f"DangerousGoodsList({len(self._entries)} entries, "
            f"{len(self._index)} UN numbers, digest {self._digest.hex()[:16]}…)"
        )

    def to_value(self) -> list[dict[str, Any]]:
        """The canonical value the digest covers: entry maps in canonical order."""
        return [entry_to_value(e) for e in self._entries]

    def digest(self) -> bytes:
        """SHA-256 of the canonical encoding of :meth:`to_value` (pinned in genesis)."""
        return self._digest

    def to_csv(self) -> str:
        """The list in the project's CSV format (canonical: same list, same text)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for e in self._entries:
            writer.writerow(
                (
                    e.un_number,
                    e.proper_shipping_name,
                    e.hazard_class,
                    " ".join(e.subsidiary_hazards),
                    "" if e.packing_group is None else str(e.packing_group),
                    e.limited_quantity or "",
                    "" if e.marine_pollutant is None else str(e.marine_pollutant).lower(),
                    e.ems or "",
                    str(e.technical_name_required).lower(),
                    " ".join(e.special_provisions),
                    " ".join(e.segregation_groups),
                    " ".join(e.segregation_codes),
                )
            )
        return out.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> DangerousGoodsList:
        """Parse the project's CSV format; raise :class:`ReferenceDataError` on any flaw."""
        rows = _rows(text)
        header = tuple(rows[0])
        if header not in (CSV_COLUMNS, CSV_COLUMNS_WITHOUT_SEGREGATION):
            missing = [c for c in CSV_COLUMNS_WITHOUT_SEGREGATION if c not in header]
            if missing:
                raise _bad("missing_column", "$", f"header lacks column(s) {missing}")
            raise _bad("bad_header", "$", f"header must be exactly {','.join(CSV_COLUMNS)}")
        entries = [_entry_from_row(row, i, len(header)) for i, row in enumerate(rows[1:])]
        if not entries:
            raise _bad("empty", "$", "the list has no entries")
        return cls(entries)

    @classmethod
    def from_49cfr_csv(cls, text: str) -> DangerousGoodsList:
        """The international entries of a 49 CFR 172.101 table (see :func:`read_49cfr_csv`)."""
        return read_49cfr_csv(text).dgl

    @classmethod
    def load_file(
        cls, path: str | os.PathLike[str], *, max_bytes: int = MAX_LIST_BYTES
    ) -> DangerousGoodsList:
        """Read a list file, choosing the format by its header row."""
        return cls.from_bytes(read_list_file(path, max_bytes=max_bytes), os.fspath(path))

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "list") -> DangerousGoodsList:
        """A list from a file's bytes, choosing the format by its header row."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise _bad("not_utf8", "$", f"{name!r} is not UTF-8: {e}") from e
        first = _rows(text)[0]
        if tuple(first) in (CSV_COLUMNS, CSV_COLUMNS_WITHOUT_SEGREGATION):
            return cls.from_csv(text)
        if "idNumber" in first and "properShippingName" in first:
            return cls.from_49cfr_csv(text)
        raise _bad("unknown_format", "$", f"{name!r}: header {first[:4]!r}… unknown")


def read_list_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_LIST_BYTES) -> bytes:
    """The bytes of a list file, at most ``max_bytes`` of them."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise _bad("unreadable", "$", f"cannot read {os.fspath(path)!r}: {e}") from e
    if len(data) > max_bytes:
        raise _bad("too_large", "$", f"{os.fspath(path)!r} is over {max_bytes} bytes")
    return data


def _rows(text: str) -> list[list[str]]:
    """CSV rows of ``text`` (at least the header), with size and syntax checks."""
    if type(text) is not str:
        raise _bad("bad_csv", "$", f"expected text, got {type(text).__name__}")
    if len(text) > MAX_LIST_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_LIST_BYTES:
        raise _bad("too_large", "$", f"over {MAX_LIST_BYTES} bytes")
    if "\x00" in text:
        raise _bad("bad_csv", "$", "NUL character in the text")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise _bad("bad_csv", "$", f"malformed CSV: {e}") from e
    if not rows or not any(rows[0]):
        raise _bad("empty", "$", "no header row")
    return rows


def _field(row: Sequence[str], i: int, column: int, parse: Any, code: str, what: str) -> Any:
    cell = row[column]
    try:
        return parse(cell)
    except (KeyError, ValueError):
        name = CSV_COLUMNS[column]
        raise _bad(code, f"$[{i}].{name}", f"{what}, not {cell!r} (data row {i})") from None


def _words(cell: str) -> tuple[str, ...]:
    if cell == "":
        return ()
    words = tuple(cell.split(" "))
    if "" in words:
        raise ValueError(cell)
    return words


def _entry_from_row(row: Sequence[str], i: int, width: int) -> DglEntry:
    if len(row) != width:
        raise _bad("bad_row", f"$[{i}]", f"{len(row)} cells, expected {width}")
    words_err = ("bad_subsidiary", "space-separated classes")
    groups: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    if width == len(CSV_COLUMNS):
        segregation = ("bad_segregation", "space-separated codes")
        groups = _field(row, i, 10, _words, *segregation)
        codes = _field(row, i, 11, _words, *segregation)
    entry = DglEntry(
        un_number=row[0],
        proper_shipping_name=row[1],
        hazard_class=row[2],
        subsidiary_hazards=_field(row, i, 3, _words, *words_err),
        packing_group=_field(row, i, 4, _PACKING_GROUPS.__getitem__, "bad_packing_group", "1-3"),
        limited_quantity=row[5] or None,
        marine_pollutant=_field(
            row, i, 6, lambda c: None if c == "" else _BOOLS[c], "bad_boolean", "true/false/empty"
        ),
        ems=row[7] or None,
        technical_name_required=_field(row, i, 8, _BOOLS.__getitem__, "bad_boolean", "true/false"),
        special_provisions=_field(
            row, i, 9, _words, "bad_special_provision", "space-separated codes"
        ),
        segregation_groups=groups,
        segregation_codes=codes,
    )
    check_entry(entry, f"$[{i}]")
    return entry


@dataclass(frozen=True, slots=True)
class Cfr49Import:
    """What :func:`read_49cfr_csv` made of a 49 CFR table: the list and a row count."""

    dgl: DangerousGoodsList
    rows: int
    loaded: int
    """Rows that became an entry."""
    merged_duplicates: int
    """International rows identical, as entries, to an earlier row."""
    skipped_domestic: int
    """Rows marked ``D``: US domestic only."""
    skipped_no_un_number: int
    """Rows without a UN identification number (NA, ID and forbidden materials)."""
    skipped_unclassified: int
    """Rows with a UN number but no hazard class (UN0190 samples: class set per sample)."""


def cfr49_name(name: str) -> str:
    """A 49 CFR proper shipping name in this list's form: upper-case, " or " kept."""
    return " ".join(name.split()).upper().replace(" OR ", " or ")


def read_49cfr_csv(text: str) -> Cfr49Import:
    """Import the international entries of a 49 CFR 172.101 table in CSV form.

    Rows whose ``symbols`` contain ``D`` are US-domestic and skipped; ``I``
    marks the international twin of such a row and is kept like any row
    without ``D``. Rows whose id is not ``UN`` + four digits (NA, ID, none)
    are skipped. Names are upper-cased with " or " kept; packing groups
    I/II/III become 1/2/3; class 1 keeps its compatibility group as given.
    ``technical_name_required`` is set where the row carries symbol ``G``
    (49 CFR 172.203(k)) or special provision 274 or 318 (IMDG 3.1.2.8.1);
    "n.o.s." in a name is *not* used as a signal, because the table marks the
    requirement explicitly and dozens of n.o.s. entries do not carry it.
    The table has no limited-quantity, marine-pollutant or EmS column, so
    those fields are ``None``. Where the table has column 10B
    (``vesselStowage_other``), its 176.84 provisions that keep the goods
    "separated from" a segregation group become the IMDG SG code of the same
    requirement (:data:`~contracts.segregation_codes.CFR49_PROVISIONS`: 52
    acids SG35, 53 alkaline compounds SG36, 56 ammonium compounds SG38, 58
    cyanides SG49); its other provisions are not carried. The table says
    nothing of which entries belong to a segregation group, so the entries
    have none: goods are then known to be acids, cyanides ... only from the
    ``segregationGroups`` their declaration gives.
    """
    rows = _rows(text)
    header = rows[0]
    missing = [c for c in CFR49_COLUMNS if c not in header]
    if missing:
        raise _bad("missing_column", "$", f"49 CFR header lacks column(s) {missing}")
    col = {name: header.index(name) for name in CFR49_COLUMNS}
    stowage = header.index(CFR49_VESSEL_STOWAGE) if CFR49_VESSEL_STOWAGE in header else None
    entries: list[DglEntry] = []
    seen: set[DglEntry] = set()
    counts = {"domestic": 0, "no_un": 0, "unclassified": 0, "merged": 0}
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise _bad("bad_row", f"$[{i}]", f"{len(row)} cells, expected {len(header)}")
        cell = {name: row[j].strip() for name, j in col.items()}
        ident = cell["idNumber"]
        if not ident.startswith("UN"):
            counts["no_un"] += 1
            continue
        symbols = cell["symbols"].split()
        unknown = set(symbols) - _CFR49_SYMBOLS
        if unknown:
            raise _bad("bad_symbol", f"$[{i}].symbols", f"unknown symbol(s) {sorted(unknown)}")
        if "D" in symbols:
            counts["domestic"] += 1
            continue
        if cell["hazardClass"] == "":
            counts["unclassified"] += 1
            continue
        pg = cell["packingGroup"]
        if pg not in _ROMAN:
            raise _bad("bad_packing_group", f"$[{i}].packingGroup", f"I, II, III or empty: {pg!r}")
        provisions = tuple(cell["specialProvisions"].split())
        codes: tuple[str, ...] = ()
        if stowage is not None:
            found = {
                CFR49_PROVISIONS[p][0]
                for p in _CFR49_PROVISION.findall(row[stowage])
                if p in CFR49_PROVISIONS
            }
            codes = tuple(sorted(found, key=lambda c: int(c[2:])))
        entry = DglEntry(
            un_number=ident[2:],
            proper_shipping_name=cfr49_name(cell["properShippingName"]),
            hazard_class=cell["hazardClass"],
            subsidiary_hazards=tuple(cell["subsidiaryRisks"].split()),
            packing_group=_ROMAN[pg],
            limited_quantity=None,
            marine_pollutant=None,
            ems=None,
            technical_name_required="G" in symbols
            or not TECHNICAL_NAME_PROVISIONS.isdisjoint(provisions),
            special_provisions=provisions,
            segregation_codes=codes,
        )
        check_entry(entry, f"$[{i}]")
        if entry in seen:
            counts["merged"] += 1
            continue
        seen.add(entry)
        entries.append(entry)
    if not entries:
        raise _bad("empty", "$", "no international entry in the table")
    return Cfr49Import(
        dgl=DangerousGoodsList(entries),
        rows=len(rows) - 1,
        loaded=len(entries),
        merged_duplicates=counts["merged"],
        skipped_domestic=counts["domestic"],
        skipped_no_un_number=counts["no_un"],
        skipped_unclassified=counts["unclassified"],
    )
