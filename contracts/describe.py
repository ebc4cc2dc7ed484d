"""The dangerous goods description of an item, as IMDG 5.4.1.4 orders it.

``UN 1230, METHANOL, 3 (6.1), PG II, (11°C c.c.)``: the UN number with "UN",
the proper shipping name (preceded by WASTE or HOT where they apply, the
technical name in brackets after it), the class or division (class 1 with
its compatibility group), the subsidiary hazards in brackets, the packing
group, then the supplementary information: the minimum flashpoint in degC
closed cup when it is 60 degC or below (5.4.1.4.3), MARINE POLLUTANT
(5.4.1.4.3.5), LIMITED QUANTITY (5.4.1.5.2), excepted quantities (3.5) and
EMPTY UNCLEANED before the description (5.4.1.4.3.2).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

from contracts import formats as f

if TYPE_CHECKING:
    from contracts.declaration import DangerousGoodsItem

_ROMAN: Final = {1: "I", 2: "II", 3: "III"}
_FLASHPOINT_SHOWN_UP_TO_C: Final = Decimal(60)


def describe(item: DangerousGoodsItem) -> str:
    """The IMDG 5.4.1.4 dangerous goods description line of ``item``."""
    name = item.proper_shipping_name
    upper = name.upper()
    if item.is_hot and not upper.startswith("HOT") and "ELEVATED TEMPERATURE" not in upper:
        name = f"HOT {name}"
    if item.is_waste and not upper.startswith("WASTE"):
        name = f"WASTE {name}"
    if item.technical_name is not None:
        name = f"{name} ({item.technical_name})"
    hazard = item.imo_class
    if item.subsidiary_hazards:
        hazard += f" ({', '.join(item.subsidiary_hazards)})"
    parts = [f"UN {item.un_number}", name, hazard]
    if item.packing_group is not None:
        parts.append(f"PG {_ROMAN[item.packing_group]}")
    limits = item.limits
    if limits is not None and limits.flash_point is not None:
        degrees = f.celsius(limits.flash_point, limits.temperature_unit)
        if degrees <= _FLASHPOINT_SHOWN_UP_TO_C:
            parts.append(f"({f.decimal_text(degrees, 1)}°C c.c.)")
    if item.is_marine_pollutant:
        parts.append("MARINE POLLUTANT")
    if item.is_limited_quantity:
        parts.append("LIMITED QUANTITY")
    if item.is_excepted_quantity:
        parts.append("DANGEROUS GOODS IN EXCEPTED QUANTITIES")
    line = ", ".join(parts)
    if item.is_empty_uncleaned_residue:
        line = f"EMPTY UNCLEANED {line}"
    return line
