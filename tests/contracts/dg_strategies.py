"""Hypothesis strategies for declaration documents built from a Dangerous Goods List.

``documents()`` draws valid declarations: every item is one list entry with
the data its class needs, and items share a container only when the
segregation table allows it without approval (``contracts.segregation``,
tested on its own) and no SG code of the list keeps them apart. ``MUTATIONS``
turn a valid document into one that must receive a given violation code.
"""

from __future__ import annotations

import copy
import datetime
import string
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from contracts.dgl_builtin import builtin_list
from contracts.dgl_types import DglEntry
from node.devnet.traffic import container_number, imo_number, pack

LIST = builtin_list()
ENTRIES = tuple(e for e in LIST.entries if len(e.subsidiary_hazards) <= 2)
LOCODES = ("FRLEH", "USNYC", "NLRTM", "DEHAM", "SGSIN", "CNSHA", "BEANR", "GBFXT", "JPTYO")
Doc = dict[str, Any]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


upper = st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3)
containers_numbers = st.builds(
    container_number, upper, st.sampled_from("UJZ"), st.integers(0, 999_999)
)
# Bounded, not filtered: a filter here ran for every date of a document and,
# now and then, failed Hypothesis's filter_too_much health check.
dates = st.dates(min_value=datetime.date(1900, 1, 1)).map(lambda d: d.isoformat())


def dates_until(last: str) -> st.SearchStrategy[str]:
    """ISO dates on or before ``last`` (certificates are signed before departure)."""
    until = datetime.date.fromisoformat(last[:10])
    return st.dates(datetime.date(1900, 1, 1), until).map(lambda d: d.isoformat())


names = st.text(alphabet=string.ascii_uppercase + " ", min_size=1, max_size=30).map(
    lambda s: s.strip() or "X"
)


@st.composite
def items(draw: st.DrawFn, entries: tuple[DglEntry, ...] = ENTRIES) -> Doc:
    """A valid item for one entry of the list."""
    entry = draw(st.sampled_from(entries))
    name = entry.proper_shipping_name
    packages = draw(st.integers(1, 200))
    item: Doc = {
        "UNNumber": entry.un_number,
        "properShippingName": draw(st.sampled_from([name, name.lower(), name.title()])),
        "imoClass": entry.hazard_class,
        "numberOfPackages": packages,
        "packageCode": draw(st.sampled_from(["4G", "1A1", "3H1", "6HA1", "BX"])),
        "isMarinePollutant": bool(entry.marine_pollutant) or draw(st.booleans()),
    }
    for i, hazard in enumerate(entry.subsidiary_hazards):
        item[f"subsidiaryRisk{i + 1}"] = hazard
    if entry.packing_group is not None:
        item["packingGroup"] = entry.packing_group
    if "3" in (entry.hazard_class, *entry.subsidiary_hazards):
        if draw(st.booleans()):
            item["limits"] = {
                "temperatureUnit": "CEL",
                "flashPoint": str(draw(st.integers(-60, 60))),
            }
        else:
            item["limits"] = {
                "temperatureUnit": "FAH",
                "flashPoint": str(draw(st.integers(-76, 140))),
            }
    if entry.hazard_class[0] == "1":
        item["netExplosiveContent"] = {"value": str(draw(st.integers(1, 5000))), "unit": "KGM"}
    if entry.technical_name_required:
        item["technicalName"] = draw(names)
    if entry.ems is not None and draw(st.booleans()):
        item["EMSNumber"] = entry.ems
    limit = entry.limited_quantity
    if limit not in (None, "0") and draw(st.booleans()):
        amount, unit = limit.split()
        per_inner = Decimal(amount) * draw(st.integers(1, 100)) / 100
        inner = draw(st.integers(1, 4))
        net = per_inner * inner * packages
        item["isLimitedQuantity"] = True
        item["innerPackagings"] = [
            {"quantity": inner, "material": "PLASTIC", "description": "BOTTLE"}
        ]
        if unit in ("L", "mL"):
            scale = Decimal("0.001") if unit == "mL" else Decimal(1)
            item["netVolume"] = {"value": _text(net * scale), "unit": "LTR"}
        else:
            scale = Decimal("0.001") if unit == "g" else Decimal(1)
            item["netWeight"] = {"value": _text(net * scale), "unit": "KGM"}
        item["grossWeight"] = {"value": str(packages * 25), "unit": "KGM"}
    else:
        gross = draw(st.integers(packages, packages * 500))
        item["grossWeight"] = {"value": str(gross), "unit": "KGM"}
        if draw(st.booleans()):
            item["netWeight"] = {"value": str(draw(st.integers(1, gross))), "unit": "KGM"}
    return item


def certificate(name: str, place: str, date: str) -> Doc:
    """A signed certification."""
    return {"signatoryName": name, "place": place, "date": date}


