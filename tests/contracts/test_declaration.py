"""Parsing a declaration document into the typed canonical record."""

from __future__ import annotations

import copy
import csv
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.checks import validate
from contracts.codes import CODES
from contracts.declaration import DangerousGoodsItem, Declaration, Quantity
from contracts.document import _ITEM, MAX_DOCUMENT_BYTES, parse_declaration, read_declaration
from contracts.errors import DeclarationInvalid
from ledger.encoding import decode, encode
from tests.contracts.dg_strategies import LIST, documents
from tests.samples import reference, sample

Doc = dict[str, Any]


def violations(data: Any) -> list[tuple[str, str]]:
    """(code, path) of every parse violation of ``data``."""
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(data)
    found = [(v.code, v.path) for v in info.value.violations]
    assert all(code in CODES for code, _ in found), found
    return found


def codes(data: Any) -> set[str]:
    return {code for code, _ in violations(data)}


def item0(doc: Doc) -> Doc:
    item: Doc = doc["containers"][0]["dangerousGoods"][0]
    return item


# --- the record -----------------------------------------------------------------------


def test_sample_parses_into_typed_record() -> None:
    decl = parse_declaration(json.dumps(sample()).encode())
    assert decl.declaration_id == "FRLEH-ACME-2026-000123"
    assert decl.transport.vessel_imo_number == "9454436"
    assert decl.transport.port_of_discharge == "USNYC"
    (container,) = decl.containers
    assert container.equipment_reference == "CSQU3054383"
    assert container.packing_certificate is not None
    assert container.packing_certificate.signatory_name == "MARIE MARTIN"
    gasoline, methanol = container.dangerous_goods
    assert gasoline.gross_weight == Quantity("17200", "KGM")
    assert gasoline.limits is not None and gasoline.limits.flash_point == "-43"
    assert methanol.subsidiary_hazards == ("6.1",)
    assert methanol.hazards == ("3", "6.1")
    assert methanol.packing_group == 2
    assert methanol.is_marine_pollutant is False
    assert [(c, i) for c, i, _ in decl.items()] == [(0, 0), (0, 1)]


def test_same_record_from_bytes_text_and_map() -> None:
    doc = sample()
    text = json.dumps(doc)
    assert parse_declaration(text) == parse_declaration(text.encode()) == parse_declaration(doc)


def test_to_value_is_canonical_and_round_trips() -> None:
    doc = sample()
    doc["containers"][0]["dangerousGoods"][0]["grossWeight"]["value"] = "017200.000"
    decl = parse_declaration(doc)
    value = decl.to_value()
    assert value["containers"][0]["dangerousGoods"][0]["grossWeight"] == {
        "value": "17200",
        "unit": "KGM",
    }
    # Every flag is explicit; absent optional fields are absent, never null.
    first = value["containers"][0]["dangerousGoods"][0]
    assert first["isWaste"] is False and "technicalName" not in first
    assert read_declaration(value) == decl
    assert read_declaration(decode(encode(value))) == decl
    assert parse_declaration(json.dumps(value)).to_value() == value


def test_records_are_frozen() -> None:
    decl = parse_declaration(sample())
    with pytest.raises(AttributeError):
        decl.declaration_id = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        decl.containers[0].dangerous_goods[0].un_number = "1230"  # type: ignore[misc]


def test_from_value_validates_again() -> None:
    value = parse_declaration(sample()).to_value()
    value["containers"][0]["dangerousGoods"][0]["UNNumber"] = "12O3"
    with pytest.raises(DeclarationInvalid) as info:
        read_declaration(value)
    assert info.value.violations[0].code == "un_number.format"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_generated_documents_round_trip(doc: Doc) -> None:
    decl = parse_declaration(json.dumps(doc))
    value = decl.to_value()
    assert read_declaration(decode(encode(value))) == decl
    assert encode(read_declaration(value).to_value()) == encode(value)


