"""Every missing field at once: one ``field.missing`` each, with its path, nothing derived.

A field is mandatory by the schema (UN number, name, class, quantities, the
certifications and their signatory, place and date: IMDG 5.4.1.4, 5.4.1.6.1,
5.4.2.1) or by the rules, given the rest of the item: the packing group and
subsidiary hazards of its list entry (5.4.1.4.1.4, 5.4.1.4.1.5), a flashpoint
for a class 3 hazard (5.4.1.4.3), the net explosive content of class 1
(5.4.1.5.1), the technical name of an N.O.S. entry (3.1.2.8.1), the net
quantity that proves a limited quantity (3.4.1.2). Whichever are missing,
each is reported once as ``field.missing`` at its JSON path, and no violation
merely restates a missing one (no "packing group none" mismatch, no name
mismatch for an absent name).
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.checks import validate
from contracts.dgl_builtin import builtin_list
from contracts.errors import DeclarationInvalid, Violation
from tests.contracts.check_helpers import document, item, lq
from tests.samples import sample

Doc = dict[str, Any]
LIST = builtin_list()
ITEM = "$.containers[0].dangerousGoods"


def violations(doc: Doc) -> list[Violation]:
    try:
        validate(doc, LIST)
    except DeclarationInvalid as e:
        return list(e.violations)
    return []


def found(doc: Doc) -> list[tuple[str, str]]:
    return [(v.code, v.path) for v in violations(doc)]


def drop(doc: Doc, path: tuple[Any, ...]) -> None:
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]


def json_path(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


def test_class_name_packing_group_and_flashpoint_missing_are_four_violations() -> None:
    """The case of issue 22: today two violations come back, and no word of the others."""
    doc = sample()
    gasoline = doc["containers"][0]["dangerousGoods"][0]
    for key in ("imoClass", "properShippingName", "packingGroup"):
        del gasoline[key]
    del gasoline["limits"]["flashPoint"]
    assert sorted(found(doc)) == sorted(
        ("field.missing", f"{ITEM}[0].{key}")
        for key in ("imoClass", "properShippingName", "packingGroup", "limits.flashPoint")
    )


def test_a_missing_packing_group_is_missing_not_a_mismatch() -> None:
    doc = sample()
    del doc["containers"][0]["dangerousGoods"][1]["packingGroup"]
    [v] = violations(doc)
    assert (v.code, v.path, v.paragraph) == (
        "field.missing",
        f"{ITEM}[1].packingGroup",
        "5.4.1.4.1.5",
    )
    assert "II" in v.message and "UN 1230" in v.message


def test_a_packing_group_the_entry_does_not_have_is_still_a_mismatch() -> None:
    doc = document([item("1950", "AEROSOLS", "2.2", packingGroup=2)])
    assert [v.code for v in violations(doc)] == ["packing_group.mismatch"]


def test_packing_group_missing_where_the_entry_has_several() -> None:
    # UN 1993 has packing groups I, II and III: the group is missing, whichever it is.
    nos = item("1993", "FLAMMABLE LIQUID, N.O.S.", "3", technicalName="XYLENE")
    [v] = violations(document([nos]))
    assert (v.code, v.path) == ("field.missing", f"{ITEM}[0].packingGroup")
    assert "I, II or III" in v.message


def test_a_missing_subsidiary_hazard_is_missing() -> None:
    doc = sample()
    del doc["containers"][0]["dangerousGoods"][1]["subsidiaryRisk1"]  # methanol 3 (6.1)
    [v] = violations(doc)
    assert (v.code, v.path, v.paragraph) == (
        "field.missing",
        f"{ITEM}[1].subsidiaryRisk1",
        "5.4.1.4.1.4",
    )
    # A wrong one is a mismatch.
    doc["containers"][0]["dangerousGoods"][1]["subsidiaryRisk1"] = "8"
    assert [v.code for v in violations(doc)] == ["subsidiary.mismatch"]


def test_rule_required_fields_are_field_missing_with_their_paragraph() -> None:
    nos = item("1993", "FLAMMABLE LIQUID, N.O.S.", "3", 2)  # no technicalName
    blasting = item("0081", "EXPLOSIVE, BLASTING, TYPE A", "1.1D")
    del blasting["netExplosiveContent"]
    paint = lq(item("1263", "PAINT", "3", 3))  # limited quantity without netVolume
    got = [(v.code, v.path, v.paragraph) for v in violations(document([nos], [blasting], [paint]))]
    assert got == [
        ("field.missing", "$.containers[0].dangerousGoods[0].technicalName", "3.1.2.8.1"),
        ("field.missing", "$.containers[1].dangerousGoods[0].netExplosiveContent", "5.4.1.5.1"),
        ("field.missing", "$.containers[2].dangerousGoods[0].netVolume", "3.4.1.2"),
    ]


def test_certifications_and_their_parts_are_mandatory_fields() -> None:
    doc = sample()
    del doc["shipperCertification"]
    del doc["containers"][0]["packingCertificate"]["date"]
    assert [(v.code, v.path, v.paragraph) for v in violations(doc)] == [
        ("field.missing", "$.containers[0].packingCertificate.date", "5.4.2.1"),
        ("field.missing", "$.shipperCertification", "5.4.1.6.1"),
    ]


def test_an_item_that_reads_is_judged_when_another_part_does_not() -> None:
    doc = sample()
    del doc["transport"]["vesselName"]
    doc["containers"][0]["dangerousGoods"][0]["imoClass"] = "8"  # gasoline is class 3
    assert found(doc) == [
        ("field.missing", "$.transport.vesselName"),
        ("class.mismatch", f"{ITEM}[0].imoClass"),
    ]


# --- the property -----------------------------------------------------------------------


def _mandatory(doc: Doc) -> list[tuple[Any, ...]]:
    """The paths of the sample whose removal alone gives exactly one field.missing there."""
    out: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, (*path, key))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, (*path, i))
        if path and isinstance(path[-1], str) and not isinstance(value, dict | list):
            removed = copy.deepcopy(doc)
            drop(removed, path)
            if found(removed) == [("field.missing", json_path(path))]:
                out.append(path)

    walk(doc, ())
    return out


SAMPLE = sample()
MANDATORY = _mandatory(SAMPLE)
ENTRY_GIVEN = {"packingGroup", "subsidiaryRisk1", "subsidiaryRisk2", "technicalName"}


def test_the_sample_has_the_mandatory_fields_one_expects() -> None:
    paths = {json_path(p) for p in MANDATORY}
    for expected in (
        "$.transport.vesselName",
        "$.shipperCertification.date",
        f"{ITEM}[0].UNNumber",
        f"{ITEM}[0].imoClass",
        f"{ITEM}[0].packingGroup",
        f"{ITEM}[0].limits.flashPoint",
        f"{ITEM}[1].subsidiaryRisk1",
        f"{ITEM}[1].grossWeight.unit",
    ):
        assert expected in paths, expected
    assert "$.containers[0].seals[0]" not in paths and f"{ITEM}[0].EMSNumber" not in paths


def _reported(removed: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
    """What removing ``removed`` must give: one field.missing each, except a field whose
    being required comes from what was removed with it (the entry of an item whose UN number
    is gone; a flashpoint when neither the UN number nor the class is left)."""
    gone = {json_path(p) for p in removed}
    out = set()
    for path in removed:
        here = json_path(path)
        if len(path) > 4 and path[2] == "dangerousGoods":
            item_path = json_path(path[:4])
            no_un = f"{item_path}.UNNumber" in gone
            if path[4] in ENTRY_GIVEN and no_un:
                continue
            if path[4:] == ("limits", "flashPoint") and no_un and f"{item_path}.imoClass" in gone:
                continue
        out.add(("field.missing", here))
    return out


@settings(max_examples=150, deadline=None)
@given(st.sets(st.sampled_from(range(len(MANDATORY))), min_size=1, max_size=12))
def test_removing_mandatory_fields_gives_one_field_missing_each(chosen: set[int]) -> None:
    removed = [MANDATORY[i] for i in sorted(chosen)]
    doc = copy.deepcopy(SAMPLE)
    for path in removed:
        drop(doc, path)
    got = found(doc)
    assert len(got) == len(set(got)), got  # each once
    assert set(got) == _reported(removed)
