"""Stowage positions (ISO 9711-1) and the IMDG 7.4.3.3 distances between closed units.

Each judgement test names the cell of the table of segregation of containers
on board container ships (IMDG 7.4.3.3, closed versus closed) it checks:
the requirement, the direction and whether on or under deck.
"""

from __future__ import annotations

import pytest

from contracts.errors import ContractError, TransactionRejected
from contracts.segregation import Segregation
from contracts.stowage import (
    DIRECTIONS,
    STOWAGES,
    TABLE,
    Position,
    athwartship_spaces,
    bulkheads_between,
    fore_and_aft_spaces,
    judge,
    read_positions,
)

AWAY = Segregation.AWAY_FROM
SEPARATED = Segregation.SEPARATED_FROM
COMPARTMENT = Segregation.SEPARATED_BY_COMPARTMENT
LONGITUDINALLY = Segregation.SEPARATED_LONGITUDINALLY
C1 = "CSQU3054383"
C2 = "MSCU1234566"


def p(text: str) -> Position:
    return Position.parse(text)


def held(requirement: Segregation, a: str, b: str) -> bool:
    """The verdict, which must not depend on which of the two is named first."""
    one, other = judge(requirement, p(a), p(b)), judge(requirement, p(b), p(a))
    assert one.held == other.held, (one, other)
    return one.held


# ----------------------------------------------------------- positions


def test_a_position_is_bay_row_tier() -> None:
    on_deck = p("030282")
    assert (on_deck.bay, on_deck.row, on_deck.tier) == (3, 2, 82)
    assert on_deck.on_deck and on_deck.text == "030282"
    assert on_deck.describe() == "bay 03, row 02, tier 82, on deck"
    hold = p("100406")
    assert not hold.on_deck
    assert hold.describe() == "bay 10, row 04, tier 06, under deck in hold 2"


def test_a_forty_foot_bay_spans_the_two_twenty_foot_bays_around_it() -> None:
    """ISO 9711-1: 20-foot bays odd, a 40-foot bay the even number between its two halves."""
    assert p("010282").slots == (1, 1)
    assert p("020282").slots == (1, 2)
    assert p("030282").slots == (2, 2)
    assert p("060282").slots == (3, 4)


def test_holds_are_four_twenty_foot_bays_counted_from_bay_01() -> None:
    assert [p(f"{bay:02d}0202").holds for bay in (1, 7, 9, 15, 17)] == [
        (1, 1),
        (1, 1),
        (2, 2),
        (2, 2),
        (3, 3),
    ]
    # A 40-foot bay over the bulkhead between two holds counts in both.
    assert p("080202").holds == (1, 2)


def test_well_formed_positions_are_read() -> None:
    found = read_positions({C1: "010282", C2: "100406"})
    assert found == {C1: p("010282"), C2: p("100406")}


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("3282", "stowage.format"),
        ("0102820", "stowage.format"),
        ("01O282", "stowage.format"),
        ("01 282", "stowage.format"),
        ("\uff10\uff11\uff10\uff12\uff18\uff12", "stowage.format"),  # fullwidth digits
        (10282, "stowage.format"),
        (None, "stowage.format"),
        ("000282", "stowage.bay"),
        ("010200", "stowage.tier"),
        ("010203", "stowage.tier"),
        ("010281", "stowage.tier"),
        ("010280", "stowage.tier"),
    ],
)
def test_a_malformed_position_is_refused_naming_the_container(value: object, code: str) -> None:
    with pytest.raises(TransactionRejected) as info:
        read_positions({C1: value})
    assert [(v.code, v.path) for v in info.value.violations] == [(code, f"$.body.stowage.{C1}")]
    assert C1 in info.value.violations[0].message


def test_every_malformed_position_is_refused_at_once() -> None:
    with pytest.raises(TransactionRejected) as info:
        read_positions({C2: "000282", C1: "0102"})
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("stowage.format", f"$.body.stowage.{C1}"),
        ("stowage.bay", f"$.body.stowage.{C2}"),
    ]