# --- JSON limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b'{"declarationId": 1.5}', "json.float"),
        (b'{"declarationId": 1e3}', "json.float"),
        (b'{"declarationId": NaN}', "json.constant"),
        (b'{"declarationId": -Infinity}', "json.constant"),
        (b'{"declarationId": "a"', "json.invalid"),
        (b"\xff\xfe{}", "json.invalid"),
        (b"", "json.invalid"),
        (b"[" * 100_000 + b"]" * 100_000, "json.too_deep"),
    ],
)
def test_json_level_rejections(text: bytes, code: str) -> None:
    assert violations(text) == [(code, "$")]


def test_size_limit() -> None:
    doc = sample()
    doc["shipper"]["address"] = "X" * MAX_DOCUMENT_BYTES
    assert codes(json.dumps(doc).encode()) == {"json.too_large"}
    assert codes(json.dumps(doc)) == {"json.too_large"}


def test_duplicate_keys_are_reported_with_their_path() -> None:
    text = json.dumps(sample()).replace(
        '"UNNumber": "1203",', '"UNNumber": "1203", "UNNumber": "1993",'
    )
    assert violations(text) == [
        ("json.duplicate_key", "$.containers[0].dangerousGoods[0].UNNumber")
    ]


def test_huge_integer_is_refused_not_crashing() -> None:
    text = json.dumps(sample()).replace(
        '"numberOfPackages": 80', '"numberOfPackages": ' + "9" * 5000
    )
    assert codes(text) <= {"json.invalid", "count.range"}


# --- strict schema, every violation at once -------------------------------------------------


def test_unknown_field_is_named() -> None:
    doc = sample()
    item0(doc)["UNNumbr"] = "1203"
    doc["transport"]["etd"] = "2026-12-02"
    assert violations(doc) == [
        ("field.unknown", "$.transport.etd"),
        ("field.unknown", "$.containers[0].dangerousGoods[0].UNNumbr"),
    ]


def test_all_problems_are_collected() -> None:
    doc = sample()
    doc["transport"]["portOfLoading"] = "frleh"
    doc["transport"]["estimatedDeparture"] = "2026-02-30"
    doc["containers"][0]["equipmentReference"] = "CSQU305438"
    item0(doc)["UNNumber"] = "UN1203"
    item0(doc).pop("properShippingName")
    item0(doc)["grossWeight"] = {"value": 17200, "unit": "KG"}
    second = doc["containers"][0]["dangerousGoods"][1]
    second["packingGroup"] = 4
    second["imoClass"] = "1.1"
    second["isMarinePollutant"] = "no"
    second["limits"]["flashPoint"] = "11,5"
    found = violations(doc)
    item = "$.containers[0].dangerousGoods[0]"
    other = "$.containers[0].dangerousGoods[1]"
    assert set(found) == {
        ("locode.format", "$.transport.portOfLoading"),
        ("date.format", "$.transport.estimatedDeparture"),
        ("container_number.format", "$.containers[0].equipmentReference"),
        ("un_number.format", f"{item}.UNNumber"),
        ("field.missing", f"{item}.properShippingName"),
        ("field.type", f"{item}.grossWeight.value"),
        ("unit.invalid", f"{item}.grossWeight.unit"),
        ("packing_group.range", f"{other}.packingGroup"),
        ("class.format", f"{other}.imoClass"),
        ("field.type", f"{other}.isMarinePollutant"),
        ("decimal.format", f"{other}.limits.flashPoint"),
    }
    assert len(found) == len(set(found))


