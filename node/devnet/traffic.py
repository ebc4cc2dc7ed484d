"""Realistic declaration traffic for the demo, benchmarks and generated chains.

Declarations are drawn, from a seeded generator, from the entries of the
Dangerous Goods List in force: every item carries what its class needs
(flashpoint for class 3 or subsidiary 3, net explosive content for class 1,
technical name for N.O.S. entries that need one), containers and vessels
carry valid check digits, and items share a container only when the
segregation table and the list's segregation codes allow it. Invalid
declarations are valid ones with one deliberate fault, so each is refused for
a known reason.

Dates follow a base time, in milliseconds since the epoch, that the caller
gives: the time of the last block the declarations may be recorded in (the
demo and a devnet under load: now; ``scripts/make_chain.py``: its genesis
time plus the chain's span). Vessels depart from two days after the base
time plus the network's lead time (``lead_time_hours``), at least 42 hours
later, so no block of the run finds a departure past or too soon; goods are
certified the days before the base time. The same seed and base time give
the same documents; the vessels and voyages are the seed's alone.

Voyages load at the ports of the network's port authority (HAROPA's, Le
Havre, Rouen and Paris, unless told others), so that it decides on them, and
discharge at one of the world's other ports.
"""

from __future__ import annotations

import copy
import datetime
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from contracts.dgl import DangerousGoodsList
from contracts.dgl_types import DglEntry
from contracts.formats import imo_check_digit, iso6346_check_digit
from contracts.segregation import Segregation, class1_compatible, required_segregation
from contracts.segregation_checks import sg_codes_between
from node.network import HAROPA

Doc = dict[str, Any]

CLASSES = ("1", "2", "3", "4", "5", "6", "7", "8", "9")
CORRIDOR = tuple(code for code, _ in HAROPA)
"""Where voyages load unless told otherwise: HAROPA's ports, Le Havre, Rouen, Paris."""
PORTS = ("FRLEH", "BEANR", "NLRTM", "DEHAM", "USNYC", "SGSIN", "CNSHA", "GBFXT", "ESVLC", "ITGOA")
OWNERS = ("MSC", "CMA", "HLX", "MAE", "ONE", "EGH", "CSQ", "TGH")
PACKAGES = ("1A1", "4G", "3H1", "6HA1", "1H1", "4C1", "31HA1")
TECHNICAL_NAMES = (
    "XYLENE",
    "TOLUENE",
    "ETHYL ACETATE",
    "SODIUM HYDROXIDE",
    "ACETONE",
    "ISOPROPANOL",
)
EXPLOSIVE_CLASSES = frozenset({"1.4S", "1.4G", "1.4C", "1.4B", "1.3G", "1.1D", "1.2F"})
DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def day_of(ms: int) -> datetime.date:
    """The UTC date of a time in milliseconds since the epoch."""
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=ms // DAY_MS)


def container_number(owner: str, category: str, serial: int) -> str:
    """An ISO 6346 container number with its check digit: owner code, category, serial."""
    prefix = f"{owner}{category}{serial:06d}"
    return f"{prefix}{iso6346_check_digit(prefix)}"


UNITS: Final = 26**3 * 1_000_000
"""How many numbers :func:`unique_container` makes."""


