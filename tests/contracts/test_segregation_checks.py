"""Segregation of the items in one container (IMDG 7.2.4, 7.3.4)."""

from __future__ import annotations

import pytest

from tests.contracts.check_helpers import (
    AEROSOLS,
    AMMONIUM_NITRATE,
    GASOLINE,
    METHANOL,
    codes,
    document,
    found,
    item,
    one,
)


def test_separated_from_in_one_container() -> None:
    v = one(document([GASOLINE, item("9998", "TEST SUBSTANCE", "9", 3), AMMONIUM_NITRATE]))
    assert (v.code, v.path, v.paragraph) == (
        "segregation.same_container",
        "$.containers[0].dangerousGoods[2]",
        "7.3.4.1",
    )
    assert "UN 1942" in v.message and "UN 1203" in v.message and "separated from" in v.message


def test_subsidiary_hazard_can_be_the_stricter() -> None:
    # Nitric acid 8 (5.1) with gasoline 3: 8/3 is X, but 5.1/3 is "separated from".
    nitric = item("2031", "NITRIC ACID", "8", 2, subsidiaryRisk1="5.1")
    assert codes(document([GASOLINE, nitric])) == ["segregation.same_container"]
    # Against class 9 neither hazard needs segregation.
    assert codes(document([item("9998", "TEST SUBSTANCE", "9", 3), nitric])) == []


def test_every_offending_pair_is_reported_at_the_later_item() -> None:
    nitric = item("2031", "NITRIC ACID", "8", 2, subsidiaryRisk1="5.1")
    found_ = found(document([GASOLINE, METHANOL, AMMONIUM_NITRATE, nitric]))
    # 3/5.1 and 5.1/8 are "separated from"; 3/8, 3/6.1 and 5.1/5.1 need nothing.
    assert [(v.code, v.path[-3:]) for v in found_] == [
        ("segregation.same_container", "[2]"),
        ("segregation.same_container", "[2]"),
        ("segregation.same_container", "[3]"),
        ("segregation.same_container", "[3]"),
        ("segregation.same_container", "[3]"),
    ]
    assert "UN 1230" in found_[1].message and "UN 1942" in found_[1].message


def test_away_from_needs_competent_authority_approval() -> None:
    v = one(document([GASOLINE, AEROSOLS]))
    assert (v.code, v.path) == (
        "segregation.away_from_without_approval",
        "$.containers[0].dangerousGoods[1]",
    )
    approved = dict(AEROSOLS, competentAuthorityApproval="BAM/2026/0001")
    assert codes(document([GASOLINE, approved])) == []
    assert codes(document([dict(GASOLINE, competentAuthorityApproval="MCA 12"), AEROSOLS])) == []


def test_approval_does_not_lift_separated_from() -> None:
    approved = dict(AMMONIUM_NITRATE, competentAuthorityApproval="BAM/2026/0001")
    assert codes(document([GASOLINE, approved])) == ["segregation.same_container"]


def test_separate_containers_are_not_segregated_against_each_other() -> None:
    assert codes(document([GASOLINE], [AMMONIUM_NITRATE], [AEROSOLS])) == []


@pytest.mark.parametrize("flag", ["isLimitedQuantity", "isExceptedQuantity"])
def test_limited_and_excepted_quantities_are_exempt(flag: str) -> None:
    small = dict(AMMONIUM_NITRATE, netWeight={"value": "10", "unit": "KGM"}, **{flag: True})
    assert codes(document([GASOLINE, small])) == []


def test_class_1_by_compatibility_group() -> None:
    blasting = item("0081", "EXPLOSIVE, BLASTING, TYPE A", "1.1D")
    detonators = item("0029", "DETONATORS, NON-ELECTRIC", "1.1B")
    cartridges = item("0012", "CARTRIDGES, SMALL ARMS", "1.4S")
    assert codes(document([blasting, dict(blasting)])) == []
    v = one(document([blasting, detonators]))
    assert (v.code, v.paragraph) == ("segregation.class1_incompatible", "7.2.7.1")
    assert "D and B" in v.message
    assert codes(document([detonators, cartridges])) == []
    # Class 1 against another class goes by the table: 1.1 and 3 are "4".
    assert codes(document([blasting, GASOLINE])) == ["segregation.same_container"]
