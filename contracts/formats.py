"""Code formats, check digits, decimals, dates and units of a declaration.

Pure functions and precompiled patterns, shared by the parser (shapes) and
the rule checks (check digits, unit conversions). Nothing here reads the
clock: a date is checked for its shape and its calendar, never against now.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from decimal import Context, Decimal
from functools import lru_cache
from importlib import resources
from typing import Final

# --- identifiers ------------------------------------------------------------

UN_NUMBER: Final = re.compile(r"[0-9]{4}")
"""Four digits, no "UN" prefix (DCSA ``UNNumber``: ``^\\d{4}$``)."""

CONTAINER_NUMBER: Final = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")
"""ISO 6346: owner code, category U/J/Z, six-digit serial, check digit."""

IMO_NUMBER: Final = re.compile(r"[0-9]{7}")
"""IMO ship identification number: six digits and a check digit."""

UN_LOCODE: Final = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
"""UN/LOCODE shape: two capital letters and three letters or digits 2-9."""


def _countries() -> dict[str, str]:
    # contracts/data/iso3166_countries.csv: its README says where it comes from.
    text = resources.files("contracts.data").joinpath("iso3166_countries.csv").read_text("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if rows[0] != ["alpha_2", "name"] or any(not re.fullmatch("[A-Z]{2}", r[0]) for r in rows[1:]):
        raise AssertionError("contracts/data/iso3166_countries.csv is damaged")
    return {code: name for code, name in rows[1:]}


COUNTRIES: Final = _countries()
"""ISO 3166-1 alpha-2 country code -> English short name: the officially assigned codes."""

KNOWN_LOCODE: Final = re.compile(f"(?:{'|'.join(COUNTRIES)})[A-Z2-9]{{3}}")
"""A UN/LOCODE whose first two letters are an assigned ISO 3166-1 country code.

UN/LOCODE (UNECE Recommendation 16) starts every code with the ISO 3166-1
alpha-2 code of the country; ``ZZ``, ``XZ`` and the other user-assigned
pairs are no country, so ``ZZZZZ`` is refused.
"""

ISO_EQUIPMENT_CODE: Final = re.compile(r"[0-9A-Z]{2}[A-Z][0-9A-Z]")
"""ISO 6346 size-type code: length, height/width, type group letter, detail."""

EMS: Final = re.compile(r"F-[A-J] S-[A-Z]")
"""EmS schedules: fire F-A..F-J, spillage S-A..S-Z (DCSA ``EMSNumber``, 7 chars)."""

PACKAGE_CODE: Final = re.compile(r"[0-9]{1,2}[A-Z]{1,2}[0-9]?[A-Z]?|[A-Z0-9]{2}")
"""UN packaging code (``1A1``, ``4G``, ``6HA1``, ``31HA1``) or UN/ECE Rec 21 code."""

SEGREGATION_GROUP: Final = re.compile(r"SGG(?:[1-9]|1[0-8])")
"""IMDG 3.1.4.4 segregation group codes SGG1..SGG18 (amendment 42-24 has no SGG1a)."""

CODED_VARIANT: Final = re.compile(r"[0-3][0-9A-Z]{3}")
"""A DCSA ``codedVariantList``: a variant within one UN number (``^[0-3][0-9A-Z]{3}$``)."""

INHALATION_ZONES: Final = frozenset({"A", "B", "C", "D"})
"""Toxic-by-inhalation hazard zones (DCSA ``inhalationZone``)."""

DECLARATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""Letters, digits, dot, underscore, hyphen; no slash (ids are state-key parts)."""

PHONE: Final = re.compile(r"(?=.{4,30}$)\+?[0-9][0-9 ()./-]+")
"""A telephone number in E.123 style of 4 to 30 characters (DCSA ``phone``)."""


def is_text(value: str, most: int) -> bool:
    """Non-empty printable text of at most ``most`` characters, no surrounding spaces.

    "Printable" is :meth:`str.isprintable`: no control or format characters
    (so no bidirectional overrides or zero-width characters in names), and no
    whitespace but the plain space, as DCSA's ``^\\S(?:.*\\S)?$`` intends.
    """
    return 0 < len(value) <= most and value.isprintable() and value[0] != " " != value[-1]


# --- classes ------------------------------------------------------------------

