"""The built-in Dangerous Goods List: common entries of container trade, IMDG 42-24.

The list lives in ``contracts/data/builtin_dgl.csv`` in the project's own CSV
format (see :mod:`contracts.dgl`), written for this project from the facts of
the IMDG Code Dangerous Goods List (chapter 3.2), amendment 42-24. How the
fields were filled:

* ``proper_shipping_name``: the upper-case portion of the IMDG entry (3.1.2.1),
  lower-case qualifiers left out, " or " between alternatives kept;
* ``hazard_class``, ``subsidiary_hazards``, ``packing_group``: IMDG columns 3, 4
  and 5, one entry per packing group. UN 1950 AEROSOLS and UN 2037 RECEPTACLES,
  SMALL, CONTAINING GAS are listed by the Code as class 2 with the division set
  by the contents (special provisions 63 and 191); they appear here once per
  common division (2.1, 2.2 and, for aerosols, 2.2 with subsidiary 8);
* ``limited_quantity``: column 7a; empty (unknown) where this list does not
  state it (UN 1845, 2071, 2216, 3363, 3496, 3536, 3548);
* ``marine_pollutant``: ``true`` where column 4 marks the entry P, and for UN
  3077 and 3082, which are environmentally hazardous by definition (2.9.3);
  ``false`` means the entry is not marked P: goods meeting the criteria are
  marine pollutants all the same (2.10.2.6);
* ``ems``: column 15; empty for UN 3166, whose schedule depends on the fuel;
* ``special_provisions``: column 6; ``technical_name_required`` is true exactly
  when special provision 274 or 318 is assigned (3.1.2.8.1);
* ``segregation_groups``: the IMDG 3.1.4.4 groups of the entries whose
  substance the group lists name outright (acids, alkalis, cyanides, ammonium
  compounds, ...); generic and N.O.S. entries only where the name says it
  (CORROSIVE LIQUID, ACIDIC ...). ``contracts/data/README.md`` lists them;
* ``segregation_codes``: the SG codes that 49 CFR 176.84 gives the same
  requirement as (:data:`contracts.segregation_codes.CFR49_PROVISIONS`), read
  from column 10B of the agreeing international 49 CFR 172.101 rows; the
  Code's other column 16b codes are not in this list.

Every entry's UN number, class, subsidiary hazards and packing group agree with
an international entry of the US table 49 CFR 172.101; the tests check this.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

from contracts.dgl import DangerousGoodsList

RESOURCE: Final = "builtin_dgl.csv"
BUILTIN: Final = "builtin"
"""The name that stands for the built-in list where a list file's path may be given."""


def builtin_csv() -> str:
    """The text of the built-in list, as shipped."""
    return resources.files("contracts.data").joinpath(RESOURCE).read_text(encoding="utf-8")


@cache
def builtin_list() -> DangerousGoodsList:
    """The built-in Dangerous Goods List (parsed once, then shared: it is immutable)."""
    return DangerousGoodsList.from_csv(builtin_csv())


def named_list(name: str) -> DangerousGoodsList:
    """The built-in list for :data:`BUILTIN`, else the list file at ``name``."""
    return builtin_list() if name == BUILTIN else DangerousGoodsList.load_file(name)
