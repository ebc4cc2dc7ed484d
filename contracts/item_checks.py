"""Checks of one dangerous-goods item: the list entry, class-specific data, quantities.

Matching against the Dangerous Goods List: the entries under the UN number
whose name accepts the declared proper shipping name (``shipping_names``)
are the candidates (all entries when none does, after reporting the name).
The item must equal one candidate in class, subsidiary hazards (as a set)
and packing group; otherwise each field in which the closest candidate
differs is reported with the values the candidates allow. The entry-specific
rules (technical name, EmS, marine pollutant, limited quantity) then use the
entry that matches in name, class, subsidiary hazards and packing group;
without one they are not judged, since the item was already refused.

Limited quantity (IMDG 3.4): the list's limit is per inner packaging. When
the item declares ``innerPackagings`` (counts per outer package), the
quantity compared is the net quantity / numberOfPackages / inner packagings
per package; otherwise the net quantity / numberOfPackages, a per-package
figure that can only overstate the inner quantity. The net quantity is
``netVolume`` for limits in L or mL and ``netWeight`` for limits in kg or g,
converted (MTQ, FTQ -> L; LBR, GRM, ONZ -> kg); an item without the net
quantity in the limit's dimension cannot be verified and is refused. A
limited-quantity package may weigh at most 30 kg gross (3.4.2.1): compared
is grossWeight / numberOfPackages. Where the list does not know the limit
(``None``) the limit is not judged.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from contracts import formats as f
from contracts.dgl_types import DangerousGoodsListProtocol, DglEntry
from contracts.errors import ReferenceDataError, Violation
from contracts.shipping_names import name_matches

if TYPE_CHECKING:
    from contracts.declaration import DangerousGoodsItem
    from contracts.document import ItemDraft

ROMAN: Final = {1: "I", 2: "II", 3: "III"}
FLASHPOINT_LIMIT_C: Final = Decimal(60)
"""Class 3 covers liquids with a flashpoint of 60 degC or below (IMDG 2.3.1.2)."""
LQ_PACKAGE_GROSS_KG: Final = Decimal(30)
"""Gross mass limit of a limited-quantity combination packaging (IMDG 3.4.2.1)."""

_LIMIT: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?(L|l|mL|ml|kg|g)")
_LIMIT_FACTORS: Final = {
    "L": ("L", Decimal(1)),
    "l": ("L", Decimal(1)),
    "mL": ("L", Decimal("0.001")),
    "ml": ("L", Decimal("0.001")),
    "kg": ("kg", Decimal(1)),
    "g": ("kg", Decimal("0.001")),
}


@lru_cache(maxsize=1024)
def limited_quantity_limit(text: str) -> tuple[Decimal, str] | None:
    """A list's limited-quantity limit as (amount in L or kg, "L" or "kg"); None if "0"."""
    if text.strip() == "0":
        return None
    m = _LIMIT.fullmatch(text.strip())
    if m is None:
        raise ReferenceDataError(
            "dgl.limited_quantity",
            "limited_quantity",
            f"limited-quantity limit {text!r} is not '<decimal> <L|mL|kg|g>' or '0'",
        )
    dimension, factor = _LIMIT_FACTORS[m[2]]
    return f.ARITHMETIC.multiply(Decimal(m[1]), factor), dimension


def _classes(hazards: tuple[str, ...] | frozenset[str]) -> str:
    return ", ".join(sorted(hazards)) if hazards else "none"


def _group(pg: int | None) -> str:
    return "none" if pg is None else ROMAN[pg]


def _label(entry: DglEntry) -> str:
    return f"UN {entry.un_number} {entry.proper_shipping_name}"


def check_item(
    item: DangerousGoodsItem, dgl: DangerousGoodsListProtocol, path: str, out: list[Violation]
) -> tuple[DglEntry, ...]:
    """Append every violation of one item to ``out``; return the entries it matches."""
    entries = _check_entry(item, dgl, path, out)
    if entries:
        _check_entry_rules(item, entries, path, out)
    _check_class_data(item, path, out)
    _check_quantities(item, entries[0] if len(entries) == 1 else None, path, out)
    return entries


def matching_entries(
    item: DangerousGoodsItem, dgl: DangerousGoodsListProtocol
) -> tuple[DglEntry, ...]:
    """The list entries ``item`` matches, as :func:`check_item` finds them (no violations)."""
    return _check_entry(item, dgl, "$", [])


def missing(path: str, key: str, why: str, paragraph: str | None) -> Violation:
    """A field the rules require, given the rest of the document, that is absent."""
    return Violation("field.missing", f"{path}.{key}", f"{key} is required: {why}", paragraph)


