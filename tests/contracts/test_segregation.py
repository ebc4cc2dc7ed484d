"""IMDG segregation: the 7.2.4 matrix against the reference copy, and the class 1 table."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import ContractError
from contracts.segregation import (
    CLASS1_NOTES,
    COMPATIBILITY_GROUPS,
    DIVISIONS,
    HEADINGS,
    Segregation,
    class1_compatible,
    class1_mixing,
    heading,
    required_segregation,
    segregation_level,
)
from tests.samples import reference

TABLE_FILE = "imdg_segregation_table.csv"

# Class 1 as declarations state it, with a compatibility group valid for the division.
EXPLOSIVES = ["1.1D", "1.1G", "1.2G", "1.3C", "1.3G", "1.4G", "1.4S", "1.5D", "1.6N"]
OTHERS = [d for d in DIVISIONS if not d.startswith("1.")]


def reference_rows() -> list[list[str]]:
    """The reference copy of the table (``tests/data``)."""
    text = reference(TABLE_FILE).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


def symbol(cell: Segregation) -> str:
    return cell.value if isinstance(cell.value, str) else str(cell.value)


def test_matrix_matches_the_reference_table_cell_by_cell() -> None:
    rows = reference_rows()
    assert tuple(rows[0][1:]) == HEADINGS
    assert tuple(r[0] for r in rows[1:]) == HEADINGS
    assert tuple(d for r in rows[1:] for d in r[0].split("/")) == DIVISIONS
    compared = 0
    for row in rows[1:]:
        for column, cell in zip(rows[0][1:], row[1:], strict=True):
            # Every division under a shared heading must read the same cell.
            for a in row[0].split("/"):
                for b in column.split("/"):
                    assert symbol(segregation_level(a, b)) == cell, f"{a} against {b}"
                    compared += 1
    assert compared == 20 * 20


def test_explosives_with_compatibility_groups_use_their_division() -> None:
    for explosive in EXPLOSIVES:
        for other in OTHERS:
            expected = segregation_level(explosive[:3], other)
            assert segregation_level(explosive, other) == expected
            assert segregation_level(other, explosive) == expected
        assert segregation_level(explosive, "1.4S") is Segregation.CLASS1


def test_matrix_is_symmetric() -> None:
    for a in [*DIVISIONS, *EXPLOSIVES]:
        for b in [*DIVISIONS, *EXPLOSIVES]:
            assert segregation_level(a, b) == segregation_level(b, a), (a, b)


def test_cells_that_changed_in_amendment_42_24() -> None:
    assert segregation_level("2.1", "4.3") is Segregation.SEPARATED_FROM
    assert segregation_level("3", "4.3") is Segregation.SEPARATED_FROM


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # IMDG segregation examples: celluloid scrap 4.2 against epibromohydrin 6.1 (3):
        # 4.2/6.1 is "away from", 4.2/3 "separated from"; the subsidiary governs.
        (["4.2"], ["6.1", "3"], Segregation.SEPARATED_FROM),
        (["3", "6.1"], ["4.2"], Segregation.SEPARATED_FROM),
        (["2.2", "5.1"], ["3"], Segregation.SEPARATED_FROM),
        (["2.2"], ["3"], Segregation.AWAY_FROM),
        (["3"], ["5.1"], Segregation.SEPARATED_FROM),
        (["8"], ["3"], Segregation.NONE),
        (["8", "3"], ["5.1"], Segregation.SEPARATED_FROM),
        (["9"], ["1.1D"], Segregation.NONE),
        (["6.2"], ["1.4S"], Segregation.SEPARATED_LONGITUDINALLY),
        (["1.4G"], ["3"], Segregation.SEPARATED_FROM),
        (["1.4S"], ["6.1"], Segregation.NONE),
        (["1.4S"], ["1.1D"], Segregation.CLASS1),
        # A class 1 subsidiary is segregated as division 1.3 (SG1): 1.3/4.1 is 3.
        (["5.2", "1"], ["4.1"], Segregation.SEPARATED_BY_COMPARTMENT),
        (["5.2", "1"], ["1.4S"], Segregation.SEPARATED_FROM),
    ],
)
def test_required_segregation_takes_the_strictest_hazard(
    a: list[str], b: list[str], expected: Segregation
) -> None:
    assert required_segregation(a, b) is expected
    assert required_segregation(b, a) is expected


hazard_lists = st.tuples(
    st.sampled_from(OTHERS + EXPLOSIVES),
    st.lists(st.sampled_from([d for d in OTHERS if d != "9"] + ["1"]), max_size=2, unique=True),
).map(lambda t: [t[0], *t[1]])


@settings(max_examples=200, deadline=None)
@given(hazard_lists, hazard_lists, st.sampled_from([d for d in OTHERS if d != "9"]))
def test_required_segregation_properties(a: list[str], b: list[str], extra: str) -> None:
    result = required_segregation(a, b)
    assert required_segregation(b, a) is result
    if result is Segregation.CLASS1:
        assert a[0].startswith("1.") and b[0].startswith("1.")
        return
    cells = [segregation_level(x, y) for x in a for y in b]
    ranked = [c.strictness for c in cells if c is not Segregation.CLASS1]
    assert result.strictness == max(ranked, default=0)
    assert result.strictness >= segregation_level(a[0], b[0]).strictness
    # A further subsidiary hazard can only make the requirement stricter.
    assert required_segregation([*a, extra], b).strictness >= result.strictness


@pytest.mark.parametrize("bad", ["2", "10", "1.4Z", "1.7", "", "3 ", "class 3"])
def test_unknown_classes_raise_a_coded_error(bad: str) -> None:
    with pytest.raises(ContractError) as info:
        segregation_level("3", bad)
    assert info.value.code == "segregation.unknown_class"
    with pytest.raises(ContractError) as info:
        required_segregation(["3", bad], ["8"])
    assert info.value.code == "segregation.unknown_class"


def test_empty_hazard_lists_raise_a_coded_error() -> None:
    for a, b in [([], ["3"]), (["3"], []), ("3", ["8"])]:
        with pytest.raises(ContractError) as info:
            required_segregation(a, b)
        assert info.value.code == "segregation.no_hazard"
    with pytest.raises(ContractError) as info:
        _ = Segregation.CLASS1.strictness
    assert info.value.code == "segregation.class1"


def test_headings() -> None:
    assert heading("1.2") == heading("1.5") == heading("1.1D") == "1.1/1.2/1.5"
    assert heading("1.6N") == heading("1") == "1.3/1.6"
    assert heading("1.4S") == "1.4"


# Table 7.2.7.1.4 transcribed once more, independently of the module: "X" permitted,
# a digit permitted under that note, "." not permitted.
CLASS1_TABLE = """
  A B C D E F G H J K L N S
