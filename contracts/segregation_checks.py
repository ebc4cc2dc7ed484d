"""Segregation of the goods packed in one cargo transport unit (IMDG 7.2, 7.3.4).

:func:`check_unit` judges every pair of items in one unit, whoever declared
them: it is a pure function of the items and their list entries, so a rule
that gathers the items of several declarations in one container calls it as
a declaration's own checks do. For each pair, the strictest rule that keeps
them apart is reported, once:

* class 1 against class 1: by compatibility group (7.2.7.1);
* the 7.2.4 table between their hazards, primary and subsidiary, the
  strictest applying (``contracts.segregation``): "separated from" or
  stricter never in the same unit (7.3.4.1);
* the list's column 16b: an SG code of either item that keeps it "separated
  from" a segregation group the other belongs to (IMDG 7.2.8, groups of
  3.1.4.4; ``contracts.segregation_codes``), such as SG35 on sodium cyanide
  against hydrochloric acid (SGG1). An item belongs to the groups of its list
  entry and to those its declaration states in ``segregationGroups``
  (5.4.1.5.11);
* "away from" by the table: only with a competent-authority approval,
  carried by either item as ``competentAuthorityApproval`` (7.3.4.1).

Items in limited quantities (3.4.4.1) or excepted quantities (3.5.1.1) are
exempt from segregation and take part in no pair. A violation points to the
later item of the pair and names the other by UN number, name and class
only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Final, NamedTuple

from contracts.errors import Violation
from contracts.segregation import Segregation, class1_compatible, required_segregation
from contracts.segregation_codes import GROUPS, UnitCode, number, requirements

if TYPE_CHECKING:
    from contracts.declaration import DangerousGoodsItem
    from contracts.dgl_types import DglEntry

TERMS: Final = {
    Segregation.AWAY_FROM: "away from",
    Segregation.SEPARATED_FROM: "separated from",
    Segregation.SEPARATED_BY_COMPARTMENT: "separated by a complete compartment or hold from",
    Segregation.SEPARATED_LONGITUDINALLY: (
        "separated longitudinally by an intervening complete compartment or hold from"
    ),
}


class UnitItem(NamedTuple):
    """One item in a cargo transport unit, as :func:`check_unit` judges it.

    A named tuple rather than a frozen dataclass: one is made per item of
    every declaration checked, and a tuple is built several times faster.
    """

    path: str
    """The item's JSON path (``$.containers[0].dangerousGoods[1]``): where its violations point."""
    item: DangerousGoodsItem
    entries: tuple[DglEntry, ...] = ()
    """The list entries the item was matched to: normally one; none when the list has no
    entry for it; several when the item does not tell them apart (then only the segregation
    data they all share counts)."""


_NEVER_TOGETHER: Final = frozenset(
    {
        Segregation.SEPARATED_FROM,
        Segregation.SEPARATED_BY_COMPARTMENT,
        Segregation.SEPARATED_LONGITUDINALLY,
    }
)
"""Cells of the 7.2.4 table that keep goods out of one unit (7.3.4.1)."""

# The table lookup is a pure function of two small tuples; declarations repeat them.
_required: Final = lru_cache(maxsize=4096)(required_segregation)
_compatible: Final = lru_cache(maxsize=1024)(class1_compatible)


@lru_cache(maxsize=4096)
def _entry_data(entries: tuple[DglEntry, ...]) -> tuple[frozenset[str], tuple[UnitCode, ...]]:
    # What every entry agrees on: a code or group is certain only if all have it.
    if not entries:
        return frozenset(), ()
    groups = frozenset(entries[0].segregation_groups)
    codes = requirements(entries[0].segregation_codes)
    for e in entries[1:]:
        groups &= frozenset(e.segregation_groups)
        codes = tuple(c for c in codes if c.code in e.segregation_codes)
    return groups, codes


# What the checks need of an item, computed once per item per unit:
# (the item, the groups it belongs to, those of them the list gives, its judged SG codes).
_Facts = tuple[UnitItem, tuple[str, ...], tuple[str, ...], tuple[UnitCode, ...]]


def _facts(unit: UnitItem) -> _Facts:
    entries = unit.entries
    if len(entries) == 1:
        listed: tuple[str, ...] = entries[0].segregation_groups
        codes = requirements(entries[0].segregation_codes)
    else:
        shared, codes = _entry_data(entries)
        listed = tuple(sorted(shared))
    declared = unit.item.segregation_groups
    return unit, (*listed, *declared) if declared else listed, listed, codes


def _name(item: DangerousGoodsItem) -> str:
    hazards = item.imo_class
    if item.subsidiary_hazards:
        hazards += f" ({', '.join(item.subsidiary_hazards)})"
    return f"UN {item.un_number} {item.proper_shipping_name} [{hazards}]"


def _in_unit(unit: str) -> str:
    return f"in the same container {unit}" if unit else "in the same container"


def _sg_reasons(holder: _Facts, other: _Facts) -> list[tuple[str, str]]:
    """(code, why) for each SG code of ``holder`` that keeps it from ``other``."""
    out = []
    for c in holder[3]:
        if c.group in other[1]:
            source = "IMDG 3.1.4.4" if c.group in other[2] else "declared in segregationGroups"
            out.append(
                (
                    c.code,
                    f"{c.code} on UN {holder[0].item.un_number}, separated from {c.group} "
                    f"{GROUPS[c.group]}, and UN {other[0].item.un_number} is in {c.group} "
                    f"({source})",
                )
            )
    return out


