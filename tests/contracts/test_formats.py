"""Check digits, code shapes, dates, decimals and units."""

from __future__ import annotations

import re
import string
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import formats as f
from contracts.document_reader import Pairs, Reader, date, quantity, text
from node.devnet.traffic import container_number, imo_number

# --- ISO 6346 ------------------------------------------------------------------------


# ISO 6346's own example, and one computed by hand: B=12 I=19 C=13 U=32, weights 2^i,
# 12 + 38 + 52 + 256 + 16 + 64 + 192 + 512 + 1280 + 3072 = 5494 = 11 * 499 + 5.
@pytest.mark.parametrize("number", ["CSQU3054383", "BICU1234565"])
def test_known_container_numbers_pass(number: str) -> None:
    assert f.CONTAINER_NUMBER.fullmatch(number)
    assert f.container_check_digit_ok(number)


def _letter_value(ch: str) -> int:
    # Independent oracle: A=10 and up, skipping multiples of 11.
    if ch.isdigit():
        return int(ch)
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        if letter == ch:
            return value
        value += 1
    raise AssertionError(ch)


def _oracle(prefix: str) -> int:
    return sum(_letter_value(ch) << i for i, ch in enumerate(prefix)) % 11 % 10


def test_letter_values_skip_multiples_of_eleven() -> None:
    values = [f.iso6346_check_digit(f"{letter}AAU000000") for letter in "AKLUVZ"]
    assert len(values) == 6
    # A=10, K=21, L=23 (22 skipped), U=32, V=34 (33 skipped), Z=38: computed by hand.
    weights = {"A": 10, "K": 21, "L": 23, "U": 32, "V": 34, "Z": 38}
    for letter, value in zip("AKLUVZ", values, strict=True):
        total = weights[letter] + 10 * 2 + 10 * 4 + 32 * 8
        assert value == total % 11 % 10


def test_remainder_ten_becomes_zero() -> None:
    # Find a prefix whose weighted sum is 10 mod 11: its check digit must be 0.
    for serial in range(1000):
        prefix = f"ABCU{serial:06d}"
        total = sum(_letter_value(ch) << i for i, ch in enumerate(prefix))
        if total % 11 == 10:
            assert f.iso6346_check_digit(prefix) == 0
            assert f.container_check_digit_ok(prefix + "0")
            return
    pytest.fail("no prefix with remainder 10 among the first 1000 serials")


@given(
    st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
    st.sampled_from("UJZ"),
    st.integers(0, 999_999),
)
def test_exactly_one_check_digit_fits(owner: str, category: str, serial: int) -> None:
    number = container_number(owner, category, serial)
    assert f.CONTAINER_NUMBER.fullmatch(number)
    assert number[10] == str(_oracle(number[:10]))
    fitting = [d for d in "0123456789" if f.container_check_digit_ok(number[:10] + d)]
    assert fitting == [number[10]]


@pytest.mark.parametrize("number", ["CSQU305438", "CSQX3054383", "CSU3054383", "csqu3054383"])
def test_malformed_container_numbers(number: str) -> None:
    assert f.CONTAINER_NUMBER.fullmatch(number) is None


# --- IMO numbers -----------------------------------------------------------------------


@pytest.mark.parametrize("number", ["9074729", "9454436", "9321483", "8814275"])
def test_known_imo_numbers_pass(number: str) -> None:
    assert f.imo_check_digit_ok(number)


@given(st.integers(0, 999_999))
def test_imo_check_digit_is_weighted_sum(prefix: int) -> None:
    number = imo_number(prefix)
    digits = [int(c) for c in number]
    assert sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=False)) % 10 == digits[6]
    assert [d for d in range(10) if f.imo_check_digit_ok(number[:6] + str(d))] == [digits[6]]


