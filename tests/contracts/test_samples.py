"""The reference sample declarations give exactly the outcome their names say."""

from __future__ import annotations

import json

import pytest

from contracts.checks import check_declaration, validate
from contracts.describe import describe
from contracts.document import parse_declaration, read_declaration
from contracts.errors import DeclarationInvalid
from ledger.encoding import decode, encode
from tests.contracts.dg_strategies import LIST
from tests.samples import SAMPLES, reference, sample

EXPECTED = {
    "valid-gasoline-methanol": [],
    "invalid-class-mismatch": [
        ("class.mismatch", "$.containers[0].dangerousGoods[0].imoClass"),
    ],
    "invalid-container-check-digit": [
        ("container_number.check_digit", "$.containers[0].equipmentReference"),
    ],
    "invalid-imo-check-digit": [
        ("imo_number.check_digit", "$.transport.vesselIMONumber"),
    ],
    "invalid-missing-flashpoint": [
        ("field.missing", "$.containers[0].dangerousGoods[0].limits.flashPoint"),
    ],
    "invalid-segregation-3-vs-5.1-same-container": [
        ("segregation.same_container", "$.containers[0].dangerousGoods[1]"),
    ],
    "invalid-unknown-un-number": [
        ("un_number.unknown", "$.containers[0].dangerousGoods[0].UNNumber"),
    ],
}


def test_every_sample_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_outcome_with_the_builtin_list(name: str) -> None:
    raw = json.dumps(sample(name)).encode()
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
        parse_declaration(sample("invalid-segregation-3-vs-5.1-same-container")), LIST
    )[0]
    assert "UN 1942" in seg.message and "UN 1203" in seg.message
    assert "separated from" in seg.message and "CSQU3054383" in seg.message
    cls = check_declaration(parse_declaration(sample("invalid-class-mismatch")), LIST)[0]
    assert "class 3" in cls.message and cls.paragraph == "5.4.1.4.1.3"


def test_valid_sample_description_lines() -> None:
    decl = parse_declaration(sample("valid-gasoline-methanol"))
    assert [describe(i) for _, _, i in decl.items()] == [
        "UN 1203, GASOLINE, 3, PG II, (-43°C c.c.)",
        "UN 1230, METHANOL, 3 (6.1), PG II, (11°C c.c.)",
    ]


def test_sample_survives_a_chain_round_trip() -> None:

    decl = validate(json.dumps(sample("valid-gasoline-methanol")), LIST)
    stored = decode(encode(decl.to_value()))
    assert validate(stored, LIST) == decl
    assert read_declaration(stored) == decl


def test_samples_are_fresh_copies_with_ids_of_their_own() -> None:
    ids = [sample(name)["declarationId"] for name in SAMPLES]
    assert len(set(ids)) == len(SAMPLES)
    changed = sample()
    changed["containers"][0]["dangerousGoods"].pop()
    assert len(sample()["containers"][0]["dangerousGoods"]) == 2
    assert sample("invalid-class-mismatch", "DG-OTHER")["declarationId"] == "DG-OTHER"


def test_a_missing_reference_file_fails_rather_than_skips() -> None:
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        reference("no-such-reference-file.csv")