COMPATIBILITY_GROUPS: Final[dict[str, str]] = {
    # IMDG 2.1.2.3: the compatibility groups each division of class 1 may carry.
    "1.1": "ABCDEFGJL",
    "1.2": "BCDEFGHJKL",
    "1.3": "CFGHJKL",
    "1.4": "BCDEFGS",
    "1.5": "D",
    "1.6": "N",
}
HAZARD_CLASSES: Final = frozenset(
    {"2.1", "2.2", "2.3", "3", "4.1", "4.2", "4.3", "5.1", "5.2", "6.1", "6.2", "7", "8", "9"}
)
"""Classes and divisions other than class 1."""
PRIMARY_CLASSES: Final = HAZARD_CLASSES | frozenset(
    f"{division}{group}" for division, groups in COMPATIBILITY_GROUPS.items() for group in groups
)
"""Every valid ``imoClass``: the divisions above and class 1 with its compatibility group."""
SUBSIDIARY_CLASSES: Final = HAZARD_CLASSES | {"1"}
"""Valid subsidiary hazards: a class or division; explosive subsidiary hazard as ``1``."""

# --- check digits ---------------------------------------------------------------


def _letter_values() -> dict[str, int]:
    # ISO 6346: A=10 upwards, skipping 11, 22 and 33 (multiples of 11).
    values: dict[str, int] = {}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


_ISO6346_VALUES: Final = {**_letter_values(), **{str(d): d for d in range(10)}}


def iso6346_check_digit(prefix: str) -> int:
    """ISO 6346 check digit of the first ten characters of a container number."""
    total = 0
    weight = 1
    for ch in prefix[:10]:
        total += _ISO6346_VALUES[ch] * weight
        weight <<= 1
    return total % 11 % 10


def container_check_digit_ok(number: str) -> bool:
    """Whether a container number of the right shape carries its ISO 6346 check digit."""
    return iso6346_check_digit(number) == ord(number[10]) - 48


def imo_check_digit(prefix: str) -> int:
    """IMO number check digit: first six digits weighted 7..2, summed, mod 10."""
    total = 0
    weight = 7
    for ch in prefix[:6]:
        total += (ord(ch) - 48) * weight
        weight -= 1
    return total % 10


def imo_check_digit_ok(number: str) -> bool:
    """Whether a seven-digit IMO number carries its check digit."""
    return imo_check_digit(number) == ord(number[6]) - 48


# --- dates ----------------------------------------------------------------------

_DATE_TIME: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?"
    r"(Z|[+-]([0-9]{2}):([0-9]{2})))?"
)
_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS[month - 1]


def valid_date(text: str) -> bool:
    """An ISO 8601 calendar date, or a date-time with seconds optional and a zone."""
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        return False
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if year < 1 or not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        return False
    if m[4] is None:
        return True
    if int(m[4]) > 23 or int(m[5]) > 59 or (m[6] is not None and int(m[6]) > 59):
        return False
    return m[8] is None or (int(m[8]) <= 23 and int(m[9]) <= 59)


_DAYS_BEFORE_MONTH: Final = tuple(sum(_DAYS[:m]) for m in range(12))


def _day_number(year: int, month: int, day: int) -> int:
    # Days since 0001-01-01 in the proleptic Gregorian calendar (as date.toordinal).
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month - 1] + day
    return days + (1 if month > 2 and _days_in_month(year, 2) == 29 else 0)