def unique_container(ordinal: int) -> str:
    """The container number ``ordinal`` of :data:`UNITS`: owner code ``AAA``, ``AAB``, ..."""
    code, serial = divmod(ordinal, 1_000_000)
    letters = "".join(chr(65 + (code // 26**p) % 26) for p in (2, 1, 0))
    return container_number(letters, "U", serial)


def imo_number(prefix: int) -> str:
    """A seven-digit IMO ship number: six digits and their check digit."""
    digits = f"{prefix:06d}"
    return f"{digits}{imo_check_digit(digits)}"


def hazards(item: Doc) -> list[str]:
    """Class and subsidiary hazards of an item document."""
    return [
        item["imoClass"],
        *(item[k] for k in ("subsidiaryRisk1", "subsidiaryRisk2") if k in item),
    ]


def exempt(item: Doc) -> bool:
    """Limited and excepted quantities take part in no segregation (IMDG 3.4, 3.5)."""
    return bool(item.get("isLimitedQuantity") or item.get("isExceptedQuantity"))


def entries_of(dgl: DangerousGoodsList, item: Doc) -> tuple[DglEntry, ...]:
    """The list entries an item document states in full (UN number, class, hazards, group)."""
    stated = (item["imoClass"], tuple(hazards(item)[1:]), item.get("packingGroup"))
    return tuple(
        e
        for e in dgl.lookup(item["UNNumber"])
        if (e.hazard_class, e.subsidiary_hazards, e.packing_group) == stated
    )


def may_share(a: Doc, b: Doc, dgl: DangerousGoodsList | None = None) -> bool:
    """Whether two item documents may go in one container without approval (IMDG 7.3.4);
    with the list, also that no segregation code of it keeps them apart (7.2.8)."""
    if exempt(a) or exempt(b):
        return True
    if a["imoClass"][0] == "1" and b["imoClass"][0] == "1":
        table = class1_compatible(a["imoClass"], b["imoClass"])
    else:
        table = required_segregation(hazards(a), hazards(b)) is Segregation.NONE
    return table and (dgl is None or not sg_codes_between(entries_of(dgl, a), entries_of(dgl, b)))


def pack(
    items: list[Doc], per_container: int, dgl: DangerousGoodsList | None = None
) -> list[list[Doc]]:
    """Items grouped, in order, into containers of at most ``per_container`` that may share."""
    groups: list[list[Doc]] = []
    for item in items:
        for group in groups:
            if len(group) < per_container and all(may_share(item, o, dgl) for o in group):
                group.append(item)
                break
        else:
            groups.append([item])
    return groups


@dataclass
class Voyage:
    """A vessel call declarations are made for."""

    imo: str
    name: str
    voyage: str
    loading: str
    discharge: str
    departure: str


class TrafficGenerator:
    """Seeded source of declaration documents."""

    def __init__(
        self,
        dgl: DangerousGoodsList,
        seed: int = 1,
        *,
        base_time_ms: int,
        lead_time_hours: int = 0,
        loading_ports: Sequence[str] = CORRIDOR,
    ) -> None:
        self.rng = random.Random(seed)
        self.dgl = dgl
        self.loading_ports = tuple(loading_ports)
        """Where voyages load: ports whose authority decides on them (HAROPA's by default)."""
        self.discharge_ports = tuple(p for p in PORTS if p not in self.loading_ports)
        self.first_departure = day_of(base_time_ms + lead_time_hours * HOUR_MS)
        """Voyage ``i`` departs at 18:00 UTC, ``2 + 3 i`` days after this date."""
        certified = day_of(base_time_ms)
        self.packed_on = (certified - datetime.timedelta(days=2)).isoformat()
        self.certified_on = (certified - datetime.timedelta(days=1)).isoformat()
        self.by_class: dict[str, list[DglEntry]] = {c: [] for c in CLASSES}
        for entry in dgl.entries:
            if entry.hazard_class[0] == "1" and entry.hazard_class not in EXPLOSIVE_CLASSES:
                continue
            if len(entry.subsidiary_hazards) > 2 or entry.hazard_class.startswith("6.2"):
                continue
            self.by_class[entry.hazard_class[0]].append(entry)
        self.voyages = [self._voyage(i) for i in range(6)]
        self.serial = 0

    def _voyage(self, i: int) -> Voyage:
        loading = self.rng.choice(self.loading_ports)
        discharge = self.rng.choice(self.discharge_ports)
        day = self.first_departure + datetime.timedelta(days=2 + i * 3)
        return Voyage(
            imo_number(self.rng.randrange(900_000, 999_999)),
            f"PORT EXPRESS {i + 1}",
            f"{100 + i:03d}{self.rng.choice('EWNS')}",
            loading,
            discharge,
            f"{day.isoformat()}T18:00:00Z",
        )

    def item(self, cls: str | None = None) -> Doc:
        """One valid item of class ``cls`` (or any class)."""
        rng = self.rng
        entries = self.by_class[cls or rng.choice(CLASSES)]
        entry = rng.choice(entries)
        packages = rng.randint(1, 80)
        item: Doc = {
            "UNNumber": entry.un_number,
            "properShippingName": entry.proper_shipping_name.split(" or ")[0],
            "imoClass": entry.hazard_class,
            "numberOfPackages": packages,
            "packageCode": rng.choice(PACKAGES),
            "isMarinePollutant": bool(entry.marine_pollutant),
            "isLimitedQuantity": False,
            "grossWeight": {"value": str(packages * rng.randint(10, 250)), "unit": "KGM"},
            "emergencyContactDetails": {"contact": "CHEMTREC 24H", "phone": "+1 703 527 3887"},
        }
        for i, hazard in enumerate(entry.subsidiary_hazards):
            item[f"subsidiaryRisk{i + 1}"] = hazard
        if entry.packing_group is not None:
            item["packingGroup"] = entry.packing_group
        if "3" in (entry.hazard_class, *entry.subsidiary_hazards):
            low = entry.packing_group in (1, 2)
            item["limits"] = {
                "temperatureUnit": "CEL",
                "flashPoint": str(rng.randint(-40, 22) if low else rng.randint(23, 60)),
            }
        if entry.hazard_class[0] == "1":
            item["netExplosiveContent"] = {"value": str(rng.randint(1, 400)), "unit": "KGM"}
        if entry.technical_name_required:
            item["technicalName"] = rng.choice(TECHNICAL_NAMES)
        if entry.ems is not None:
            item["EMSNumber"] = entry.ems
        return item

    def declaration(
        self,
        shipper: str,
        *,
        classes: tuple[str, ...] | None = None,
        first_unit: int | None = None,
    ) -> Doc:
        """A valid declaration of one to four items, grouped into containers they may share.

        Containers are drawn at random, so two declarations may share one, as
        consolidated cargo does (and are then judged together); with
        ``first_unit`` they are :func:`unique_container` ``first_unit``,
        ``first_unit + 1``, ... (at most four), so that a chain of many
        declarations has only the refusals it means to have.
        """
        rng = self.rng
        self.serial += 1
        wanted = classes or tuple(rng.choice(CLASSES) for _ in range(rng.randint(1, 4)))
        groups = pack([self.item(cls) for cls in wanted], 3, self.dgl)
        voyage = rng.choice(self.voyages)
        return {
            "declarationId": f"{voyage.loading}-{shipper.upper()}-{self.serial:07d}",
            "shipper": {
                "partyName": f"{shipper.upper()} SA",
                "address": "12 RUE DU PORT, LE HAVRE",
            },
            "consignee": {
                "partyName": "HARBOUR CHEMICALS LTD",
                "address": "1 DOCK ROAD, FELIXSTOWE",
            },
            "transport": {
                "vesselIMONumber": voyage.imo,
                "vesselName": voyage.name,
                "voyageNumber": voyage.voyage,
                "portOfLoading": voyage.loading,
                "portOfDischarge": voyage.discharge,
                "estimatedDeparture": voyage.departure,
            },
            "containers": [
                {
                    "equipmentReference": container_number(
                        rng.choice(OWNERS), "U", rng.randrange(1_000_000)
                    )
                    if first_unit is None
                    else unique_container(first_unit + n),
                    "ISOEquipmentCode": rng.choice(("22G1", "45G1", "42G1")),
                    "seals": [f"SL{rng.randrange(10**7):07d}"],
                    "packingCertificate": {
                        "signatoryName": "PACKING OFFICER",
                        "place": "LE HAVRE",
                        "date": self.packed_on,
                    },
                    "dangerousGoods": group,
                }
                for n, group in enumerate(groups)
            ],
            "shipperCertification": {
                "signatoryName": "DG MANAGER",
                "place": "LE HAVRE",
                "date": self.certified_on,
            },
        }

    def invalid(self, shipper: str, *, first_unit: int | None = None) -> tuple[Doc, str]:
        """A declaration with one deliberate fault, and the fault's name."""
        doc = self.declaration(shipper, classes=("3",), first_unit=first_unit)
        fault, mutate = self.rng.choice(list(FAULTS.items()))
        mutate(doc, self)
        return doc, fault


def _bad_container(doc: Doc, gen: TrafficGenerator) -> None:
    number = doc["containers"][0]["equipmentReference"]
    doc["containers"][0]["equipmentReference"] = number[:-1] + str((int(number[-1]) + 1) % 10)


def _bad_imo(doc: Doc, gen: TrafficGenerator) -> None:
    imo = doc["transport"]["vesselIMONumber"]
    doc["transport"]["vesselIMONumber"] = imo[:-1] + str((int(imo[-1]) + 1) % 10)


def _unknown_un(doc: Doc, gen: TrafficGenerator) -> None:
    doc["containers"][0]["dangerousGoods"][0]["UNNumber"] = "0000"


def _class_mismatch(doc: Doc, gen: TrafficGenerator) -> None:
    doc["containers"][0]["dangerousGoods"][0]["imoClass"] = "8"


def _no_flashpoint(doc: Doc, gen: TrafficGenerator) -> None:
    doc["containers"][0]["dangerousGoods"][0].pop("limits", None)


def _segregation(doc: Doc, gen: TrafficGenerator) -> None:
    oxidiser = copy.deepcopy(gen.item("5"))
    while not oxidiser["imoClass"].startswith("5.1"):
        oxidiser = gen.item("5")
    doc["containers"][0]["dangerousGoods"].append(oxidiser)


FAULTS: dict[str, Callable[[Doc, TrafficGenerator], None]] = {
    "container check digit": _bad_container,
    "IMO check digit": _bad_imo,
    "unknown UN number": _unknown_un,
    "class mismatch": _class_mismatch,
    "missing flashpoint": _no_flashpoint,
    "class 3 with 5.1 in one container": _segregation,
}
