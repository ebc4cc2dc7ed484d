"""The IMDG rule checks, against a small fake list and the built-in list."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.checks import check_declaration, validate
from contracts.codes import CODES
from contracts.document import parse_declaration
from contracts.errors import ContractError, DeclarationInvalid
from tests.contracts.check_helpers import (
    ACID,
    AMMONIUM_NITRATE,
    FAKE,
    GASOLINE,
    METHANOL,
    Doc,
    codes,
    document,
    found,
    item,
    one,
)
from tests.contracts.dg_strategies import (
    LIST,
    MUTATIONS,
    documents,
    mutated,
)


def test_valid_document_has_no_violations() -> None:
    assert codes(document([GASOLINE, METHANOL], [AMMONIUM_NITRATE], [ACID])) == []


# --- identifiers ---------------------------------------------------------------------------


def test_container_check_digit_and_duplicates() -> None:
    doc = document([GASOLINE], [ACID], [METHANOL])
    doc["containers"][1]["equipmentReference"] = doc["containers"][0]["equipmentReference"]
    doc["containers"][2]["equipmentReference"] = "CSQU3054384"
    found_ = found(doc)
    assert [(v.code, v.path) for v in found_] == [
        ("container.duplicate", "$.containers[1].equipmentReference"),
        ("container_number.check_digit", "$.containers[2].equipmentReference"),
    ]
    assert "should be 3" in found_[1].message


def test_imo_check_digit() -> None:
    doc = document([GASOLINE])
    doc["transport"]["vesselIMONumber"] = "9074720"
    v = one(doc)
    assert (v.code, v.path) == ("imo_number.check_digit", "$.transport.vesselIMONumber")
    assert "should be 9" in v.message


# --- the Dangerous Goods List ----------------------------------------------------------------


def test_unknown_un_number() -> None:
    v = one(document([item("9999", "GASOLINE", "3", 2)]))
    assert (v.code, v.path, v.paragraph) == (
        "un_number.unknown",
        "$.containers[0].dangerousGoods[0].UNNumber",
        "3.2",
    )


@pytest.mark.parametrize(
    "name", ["GASOLINE", "Petrol", "motor spirit", "MOTOR SPIRIT or GASOLINE or PETROL"]
)
def test_any_listed_alternative_name_matches(name: str) -> None:
    assert codes(document([item("1203", name, "3", 2)])) == []


def test_wrong_name_lists_the_entry_names() -> None:
    v = one(document([item("1203", "DIESEL FUEL", "3", 2)]))
    assert v.code == "psn.mismatch"
    assert v.path.endswith(".properShippingName")
    assert "MOTOR SPIRIT or GASOLINE or PETROL" in v.message


def test_class_mismatch_names_the_expected_class() -> None:
    v = one(document([item("1203", "GASOLINE", "8", 2)]))
    assert (v.code, v.path) == ("class.mismatch", "$.containers[0].dangerousGoods[0].imoClass")
    assert "class 3" in v.message and "imoClass 8" in v.message


def test_subsidiary_missing_or_mismatched() -> None:
    # Left out: missing (5.4.1.4.1.4); one the entry has not: a mismatch.
    missing = one(document([item("1230", "METHANOL", "3", 2)]))
    assert (missing.code, missing.path[-16:]) == ("field.missing", ".subsidiaryRisk1")
    assert "6.1" in missing.message
    extra = one(document([item("1203", "GASOLINE", "3", 2, subsidiaryRisk1="8")]))
    assert extra.code == "subsidiary.mismatch" and "(none)" in extra.message


def test_subsidiary_order_does_not_matter() -> None:
    doc = document([item("1005", "AMMONIA, ANHYDROUS", "2.3", subsidiaryRisk1="8")])
    assert codes(doc) == []


def test_packing_group_mismatch_lists_allowed_groups() -> None:
    v = one(document([item("1263", "PAINT", "3")]))  # left out: missing, not "none"
    assert (v.code, v.paragraph) == ("field.missing", "5.4.1.4.1.5")
    assert "I, II or III" in v.message
    v = one(document([item("1789", "HYDROCHLORIC ACID", "8", 3)]))
    assert "packing group III does not match" in v.message and v.message.endswith("II")
    v = one(document([item("1950", "AEROSOLS", "2.2", 2)]))
    assert "packing group none" in v.message


def test_several_differences_are_all_reported() -> None:
    doc = document([item("1789", "HYDROCHLORIC ACID", "6.1", 3, subsidiaryRisk1="8")])
    # 6.1 with subsidiary 8 is not a parse error; it is three mismatches with the list.
    assert sorted(codes(doc)) == ["class.mismatch", "packing_group.mismatch", "subsidiary.mismatch"]


def test_entry_is_chosen_by_name_then_by_fields() -> None:
    # UN 1950 has a 2.1 and a 2.2 entry: either class matches.
    assert codes(document([item("1950", "AEROSOLS", "2.1")])) == []
    assert codes(document([item("1950", "AEROSOLS", "2.3")])) == ["class.mismatch"]


def test_technical_name_required_for_nos() -> None:
    nos = item("1993", "FLAMMABLE LIQUID, N.O.S.", "3", 2)
    v = one(document([nos]))
    assert (v.code, v.paragraph) == ("field.missing", "3.1.2.8.1")
    assert v.path.endswith(".technicalName")
    named = dict(nos, technicalName="ETHANOL, TOLUENE")
    assert codes(document([named])) == []


def test_ems_must_match_the_entry_when_declared() -> None:
    assert codes(document([dict(METHANOL, EMSNumber="F-E S-D")])) == []
    v = one(document([dict(METHANOL, EMSNumber="F-E S-E")]))
    assert v.code == "ems.mismatch" and "F-E S-D" in v.message
    # The list does not know the schedule: nothing to compare.
    assert codes(document([item("9998", "TEST SUBSTANCE", "9", 3, EMSNumber="F-A S-A")])) == []


def test_marine_pollutant_flag() -> None:
    env = item(
        "3082",
        "ENVIRONMENTALLY HAZARDOUS SUBSTANCE, LIQUID, N.O.S.",
        "9",
        3,
        technicalName="CREOSOTE",
    )
    v = one(document([env]))
    assert (v.code, v.path) == (
        "marine_pollutant.mismatch",
        "$.containers[0].dangerousGoods[0].isMarinePollutant",
    )
    assert codes(document([dict(env, isMarinePollutant=True)])) == []
    # Not marked P in the list: goods meeting the criteria may still be declared so (2.10).
    assert codes(document([dict(GASOLINE, isMarinePollutant=True)])) == []


# --- class-specific information ------------------------------------------------------------------


def test_flashpoint_required_for_primary_and_subsidiary_class_3() -> None:
    primary = dict(GASOLINE)
    primary.pop("limits")
    v = one(document([primary]))
    assert (v.code, v.path) == (
        "field.missing",
        "$.containers[0].dangerousGoods[0].limits.flashPoint",
    )
    assert "5.4.1.4.3" in str(v)
    allyl = item("1098", "ALLYL ALCOHOL", "6.1", 1, subsidiaryRisk1="3")
    allyl.pop("limits")
    assert codes(document([allyl])) == ["field.missing"]
    # Limits present but no flashpoint in them.
    allyl["limits"] = {"temperatureUnit": "CEL", "SADT": "50"}
    assert codes(document([allyl])) == ["field.missing"]
    # No class 3 hazard: no flashpoint needed.
    assert codes(document([ACID])) == []


@pytest.mark.parametrize(
    ("unit", "value", "hot", "expected"),
    [
        ("CEL", "60", False, []),
        ("CEL", "60.5", False, ["flashpoint.out_of_range"]),
        ("FAH", "140", False, []),
        ("FAH", "141", False, ["flashpoint.out_of_range"]),
        ("CEL", "75", True, []),
        ("CEL", "-43", False, []),
    ],
)
def test_flashpoint_range(unit: str, value: str, hot: bool, expected: list[str]) -> None:
    gasoline = dict(GASOLINE, limits={"temperatureUnit": unit, "flashPoint": value}, isHot=hot)
    assert codes(document([gasoline])) == expected


def test_net_explosive_content_required_for_class_1() -> None:
    cartridges = item("0012", "CARTRIDGES, SMALL ARMS", "1.4S")
    assert codes(document([cartridges])) == []
    cartridges.pop("netExplosiveContent")
    v = one(document([cartridges]))
    assert (v.code, v.paragraph) == ("field.missing", "5.4.1.5.1")


def test_net_weight_above_gross_weight() -> None:
    heavy = dict(ACID, netWeight={"value": "101", "unit": "KGM"})
    assert codes(document([heavy])) == ["quantity.net_exceeds_gross"]
    pounds = dict(ACID, netWeight={"value": "220", "unit": "LBR"})  # 99.79 kg
    assert codes(document([pounds])) == []


# --- certifications ---------------------------------------------------------------------------


def _refused(doc: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    with pytest.raises(DeclarationInvalid) as info:
        validate(doc, FAKE)
    return [(v.code, v.path, v.paragraph) for v in info.value.violations]


def test_certifications_must_be_present() -> None:
    doc = document([GASOLINE], [ACID])
    doc.pop("shipperCertification")
    doc["containers"][1].pop("packingCertificate")
    assert _refused(doc) == [
        ("field.missing", "$.containers[1].packingCertificate", "5.4.2.1"),
        ("field.missing", "$.shipperCertification", "5.4.1.6.1"),
    ]


def test_certifications_must_be_signed_dated_and_placed() -> None:
    doc = document([GASOLINE])
    doc["shipperCertification"] = {"place": "LE HAVRE"}
    doc["containers"][0]["packingCertificate"] = {
        "signatoryName": "M. MARTIN",
        "date": "2026-11-30",
    }
    assert _refused(doc) == [
        ("field.missing", "$.containers[0].packingCertificate.place", "5.4.2.1"),
        ("field.missing", "$.shipperCertification.date", "5.4.1.6.1"),
        ("field.missing", "$.shipperCertification.signatoryName", "5.4.1.6.1"),
    ]


# --- entry points ----------------------------------------------------------------------------


def test_validate_returns_the_record_or_raises_everything() -> None:
    doc = document([GASOLINE, AMMONIUM_NITRATE])
    doc["transport"]["vesselIMONumber"] = "9454437"
    with pytest.raises(DeclarationInvalid) as info:
        validate(json.dumps(doc), FAKE)
    assert [v.code for v in info.value.violations] == [
        "imo_number.check_digit",
        "segregation.same_container",
    ]
    good = document([GASOLINE])
    assert validate(json.dumps(good).encode(), FAKE) == parse_declaration(good)


def test_validate_reports_parse_violations() -> None:
    doc = document([GASOLINE])
    doc["containers"][0]["dangerousGoods"][0]["UNNumber"] = 1203
    with pytest.raises(DeclarationInvalid) as info:
        validate(doc, FAKE)
    assert info.value.violations[0].code == "field.type"


# --- the codes table ---------------------------------------------------------------------------

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
MODULES = [
    "checks.py",
    "document.py",
    "document_reader.py",
    "item_checks.py",
    "segregation_checks.py",
]
CODE = re.compile(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*")


def _code_literals() -> set[str]:
    out: set[str] = set()
    for name in MODULES:
        tree = ast.parse((CONTRACTS / name).read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and CODE.fullmatch(node.value)
            ):
                out.add(node.value)
    return out


def test_every_code_in_the_source_is_listed_and_every_listed_code_is_used() -> None:
    literals = _code_literals()
    assert literals - set(CODES) == set()
    assert set(CODES) - literals == set()
    for code, description in CODES.items():
        assert CODE.fullmatch(code) and description


# --- properties over the built-in list -----------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_valid_documents_pass(doc: Doc) -> None:
    assert validate(json.dumps(doc), LIST).declaration_id == doc["declarationId"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), st.sampled_from(MUTATIONS), st.integers(0, 100))
def test_mutations_give_their_code(doc: Doc, mutation: Any, n: int) -> None:
    _, applies, mutate, code = mutation
    if not applies(doc):
        return
    with pytest.raises(DeclarationInvalid) as info:
        validate(json.dumps(mutated(doc, mutate, n)), LIST)
    assert code in {v.code for v in info.value.violations}


def test_every_entry_of_the_list_accepts_its_own_description() -> None:
    for e in LIST.entries:
        extra: Doc = {}
        for i, hazard in enumerate(e.subsidiary_hazards):
            extra[f"subsidiaryRisk{i + 1}"] = hazard
        if e.technical_name_required:
            extra["technicalName"] = "TECHNICAL NAME"
        if e.marine_pollutant:
            extra["isMarinePollutant"] = True
        doc = document(
            [item(e.un_number, e.proper_shipping_name, e.hazard_class, e.packing_group, **extra)]
        )
        assert codes(doc, LIST) == [], e


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_checks_never_raise_on_well_formed_documents(data: st.DataObject) -> None:
    # Any entry's fields under any UN number: only violations, never an exception.
    e = data.draw(st.sampled_from(LIST.entries))
    un = data.draw(st.sampled_from((*LIST.un_numbers(), "0000", "9999")))
    doc = document(
        [
            item(
                un,
                e.proper_shipping_name,
                e.hazard_class,
                e.packing_group,
                isLimitedQuantity=data.draw(st.booleans()),
            )
        ]
    )
    try:
        check_declaration(parse_declaration(doc), LIST)
    except ContractError as err:  # pragma: no cover - would be a bug
        pytest.fail(f"check raised {err!r}")
