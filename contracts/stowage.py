"""Where a container stands on a container ship, and the IMDG 7.4.3.3 distances it keeps.

A stowage position is ISO 9711-1's ``BBRRTT``: six digits, bay, row, tier.

* **Bay** 01-99 from forward: odd numbers are 20-foot bays; an even number is
  a 40-foot bay over the two 20-foot bays either side (02 is 01 and 03).
* **Row** 00-99 across the ship: 00 on the centreline, odd numbers to
  starboard and even to port, counting outwards (01, 03 ... and 02, 04 ...).
* **Tier** even numbers: 02, 04 ... under deck (up to 78), 82, 84 ... on deck.

The chain knows no vessel's plan, so it measures by the numbers alone, and
where they leave a doubt it takes the nearer reading, which can only refuse
a stowage the Code allows, never allow one it forbids:

* fore and aft, a container space (IMDG 7.4.3.1: at least 6 m) is an empty
  20-foot bay between the two units: no gap between bays is counted, so
  ``n`` empty bays are at least ``n`` x 6.058 m (a 20-foot container's length);
* athwartships, a container space (at least 2.4 m) is an empty row; rows 01
  and 02 are taken as neighbours, as on a ship with no centreline row;
* holds: every hold is taken as four 20-foot bays (two 40-foot bays), counted
  from bay 01 (hold 1 is bays 01-07, hold 2 bays 09-15, ...), with a
  transverse bulkhead between each two; a 40-foot bay over such a boundary
  (08, 16 ...) counts in both holds. No bulkhead runs fore and aft in a hold.
  On deck a container stands above the hold its bay is in.

:data:`TABLE` is IMDG 7.4.3.3, the segregation of containers on board
container ships, for closed cargo transport units (every unit the chain
knows of is taken as closed), read from ``contracts/data/
container_ship_segregation.csv``: for each requirement of the 7.2.4 table
(1 "away from" ... 4 "separated longitudinally ..."), what must lie between
two units fore and aft, athwartships and vertically, on deck and under deck.
A cell's rule is ``none`` (no restriction), ``prohibited``, ``deck`` ("not in
the same vertical line unless segregated by a deck"), or alternatives joined
by ``|``, each a conjunction joined by ``&`` of ``spaces=N`` (container
spaces), ``bulkheads=N``, ``metres=N`` (fore and aft) and ``clear=N`` (each
unit at least N m from the intervening bulkhead, unless a whole hold lies
between them).

:func:`judge` applies it to two positions. Both on deck, or both under deck:
the requirement holds when the fore-and-aft cell or the athwartships cell is
met. One on deck and one under deck: a deck lies between them, which is
enough where the vertical cell is ``none`` or ``deck``; where it is
``prohibited`` ("separated longitudinally"), a deck is no longitudinal
separation, and the under-deck cells must be met.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Final

from contracts.errors import ContractError, TransactionRejected, Violation
from contracts.segregation import Segregation

RESOURCE: Final = "container_ship_segregation.csv"
PATH: Final = "$.body.stowage"
BAY_MM: Final = 6058
"""The least fore-and-aft length of an empty 20-foot bay: a 20-foot container's, in mm."""
BAYS_PER_HOLD: Final = 4
"""20-foot bays in a hold, as the chain takes every vessel to be built."""
FIRST_ON_DECK: Final = 82
LAST_UNDER_DECK: Final = 78
DIRECTIONS: Final = ("vertical", "fore_and_aft", "athwartships")
STOWAGES: Final = ("on_deck", "under_deck")
PARAGRAPH: Final = "7.4.3.3"


@dataclass(frozen=True, slots=True)
class Position:
    """An ISO 9711-1 stowage position; build it with :meth:`parse` or :func:`read_positions`."""

    bay: int
    row: int
    tier: int

    @classmethod
    def parse(cls, text: str) -> Position:
        """The position ``BBRRTT``; :class:`ContractError` if it is not one."""
        found = _problem(text)
        if found is not None:
            code, message = found
            raise ContractError(code, PATH, message)
        return cls(int(text[:2]), int(text[2:4]), int(text[4:]))

    @property
    def text(self) -> str:
        """``BBRRTT``."""
        return f"{self.bay:02d}{self.row:02d}{self.tier:02d}"

    @property
    def on_deck(self) -> bool:
        """Whether the unit stands on deck (tier 82 and up) rather than in a hold."""
        return self.tier >= FIRST_ON_DECK

    @property
    def slots(self) -> tuple[int, int]:
        """The first and last 20-foot bay it occupies, numbered 1, 2 ... from forward."""
        if self.bay % 2:
            return (self.bay + 1) // 2, (self.bay + 1) // 2
        return self.bay // 2, self.bay // 2 + 1

    @property
    def holds(self) -> tuple[int, int]:
        """The first and last hold it is in (or above, on deck)."""
        first, last = self.slots
        return _hold(first), _hold(last)

    @property
    def across(self) -> tuple[int, int]:
        """(side, rank): side 1 starboard, -1 port, 0 centreline; rank 1 for rows 01 and 02."""
        if self.row == 0:
            return 0, 0
        return (1 if self.row % 2 else -1), (self.row + 1) // 2

    def where(self) -> str:
        """``on deck`` or ``under deck in hold N``."""
        if self.on_deck:
            return "on deck"
        first, last = self.holds
        if first == last:
            return f"under deck in hold {first}"
        return f"under deck in holds {first} and {last}"

    def describe(self) -> str:
        """``bay 03, row 02, tier 82, on deck``."""
        return f"bay {self.bay:02d}, row {self.row:02d}, tier {self.tier:02d}, {self.where()}"


