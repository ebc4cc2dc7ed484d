"""The shape of a Dangerous Goods List and its entries, shared by the list and the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DglEntry:
    """One row of the Dangerous Goods List in force (IMDG 3.2 / 49 CFR 172.101).

    A UN number may have several entries (different packing groups, or
    different names such as "Paint" and "Paint related material").
    """

    un_number: str
    """Four digits, no "UN" prefix: ``"1203"``."""
    proper_shipping_name: str
    """As printed in the list, upper-case, with " or " alternatives kept."""
    hazard_class: str
    """Class or division: ``"3"``, ``"2.1"``, ``"6.1"``; class 1 with group: ``"1.1D"``."""
    subsidiary_hazards: tuple[str, ...]
    """Subsidiary hazard classes or divisions, in list order: ``("6.1",)``."""
    packing_group: int | None
    """1, 2 or 3; ``None`` where the entry has no packing group (class 2, 7, most of 1)."""
    limited_quantity: str | None
    """IMDG 3.4 limit per inner packaging as "<decimal> <unit>" (``"1 L"``,
    ``"5 kg"``), ``"0"`` where limited quantity is not permitted, ``None`` unknown."""
    marine_pollutant: bool | None
    """True/False where the list says, ``None`` where the list does not know."""
    ems: str | None
    """EmS schedules as printed: ``"F-E S-E"``; ``None`` where unknown."""
    technical_name_required: bool
    """Generic or N.O.S. entry needing a technical name (IMDG 3.1.2.8, SP 274)."""
    special_provisions: tuple[str, ...] = ()
    """Special provision codes as printed in the source list."""
    segregation_groups: tuple[str, ...] = ()
    """The IMDG 3.1.4.4 segregation groups the entry belongs to, ascending: ``("SGG1",)``."""
    segregation_codes: tuple[str, ...] = ()
    """The SG codes of column 16b (IMDG 7.2.8), ascending: ``("SG36", "SG49")``."""


class DangerousGoodsListProtocol(Protocol):
    """What the checks need of a Dangerous Goods List."""

    def lookup(self, un_number: str) -> tuple[DglEntry, ...]:
        """Every entry under a UN number; empty when the list has none."""
        ...
