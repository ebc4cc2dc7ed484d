"""The IMDG 5.4.1.4 dangerous goods description line."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.declaration import DangerousGoodsItem
from contracts.describe import describe
from contracts.document import parse_declaration
from tests.samples import sample


def parsed(**fields: Any) -> DangerousGoodsItem:
    doc = sample()
    base = {
        "UNNumber": "1230",
        "properShippingName": "METHANOL",
        "imoClass": "3",
        "numberOfPackages": 1,
        "grossWeight": {"value": "10", "unit": "KGM"},
    }
    base.update(fields)
    doc["containers"][0]["dangerousGoods"] = [{k: v for k, v in base.items() if v is not None}]
    return parse_declaration(doc).containers[0].dangerous_goods[0]


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        (
            {"subsidiaryRisk1": "6.1", "packingGroup": 2},
            "UN 1230, METHANOL, 3 (6.1), PG II",
        ),
        (
            {
                "UNNumber": "1993",
                "properShippingName": "FLAMMABLE LIQUID, N.O.S.",
                "technicalName": "ETHANOL, TOLUENE",
                "packingGroup": 2,
                "limits": {"temperatureUnit": "CEL", "flashPoint": "12"},
            },
            "UN 1993, FLAMMABLE LIQUID, N.O.S. (ETHANOL, TOLUENE), 3, PG II, (12°C c.c.)",
        ),
        (
            {
                "UNNumber": "0081",
                "properShippingName": "EXPLOSIVE, BLASTING, TYPE A",
                "imoClass": "1.1D",
            },
            "UN 0081, EXPLOSIVE, BLASTING, TYPE A, 1.1D",
        ),
        (
            {
                "UNNumber": "1017",
                "properShippingName": "CHLORINE",
                "imoClass": "2.3",
                "subsidiaryRisk1": "5.1",
                "subsidiaryRisk2": "8",
                "isMarinePollutant": True,
            },
            "UN 1017, CHLORINE, 2.3 (5.1, 8), MARINE POLLUTANT",
        ),
        (
            {
                "UNNumber": "1263",
                "properShippingName": "PAINT",
                "packingGroup": 3,
                "isLimitedQuantity": True,
                "limits": {"temperatureUnit": "FAH", "flashPoint": "100"},
            },
            "UN 1263, PAINT, 3, PG III, (37.8°C c.c.), LIMITED QUANTITY",
        ),
        (
            # A flashpoint above 60 degC is not shown.
            {"packingGroup": 3, "limits": {"temperatureUnit": "CEL", "flashPoint": "61"}},
            "UN 1230, METHANOL, 3, PG III",
        ),
        (
            {"isWaste": True, "packingGroup": 2, "isEmptyUncleanedResidue": True},
            "EMPTY UNCLEANED UN 1230, WASTE METHANOL, 3, PG II",
        ),
        (
            {"isHot": True, "isExceptedQuantity": True, "packingGroup": 2},
            "UN 1230, HOT METHANOL, 3, PG II, DANGEROUS GOODS IN EXCEPTED QUANTITIES",
        ),
        (
            {
                "UNNumber": "3257",
                "properShippingName": "ELEVATED TEMPERATURE LIQUID, N.O.S.",
                "imoClass": "9",
                "packingGroup": 3,
                "isHot": True,
                "technicalName": "BITUMEN",
            },
            "UN 3257, ELEVATED TEMPERATURE LIQUID, N.O.S. (BITUMEN), 9, PG III",
        ),
    ],
)
def test_description_lines(fields: dict[str, Any], line: str) -> None:
    assert describe(parsed(**fields)) == line
