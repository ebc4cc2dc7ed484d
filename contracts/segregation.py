"""IMDG segregation: the 7.2.4 table between classes and the class 1 mixing table.

The matrix below is written from the IMDG Code, amendment 42-24: 2.1/4.3 and
3/4.3 are "separated from" (older editions had X and "away from"). Rows and
columns are the table's seventeen headings; divisions 1.1, 1.2 and 1.5 share a
heading, as do 1.3 and 1.6. Class 1 against class 1 is ``*``: the
compatibility groups decide (IMDG 7.2.7, :func:`class1_mixing`).

The table is only the general rule: the entry's own segregation provisions
(column 16b, segregation groups, SG codes) and the exemptions for limited and
excepted quantities (IMDG 3.4, 3.5, 7.2.6) are applied by the declaration
checks, not here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

from contracts.errors import ContractError


class Segregation(Enum):
    """A cell of the 7.2.4 table."""

    NONE = "X"
    """No general requirement: see the entry's own provisions."""
    AWAY_FROM = 1
    SEPARATED_FROM = 2
    SEPARATED_BY_COMPARTMENT = 3
    """Separated by a complete compartment or hold from."""
    SEPARATED_LONGITUDINALLY = 4
    """Separated longitudinally by an intervening complete compartment or hold from."""
    CLASS1 = "*"
    """Class 1 against class 1: go by compatibility group (7.2.7)."""

    @property
    def strictness(self) -> int:
        """0 (``X``) to 4 on the table's scale; ``*`` has no place on it and raises."""
        if self is Segregation.CLASS1:
            raise ContractError(
                "segregation.class1", "$", "class 1 against class 1 is decided by group"
            )
        return 0 if self is Segregation.NONE else int(self.value)


HEADINGS: Final = (
    "1.1/1.2/1.5",
    "1.3/1.6",
    "1.4",
    "2.1",
    "2.2",
    "2.3",
    "3",
    "4.1",
    "4.2",
    "4.3",
    "5.1",
    "5.2",
    "6.1",
    "6.2",
    "7",
    "8",
    "9",
)
"""The headings of the 7.2.4 table, in its order."""

DIVISIONS: Final = tuple(d for h in HEADINGS for d in h.split("/"))
"""The twenty classes and divisions under the headings, in table order (1.1, 1.2, 1.5, 1.3 …)."""

# One string per row, cells in HEADINGS order. Symmetric by construction of the
# Code; tests check that and every cell against the reference copy.
_TABLE: Final = {
    "1.1/1.2/1.5": "* * * 4 2 2 4 4 4 4 4 4 2 4 2 4 X",
    "1.3/1.6": "* * * 4 2 2 4 3 3 4 4 4 2 4 2 2 X",
    "1.4": "* * * 2 1 1 2 2 2 2 2 2 X 4 2 2 X",
    "2.1": "4 4 2 X X X 2 1 2 2 2 2 X 4 2 1 X",
    "2.2": "2 2 1 X X X 1 X 1 X X 1 X 2 1 X X",
    "2.3": "2 2 1 X X X 2 X 2 X X 2 X 2 1 X X",
    "3": "4 4 2 2 1 2 X X 2 2 2 2 X 3 2 X X",
    "4.1": "4 3 2 1 X X X X 1 X 1 2 X 3 2 1 X",
    "4.2": "4 3 2 2 1 2 2 1 X 1 2 2 1 3 2 1 X",
    "4.3": "4 4 2 2 X X 2 X 1 X 2 2 X 2 2 1 X",
    "5.1": "4 4 2 2 X X 2 1 2 2 X 2 1 3 1 2 X",
    "5.2": "4 4 2 2 1 2 2 2 2 2 2 X 1 3 2 2 X",
    "6.1": "2 2 X X X X X X 1 X 1 1 X 1 X X X",
    "6.2": "4 4 4 4 2 2 3 3 3 2 3 3 1 X 3 3 X",
    "7": "2 2 2 2 1 1 2 2 2 2 1 2 X 3 X 2 X",
    "8": "4 2 2 1 X X X 1 1 1 2 2 X 3 2 X X",
    "9": "X X X X X X X X X X X X X X X X X",
}

_CELL: Final = {s.value if isinstance(s.value, str) else str(s.value): s for s in Segregation}

MATRIX: Final[Mapping[tuple[str, str], Segregation]] = MappingProxyType(
    {
        (row, col): _CELL[cell]
        for row, cells in _TABLE.items()
        for col, cell in zip(HEADINGS, cells.split(" "), strict=True)
    }
)
"""The 7.2.4 table: (row heading, column heading) -> cell."""

_HEADING_OF: Final = {
    "1.1": "1.1/1.2/1.5",
    "1.2": "1.1/1.2/1.5",
    "1.5": "1.1/1.2/1.5",
    "1.3": "1.3/1.6",
    "1.6": "1.3/1.6",
    # A subsidiary hazard of class 1 (self-reactive substances and organic
    # peroxides, type B) is segregated as division 1.3: IMDG 7.2.8, code SG1.
    "1": "1.3/1.6",
    **{h: h for h in HEADINGS[2:]},
}

