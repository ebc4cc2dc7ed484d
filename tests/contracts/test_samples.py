"""The reference sample declarations give exactly the outcome their names say."""

from __future__ import annotations

import json

import pytest

from contracts.checks import check_declaration, validate
from contracts.describe import describe
from contracts.document import parse_declaration, read_declaration
from contracts.errors import DeclarationInvalid
from ledger.encoding import decode, encode
from tests.contracts.dg_strategies import LIST, REFERENCE, sample

SAMPLES = sorted(p.name for p in (REFERENCE / "declarations").glob("*.json"))

EXPECTED = {
    "valid-gasoline-methanol.json": [],
    "invalid-class-mismatch.json": [
        ("class.mismatch", "$.containers[0].dangerousGoods[0].imoClass"),
    ],
    "invalid-container-check-digit.json": [
        ("container_number.check_digit", "$.containers[0].equipmentReference"),
    ],
    "invalid-imo-check-digit.json": [
        ("imo_number.check_digit", "$.transport.vesselIMONumber"),
    ],
    "invalid-missing-flashpoint.json": [
        ("flashpoint.missing", "$.containers[0].dangerousGoods[0].limits.flashPoint"),
    ],
    "invalid-segregation-3-vs-5.1-same-container.json": [
        ("segregation.same_container", "$.containers[0].dangerousGoods[1]"),
    ],
    "invalid-unknown-un-number.json": [
        ("un_number.unknown", "$.containers[0].dangerousGoods[0].UNNumber"),
    ],
}


def test_every_sample_has_an_expectation() -> None:
    assert sorted(EXPECTED) == SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_outcome_with_the_builtin_list(name: str) -> None:
    raw = (REFERENCE / "declarations" / name).read_bytes()
    decl = parse_declaration(raw)
    found = [(v.code, v.path) for v in check_declaration(decl, LIST)]
    assert found == EXPECTED[name]
    if name.startswith("valid-"):
        assert validate(raw, LIST) == decl
    else:
        with pytest.raises(DeclarationInvalid) as info:
            validate(raw, LIST)
        assert [(v.code, v.path) for v in info.value.violations] == EXPECTED[name]


def test_sample_messages_name_both_items_and_the_expected_class() -> None:
    seg = check_declaration(
        parse_declaration(sample("invalid-segregation-3-vs-5.1-same-container.json")), LIST
    )[0]
    assert "UN 1942" in seg.message and "UN 1203" in seg.message
    assert "separated from" in seg.message and "CSQU3054383" in seg.message
    cls = check_declaration(parse_declaration(sample("invalid-class-mismatch.json")), LIST)[0]
    assert "class 3" in cls.message and cls.paragraph == "5.4.1.4.1.3"


def test_valid_sample_description_lines() -> None:
    decl = parse_declaration(sample("valid-gasoline-methanol.json"))
    assert [describe(i) for _, _, i in decl.items()] == [
        "UN 1203, GASOLINE, 3, PG II, (-43°C c.c.)",
        "UN 1230, METHANOL, 3 (6.1), PG II, (11°C c.c.)",
    ]


def test_sample_survives_a_chain_round_trip() -> None:

    decl = validate(json.dumps(sample("valid-gasoline-methanol.json")), LIST)
    stored = decode(encode(decl.to_value()))
    assert validate(stored, LIST) == decl
    assert read_declaration(stored) == decl