# --- code shapes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (f.UN_NUMBER, ["1203", "0004"], ["UN1203", "120", "12034", "\uff11\uff12\uff10\uff13"]),
        (f.UN_LOCODE, ["FRLEH", "USNYC", "DE2XY", "GB9AB"], ["FRLE", "frleh", "FRLE1", "FR LEH"]),
        (f.EMS, ["F-E S-E", "F-A S-Z", "F-J S-A"], ["F-K S-A", "FE SE", "F-E,S-E", "S-E F-E"]),
        (f.ISO_EQUIPMENT_CODE, ["22G1", "45R1", "L5G1", "42UT"], ["2G1", "22 G1", "2211", "22g1"]),
        (f.PACKAGE_CODE, ["1A1", "4G", "5H4", "6HA1", "31HA1", "4GV", "BX"], ["", "A", "1A1A1"]),
        (f.SEGREGATION_GROUP, ["SGG1", "SGG10", "SGG18"], ["SGG1a", "SGG19", "SGG0", "SG1"]),
        (
            f.DECLARATION_ID,
            ["D-1", "FRLEH-ACME-2026-000123", "a.b_c"],
            ["-D", "a/b", "", "x" * 101],
        ),
    ],
)
def test_code_shapes(pattern: re.Pattern[str], good: list[str], bad: list[str]) -> None:
    for value in good:
        assert pattern.fullmatch(value), value
    for value in bad:
        assert pattern.fullmatch(value) is None, value


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("ACME", True),
        ("A B", True),
        ("É", True),
        ("LE HAVRE (FR)", True),
        (" A", False),
        ("A ", False),
        ("A\nB", False),
        ("", False),
        ("\t", False),
        ("A\u00a0B", False),  # no-break space
        ("A\u200bB", False),  # zero-width space
        ("ACME\u202eEVIL", False),  # right-to-left override
        ("X" * 70, True),
        ("X" * 71, False),
    ],
)
def test_text(value: str, ok: bool) -> None:
    assert f.is_text(value, 70) is ok


def test_classes_and_compatibility_groups() -> None:
    assert {"3", "6.1", "1.1D", "1.4S", "1.6N"} <= f.PRIMARY_CLASSES
    for invalid in ("1.1", "1.4A", "1.5A", "1.6D", "6.3", "10", "1.1I"):
        assert invalid not in f.PRIMARY_CLASSES
    assert "1" in f.SUBSIDIARY_CLASSES and "1.1D" not in f.SUBSIDIARY_CLASSES


# --- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-02",
        "2024-02-29",
        "2000-02-29",
        "2026-12-02T18:00:00Z",
        "2026-12-02T18:00Z",
        "2026-12-02T18:00:00.123+01:00",
        "2026-12-02T23:59:59-05:30",
    ],
)
def test_valid_dates(value: str) -> None:
    assert f.valid_date(value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-29",
        "1900-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-04-31",
        "2026-12-02T18:00:00",
        "2026-12-02T24:00:00Z",
        "2026-12-02T18:60:00Z",
        "2026-12-02T18:00:61Z",
        "2026-12-02T18:00:00+25:00",
        "2026-12-02 18:00:00Z",
        "26-12-02",
        "2026-12-2",
        "2026-12-02t18:00:00z",
    ],
)
def test_invalid_dates(value: str) -> None:
    assert not f.valid_date(value)


@given(st.dates())
def test_every_calendar_date_is_valid(day: object) -> None:
    assert f.valid_date(str(day))


# --- decimals and units -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("17200", "17200"),
        ("0.5", "0.5"),
        ("0.50", "0.5"),
        ("017.500", "17.5"),
        ("-43", "-43"),
        ("-0", "0"),
        ("-0.000", "0"),
        ("10.0", "10"),
        ("0", "0"),
    ],
)
def test_decimal_normalisation(raw: str, normal: str) -> None:
    assert f.normalise_decimal(raw) == normal


@pytest.mark.parametrize("raw", ["1e3", "1.", ".5", "+1", "1,5", "NaN", "", " 1", "1 ", "0x10"])
def test_decimal_rejects(raw: str) -> None:
    assert f.normalise_decimal(raw) is None


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9
    )
)
def test_normalised_decimal_keeps_the_value(value: Decimal) -> None:
    text = format(value, "f")
    normal = f.normalise_decimal(text)
    assert normal is not None
    assert Decimal(normal) == value
    assert f.normalise_decimal(normal) == normal


def test_unit_conversions() -> None:
    assert f.in_base_unit("1000", "GRM") == 1
    assert f.in_base_unit("1", "LBR") == Decimal("0.45359237")
    assert f.in_base_unit("16", "ONZ") == f.in_base_unit("1", "LBR")
    assert f.in_base_unit("1", "MTQ") == 1000
    assert f.in_base_unit("1", "FTQ") == Decimal("28.316846592")
    assert f.celsius("140", "FAH") == 60
    assert f.celsius("-40", "FAH") == -40
    assert f.celsius("-43", "CEL") == -43


