"""The reference valid declaration, written as Python, for the devnet and the benchmarks.

The load generator (:mod:`node.devnet.load`) and ``scripts/bench_core.py``
need one document that the rules accept, built without reading a file: a
product module may open nothing outside the repository, nor import the tests.
This is the project's reference sample, the one the README shows: two items of
class 3 in one container (gasoline, UN 1203; methanol, UN 1230 with subsidiary
hazard 6.1), valid check digits, a flashpoint for each item. The tests build
their invalid samples from it, one change each (``tests/samples.py``). Random
traffic drawn from the whole list is :mod:`node.devnet.traffic`.

A network refuses a declaration whose departure is already past at the time
of the block that records it (``date.departure_past``), and networks on a
real clock take this sample, so it departs years ahead (:data:`DEPARTURE`),
certified in 2026; the contract tests judge it at block times of 2026.
"""

from __future__ import annotations

from typing import Any, Final

REFERENCE_ID: Final = "FRLEH-ACME-2026-000123"
"""The ``declarationId`` of the reference sample."""
DEPARTURE: Final = "2036-12-02T18:00:00Z"
"""The sample's ``estimatedDeparture``: to come for years yet at any real block time."""

_EMERGENCY: Final = {"contact": "ACME 24H", "phone": "+33 2 35 00 00 00"}


def valid_declaration(declaration_id: str = REFERENCE_ID) -> dict[str, Any]:
    """The reference valid declaration as a fresh dict, under ``declaration_id``."""
    return {
        "declarationId": declaration_id,
        "shipper": {
            "partyName": "ACME CHEMICALS SAS",
            "address": "12 RUE DU PORT, 76600 LE HAVRE, FR",
        },
        "consignee": {
            "partyName": "NORTHEAST FUELS INC",
            "address": "1 HARBOR WAY, NEWARK NJ 07114, US",
        },
        "transport": {
            "vesselIMONumber": "9454436",
            "vesselName": "EXAMPLE EXPRESS",
            "voyageNumber": "0AB12W",
            "portOfLoading": "FRLEH",
            "portOfDischarge": "USNYC",
            "estimatedDeparture": DEPARTURE,
        },
        "containers": [
            {
                "equipmentReference": "CSQU3054383",
                "ISOEquipmentCode": "22G1",
                "seals": ["FR0012345"],
                "packingCertificate": {
                    "signatoryName": "MARIE MARTIN",
                    "place": "LE HAVRE",
                    "date": "2026-11-30",
                },
                "dangerousGoods": [
                    {
                        "UNNumber": "1203",
                        "properShippingName": "GASOLINE",
                        "imoClass": "3",
                        "packingGroup": 2,
                        "isMarinePollutant": False,
                        "isLimitedQuantity": False,
                        "EMSNumber": "F-E S-E",
                        "limits": {"temperatureUnit": "CEL", "flashPoint": "-43"},
                        "numberOfPackages": 80,
                        "packageCode": "1A1",
                        "grossWeight": {"value": "17200", "unit": "KGM"},
                        "netVolume": {"value": "16000", "unit": "LTR"},
                        "emergencyContactDetails": dict(_EMERGENCY),
                    },
                    {
                        "UNNumber": "1230",
                        "properShippingName": "METHANOL",
                        "imoClass": "3",
                        "subsidiaryRisk1": "6.1",
                        "packingGroup": 2,
                        "isMarinePollutant": False,
                        "isLimitedQuantity": False,
                        "EMSNumber": "F-E S-D",
                        "limits": {"temperatureUnit": "CEL", "flashPoint": "11"},
                        "numberOfPackages": 4,
                        "packageCode": "1A1",
                        "grossWeight": {"value": "880", "unit": "KGM"},
                        "netVolume": {"value": "800", "unit": "LTR"},
                        "emergencyContactDetails": dict(_EMERGENCY),
                    },
                ],
            }
        ],
        "shipperCertification": {
            "signatoryName": "JEAN DUPONT",
            "place": "LE HAVRE",
            "date": "2026-11-29",
        },
    }