@pytest.mark.parametrize("value", [[], "010282", {}, {7: "010282"}])
def test_stowage_is_a_map_of_container_numbers_to_positions(value: object) -> None:
    with pytest.raises(TransactionRejected) as info:
        read_positions(value)
    assert [(v.code, v.path) for v in info.value.violations] == [
        ("body.invalid_field", "$.body.stowage")
    ]


def test_parse_refuses_what_read_positions_refuses() -> None:
    with pytest.raises(ContractError):
        Position.parse("000282")


# ------------------------------------------------------------ distances


@pytest.mark.parametrize(
    ("a", "b", "spaces"),
    [("01", "03", 0), ("01", "05", 1), ("02", "06", 0), ("02", "10", 2), ("01", "02", -1)],
)
def test_container_spaces_fore_and_aft(a: str, b: str, spaces: int) -> None:
    """IMDG 7.4.3.1: a container space is at least 6 m fore and aft: an empty 20-foot bay."""
    assert fore_and_aft_spaces(p(f"{a}0282"), p(f"{b}0282")) == spaces
    assert fore_and_aft_spaces(p(f"{b}0282"), p(f"{a}0282")) == spaces


@pytest.mark.parametrize(
    ("a", "b", "spaces"),
    [
        ("01", "03", 0),
        ("01", "05", 1),
        ("00", "01", 0),
        ("00", "04", 1),
        ("02", "02", -1),
        # Across the centreline: no row 00 is assumed, the nearer of the two layouts.
        ("01", "02", 0),
        ("03", "02", 1),
        ("05", "06", 4),
    ],
)
def test_container_spaces_athwartships(a: str, b: str, spaces: int) -> None:
    """IMDG 7.4.3.1: a container space is at least 2.4 m athwartships: an empty row."""
    assert athwartship_spaces(p(f"01{a}82"), p(f"01{b}82")) == spaces
    assert athwartship_spaces(p(f"01{b}82"), p(f"01{a}82")) == spaces


def test_bulkheads_between_holds() -> None:
    assert bulkheads_between(p("010202"), p("070202")) == 0
    assert bulkheads_between(p("070202"), p("090202")) == 1
    assert bulkheads_between(p("010202"), p("170202")) == 2
    assert bulkheads_between(p("080202"), p("100202")) == 0


# ---------------------------------------------------------------- table


def test_the_table_has_every_cell() -> None:
    """IMDG 7.4.3.3: four requirements, three directions, on deck and under deck."""
    assert set(TABLE) == {
        (r, d, s) for r in (AWAY, SEPARATED, COMPARTMENT, LONGITUDINALLY) for d in DIRECTIONS
        for s in STOWAGES
    }  # fmt: skip
    assert TABLE[SEPARATED, "fore_and_aft", "under_deck"].text == (
        "one container space or one bulkhead"
    )
    assert TABLE[LONGITUDINALLY, "athwartships", "on_deck"].text == "prohibited"


# ---------------------------------------------------- IMDG 7.4.3.3 cells


def test_away_from_closed_units_no_restriction() -> None:
    """7.4.3.3 "away from", closed versus closed: no restriction in any direction."""
    assert held(AWAY, "010282", "010284")
    assert held(AWAY, "010202", "010204")
    assert held(AWAY, "010282", "030282")


def test_separated_from_on_deck_fore_and_aft_one_container_space() -> None:
    """7.4.3.3 "separated from", on deck, fore and aft: one container space."""
    assert not held(SEPARATED, "010282", "030282")
    assert held(SEPARATED, "010282", "050282")
    assert not held(SEPARATED, "020282", "060282")  # two 40-foot bays side by side
    assert held(SEPARATED, "020282", "100282")


