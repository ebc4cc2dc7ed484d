"""Segregation of the items in one container (IMDG 7.2.4, 7.2.8, 7.3.4)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.dgl import read_49cfr_csv
from contracts.dgl_builtin import builtin_list
from contracts.document import parse_declaration
from contracts.item_checks import matching_entries
from contracts.segregation import Segregation, required_segregation
from contracts.segregation_checks import UnitItem, check_unit, sg_codes_between
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
from tests.samples import reference

BUILTIN = builtin_list()
CFR49 = read_49cfr_csv(reference("dgl_us_49cfr_172101.csv").read_text(encoding="utf-8")).dgl


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


# --- column 16b: segregation groups (IMDG 3.1.4.4) and SG codes (7.2.8) ---------------------

ACID_HCL = item("1789", "HYDROCHLORIC ACID", "8", 2)
CYANIDE = item("1689", "SODIUM CYANIDE, SOLID", "6.1", 1, isMarinePollutant=True)
CAUSTIC_SODA = item("1824", "SODIUM HYDROXIDE SOLUTION", "8", 2)
CHLORATE = item("1495", "SODIUM CHLORATE", "5.1", 2)
NITRATE_OF_AMMONIA = item("1942", "AMMONIUM NITRATE", "5.1", 3)
SALTPETRE = item("1486", "POTASSIUM NITRATE", "5.1", 3)


def test_hydrochloric_acid_with_sodium_cyanide_is_refused_from_both_sides() -> None:
    """7.2.4 has nothing between 8 and 6.1, but SG35 on the cyanide ("separated from"
    SGG1 acids) and SG49 on the acid ("separated from" SGG6 cyanides) keep them apart."""
    assert required_segregation(["8"], ["6.1"]) is Segregation.NONE
    v = one(document([ACID_HCL, CYANIDE]), BUILTIN)
    assert (v.code, v.path, v.paragraph) == (
        "segregation.sg_code",
        "$.containers[0].dangerousGoods[1]",
        "7.2.8 SG35, SG49",
    )
    for part in ("UN 1689", "UN 1789", "SG35", "SG49", "SGG1 acids", "SGG6 cyanides", "3.1.4.4"):
        assert part in v.message, part
    assert "CSQU3054383" in v.message


def test_declared_segregation_groups_count_too() -> None:
    """The items carry SGG1 and SGG6 themselves (5.4.1.5.11): refused all the same, also
    under a list that knows the SG codes but not the groups (the 49 CFR table)."""
    acid = dict(ACID_HCL, segregationGroups=["SGG1"])
    cyanide = dict(CYANIDE, segregationGroups=["SGG6"])
    assert codes(document([acid, cyanide]), BUILTIN) == ["segregation.sg_code"]
    assert codes(document([ACID_HCL, CYANIDE]), CFR49) == []  # no entry is said to be an acid
    v = one(document([acid, cyanide]), CFR49)
    assert (v.code, v.paragraph) == ("segregation.sg_code", "7.2.8 SG35, SG49")
    assert "declared in segregationGroups" in v.message
    # A group declared on an item does not give it SG codes: the list does.
    assert codes(document([acid, cyanide])) == []  # the fake list has no SG codes


def test_acid_with_alkali_is_refused() -> None:
    # Both class 8 (7.2.4: X). SG35 on the hydroxide, SG36 on the acid ("separated from"
    # SGG18 alkalis).
    v = one(document([CAUSTIC_SODA, ACID_HCL]), BUILTIN)
    assert (v.code, v.paragraph) == ("segregation.sg_code", "7.2.8 SG35, SG36")
    assert v.path == "$.containers[0].dangerousGoods[1]"


def test_chlorate_with_ammonium_compound_is_refused() -> None:
    # 5.1 with 5.1 (7.2.4: X); SG38 on sodium chlorate: "separated from" SGG2 ammonium
    # compounds, and ammonium nitrate is SGG2.
    v = one(document([NITRATE_OF_AMMONIA, CHLORATE]), BUILTIN)
    assert (v.code, v.paragraph) == ("segregation.sg_code", "7.2.8 SG38")
    assert codes(document([SALTPETRE, CHLORATE]), BUILTIN) == []  # not an ammonium compound


def test_the_table_verdict_is_reported_once_when_it_is_stricter() -> None:
    # Sodium chlorate 5.1 with gasoline 3: 7.2.4 "separated from"; no SG code between them.
    assert codes(document([GASOLINE, CHLORATE]), BUILTIN) == ["segregation.same_container"]
    # Calcium hypochlorite (SG35) with nitric acid 8 (5.1): 5.1 and 8 are "separated from" by
    # the table already; one violation for the pair, not two.
    hypochlorite = item("1748", "CALCIUM HYPOCHLORITE, DRY", "5.1", 2, isMarinePollutant=True)
    nitric = item("2031", "NITRIC ACID", "8", 2, subsidiaryRisk1="5.1")
    assert codes(document([hypochlorite, nitric]), BUILTIN) == ["segregation.same_container"]


def test_sg_codes_spare_limited_quantities_and_other_containers() -> None:
    small_acid = dict(ACID_HCL, isLimitedQuantity=True, netVolume={"value": "5", "unit": "LTR"})
    assert codes(document([small_acid, CYANIDE]), BUILTIN) == []
    assert codes(document([ACID_HCL], [CYANIDE]), BUILTIN) == []


def test_check_unit_judges_items_from_anywhere_the_same() -> None:
    """The unit check is a pure function of the items in one unit: the items of two
    declarations in one container are judged as if one declaration had them all."""
    first = parse_declaration(document([ACID_HCL]))
    second = parse_declaration(document([CAUSTIC_SODA, CYANIDE]))
    pooled = [
        UnitItem(f"first[{i}]", x, matching_entries(x, BUILTIN))
        for i, x in enumerate(first.containers[0].dangerous_goods)
    ] + [
        UnitItem(f"second[{i}]", x, matching_entries(x, BUILTIN))
        for i, x in enumerate(second.containers[0].dangerous_goods)
    ]
    found_ = check_unit("CSQU3054383", pooled)
    assert [(v.code, v.path, v.paragraph) for v in found_] == [
        ("segregation.sg_code", "second[0]", "7.2.8 SG35, SG36"),
        ("segregation.sg_code", "second[1]", "7.2.8 SG35, SG49"),
    ]
    assert check_unit("CSQU3054383", pooled) == found_  # deterministic
    together = found(document([ACID_HCL, CAUSTIC_SODA, CYANIDE]), BUILTIN)
    assert [(v.code, v.paragraph) for v in together] == [(v.code, v.paragraph) for v in found_]


def test_several_candidate_entries_count_only_what_they_share() -> None:
    acid = parse_declaration(document([ACID_HCL])).containers[0].dangerous_goods[0]
    cyanide = parse_declaration(document([CYANIDE])).containers[0].dangerous_goods[0]
    (pg2,) = [e for e in BUILTIN.lookup("1789") if e.packing_group == 2]
    bare = replace(pg2, segregation_codes=())
    pair = [UnitItem("a", acid, (pg2, bare)), UnitItem("c", cyanide, BUILTIN.lookup("1689"))]
    # SG49 is on only one of the acid's candidates; SG35 on the cyanide still holds.
    [v] = check_unit("", pair)
    assert v.paragraph == "7.2.8 SG35"
    assert "in the same container:" not in v.message


def test_sg_codes_between_entries() -> None:
    acid, cyanide = BUILTIN.lookup("1789")[:1], BUILTIN.lookup("1689")
    assert sg_codes_between(acid, cyanide) == ("SG35", "SG49") == sg_codes_between(cyanide, acid)
    assert sg_codes_between(acid, BUILTIN.lookup("1203")) == ()
    assert sg_codes_between((), cyanide) == ()