A X . . . . . . . . . . . .
B . X . . . . . . . . . . X
C . . X 6 6 . 1 . . . . 4 X
D . . 6 X 6 . 1 . . . . 4 X
E . . 6 6 X . 1 . . . . 4 X
F . . . . . X . . . . . . X
G . . 1 1 1 . X . . . . . X
H . . . . . . . X . . . . X
J . . . . . . . . X . . . X
K . . . . . . . . . X . . X
L . . . . . . . . . . 2 . .
N . . 4 4 4 . . . . . . 3 5
S . X X X X X X X X X . 5 X
"""


def test_class1_mixing_follows_table_7_2_7_1_4() -> None:
    lines = CLASS1_TABLE.strip().splitlines()
    columns = lines[0].split()
    assert "".join(columns) == COMPATIBILITY_GROUPS
    for line in lines[1:]:
        row, *cells = line.split()
        for column, cell in zip(columns, cells, strict=True):
            got = class1_mixing(row, column)
            assert got.permitted == (cell != "."), (row, column)
            assert got.note == (int(cell) if cell.isdigit() else None), (row, column)
            assert class1_compatible(f"1.4{row}", column) == got.permitted


def test_class1_mixing_is_symmetric_and_notes_exist() -> None:
    for a in COMPATIBILITY_GROUPS:
        for b in COMPATIBILITY_GROUPS:
            assert class1_mixing(a, b) == class1_mixing(b, a)
            note = class1_mixing(a, b).note
            assert note is None or note in CLASS1_NOTES


def test_group_s_goes_with_every_group_but_a_and_l() -> None:
    allowed = {g for g in COMPATIBILITY_GROUPS if class1_compatible("1.4S", f"1.1{g}")}
    assert allowed == set(COMPATIBILITY_GROUPS) - {"A", "L"}
    assert class1_compatible("1.4S", "1.1D") and not class1_compatible("1.1B", "1.1D")


@pytest.mark.parametrize("bad", ["1.4", "Z", "1.4Z", "", "SS", "1.4s"])
def test_unknown_compatibility_groups_raise_a_coded_error(bad: str) -> None:
    with pytest.raises(ContractError) as info:
        class1_mixing("S", bad)
    assert info.value.code == "segregation.unknown_group"