def _hold(slot: int) -> int:
    return (slot - 1) // BAYS_PER_HOLD + 1


def _problem(value: Any) -> tuple[str, str] | None:
    """(code, why) when ``value`` is not a stowage position."""
    if type(value) is not str or len(value) != 6 or not all("0" <= c <= "9" for c in value):
        return "stowage.format", "not a stowage position BBRRTT: six digits, bay, row and tier"
    bay, tier = int(value[:2]), int(value[4:])
    if bay == 0:
        return "stowage.bay", f"bay {value[:2]}: bays are numbered 01 to 99"
    if tier % 2 or tier == 0 or LAST_UNDER_DECK < tier < FIRST_ON_DECK:
        return (
            "stowage.tier",
            f"tier {value[4:]}: tiers are even, 02 to {LAST_UNDER_DECK} under deck and"
            f" {FIRST_ON_DECK} to 98 on deck",
        )
    return None


def read_positions(value: Any, path: str = PATH) -> dict[str, Position]:
    """The positions a ``loaded`` decision gives, by container number; every problem at once."""
    if (
        not isinstance(value, dict)
        or not value
        or not all(type(k) is str for k in value)
        or len(value) > MAX_CONTAINERS
    ):
        raise TransactionRejected(
            [
                Violation(
                    "body.invalid_field",
                    path,
                    f"a map of 1 to {MAX_CONTAINERS} container numbers of the declaration, each"
                    ' to its stowage position BBRRTT: {"CSQU3054383": "030282"}',
                )
            ]
        )
    found, wrong = {}, []
    for container in sorted(value):
        problem = _problem(value[container])
        if problem is None:
            found[container] = Position.parse(value[container])
        else:
            code, why = problem
            wrong.append(Violation(code, f"{path}.{container}", f"container {container}: {why}"))
    if wrong:
        raise TransactionRejected(wrong)
    return found


MAX_CONTAINERS: Final = 500
"""Positions one decision may give: a declaration has at most this many containers."""


# ------------------------------------------------------------ distances


def fore_and_aft_spaces(a: Position, b: Position) -> int:
    """Empty 20-foot bays between ``a`` and ``b``: -1 when they overlap fore and aft."""
    (a_first, a_last), (b_first, b_last) = a.slots, b.slots
    return (
        max(b_first - a_last, a_first - b_last) - 1 if a_last < b_first or b_last < a_first else -1
    )


def athwartship_spaces(a: Position, b: Position) -> int:
    """Empty rows between ``a`` and ``b``: -1 in the same row.

    Across the centreline rows 01 and 02 are taken as neighbours (no row 00
    between them), the nearer of the two layouts a ship may have.
    """
    if a.row == b.row:
        return -1
    (side_a, rank_a), (side_b, rank_b) = a.across, b.across
    if 0 in (side_a, side_b) or side_a == side_b:
        return abs(rank_a - rank_b) - 1
    return rank_a + rank_b - 2


def bulkheads_between(a: Position, b: Position) -> int:
    """Transverse bulkheads between the holds of ``a`` and ``b``: 0 if they share one."""
    (a_first, a_last), (b_first, b_last) = a.holds, b.holds
    return max(b_first - a_last, a_first - b_last, 0)