def _pair(first: _Facts, second: _Facts, unit: str) -> Violation | None:
    a, b = first[0].item, second[0].item
    path = second[0].path
    if a.imo_class[0] == "1" and b.imo_class[0] == "1":
        if not _compatible(a.imo_class, b.imo_class):
            return Violation(
                "segregation.class1_incompatible",
                path,
                f"{_name(b)} may not be packed with {_name(a)} {_in_unit(unit)}: "
                f"compatibility groups {a.imo_class[-1]} and {b.imo_class[-1]} "
                "are not allowed together",
                "7.2.7.1",
            )
        table = Segregation.NONE
    else:
        table = _required(a.hazards, b.hazards)
        if table in _NEVER_TOGETHER:
            return Violation(
                "segregation.same_container",
                path,
                f"{_name(b)} must be {TERMS[table]} {_name(a)} (IMDG 7.2.4): they may not be "
                f"packed {_in_unit(unit)}",
                "7.3.4.1",
            )
    if first[3] or second[3]:
        reasons = sorted(
            _sg_reasons(second, first) + _sg_reasons(first, second),
            key=lambda r: number(r[0]),
        )
        if reasons:
            return Violation(
                "segregation.sg_code",
                path,
                f"{_name(b)} must be separated from {_name(a)} by the Dangerous Goods List's "
                f"segregation codes: {'; '.join(why for _, why in reasons)}: they may not be "
                f"packed {_in_unit(unit)}",
                f"7.2.8 {', '.join(code for code, _ in reasons)}",
            )
    if table is Segregation.AWAY_FROM and not (
        a.competent_authority_approval or b.competent_authority_approval
    ):
        return Violation(
            "segregation.away_from_without_approval",
            path,
            f"{_name(b)} must be stowed 'away from' {_name(a)} (IMDG 7.2.4): "
            f"{_in_unit(unit)} only with a competent-authority approval "
            "(competentAuthorityApproval)",
            "7.3.4.1",
        )
    return None


_SEPARATED: Final = Segregation.SEPARATED_FROM


class Requirement(NamedTuple):
    """The segregation two items in different units need, and why: :func:`requirement`."""

    level: Segregation
    """``NONE`` or one of the 7.2.4 table's numbers, 1 to 4."""
    why: str
    """The goods and the rule, in words, with its paragraph: UN numbers, names and classes."""
    paragraph: str


_NO_REQUIREMENT: Final = Requirement(Segregation.NONE, "", "")


def requirement(first: UnitItem, second: UnitItem) -> Requirement:
    """The strictest segregation ``first`` and ``second`` need when in different closed units.

    What :func:`check_unit` applies to a pair in one unit, as a level of the
    7.2.4 table: the table between their hazards; class 1 goods whose
    compatibility groups table 7.2.7.1.4 does not let be stowed together,
    "separated from"; an SG code of column 16b keeping one "separated from" a
    group of the other (7.2.8), "separated from". Limited and excepted
    quantities need none (3.4.4.1, 3.5.1.1). Of equal levels the table's is
    named, then class 1's, then the SG codes'.
    """
    units = (first, second)
    if any(u.item.is_limited_quantity or u.item.is_excepted_quantity for u in units):
        return _NO_REQUIREMENT
    a, b = first.item, second.item
    goods = f"{_name(a)} against {_name(b)}"
    found = _NO_REQUIREMENT
    if a.imo_class[0] == "1" and b.imo_class[0] == "1":
        if not _compatible(a.imo_class, b.imo_class):
            found = Requirement(
                _SEPARATED,
                f"{goods}: compatibility groups {a.imo_class[-1]} and {b.imo_class[-1]} may"
                " not be stowed together (IMDG 7.2.7.1.4)",
                "7.2.7.1.4",
            )
    else:
        table = _required(a.hazards, b.hazards)
        if table is not Segregation.NONE:
            found = Requirement(table, f"{goods} (segregation table, IMDG 7.2.4)", "7.2.4")
    if found.level.strictness < _SEPARATED.strictness:
        one, other = _facts(first), _facts(second)
        if one[3] or other[3]:
            reasons = sorted(
                _sg_reasons(one, other) + _sg_reasons(other, one), key=lambda r: number(r[0])
            )
            if reasons:
                codes = ", ".join(code for code, _ in reasons)
                found = Requirement(
                    _SEPARATED,
                    f"{goods}: {'; '.join(why for _, why in reasons)} (IMDG 7.2.8 {codes})",
                    f"7.2.8 {codes}",
                )
    return found


def sg_codes_between(a: tuple[DglEntry, ...], b: tuple[DglEntry, ...]) -> tuple[str, ...]:
    """The judged SG codes that keep goods of entries ``a`` and ``b`` apart, either way.

    Empty when column 16b lets them share a unit (the 7.2.4 table aside), so a
    generator of sample traffic can pack only goods the rules accept together.
    """
    groups_a, codes_a = _entry_data(a)
    groups_b, codes_b = _entry_data(b)
    found = {c.code for c in codes_a if c.group in groups_b}
    found |= {c.code for c in codes_b if c.group in groups_a}
    return tuple(sorted(found, key=number))


def check_unit(unit: str, items: Sequence[UnitItem]) -> list[Violation]:
    """Every pair of ``items``, packed in the unit ``unit``, that may not be together.

    ``unit`` is the container's number, named in the messages ("" if unknown).
    Pairs are taken in order, each reported at its later item, so callers that
    add new items after those already in the unit get violations that point at
    the new ones. Pure: the same items give the same violations, in order.
    """
    facts = [
        _facts(u) for u in items if not (u.item.is_limited_quantity or u.item.is_excepted_quantity)
    ]
    out: list[Violation] = []
    for n, second in enumerate(facts):
        for first in facts[:n]:
            found = _pair(first, second, unit)
            if found is not None:
                out.append(found)
    return out
