"""Limited and excepted quantities (IMDG 3.4, 3.5)."""

from __future__ import annotations

import pytest

from contracts.checks import check_declaration
from contracts.document import parse_declaration
from contracts.errors import ReferenceDataError
from contracts.item_checks import limited_quantity_limit
from tests.contracts.check_helpers import (
    AMMONIUM_NITRATE,
    METHANOL,
    FakeList,
    codes,
    document,
    entry,
    item,
    lq,
    one,
)
from tests.contracts.dg_strategies import LIST


def test_limited_quantity_within_the_limit_per_package() -> None:
    # 10 packages, 10 L: 1 L per package, methanol's limit is 1 L.
    doc = document([lq(METHANOL, netVolume={"value": "10", "unit": "LTR"})])
    assert codes(doc) == []


def test_limited_quantity_exceeded_per_package() -> None:
    v = one(document([lq(METHANOL, netVolume={"value": "10.01", "unit": "LTR"})]))
    assert v.code == "limited_quantity.exceeded"
    assert "per package" in v.message and "1 L" in v.message


def test_inner_packagings_divide_the_package_quantity() -> None:
    inner = [{"quantity": 12, "material": "GLASS", "description": "BOTTLE"}]
    # 10 packages of 12 bottles: 120 L is 1 L per bottle.
    doc = document([lq(METHANOL, netVolume={"value": "120", "unit": "LTR"}, innerPackagings=inner)])
    assert codes(doc) == []
    doc = document([lq(METHANOL, netVolume={"value": "121", "unit": "LTR"}, innerPackagings=inner)])
    v = one(doc)
    assert v.code == "limited_quantity.exceeded" and "per inner packaging" in v.message


def test_limited_quantity_units_convert() -> None:
    paint = item("1263", "PAINT", "3", 1)
    # Limit 500 mL; 10 packages of 0.005 m3 = 5 L each: too much.
    assert codes(document([lq(paint, netVolume={"value": "0.05", "unit": "MTQ"})])) == [
        "limited_quantity.exceeded"
    ]
    assert codes(document([lq(paint, netVolume={"value": "0.005", "unit": "MTQ"})])) == []
    nitrate = lq(AMMONIUM_NITRATE, netWeight={"value": "110", "unit": "LBR"})  # 4.99 kg each
    assert codes(document([nitrate])) == []
    nitrate = lq(AMMONIUM_NITRATE, netWeight={"value": "111", "unit": "LBR"})  # 5.03 kg each
    assert codes(document([nitrate])) == ["limited_quantity.exceeded"]


def test_limited_quantity_not_permitted() -> None:
    nos = item("1993", "FLAMMABLE LIQUID, N.O.S.", "3", 1, technicalName="HEXANE")
    v = one(document([lq(nos, netVolume={"value": "1", "unit": "LTR"})]))
    assert (v.code, v.path) == (
        "limited_quantity.not_permitted",
        "$.containers[0].dangerousGoods[0].isLimitedQuantity",
    )


def test_limited_quantity_needs_the_net_quantity_of_the_limit() -> None:
    v = one(document([lq(METHANOL, netWeight={"value": "5", "unit": "KGM"})]))
    assert (v.code, v.path, v.paragraph) == (
        "field.missing",
        "$.containers[0].dangerousGoods[0].netVolume",
        "3.4.1.2",
    )


def test_limited_quantity_package_gross_mass() -> None:
    heavy = lq(
        METHANOL,
        netVolume={"value": "10", "unit": "LTR"},
        grossWeight={"value": "301", "unit": "KGM"},
    )
    assert codes(document([heavy])) == ["limited_quantity.package_too_heavy"]


def test_limited_and_excepted_together() -> None:
    both = lq(METHANOL, netVolume={"value": "1", "unit": "LTR"}, isExceptedQuantity=True)
    assert codes(document([both])) == ["quantity.limited_and_excepted"]


def test_unknown_limit_is_not_judged() -> None:
    unknown = lq(item("9998", "TEST SUBSTANCE", "9", 3), netVolume={"value": "999", "unit": "LTR"})
    assert codes(document([unknown])) == []


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("1 L", ("1", "L")),
        ("500 mL", ("0.5", "L")),
        ("5 kg", ("5", "kg")),
        ("100 g", ("0.1", "kg")),
    ],
)
def test_limit_parsing(text: str, limit: tuple[str, str]) -> None:
    parsed = limited_quantity_limit(text)
    assert parsed is not None
    assert (str(parsed[0].normalize()), parsed[1]) == limit
    assert limited_quantity_limit("0") is None


def test_every_limit_of_the_builtin_list_is_readable() -> None:
    limits = {e.limited_quantity for e in LIST.entries if e.limited_quantity is not None}
    assert "0" in limits and len(limits) > 5
    for text in limits:
        parsed = limited_quantity_limit(text)
        assert (parsed is None) == (text == "0")


def test_unreadable_limit_is_a_reference_data_error() -> None:
    bad = FakeList(entry("1230", "METHANOL", "3", ("6.1",), 2, lq="one litre"))
    doc = document([lq(METHANOL, netVolume={"value": "1", "unit": "LTR"})])
    with pytest.raises(ReferenceDataError):
        check_declaration(parse_declaration(doc), bad)