def test_decimal_text() -> None:
    assert f.decimal_text(Decimal("16.66666"), 1) == "16.7"
    assert f.decimal_text(Decimal("-0.04"), 1) == "0"
    assert f.decimal_text(Decimal("5.000"), 3) == "5"


@given(st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{1,10})?", fullmatch=True) | st.text(max_size=12))
def test_canonical_decimal_patterns_agree_with_normalisation(text: str) -> None:
    normal = f.normalise_decimal(text)
    if f.CANONICAL_DECIMAL.fullmatch(text):
        assert normal == text
    elif normal is not None:
        assert normal != text
    if f.POSITIVE_DECIMAL.fullmatch(text):
        assert normal == text and Decimal(text) > 0


@pytest.mark.parametrize(
    ("phone", "ok"),
    [
        ("+33 2 35 00 00 00", True),
        ("+1 (555) 010-0100", True),
        ("0049.40.1234", True),
        ("123", False),
        ("+" + "1" * 29, True),
        ("+" + "1" * 30, False),
        ("call me", False),
        ("+", False),
    ],
)
def test_phone_shape(phone: str, ok: bool) -> None:
    assert bool(f.PHONE.fullmatch(phone)) is ok


def test_the_35_classification_codes_of_class_1() -> None:
    # IMDG 2.1.2.3: 9 + 10 + 7 + 7 + 1 + 1 division and compatibility group pairs.
    class1 = {c for c in f.PRIMARY_CLASSES if c.startswith("1.")}
    assert len(class1) == 35
    assert {"1.3F", "1.2K", "1.1A", "1.5D"} <= class1
    assert not {"1.3A", "1.4A", "1.1S"} & class1


@pytest.mark.parametrize("most", [1, 2, 3, 70, 250])
@given(value=st.text(max_size=260) | st.text(string.printable, max_size=260))
def test_text_fields_fast_check_agrees_with_the_full_one(most: int, value: str) -> None:
    """A text field's C-level check may leave a good value to the full check, but never
    takes one that the full check refuses; on ASCII it decides exactly as the full check."""

    fast = text(most).fast
    assert fast is not None
    taken = fast(value) is not None and fast(value) is not False
    if taken:
        assert f.is_text(value, most)
    if value.isascii():
        assert taken == f.is_text(value, most)


@given(
    value=st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
        r"(Z|[+-][0-9]{2}:[0-9]{2}))?",
        fullmatch=True,
    )
    | st.text(max_size=40)
)
def test_date_fields_fast_check_never_takes_a_bad_date(value: str) -> None:

    fast = date.fast
    assert fast is not None
    if fast(value):
        assert f.valid_date(value) and len(value) <= 40


def test_date_fields_fast_check_takes_common_dates() -> None:

    assert date.fast is not None
    for value in ("2026-11-28", "2026-12-02T18:00:00Z", "2026-01-01T00:00+01:00"):
        assert date.fast(value), value
    wide = "\uff12\uff10\uff12\uff16-01-01"  # full-width digits: not ASCII digits
    for value in ("2026-02-29", "0000-01-01", "2026-13-01", "2026-01-01T24:00Z", wide):
        assert not date.fast(value), value


@given(
    value=st.dictionaries(
        st.sampled_from(["value", "unit", "other"]),
        st.none()
        | st.integers(-5, 5)
        | st.sampled_from(["KGM", "LTR", "kgm", "1", "17200", "0.5", "05", "1.50", "0", "-1"])
        | st.from_regex(r"[0-9.]{1,6}", fullmatch=True),
        max_size=3,
    )
)
def test_quantities_read_at_once_as_field_by_field(value: dict[str, Any]) -> None:
    """A quantity read from a map gives the same record and violations as one read from
    the same JSON object decoded with its pairs."""

    field = quantity(frozenset({"KGM", "LTR"}))
    fast, full = Reader(), Reader()
    assert field.read(fast, value, "$", "q") == field.read(full, Pairs(value.items()), "$", "q")
    assert fast.out == full.out