def test_messages_name_field_and_paragraph() -> None:
    doc = sample()
    item0(doc).pop("UNNumber")
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(doc)
    (v,) = info.value.violations
    assert "UNNumber" in v.message
    assert v.paragraph == "5.4.1.4.1.1"
    assert "IMDG 5.4.1.4.1.1" in str(v)


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        (
            lambda d: d.__setitem__("declarationId", "a/b"),
            "declaration_id.format",
            "$.declarationId",
        ),
        (lambda d: d.pop("shipper"), "field.missing", "$.shipper"),
        (lambda d: d.__setitem__("containers", []), "field.length", "$.containers"),
        (lambda d: d.__setitem__("containers", {}), "field.type", "$.containers"),
        (lambda d: d.__setitem__("shipper", "ACME"), "field.type", "$.shipper"),
        (
            lambda d: d["shipper"].__setitem__("partyName", " ACME"),
            "text.format",
            "$.shipper.partyName",
        ),
        (
            lambda d: d["shipper"].__setitem__("partyName", "A" * 71),
            "field.length",
            "$.shipper.partyName",
        ),
        (
            lambda d: d["transport"].__setitem__("vesselIMONumber", "945443"),
            "imo_number.format",
            "$.transport.vesselIMONumber",
        ),
        (
            lambda d: d["transport"].__setitem__("vesselIMONumber", 9454436),
            "field.type",
            "$.transport.vesselIMONumber",
        ),
        (
            lambda d: d["containers"][0].__setitem__("ISOEquipmentCode", "22-G1"),
            "equipment_type.format",
            "$.containers[0].ISOEquipmentCode",
        ),
        (
            lambda d: d["containers"][0].__setitem__("seals", ["A", "A"]),
            "field.length",
            "$.containers[0].seals",
        ),
        (
            lambda d: d["containers"][0].__setitem__("seals", ["A" * 16]),
            "field.length",
            "$.containers[0].seals[0]",
        ),
        (
            lambda d: d["containers"][0].__setitem__("seals", [1]),
            "field.type",
            "$.containers[0].seals[0]",
        ),
        (
            lambda d: item0(d).__setitem__("EMSNumber", "F-E,S-E"),
            "ems.format",
            "$.containers[0].dangerousGoods[0].EMSNumber",
        ),
        (
            lambda d: item0(d).__setitem__("numberOfPackages", 0),
            "count.range",
            "$.containers[0].dangerousGoods[0].numberOfPackages",
        ),
        (
            lambda d: item0(d).__setitem__("numberOfPackages", True),
            "field.type",
            "$.containers[0].dangerousGoods[0].numberOfPackages",
        ),
        (
            lambda d: item0(d).__setitem__("packageCode", "1A1A1"),
            "package_code.format",
            "$.containers[0].dangerousGoods[0].packageCode",
        ),
        (
            lambda d: item0(d)["grossWeight"].__setitem__("value", "0"),
            "quantity.not_positive",
            "$.containers[0].dangerousGoods[0].grossWeight.value",
        ),
        (
            lambda d: item0(d)["grossWeight"].__setitem__("value", "-5"),
            "quantity.not_positive",
            "$.containers[0].dangerousGoods[0].grossWeight.value",
        ),
        (
            lambda d: item0(d)["netVolume"].__setitem__("unit", "KGM"),
            "unit.invalid",
            "$.containers[0].dangerousGoods[0].netVolume.unit",
        ),
        (
            lambda d: item0(d)["limits"].__setitem__("temperatureUnit", "K"),
            "unit.invalid",
            "$.containers[0].dangerousGoods[0].limits.temperatureUnit",
        ),
        (
            lambda d: item0(d)["limits"].pop("temperatureUnit"),
            "field.missing",
            "$.containers[0].dangerousGoods[0].limits.temperatureUnit",
        ),
        (
            lambda d: item0(d).__setitem__("subsidiaryRisk1", "6.3"),
            "subsidiary.format",
            "$.containers[0].dangerousGoods[0].subsidiaryRisk1",
        ),
        (
            lambda d: item0(d).__setitem__("subsidiaryRisk2", "8"),
            "subsidiary.order",
            "$.containers[0].dangerousGoods[0].subsidiaryRisk2",
        ),
        (
            lambda d: item0(d).__setitem__("subsidiaryRisk1", "3"),
            "subsidiary.duplicate",
            "$.containers[0].dangerousGoods[0].subsidiaryRisk1",
        ),
        (
            lambda d: item0(d).update(subsidiaryRisk1="8", subsidiaryRisk2="8"),
            "subsidiary.duplicate",
            "$.containers[0].dangerousGoods[0].subsidiaryRisk2",
        ),
        (
            lambda d: item0(d).__setitem__("segregationGroups", ["SGG1", "SGG20"]),
            "segregation_group.format",
            "$.containers[0].dangerousGoods[0].segregationGroups[1]",
        ),
        (
            lambda d: item0(d).__setitem__(
                "innerPackagings", [{"quantity": 0, "material": "GLASS", "description": "BOTTLE"}]
            ),
            "count.range",
            "$.containers[0].dangerousGoods[0].innerPackagings[0].quantity",
        ),
        (
            lambda d: item0(d).__setitem__(
                "emergencyContactDetails", {"contact": "X", "phone": "call me"}
            ),
            "phone.format",
            "$.containers[0].dangerousGoods[0].emergencyContactDetails.phone",
        ),
        (
            lambda d: d["shipperCertification"].__setitem__("date", "29/11/2026"),
            "date.format",
            "$.shipperCertification.date",
        ),
    ],
)
def test_single_field_errors(change: Any, code: str, path: str) -> None:
    doc = sample()
    change(doc)
    assert violations(doc) == [(code, path)]