def _groups(entries: list[DglEntry]) -> str:
    groups = list(dict.fromkeys(_group(e.packing_group) for e in entries))
    return groups[0] if len(groups) == 1 else f"{', '.join(groups[:-1])} or {groups[-1]}"


def _missing_subsidiaries(declared: int, entry: DglEntry, path: str, out: list[Violation]) -> None:
    for n in range(declared, min(len(entry.subsidiary_hazards), 2)):
        out.append(
            missing(
                path,
                f"subsidiaryRisk{n + 1}",
                f"{_label(entry)} has subsidiary hazard(s) {_classes(entry.subsidiary_hazards)}",
                "5.4.1.4.1.4",
            )
        )


def _check_entry(
    item: DangerousGoodsItem, dgl: DangerousGoodsListProtocol, path: str, out: list[Violation]
) -> tuple[DglEntry, ...]:
    un = item.un_number
    entries = dgl.lookup(un)
    if not entries:
        out.append(
            Violation(
                "un_number.unknown",
                f"{path}.UNNumber",
                f"UN {un} is not in the Dangerous Goods List in force",
                "3.2",
            )
        )
        return ()
    named = [e for e in entries if name_matches(item.proper_shipping_name, e.proper_shipping_name)]
    if not named:
        names = " / ".join(dict.fromkeys(e.proper_shipping_name for e in entries))
        out.append(
            Violation(
                "psn.mismatch",
                f"{path}.properShippingName",
                f"properShippingName {item.proper_shipping_name!r} is not a name of UN {un}; "
                f"the list has: {names}",
                "3.1.2",
            )
        )
    candidates = named or list(entries)
    pg = item.packing_group
    if named and pg is not None:
        # The usual item states its entry in full: one pass finds it.
        cls, subs = item.imo_class, item.subsidiary_hazards
        exact = tuple(
            e
            for e in named
            if e.hazard_class == cls
            and e.packing_group == pg
            and (e.subsidiary_hazards == subs or sorted(e.subsidiary_hazards) == sorted(subs))
        )
        if exact:
            return exact
    subsidiaries = frozenset(item.subsidiary_hazards)

    def differences(e: DglEntry) -> tuple[bool, bool, bool]:
        # Subsidiary hazards or a packing group left out are missing, not different.
        return (
            e.hazard_class != item.imo_class,
            not subsidiaries <= frozenset(e.subsidiary_hazards),
            pg is not None and e.packing_group != pg,
        )

    def short(e: DglEntry) -> int:
        return len(e.subsidiary_hazards) - len(subsidiaries)

    best_score, best_short, best_n = min(
        (sum(differences(e)), short(e), n) for n, e in enumerate(candidates)
    )
    best = candidates[best_n]
    wrong = differences(best)

    def allowed(field: int) -> list[DglEntry]:
        # Entries agreeing with the item on the other two fields, else all candidates.
        agreeing = [
            e for e in candidates if not any(d for k, d in enumerate(differences(e)) if k != field)
        ]
        return agreeing or candidates

    if wrong[0]:
        expected = " or ".join(dict.fromkeys(e.hazard_class for e in allowed(0)))
        out.append(
            Violation(
                "class.mismatch",
                f"{path}.imoClass",
                f"imoClass {item.imo_class} does not match {_label(best)}: class {expected}",
                "5.4.1.4.1.3",
            )
        )
    if wrong[1]:
        expected = " or ".join(dict.fromkeys(_classes(e.subsidiary_hazards) for e in allowed(1)))
        out.append(
            Violation(
                "subsidiary.mismatch",
                f"{path}.subsidiaryRisk1",
                f"subsidiary hazards ({_classes(subsidiaries)}) do not match {_label(best)}: "
                f"({expected})",
                "5.4.1.4.1.4",
            )
        )
    elif best_short > 0:
        _missing_subsidiaries(len(subsidiaries), best, path, out)
    if wrong[2]:
        expected = " or ".join(dict.fromkeys(_group(e.packing_group) for e in allowed(2)))
        out.append(
            Violation(
                "packing_group.mismatch",
                f"{path}.packingGroup",
                f"packing group {_group(pg)} does not match {_label(best)}: "
                f"packing group {expected}",
                "5.4.1.4.1.5",
            )
        )
    matched = [e for e in candidates if not any(differences(e)) and short(e) == best_short]
    if pg is None:
        basis = matched or allowed(2)
        without = [e for e in basis if e.packing_group is None]
        if without:
            matched = [e for e in matched if e.packing_group is None]
        else:
            out.append(
                missing(
                    path,
                    "packingGroup",
                    f"{_label(best)} is in packing group {_groups(basis)}",
                    "5.4.1.4.1.5",
                )
            )
    return tuple(matched) if named and best_score == 0 else ()


