"""A small fake Dangerous Goods List and document builders for the check tests."""

from __future__ import annotations

import copy
from typing import Any

from contracts.checks import check_declaration
from contracts.codes import CODES
from contracts.dgl_types import DglEntry
from contracts.document import parse_declaration
from contracts.errors import Violation
from node.devnet.traffic import container_number
from tests.samples import sample

Doc = dict[str, Any]


def entry(
    un: str,
    name: str,
    cls: str,
    subs: tuple[str, ...] = (),
    pg: int | None = None,
    lq: str | None = "1 L",
    mp: bool | None = False,
    ems: str | None = "F-E S-E",
    tech: bool = False,
) -> DglEntry:
    """A list entry with short keyword names."""
    return DglEntry(un, name, cls, subs, pg, lq, mp, ems, tech)


class FakeList:
    """A Dangerous Goods List with a handful of entries, for controlled cases."""

    def __init__(self, *entries: DglEntry) -> None:
        self.entries: dict[str, tuple[DglEntry, ...]] = {}
        for e in entries:
            self.entries[e.un_number] = (*self.entries.get(e.un_number, ()), e)

    def lookup(self, un_number: str) -> tuple[DglEntry, ...]:
        return self.entries.get(un_number, ())


FAKE = FakeList(
    entry("1203", "MOTOR SPIRIT or GASOLINE or PETROL", "3", pg=2),
    entry("1230", "METHANOL", "3", ("6.1",), 2, ems="F-E S-D"),
    entry("1098", "ALLYL ALCOHOL", "6.1", ("3",), 1, lq="0", mp=None, ems="F-E S-D"),
    entry("1263", "PAINT or PAINT RELATED MATERIAL", "3", pg=1, lq="500 mL"),
    entry("1263", "PAINT or PAINT RELATED MATERIAL", "3", pg=2, lq="5 L"),
    entry("1263", "PAINT or PAINT RELATED MATERIAL", "3", pg=3, lq="5 L"),
    entry("1993", "FLAMMABLE LIQUID, N.O.S.", "3", pg=1, lq="0", tech=True),
    entry("1993", "FLAMMABLE LIQUID, N.O.S.", "3", pg=2, tech=True),
    entry(
        "3082",
        "ENVIRONMENTALLY HAZARDOUS SUBSTANCE, LIQUID, N.O.S.",
        "9",
        pg=3,
        lq="5 L",
        mp=True,
        ems="F-A S-F",
        tech=True,
    ),
    entry("1942", "AMMONIUM NITRATE", "5.1", pg=3, lq="5 kg", ems="F-H S-Q"),
    entry("1005", "AMMONIA, ANHYDROUS", "2.3", ("8",), lq="0", ems="F-C S-U"),
    entry("1789", "HYDROCHLORIC ACID", "8", pg=2, ems="F-A S-B"),
    entry("1689", "SODIUM CYANIDE, SOLID", "6.1", pg=1, lq="0", mp=True, ems="F-A S-A"),
    entry("2031", "NITRIC ACID", "8", ("5.1",), 2, ems="F-A S-Q"),
    entry("1950", "AEROSOLS", "2.2", lq="1 L", ems="F-D S-U"),
    entry("1950", "AEROSOLS", "2.1", lq="1 L", ems="F-D S-U"),
    entry(
        "1325", "FLAMMABLE SOLID, ORGANIC, N.O.S.", "4.1", pg=2, lq="1 kg", tech=True, ems="F-A S-G"
    ),
    entry("0081", "EXPLOSIVE, BLASTING, TYPE A", "1.1D", lq="0", ems="F-B S-Y"),
    entry("0029", "DETONATORS, NON-ELECTRIC", "1.1B", lq="0", ems="F-B S-X"),
    entry(
        "0012",
        "CARTRIDGES FOR WEAPONS, INERT PROJECTILE or CARTRIDGES, SMALL ARMS",
        "1.4S",
        lq="5 kg",
        ems="F-B S-X",
    ),
    entry("9998", "TEST SUBSTANCE", "9", pg=3, lq=None, mp=None, ems=None),
)


def item(un: str, name: str, cls: str, pg: int | None = None, **extra: Any) -> Doc:
    """An item document with sensible defaults (flashpoint for class 3 hazards)."""
    out: Doc = {
        "UNNumber": un,
        "properShippingName": name,
        "imoClass": cls,
        "numberOfPackages": 10,
        "grossWeight": {"value": "100", "unit": "KGM"},
    }
    if pg is not None:
        out["packingGroup"] = pg
    subs = extra.get("subsidiaryRisk1"), extra.get("subsidiaryRisk2")
    if cls == "3" or "3" in subs:
        out["limits"] = {"temperatureUnit": "CEL", "flashPoint": "10"}
    if cls.startswith("1."):
        out["netExplosiveContent"] = {"value": "25", "unit": "KGM"}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


GASOLINE = item("1203", "GASOLINE", "3", 2)
METHANOL = item("1230", "METHANOL", "3", 2, subsidiaryRisk1="6.1")
AMMONIUM_NITRATE = item("1942", "AMMONIUM NITRATE", "5.1", 3)
ACID = item("1789", "HYDROCHLORIC ACID", "8", 2)
AEROSOLS = item("1950", "AEROSOLS", "2.2")


def document(*containers: list[Doc]) -> Doc:
    """The valid sample with the given containers (each a list of items)."""
    doc = sample()
    template = doc["containers"][0]
    doc["containers"] = []
    for n, items in enumerate(containers):
        c = copy.deepcopy(template)
        c["equipmentReference"] = container_number("CSQ", "U", 305438 + n)
        c["dangerousGoods"] = copy.deepcopy(items)
        doc["containers"].append(c)
    return doc


def found(doc: Doc, dgl: Any = FAKE) -> list[Violation]:
    """The rule violations of ``doc``, checked twice for determinism and known codes."""
    out = check_declaration(parse_declaration(doc), dgl)
    assert all(v.code in CODES for v in out), out
    assert out == check_declaration(parse_declaration(doc), dgl), "not deterministic"
    return out


def codes(doc: Doc, dgl: Any = FAKE) -> list[str]:
    """The codes of the rule violations of ``doc``, in order."""
    return [v.code for v in found(doc, dgl)]


def one(doc: Doc, dgl: Any = FAKE) -> Violation:
    """The single rule violation of ``doc``."""
    (v,) = found(doc, dgl)
    return v


def lq(base: Doc, **extra: Any) -> Doc:
    """``base`` declared as limited quantity, with ``extra`` fields."""
    return dict(base, isLimitedQuantity=True, **extra)
