"""Segregation of the items packed in one container (IMDG 7.2.4, 7.3.4).

For every pair of items in the same container, the segregation the table
requires between their hazards (primary and subsidiary, the strictest
applies; ``contracts.segregation``) decides:

* "separated from" or stricter: never in the same container (7.3.4.1);
* "away from": only with a competent-authority approval, carried by either
  item as ``competentAuthorityApproval`` (7.3.4.1);
* class 1 against class 1: by compatibility group (7.2.7.1).

Items in limited quantities (3.4.4.1) or excepted quantities (3.5.1.1) are
exempt from segregation and take part in no pair. The violation points to
the later item of the pair and names both. Segregation-group rules of the
list's column 16b are outside this check (the list entries do not carry them).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Final

from contracts.errors import Violation
from contracts.segregation import Segregation, class1_compatible, required_segregation

if TYPE_CHECKING:
    from contracts.declaration import Container, DangerousGoodsItem

TERMS: Final = {
    Segregation.AWAY_FROM: "away from",
    Segregation.SEPARATED_FROM: "separated from",
    Segregation.SEPARATED_BY_COMPARTMENT: "separated by a complete compartment or hold from",
    Segregation.SEPARATED_LONGITUDINALLY: (
        "separated longitudinally by an intervening complete compartment or hold from"
    ),
}


# The table lookup is a pure function of two small tuples; declarations repeat them.
_required: Final = lru_cache(maxsize=4096)(required_segregation)
_compatible: Final = lru_cache(maxsize=1024)(class1_compatible)


def _name(item: DangerousGoodsItem) -> str:
    hazards = item.imo_class
    if item.subsidiary_hazards:
        hazards += f" ({', '.join(item.subsidiary_hazards)})"
    return f"UN {item.un_number} {item.proper_shipping_name} [{hazards}]"


def pair_violation(
    first: DangerousGoodsItem, second: DangerousGoodsItem, container: str, path: str
) -> Violation | None:
    """The violation of packing ``first`` and ``second`` together, if there is one."""
    if first.imo_class[0] == "1" and second.imo_class[0] == "1":
        if _compatible(first.imo_class, second.imo_class):
            return None
        return Violation(
            "segregation.class1_incompatible",
            path,
            f"{_name(second)} may not be packed with {_name(first)} in container {container}: "
            f"compatibility groups {first.imo_class[-1]} and {second.imo_class[-1]} "
            "are not allowed together",
            "7.2.7.1",
        )
    required = _required(first.hazards, second.hazards)
    if required is Segregation.NONE:
        return None
    if required is Segregation.AWAY_FROM:
        if first.competent_authority_approval or second.competent_authority_approval:
            return None
        return Violation(
            "segregation.away_from_without_approval",
            path,
            f"{_name(second)} must be stowed 'away from' {_name(first)} (IMDG 7.2.4): "
            f"in the same container {container} only with a competent-authority approval "
            "(competentAuthorityApproval)",
            "7.3.4.1",
        )
    return Violation(
        "segregation.same_container",
        path,
        f"{_name(second)} must be {TERMS[required]} {_name(first)} (IMDG 7.2.4): they may not be "
        f"packed in the same container {container}",
        "7.3.4.1",
    )


def check_container_segregation(container: Container, path: str, out: list[Violation]) -> None:
    """Append a violation for every pair of items in ``container`` that may not be together."""
    items = [
        (i, item)
        for i, item in enumerate(container.dangerous_goods)
        if not (item.is_limited_quantity or item.is_excepted_quantity)
    ]
    for n, (j, second) in enumerate(items):
        for _, first in items[:n]:
            found = pair_violation(
                first, second, container.equipment_reference, f"{path}.dangerousGoods[{j}]"
            )
            if found is not None:
                out.append(found)