def test_class1_division_needs_its_group_and_subsidiary_cannot_repeat_it() -> None:
    doc = sample()
    item0(doc).update(imoClass="1.4S", subsidiaryRisk1="1")
    assert codes(doc) == {"subsidiary.duplicate"}
    item0(doc).update(imoClass="1.4A")
    item0(doc).pop("subsidiaryRisk1")
    assert codes(doc) == {"class.format"}


def test_certifications_and_their_parts_are_required() -> None:
    """IMDG 5.4.1.6.1 (the shipper's) and 5.4.2.1 (the packer's): signed, placed, dated."""
    doc = sample()
    doc["shipperCertification"] = {}
    doc["containers"][0].pop("packingCertificate")
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(doc)
    assert [(v.code, v.path, v.paragraph) for v in info.value.violations] == [
        ("field.missing", "$.containers[0].packingCertificate", "5.4.2.1"),
        ("field.missing", "$.shipperCertification.date", "5.4.1.6.1"),
        ("field.missing", "$.shipperCertification.place", "5.4.1.6.1"),
        ("field.missing", "$.shipperCertification.signatoryName", "5.4.1.6.1"),
    ]


def test_item_defaults() -> None:
    doc = sample()
    item = item0(doc)
    for key in ("isMarinePollutant", "isLimitedQuantity", "EMSNumber", "limits", "packageCode"):
        item.pop(key)
    parsed: DangerousGoodsItem = parse_declaration(doc).containers[0].dangerous_goods[0]
    assert parsed.is_marine_pollutant is False and parsed.is_limited_quantity is False
    assert parsed.limits is None and parsed.ems_number is None and parsed.flash_point is None


# --- never crash ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_arbitrary_json_only_raises_declaration_invalid(value: Any) -> None:
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(json.dumps(value))
    assert all(v.code in CODES for v in info.value.violations)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_declaration_invalid(data: bytes) -> None:
    with pytest.raises(DeclarationInvalid):
        parse_declaration(data)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    """The container holding the last step of ``path``."""
    for step in path[:-1]:
        doc = doc[step]
    return doc


@settings(max_examples=200, deadline=None)
@given(st.data(), json_values)
def test_mutated_sample_never_crashes_the_contract(data: st.DataObject, replacement: Any) -> None:
    doc = sample()
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    _parent(doc, path)[path[-1]] = replacement
    try:
        decl = validate(json.dumps(doc), LIST)
    except DeclarationInvalid as e:
        assert all(v.code in CODES for v in e.violations)
    else:
        assert read_declaration(decl.to_value()) == decl


def test_deeply_nested_values_in_arrays_are_refused_not_crashing() -> None:
    doc = sample()
    deep: Any = "x"
    for _ in range(900):
        deep = [deep]
    doc["containers"][0]["seals"] = [deep, deep]
    doc["containers"][0]["dangerousGoods"][0]["numberOfPackages"] = 10**5000
    assert codes(doc) == {"field.type", "count.range"}


def test_non_string_keys_in_a_map_are_reported() -> None:
    doc: dict[Any, Any] = copy.deepcopy(sample())
    doc[1] = "x"
    assert violations(doc) == [("field.unknown", "$.1")]


# --- every DCSA dangerous-goods field ---------------------------------------------------

DCSA_VALUES: dict[str, Any] = {
    "codedVariantList": "0A1B",
    "isReportableQuantity": True,
    "inhalationZone": "B",
    "endOfHoldingTime": "2026-12-20",
    "fumigationDateTime": "2026-11-28T08:00:00Z",
    "specialCertificateNumber": "CERT-STOW-42",
    "additionalContainerCargoHandling": "KEEP AWAY FROM LIVING QUARTERS",
}