def _check_entry_rules(
    item: DangerousGoodsItem, entries: tuple[DglEntry, ...], path: str, out: list[Violation]
) -> None:
    # With several entries (a packing group left out), only what they all say is judged.
    entry = entries[0]
    if len(entries) == 1:
        _check_one_entry(item, entry, path, out)
        return
    if item.technical_name is None and all(e.technical_name_required for e in entries):
        out.append(
            missing(
                path,
                "technicalName",
                f"{_label(entry)} is a generic or N.O.S. entry",
                "3.1.2.8.1",
            )
        )
    listed = {None if e.ems is None else " ".join(e.ems.replace(",", " ").split()) for e in entries}
    if item.ems_number is not None and len(listed) == 1 and None not in listed:
        (expected,) = listed
        if item.ems_number != expected:
            out.append(
                Violation(
                    "ems.mismatch",
                    f"{path}.EMSNumber",
                    f"EMSNumber {item.ems_number} does not match {_label(entry)}: {expected}",
                    "5.4.3.2",
                )
            )
    if not item.is_marine_pollutant and all(e.marine_pollutant for e in entries):
        out.append(
            Violation(
                "marine_pollutant.mismatch",
                f"{path}.isMarinePollutant",
                f"{_label(entry)} is marked a marine pollutant in the list: "
                "isMarinePollutant must be true",
                "5.4.1.4.3.5",
            )
        )


def _check_one_entry(
    item: DangerousGoodsItem, entry: DglEntry, path: str, out: list[Violation]
) -> None:
    if entry.technical_name_required and item.technical_name is None:
        why = f"{_label(entry)} is a generic or N.O.S. entry"
        out.append(missing(path, "technicalName", why, "3.1.2.8.1"))
    if entry.ems is not None and item.ems_number is not None:
        listed = " ".join(entry.ems.replace(",", " ").split())
        if item.ems_number != listed:
            out.append(
                Violation(
                    "ems.mismatch",
                    f"{path}.EMSNumber",
                    f"EMSNumber {item.ems_number} does not match {_label(entry)}: {listed}",
                    "5.4.3.2",
                )
            )
    if entry.marine_pollutant and not item.is_marine_pollutant:
        out.append(
            Violation(
                "marine_pollutant.mismatch",
                f"{path}.isMarinePollutant",
                f"{_label(entry)} is marked a marine pollutant in the list: "
                "isMarinePollutant must be true",
                "5.4.1.4.3.5",
            )
        )


def _needs_flash_point(hazards: tuple[str, ...]) -> bool:
    return "3" in hazards


def _check_class_data(item: DangerousGoodsItem, path: str, out: list[Violation]) -> None:
    hazards = item.hazards
    if _needs_flash_point(hazards):
        limits = item.limits
        if limits is None or limits.flash_point is None:
            out.append(
                missing(
                    path,
                    "limits.flashPoint",
                    f"UN {item.un_number} has a class 3 hazard",
                    "5.4.1.4.3",
                )
            )
        elif not item.is_hot:
            degrees = f.celsius(limits.flash_point, limits.temperature_unit)
            if degrees > FLASHPOINT_LIMIT_C:
                out.append(
                    Violation(
                        "flashpoint.out_of_range",
                        f"{path}.limits.flashPoint",
                        f"flashpoint {f.decimal_text(degrees, 1)} degC is above 60 degC: not a "
                        f"class 3 hazard unless carried hot (isHot)",
                        "2.3.1.2",
                    )
                )
    if item.imo_class[0] == "1" and item.net_explosive_content is None:
        out.append(
            missing(
                path,
                "netExplosiveContent",
                f"UN {item.un_number} is class {item.imo_class}",
                "5.4.1.5.1",
            )
        )


