"""Segregation groups (IMDG 3.1.4.4) and the column 16b codes applied inside one unit.

A Dangerous Goods List entry may belong to segregation groups, families of
substances with similar chemical properties ("SGG1 acids" ... "SGG18
alkalis"; amendment 42-24 has eighteen and no longer SGG1a), and may carry
stowage and segregation codes in column 16b; an SG code of the form 'Stow
"separated from" SGGn ...' keeps the entry apart from every substance of
group n, whatever the classes say (IMDG 7.2.5, 7.2.8). Goods that must be
"separated from" each other never share a cargo transport unit (7.3.4.1).

:data:`UNIT_CODES` are the SG codes this module knows the meaning of; a list
may carry any other SGxx code (kept, hashed, shown), but only these are
judged. Their wording is the Code's as the project holds it (see
``contracts/data/README.md`` for where each comes from). 49 CFR 176.84 has
its own numbered provisions for the same requirements ("Stow 'separated
from' acids"); :data:`CFR49_PROVISIONS` maps those of them that name a
segregation group to the IMDG code, so a list read from the 49 CFR table
carries them too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import Final

GROUPS: Final = MappingProxyType(
    {
        "SGG1": "acids",
        "SGG2": "ammonium compounds",
        "SGG3": "bromates",
        "SGG4": "chlorates",
        "SGG5": "chlorites",
        "SGG6": "cyanides",
        "SGG7": "heavy metals and their salts (including their organometallic compounds)",
        "SGG8": "hypochlorites",
        "SGG9": "lead and its compounds",
        "SGG10": "liquid halogenated hydrocarbons",
        "SGG11": "mercury and mercury compounds",
        "SGG12": "nitrites and their mixtures",
        "SGG13": "perchlorates",
        "SGG14": "permanganates",
        "SGG15": "powdered metals",
        "SGG16": "peroxides",
        "SGG17": "azides",
        "SGG18": "alkalis",
    }
)
"""The segregation groups of IMDG 3.1.4.4 (amendment 42-24), code -> name."""

GROUP_CODE: Final = re.compile(r"SGG(?:[1-9]|1[0-8])")
"""A segregation group code: SGG1 to SGG18."""
SG_CODE: Final = re.compile(r"SG[1-9][0-9]?")
"""A column 16b segregation code: SG1 to SG99."""


@dataclass(frozen=True, slots=True)
class UnitCode:
    """An SG code that keeps its entry 'separated from' a segregation group."""

    code: str
    group: str
    """The group the entry must be separated from."""

    @property
    def text(self) -> str:
        """The requirement in the Code's words."""
        return f'Stow "separated from" {self.group} {GROUPS[self.group]}'


UNIT_CODES: Final = MappingProxyType(
    {
        "SG35": UnitCode("SG35", "SGG1"),
        "SG36": UnitCode("SG36", "SGG18"),
        "SG38": UnitCode("SG38", "SGG2"),
        "SG49": UnitCode("SG49", "SGG6"),
    }
)
"""The column 16b codes judged between goods in one unit (IMDG 7.2.8), code -> meaning."""

CFR49_PROVISIONS: Final = MappingProxyType(
    {
        "52": ("SG35", 'Stow "separated from" acids.'),
        "53": ("SG36", 'Stow "separated from" alkaline compounds.'),
        "56": ("SG38", 'Stow "separated from" ammonium compounds.'),
        "58": ("SG49", 'Stow "separated from" cyanides.'),
    }
)
"""49 CFR 176.84(b) provisions of column 10B that name a segregation group:
provision -> (the IMDG SG code of the same requirement, the provision's text)."""


def number(code: str) -> int:
    """The number of an SG or SGG code, for ordering (``"SGG10"`` -> 10)."""
    return int(code.lstrip("SG"))


def canonical(codes: tuple[str, ...]) -> bool:
    """Whether ``codes`` are distinct and in ascending numeric order (one spelling per list)."""
    return all(number(a) < number(b) for a, b in pairwise(codes))


@lru_cache(maxsize=1024)
def requirements(codes: tuple[str, ...]) -> tuple[UnitCode, ...]:
    """The judged requirements among an entry's SG codes, in their order."""
    return tuple(UNIT_CODES[c] for c in codes if c in UNIT_CODES)