def _clear_of_bulkhead(a: Position, b: Position, metres: int) -> bool:
    """Whether both units are ``metres`` from the bulkhead between them, or a hold between them."""
    bulkheads = bulkheads_between(a, b)
    if bulkheads >= 2:
        return True
    if bulkheads == 0:
        return False
    fore, aft = (a, b) if a.slots[0] < b.slots[0] else (b, a)
    bulkhead = fore.holds[1] * BAYS_PER_HOLD  # the last 20-foot bay before it
    need = -(-metres * 1000 // BAY_MM)  # empty bays that make ``metres``
    return bulkhead - fore.slots[1] >= need and aft.slots[0] - bulkhead - 1 >= need


# ---------------------------------------------------------------- table


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of IMDG 7.4.3.3: its rule, read from the table file, and its words."""

    rule: str
    text: str
    alternatives: tuple[tuple[tuple[str, int], ...], ...]
    """Any one alternative meets the cell; each is terms that must all hold: (kind, amount).
    ``none`` is one empty alternative (always met), ``prohibited`` and ``deck`` none."""


_KINDS: Final = frozenset({"spaces", "bulkheads", "metres", "clear"})


def _cell(rule: str, text: str) -> Cell:
    if rule == "none":
        return Cell(rule, text, ((),))
    if rule in ("prohibited", "deck"):
        return Cell(rule, text, ())
    alternatives = []
    for alternative in rule.split("|"):
        terms = []
        for term in alternative.split("&"):
            kind, _, amount = term.strip().partition("=")
            if kind not in _KINDS or not amount.isdigit():
                raise ContractError("stowage.table", RESOURCE, f"not a rule: {rule!r}")
            terms.append((kind, int(amount)))
        alternatives.append(tuple(terms))
    return Cell(rule, text, tuple(alternatives))


@cache
def _table() -> Mapping[tuple[Segregation, str, str], Cell]:
    text = resources.files("contracts.data").joinpath(RESOURCE).read_text(encoding="utf-8")
    cells = {}
    for row in csv.DictReader(io.StringIO(text)):
        key = (Segregation(int(row["requirement"])), row["direction"], row["stowage"])
        if key[1] not in DIRECTIONS or key[2] not in STOWAGES or key in cells:
            raise ContractError("stowage.table", RESOURCE, f"not a cell, or twice: {row}")
        cells[key] = _cell(row["rule"], row["text"])
    return MappingProxyType(cells)


TABLE: Final = _table()
"""IMDG 7.4.3.3 for closed units: (requirement, direction, stowage) -> :class:`Cell`."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether two positions keep a requirement, and in words what it asks and what is there."""

    held: bool
    why: str


def _met(cell: Cell, a: Position, b: Position, direction: str) -> bool:
    if direction == "fore_and_aft":
        spaces = fore_and_aft_spaces(a, b)
        metres = spaces * BAY_MM // 1000 if spaces >= 0 else -1
        measures = {"spaces": spaces, "bulkheads": bulkheads_between(a, b), "metres": metres}
    else:
        measures = {"spaces": athwartship_spaces(a, b), "bulkheads": 0, "metres": -1}
    return any(
        all(
            _clear_of_bulkhead(a, b, amount) if kind == "clear" else measures[kind] >= amount
            for kind, amount in alternative
        )
        for alternative in cell.alternatives
    )


def measured(a: Position, b: Position) -> str:
    """What lies between two positions, in words."""
    spaces = fore_and_aft_spaces(a, b)
    if spaces < 0:
        fore = "in the same bay"
    elif spaces == 0:
        fore = f"adjacent fore and aft (bays {a.bay:02d} and {b.bay:02d})"
    else:
        fore = f"{_spaces(spaces)} apart fore and aft (bays {a.bay:02d} and {b.bay:02d})"
    if not (a.on_deck and b.on_deck):
        bulkheads = bulkheads_between(a, b)
        fore += " in the same hold" if bulkheads == 0 else f" with {_plural(bulkheads, 'bulkhead')}"
        fore += " between them" if bulkheads else ""
    rows = athwartship_spaces(a, b)
    if rows < 0:
        across = "in the same row"
    elif rows == 0:
        across = f"adjacent athwartships (rows {a.row:02d} and {b.row:02d})"
    else:
        across = f"{_spaces(rows)} apart athwartships (rows {a.row:02d} and {b.row:02d})"
    return f"{fore}, and {across}"


def _asks(fore: Cell, across: Cell) -> str:
    """What a pair of cells asks, in words."""
    if fore.rule == across.rule == "none":
        return "no restriction"
    if across.rule == "prohibited":
        return f"fore and aft {fore.text}, athwartships it is prohibited"
    return f"fore and aft {fore.text}, or athwartships {across.text}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _spaces(n: int) -> str:
    return _plural(n, "container space")


def judge(requirement: Segregation, a: Position, b: Position) -> Verdict:
    """Whether closed units at ``a`` and ``b`` keep ``requirement`` on a container ship."""
    if requirement is Segregation.NONE or requirement is Segregation.CLASS1:
        return Verdict(True, "no segregation required between them")
    if a.on_deck != b.on_deck:
        vertical = TABLE[requirement, "vertical", "under_deck"]
        if vertical.rule != "prohibited":
            return Verdict(
                True,
                f"one on deck and one under deck, a deck between them ({vertical.text})",
            )
        stowage = "under_deck"
        where = (
            "one on deck and one under deck (a deck is no longitudinal separation: as under deck)"
        )
    else:
        stowage = "on_deck" if a.on_deck else "under_deck"
        where = "on deck" if a.on_deck else "under deck"
    fore = TABLE[requirement, "fore_and_aft", stowage]
    across = TABLE[requirement, "athwartships", stowage]
    held = _met(fore, a, b, "fore_and_aft") or _met(across, a, b, "athwartships")
    return Verdict(
        held,
        f"{where}, IMDG {PARAGRAPH} asks {_asks(fore, across)}; they are {measured(a, b)}",
    )