def test_separated_from_on_deck_athwartships_one_container_space() -> None:
    """7.4.3.3 "separated from", on deck, athwartships: one container space."""
    assert not held(SEPARATED, "010182", "010382")
    assert held(SEPARATED, "010182", "010582")
    assert not held(SEPARATED, "010182", "010282")  # either side of the centreline
    assert not held(SEPARATED, "010182", "030382")  # diagonally adjacent


def test_separated_from_under_deck_one_container_space_or_one_bulkhead() -> None:
    """7.4.3.3 "separated from", under deck, fore and aft: one container space or one bulkhead;
    athwartships: one container space."""
    assert not held(SEPARATED, "010202", "030202")
    assert held(SEPARATED, "010202", "050202")  # one container space, same hold
    assert held(SEPARATED, "070202", "090202")  # adjacent bays, a bulkhead between
    assert not held(SEPARATED, "010102", "010302")
    assert held(SEPARATED, "010102", "010502")


def test_separated_from_not_in_the_same_vertical_line_unless_segregated_by_a_deck() -> None:
    """7.4.3.3 "separated from", vertical: a deck (the hatch cover) between them is enough."""
    assert not held(SEPARATED, "010202", "010206")
    assert not held(SEPARATED, "010282", "010284")
    assert held(SEPARATED, "010282", "010206")
    assert held(SEPARATED, "010282", "030206")


def test_separated_by_a_complete_compartment_on_deck() -> None:
    """7.4.3.3 "separated by a complete compartment or hold from", on deck: one container
    space fore and aft, two athwartships."""
    assert not held(COMPARTMENT, "010282", "030282")
    assert held(COMPARTMENT, "010282", "050282")
    assert not held(COMPARTMENT, "010182", "010582")
    assert held(COMPARTMENT, "010182", "010782")


def test_separated_by_a_complete_compartment_under_deck_one_bulkhead() -> None:
    """7.4.3.3 "separated by a complete compartment or hold from", under deck: one bulkhead
    fore and aft, one bulkhead athwartships (none runs fore and aft in a hold)."""
    assert not held(COMPARTMENT, "010202", "070202")  # two container spaces, one hold
    assert held(COMPARTMENT, "070202", "090202")
    assert not held(COMPARTMENT, "010102", "010902")
    assert held(COMPARTMENT, "010206", "030286")  # a deck between them


def test_separated_longitudinally_on_deck_24_metres() -> None:
    """7.4.3.3 "separated longitudinally by an intervening complete compartment or hold from",
    on deck: a minimum horizontal distance of 24 m fore and aft; athwartships prohibited."""
    assert not held(LONGITUDINALLY, "010282", "090282")  # three empty bays: 18.2 m
    assert held(LONGITUDINALLY, "010282", "110282")  # four: 24.2 m
    assert not held(LONGITUDINALLY, "010182", "011682")


def test_separated_longitudinally_under_deck_a_bulkhead_and_24_metres() -> None:
    """7.4.3.3 "separated longitudinally ...", under deck: one bulkhead and 24 m; vertical
    prohibited, a deck between them being no longitudinal separation."""
    assert held(LONGITUDINALLY, "030202", "130202")
    assert not held(LONGITUDINALLY, "050202", "130202")  # a bulkhead, but 18.2 m
    assert held(LONGITUDINALLY, "070202", "170202")  # a whole hold between them
    assert not held(LONGITUDINALLY, "010282", "010206")
    assert not held(LONGITUDINALLY, "010282", "070206")  # above the same hold
    assert held(LONGITUDINALLY, "010282", "110206")


def test_no_requirement_is_always_held() -> None:
    assert held(Segregation.NONE, "010282", "010284")


def test_a_verdict_says_what_was_needed_and_what_was_found() -> None:
    verdict = judge(SEPARATED, p("010282"), p("030282"))
    assert "on deck" in verdict.why
    assert "one container space" in verdict.why
    assert "adjacent" in verdict.why