COMPATIBILITY_GROUPS: Final = "ABCDEFGHJKLNS"


def heading(hazard: str) -> str:
    """The 7.2.4 heading of a class or division (``"1.4S"`` -> ``"1.4"``)."""
    key = hazard
    if hazard.startswith("1.") and len(hazard) == 4 and hazard[3] in COMPATIBILITY_GROUPS:
        key = hazard[:3]
    try:
        return _HEADING_OF[key]
    except KeyError:
        raise ContractError(
            "segregation.unknown_class", "$", f"not a class or division: {hazard!r}"
        ) from None


def segregation_level(class_a: str, class_b: str) -> Segregation:
    """The 7.2.4 cell between two classes or divisions (class 1 with or without group)."""
    return MATRIX[heading(class_a), heading(class_b)]


def _is_class1(hazard: str) -> bool:
    return hazard.startswith("1.")


def required_segregation(hazards_a: Sequence[str], hazards_b: Sequence[str]) -> Segregation:
    """The segregation two goods need: the strictest cell over all their hazards.

    Each argument is the goods' primary class or division followed by its
    subsidiary hazards, e.g. ``["3", "6.1"]`` for methanol. IMDG 7.2.3 and the
    note to the 7.2.4 table require the segregation of a subsidiary hazard
    where it is more stringent than that of the primary hazard (UN Model
    Regulations 7.1.2.3 (c) state the same rule). When both primary hazards
    are class 1 the answer is :attr:`Segregation.CLASS1` (7.2.7 decides by
    compatibility group); a class 1 subsidiary meeting class 1 goods adds no
    cell of its own, since the table has none for that pair.
    """
    for name, hazards in (("hazards_a", hazards_a), ("hazards_b", hazards_b)):
        if isinstance(hazards, str) or not hazards:
            raise ContractError(
                "segregation.no_hazard", f"$.{name}", "a non-empty sequence of classes"
            )
        for h in hazards:
            heading(h)
    if _is_class1(hazards_a[0]) and _is_class1(hazards_b[0]):
        return Segregation.CLASS1
    strictest = Segregation.NONE
    for a in hazards_a:
        for b in hazards_b:
            cell = segregation_level(a, b)
            if cell is not Segregation.CLASS1 and cell.strictness > strictest.strictness:
                strictest = cell
    return strictest


@dataclass(frozen=True, slots=True)
class Class1Mixing:
    """A cell of IMDG table 7.2.7.1.4 (permitted mixed stowage of class 1 groups)."""

    permitted: bool
    note: int | None = None
    """Number of the table's condition that applies (see :data:`CLASS1_NOTES`)."""


CLASS1_NOTES: Final = MappingProxyType(
    {
        1: "Articles of group G (other than fireworks and those requiring special "
        "stowage) may go with articles of groups C, D and E, provided no explosive "
        "substances are carried in the same compartment or unit.",
        2: "Group L only with the same type of substances and articles of group L.",
        3: "Different articles of 1.6N only where testing or analogy shows no added "
        "risk of sympathetic detonation; otherwise treat them as division 1.1.",
        4: "Articles of group N carried with groups C, D or E are treated as group D.",
        5: "Articles of group N carried with group S: the whole load is treated as group N.",
        6: "Any combination of articles of groups C, D and E, or of substances of "
        "groups C and D, may be stowed together; the mix is treated as the most "
        "appropriate single group.",
    }
)
"""The conditions of table 7.2.7.1.4, summarised (not the Code's wording)."""

# (group, group) -> note for permitted pairs; pairs not listed are not permitted.
# Group S goes with every group but A and L; A and L only with themselves.
_PERMITTED: Final = {
    **{(g, g): None for g in "ABCDEFGHJKS"},
    ("L", "L"): 2,
    ("N", "N"): 3,
    ("C", "D"): 6,
    ("C", "E"): 6,
    ("D", "E"): 6,
    ("C", "G"): 1,
    ("D", "G"): 1,
    ("E", "G"): 1,
    ("C", "N"): 4,
    ("D", "N"): 4,
    ("E", "N"): 4,
    ("N", "S"): 5,
    **{(g, "S"): None for g in "BCDEFGHJK"},
}


def _group(value: str) -> str:
    group = value[3:] if value.startswith("1.") else value
    if len(group) != 1 or group not in COMPATIBILITY_GROUPS:
        raise ContractError(
            "segregation.unknown_group", "$", f"not a class 1 compatibility group: {value!r}"
        )
    return group


def class1_mixing(a: str, b: str) -> Class1Mixing:
    """Whether goods of two compatibility groups (``"S"`` or ``"1.4S"``) may be stowed together."""
    ga, gb = sorted((_group(a), _group(b)))
    key = (ga, gb)
    if key not in _PERMITTED:
        return Class1Mixing(permitted=False)
    return Class1Mixing(permitted=True, note=_PERMITTED[key])


def class1_compatible(a: str, b: str) -> bool:
    """True when table 7.2.7.1.4 lets the two groups share a unit (conditions aside)."""
    return class1_mixing(a, b).permitted