def test_every_dcsa_dangerous_goods_field_is_read_none_is_unknown() -> None:
    """Each field of the DCSA reference table is part of the schema: a real declaration
    using it is checked, never refused as ``field.unknown``."""

    with reference("dcsa_dangerous_goods_fields.csv").open(encoding="utf-8") as f:
        names = {row["field"] for row in csv.DictReader(f)}
    assert names - set(_ITEM.fields) == set()


def test_optional_dcsa_fields_are_kept_in_the_record() -> None:
    doc = sample()
    item0(doc).update(DCSA_VALUES)
    parsed = parse_declaration(doc)
    value = parsed.to_value()["containers"][0]["dangerousGoods"][0]
    for name, declared in DCSA_VALUES.items():
        assert value[name] == declared, name
    assert read_declaration(parsed.to_value()) == parsed
    # Absent optional fields stay absent: records made before they were read are unchanged.
    plain = parse_declaration(sample()).to_value()["containers"][0]["dangerousGoods"][0]
    assert not set(DCSA_VALUES) & set(plain)


def test_an_na_number_is_refused_for_sea_transport() -> None:
    doc = sample()
    item0(doc)["NANumber"] = "1993"
    assert ("un_number.na_number", "$.containers[0].dangerousGoods[0].NANumber") in violations(doc)
    del item0(doc)["UNNumber"]
    assert codes(doc) == {"un_number.na_number", "field.missing"}


@pytest.mark.parametrize(
    ("field", "bad", "code"),
    [
        ("codedVariantList", "4ABC", "coded_variant.format"),
        ("codedVariantList", "0ab1", "coded_variant.format"),
        ("inhalationZone", "E", "inhalation_zone.format"),
        ("isReportableQuantity", "yes", "field.type"),
        ("endOfHoldingTime", "20 December", "date.format"),
        ("specialCertificateNumber", "x" * 256, "field.length"),
    ],
)
def test_dcsa_optional_fields_are_checked(field: str, bad: Any, code: str) -> None:
    doc = sample()
    item0(doc)[field] = bad
    assert violations(doc) == [(code, f"$.containers[0].dangerousGoods[0].{field}")]


# --- JSON null --------------------------------------------------------------------------------


def _outcome(doc: Doc) -> Any:
    try:
        return parse_declaration(doc)
    except DeclarationInvalid as e:
        return [(v.code, v.path, v.message) for v in e.violations]


def test_null_in_an_optional_field_means_absent_and_in_a_required_one_is_named() -> None:
    """Many JSON writers emit null for an empty optional field: such a document is read as
    if the field were absent. A required field given as null is refused at its path."""
    full = sample()
    item0(full).update(DCSA_VALUES)
    paths = [path for path in _paths(full) if path and isinstance(path[-1], str)]
    optional = required = 0
    for path in paths:
        nulled, removed = copy.deepcopy(full), copy.deepcopy(full)
        _parent(nulled, path)[path[-1]] = None
        del _parent(removed, path)[path[-1]]
        without = _outcome(removed)
        if isinstance(without, Declaration):
            assert _outcome(nulled) == without, path
            optional += 1
        else:
            json_path = "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)
            assert ("field.missing", json_path, f"{path[-1]} is required") in without, path
            found = _outcome(nulled)
            assert isinstance(found, list), path
            assert [(c, p) for c, p, _ in found] == [("field.type", json_path)], path
            assert found[0][2].endswith("not null"), found
            required += 1
    assert optional > 20 and required > 10, (optional, required)


def test_null_does_not_hide_a_duplicate_key_or_fill_an_array() -> None:
    text = json.dumps(sample()).replace(
        '"EMSNumber": "F-E S-E",', '"EMSNumber": null, "EMSNumber": "F-E S-E",'
    )
    assert violations(text) == [
        ("json.duplicate_key", "$.containers[0].dangerousGoods[0].EMSNumber")
    ]
    doc = sample()
    doc["containers"][0]["seals"] = [None]
    assert codes(doc) == {"field.type"}