_EPOCH_DAY: Final = _day_number(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Moment:
    """A date as written (its calendar day) and, for a date-time, its instant in UTC."""

    day: int
    """The calendar day as written, in the writer's own offset: days since 0001-01-01."""
    utc_seconds: int | None
    """Seconds since the Unix epoch for a date-time with zone; None for a date alone."""

    def after(self, other: Moment) -> bool:
        """Whether this is certainly later than ``other``: by the instant when both have
        one, else by the calendar day as written (the same day is never later)."""
        if self.utc_seconds is not None and other.utc_seconds is not None:
            return self.utc_seconds > other.utc_seconds
        return self.day > other.day


@lru_cache(maxsize=4096)
def moment(text: str) -> Moment:
    """The :class:`Moment` of a date or date-time that :func:`valid_date` accepts.

    Documents repeat their dates (a vessel's departure, a day's certificates),
    so answers are kept: a pure function of the text.
    """
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        raise ValueError(f"not a date: {text[:40]!r}")
    day = _day_number(int(m[1]), int(m[2]), int(m[3]))
    if m[4] is None:
        return Moment(day, None)
    seconds = (day - _EPOCH_DAY) * 86400 + int(m[4]) * 3600 + int(m[5]) * 60 + int(m[6] or 0)
    if m[7] != "Z":
        offset = int(m[8]) * 3600 + int(m[9]) * 60
        seconds += -offset if m[7][0] == "+" else offset
    return Moment(day, seconds)


def epoch_millis(text: str) -> int:
    """Milliseconds since the Unix epoch (the unit of a block's time) of a date or
    date-time; a date alone counts from its midnight UTC. Fractions of a second drop."""
    point = moment(text)
    if point.utc_seconds is not None:
        return point.utc_seconds * 1000
    return (point.day - _EPOCH_DAY) * 86_400_000


# --- decimals and units -----------------------------------------------------------

_DECIMAL: Final = re.compile(r"(-?)([0-9]{1,15})(?:\.([0-9]{1,9}))?")

ARITHMETIC: Final = Context(prec=40)
"""Explicit context for every decimal operation, so no thread-local setting leaks in."""


POSITIVE_DECIMAL: Final = re.compile(r"[1-9][0-9]{0,14}(?:\.[0-9]{0,8}[1-9])?|0\.[0-9]{0,8}[1-9]")
"""A decimal above zero already in the canonical form :func:`normalise_decimal` gives."""
CANONICAL_DECIMAL: Final = re.compile(
    r"-?(?:[1-9][0-9]{0,14}(?:\.[0-9]{0,8}[1-9])?|0\.[0-9]{0,8}[1-9])|0"
)
"""Any decimal already in canonical form: no leading or trailing zeros, no "-0"."""


def normalise_decimal(text: str) -> str | None:
    """The canonical form of a plain decimal string (``"017.50"`` -> ``"17.5"``), or None."""
    m = _DECIMAL.fullmatch(text)
    if m is None:
        return None
    whole = m[2].lstrip("0") or "0"
    fraction = (m[3] or "").rstrip("0")
    number = f"{whole}.{fraction}" if fraction else whole
    if m[1] and number != "0":
        return "-" + number
    return number


MASS_UNITS: Final[dict[str, Decimal]] = {
    "KGM": Decimal(1),
    "GRM": Decimal("0.001"),
    "LBR": Decimal("0.45359237"),
    "ONZ": Decimal("0.028349523125"),
}
"""UN/ECE Rec 20 mass units with their factor to kilograms."""
VOLUME_UNITS: Final[dict[str, Decimal]] = {
    "LTR": Decimal(1),
    "MTQ": Decimal(1000),
    "FTQ": Decimal("28.316846592"),
}
"""UN/ECE Rec 20 volume units with their factor to litres."""
VOLUME_UNIT_CODES: Final = frozenset(VOLUME_UNITS)
WEIGHT_UNITS: Final = frozenset({"KGM", "LBR"})
"""Units DCSA allows for gross and net weight."""
EXPLOSIVE_UNITS: Final = frozenset(MASS_UNITS)
"""Units DCSA allows for net explosive content."""
TEMPERATURE_UNITS: Final = frozenset({"CEL", "FAH"})


def in_base_unit(value: str, unit: str) -> Decimal:
    """A quantity in kilograms (mass units) or litres (volume units)."""
    factor = MASS_UNITS.get(unit) or VOLUME_UNITS[unit]
    return ARITHMETIC.multiply(Decimal(value), factor)


def celsius(value: str, unit: str) -> Decimal:
    """A temperature in degrees Celsius."""
    if unit == "CEL":
        return Decimal(value)
    return ARITHMETIC.divide(ARITHMETIC.multiply(Decimal(value) - 32, Decimal(5)), Decimal(9))


def decimal_text(value: Decimal, places: int = 3) -> str:
    """A decimal rounded to ``places`` and written in plain notation, without trailing zeros."""
    rounded = value.quantize(Decimal(1).scaleb(-places), context=ARITHMETIC)
    text = f"{rounded:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