@st.composite
def documents(draw: st.DrawFn, entries: tuple[DglEntry, ...] = ENTRIES) -> Doc:
    """A valid declaration document: items grouped into containers they may share."""
    drawn = draw(st.lists(items(entries), min_size=1, max_size=6))
    departure = draw(dates)
    signed = dates_until(departure)
    groups = pack(drawn, 4, LIST)
    numbers = draw(
        st.lists(containers_numbers, min_size=len(groups), max_size=len(groups), unique=True)
    )
    containers = [
        {
            "equipmentReference": number,
            "ISOEquipmentCode": draw(st.sampled_from(["22G1", "45G1", "42G1", "L5G1", "22R1"])),
            "seals": [f"SEAL{n}"],
            "packingCertificate": certificate("PACKER NAME", "ANTWERP", draw(signed)),
            "dangerousGoods": group,
        }
        for n, (number, group) in enumerate(zip(numbers, groups, strict=True))
    ]
    loading, discharge = draw(
        st.lists(st.sampled_from(LOCODES), min_size=2, max_size=2, unique=True)
    )
    return {
        "declarationId": draw(st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,20}", fullmatch=True)),
        "shipper": {"partyName": "SHIPPER SA", "address": "1 QUAI, ANTWERP"},
        "consignee": {"partyName": "CONSIGNEE LTD", "address": "2 DOCK ROAD, FELIXSTOWE"},
        "transport": {
            "vesselIMONumber": imo_number(draw(st.integers(100_000, 999_999))),
            "vesselName": "TEST VESSEL",
            "voyageNumber": "001E",
            "portOfLoading": loading,
            "portOfDischarge": discharge,
            "estimatedDeparture": departure,
        },
        "containers": containers,
        "shipperCertification": certificate("SHIPPER CLERK", "ANTWERP", draw(signed)),
    }


# --- mutations: (name, applies to the document?, mutate in place, expected code) ---


def _items_where(doc: Doc, test: Callable[[Doc], bool]) -> list[Doc]:
    return [i for c in doc["containers"] for i in c["dangerousGoods"] if test(i)]


def _bump_last_digit(value: str) -> str:
    return value[:-1] + str((int(value[-1]) + 1) % 10)


def _break_container(doc: Doc, n: int) -> None:
    c = doc["containers"][n % len(doc["containers"])]
    c["equipmentReference"] = _bump_last_digit(c["equipmentReference"])


def _break_imo(doc: Doc, n: int) -> None:
    t = doc["transport"]
    t["vesselIMONumber"] = _bump_last_digit(t["vesselIMONumber"])


def _unknown_un(doc: Doc, n: int) -> None:
    unknown = next(f"{u:04d}" for u in range(9999, 0, -1) if not LIST.lookup(f"{u:04d}"))
    doc["containers"][0]["dangerousGoods"][0]["UNNumber"] = unknown


def _wrong_class(doc: Doc, n: int) -> None:
    item = doc["containers"][0]["dangerousGoods"][0]
    listed = {e.hazard_class for e in LIST.lookup(item["UNNumber"])}
    item["imoClass"] = next(c for c in ("9", "8", "2.2") if c not in listed)


def _wrong_name(doc: Doc, n: int) -> None:
    doc["containers"][0]["dangerousGoods"][0]["properShippingName"] = "QQQ UNLISTED SUBSTANCE"


def _drop(key: str, test: Callable[[Doc], bool]) -> Callable[[Doc, int], None]:
    def mutate(doc: Doc, n: int) -> None:
        found = _items_where(doc, test)
        found[n % len(found)].pop(key)

    return mutate


def _has_flashpoint(i: Doc) -> bool:
    return "limits" in i


def _is_class1(i: Doc) -> bool:
    return str(i["imoClass"]).startswith("1.")


def _has_technical_name(i: Doc) -> bool:
    return "technicalName" in i


def _listed_pollutant(i: Doc) -> bool:
    return any(e.marine_pollutant for e in LIST.lookup(i["UNNumber"]))


def _unmark_pollutant(doc: Doc, n: int) -> None:
    found = _items_where(doc, _listed_pollutant)
    found[n % len(found)]["isMarinePollutant"] = False


def _no_certificate(doc: Doc, n: int) -> None:
    doc.pop("shipperCertification")


def _no_packing_certificate(doc: Doc, n: int) -> None:
    doc["containers"][n % len(doc["containers"])].pop("packingCertificate")


def _typo(doc: Doc, n: int) -> None:
    item = doc["containers"][0]["dangerousGoods"][0]
    item["UNNumbre"] = item["UNNumber"]


MUTATIONS: tuple[tuple[str, Callable[[Doc], bool], Callable[[Doc, int], None], str], ...] = (
    ("container check digit", lambda d: True, _break_container, "container_number.check_digit"),
    ("IMO check digit", lambda d: True, _break_imo, "imo_number.check_digit"),
    ("unknown UN number", lambda d: True, _unknown_un, "un_number.unknown"),
    ("wrong class", lambda d: True, _wrong_class, "class.mismatch"),
    ("wrong name", lambda d: True, _wrong_name, "psn.mismatch"),
    (
        "no flashpoint",
        lambda d: bool(_items_where(d, _has_flashpoint)),
        _drop("limits", _has_flashpoint),
        "field.missing",
    ),
    (
        "no net explosive content",
        lambda d: bool(_items_where(d, _is_class1)),
        _drop("netExplosiveContent", _is_class1),
        "field.missing",
    ),
    (
        "no technical name",
        lambda d: bool(_items_where(d, _has_technical_name)),
        _drop("technicalName", _has_technical_name),
        "field.missing",
    ),
    (
        "marine pollutant unmarked",
        lambda d: bool(_items_where(d, _listed_pollutant)),
        _unmark_pollutant,
        "marine_pollutant.mismatch",
    ),
    ("no shipper certification", lambda d: True, _no_certificate, "field.missing"),
    (
        "no packing certificate",
        lambda d: True,
        _no_packing_certificate,
        "field.missing",
    ),
    ("misspelt field", lambda d: True, _typo, "field.unknown"),
)


def mutated(doc: Doc, mutation: Callable[[Doc, int], None], n: int) -> Doc:
    """A mutated deep copy of ``doc``."""
    out = copy.deepcopy(doc)
    mutation(out, n)
    return out