def check_draft(
    draft: ItemDraft, dgl: DangerousGoodsListProtocol, path: str, out: list[Violation]
) -> None:
    """Append the fields the rules require that an item which did not read lacks.

    Only what it lacks is judged: its other fields were reported by the reader
    or wait until it reads. Whatever it does state narrows the list entries it
    may be; a field is required when every one of them requires it.
    """
    values, given = draft.values, draft.given
    un, cls, name = (
        values.get("un_number"),
        values.get("imo_class"),
        values.get("proper_shipping_name"),
    )
    subs: tuple[str, ...] | None = ()
    for n in (1, 2):
        if f"subsidiaryRisk{n}" in given:
            hazard = values.get(f"_risk{n}")
            subs = None if hazard is None or subs is None else (*subs, hazard)
    candidates = list(dgl.lookup(un)) if un is not None else []
    for keep in (
        (lambda e: name is not None and name_matches(name, e.proper_shipping_name)),
        (lambda e: e.hazard_class == cls),
        (lambda e: subs is not None and set(subs) <= set(e.subsidiary_hazards)),
        (lambda e: e.packing_group == values.get("packing_group")),
    ):
        candidates = [e for e in candidates if keep(e)] or candidates
    if candidates:
        label = _label(candidates[0])
        if "packingGroup" not in given and all(e.packing_group is not None for e in candidates):
            why = f"{label} is in packing group {_groups(candidates)}"
            out.append(missing(path, "packingGroup", why, "5.4.1.4.1.5"))
        if subs is not None and all(len(e.subsidiary_hazards) > len(subs) for e in candidates):
            fewest = min(candidates, key=lambda e: len(e.subsidiary_hazards))
            _missing_subsidiaries(len(subs), fewest, path, out)
        if "technicalName" not in given and all(e.technical_name_required for e in candidates):
            why = f"{label} is a generic or N.O.S. entry"
            out.append(missing(path, "technicalName", why, "3.1.2.8.1"))
    if cls is not None:
        flash = _needs_flash_point((cls, *(subs or ())))
        explosive = cls[0] == "1"
    else:
        every = [(e.hazard_class, *e.subsidiary_hazards) for e in candidates]
        flash = bool(every) and all(_needs_flash_point(h) for h in every)
        explosive = bool(every) and all(h[0][0] == "1" for h in every)
    if flash and not draft.flash_point_given:
        why = f"UN {un} has a class 3 hazard"
        out.append(missing(path, "limits.flashPoint", why, "5.4.1.4.3"))
    if explosive and "netExplosiveContent" not in given:
        why = f"UN {un} is class {cls or candidates[0].hazard_class}"
        out.append(missing(path, "netExplosiveContent", why, "5.4.1.5.1"))


def _check_quantities(
    item: DangerousGoodsItem, entry: DglEntry | None, path: str, out: list[Violation]
) -> None:
    gross = item.gross_weight
    net = item.net_weight
    if net is not None:
        net_kg = f.in_base_unit(net.value, net.unit)
        gross_kg = f.in_base_unit(gross.value, gross.unit)
        if net_kg > gross_kg:
            out.append(
                Violation(
                    "quantity.net_exceeds_gross",
                    f"{path}.netWeight",
                    f"netWeight {net.value} {net.unit} exceeds grossWeight "
                    f"{gross.value} {gross.unit}",
                )
            )
    if not item.is_limited_quantity:
        return
    if item.is_excepted_quantity:
        out.append(
            Violation(
                "quantity.limited_and_excepted",
                f"{path}.isExceptedQuantity",
                "an item is carried either in limited quantity (3.4) or in excepted "
                "quantity (3.5), not both",
            )
        )
    packages = item.number_of_packages
    per_package_kg = f.ARITHMETIC.divide(f.in_base_unit(gross.value, gross.unit), packages)
    if per_package_kg > LQ_PACKAGE_GROSS_KG:
        out.append(
            Violation(
                "limited_quantity.package_too_heavy",
                f"{path}.grossWeight",
                f"{f.decimal_text(per_package_kg)} kg gross per package exceeds the 30 kg of a "
                "limited-quantity package",
                "3.4.2.1",
            )
        )
    if entry is not None and entry.limited_quantity is not None:
        _check_limited_quantity(item, entry, entry.limited_quantity, path, out)


def _check_limited_quantity(
    item: DangerousGoodsItem, entry: DglEntry, listed: str, path: str, out: list[Violation]
) -> None:
    limit = limited_quantity_limit(listed)
    if limit is None:
        out.append(
            Violation(
                "limited_quantity.not_permitted",
                f"{path}.isLimitedQuantity",
                f"{_label(entry)} may not be carried in limited quantity (list limit 0)",
                "3.4.1.2",
            )
        )
        return
    amount, dimension = limit
    net = item.net_volume if dimension == "L" else item.net_weight
    if net is None:
        field = "netVolume" if dimension == "L" else "netWeight"
        why = f"{_label(entry)} has a limited-quantity limit of {listed} per inner packaging"
        out.append(missing(path, field, why, "3.4.1.2"))
        return
    per_package = f.ARITHMETIC.divide(f.in_base_unit(net.value, net.unit), item.number_of_packages)
    inner = sum(p.quantity for p in item.inner_packagings)
    quantity = f.ARITHMETIC.divide(per_package, inner) if inner else per_package
    if quantity > amount:
        what = "per inner packaging" if inner else "per package (no innerPackagings declared)"
        out.append(
            Violation(
                "limited_quantity.exceeded",
                f"{path}.isLimitedQuantity",
                f"{f.decimal_text(quantity)} {dimension} {what} exceeds the limited-quantity "
                f"limit of {listed} per inner packaging for {_label(entry)}",
                "3.4.1.2",
            )
        )
