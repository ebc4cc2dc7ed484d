"""Sample declarations, the port community's members and the reference tables, for every test.

The valid sample is the product's reference declaration
(:func:`node.devnet.samples.valid_declaration`). Each invalid sample is that
document with the one change its name says, under an id of its own; the
rules must give each exactly one violation (``tests/contracts/test_samples.py``).
:func:`sample` returns a fresh dict on every call, so a test may change it.

The reference tables the tests check the product against (the 49 CFR list,
the IMDG segregation matrix, the DCSA field list) are data files in
``tests/data/``, whose README gives each one's origin; :func:`reference`
finds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import pytest

from contracts.lifecycle import Role
from node.devnet.samples import valid_declaration

Doc = dict[str, Any]

DATA: Final = Path(__file__).resolve().parent / "data"
"""The reference tables, inside the repository."""


def reference(name: str) -> Path:
    """The path of a reference table in ``tests/data/``; a missing one fails the test."""
    path = DATA / name
    if not path.is_file():
        pytest.fail(f"reference data {path} is missing from the repository")
    return path


# ------------------------------------------------------------------ declarations


def _item(doc: Doc, index: int) -> Doc:
    item: Doc = doc["containers"][0]["dangerousGoods"][index]
    return item


def _class_mismatch() -> Doc:
    doc = valid_declaration("FRLEH-ACME-2026-000124")
    _item(doc, 0)["imoClass"] = "8"  # gasoline is class 3
    return doc


def _container_check_digit() -> Doc:
    doc = valid_declaration("FRLEH-ACME-2026-000125")
    doc["containers"][0]["equipmentReference"] = "CSQU3054384"  # check digit is 3
    return doc


def _imo_check_digit() -> Doc:
    doc = valid_declaration("FRLEH-ACME-2026-000129")
    doc["transport"]["vesselIMONumber"] = "9454437"  # check digit is 6
    return doc


def _missing_flashpoint() -> Doc:
    doc = valid_declaration("FRLEH-ACME-2026-000127")
    del _item(doc, 0)["limits"]
    return doc


def ammonium_nitrate(emergency: Mapping[str, str] | None = None) -> Doc:
    """UN 1942 ammonium nitrate (5.1): "separated from" class 3 goods (IMDG 7.2.4)."""
    item: Doc = {
        "UNNumber": "1942",
        "properShippingName": "AMMONIUM NITRATE",
        "imoClass": "5.1",
        "packingGroup": 3,
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-H S-Q",
        "numberOfPackages": 20,
        "packageCode": "5H4",
        "grossWeight": {"value": "1000", "unit": "KGM"},
        "netWeight": {"value": "1000", "unit": "KGM"},
    }
    if emergency is not None:
        item["emergencyContactDetails"] = dict(emergency)
    return item


def benzaldehyde(emergency: Mapping[str, str] | None = None) -> Doc:
    """UN 1990 benzaldehyde (9): no segregation from anything (IMDG 7.2.4 row 9)."""
    item: Doc = {
        "UNNumber": "1990",
        "properShippingName": "BENZALDEHYDE",
        "imoClass": "9",
        "packingGroup": 3,
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-A S-A",
        "numberOfPackages": 10,
        "packageCode": "1A1",
        "grossWeight": {"value": "2000", "unit": "KGM"},
    }
    if emergency is not None:
        item["emergencyContactDetails"] = dict(emergency)
    return item


def _segregation_3_vs_5_1_same_container() -> Doc:
    """Ammonium nitrate (5.1) instead of methanol, beside gasoline (3): "separated from"."""
    doc = valid_declaration("FRLEH-ACME-2026-000126")
    emergency = _item(doc, 0)["emergencyContactDetails"]
    doc["containers"][0]["dangerousGoods"][1] = ammonium_nitrate(emergency)
    return doc


def _unknown_un_number() -> Doc:
    doc = valid_declaration("FRLEH-ACME-2026-000128")
    _item(doc, 0)["UNNumber"] = "9999"
    return doc


VALID: Final = "valid-gasoline-methanol"
"""The name of the valid sample."""

SAMPLES: Final[Mapping[str, Callable[[], Doc]]] = MappingProxyType(
    {
        VALID: valid_declaration,
        "invalid-class-mismatch": _class_mismatch,
        "invalid-container-check-digit": _container_check_digit,
        "invalid-imo-check-digit": _imo_check_digit,
        "invalid-missing-flashpoint": _missing_flashpoint,
        "invalid-segregation-3-vs-5.1-same-container": _segregation_3_vs_5_1_same_container,
        "invalid-unknown-un-number": _unknown_un_number,
    }
)
"""Every sample by name: the valid one and the six invalid ones."""

INVALID: Final = tuple(name for name in SAMPLES if name.startswith("invalid-"))
"""The names of the invalid samples, each invalid for the reason its name says."""


def sample(name: str = VALID, decl_id: str | None = None) -> Doc:
    """A fresh copy of the named sample, under ``decl_id`` when one is given."""
    doc = SAMPLES[name]()
    if decl_id is not None:
        doc["declarationId"] = decl_id
    return doc


# ----------------------------------------------------------------------- members

ORGS: Final[Mapping[str, Role]] = MappingProxyType(
    {
        "customs": Role.CUSTOMS,
        "port-authority": Role.PORT_AUTHORITY,
        "forwarder-a": Role.FORWARDER,
        "forwarder-b": Role.FORWARDER,
        "shipper-acme": Role.SHIPPER,
        "shipper-beta": Role.SHIPPER,
        "auditor": Role.AUDITOR,
    }
)
"""The test port community: every organisation with its role."""

VALIDATOR_ORGS: Final = ("customs", "port-authority", "forwarder-a", "forwarder-b")
"""The organisations that run validators in the four-validator networks."""


def member(name: str) -> str:
    """``name:role`` of an organisation of :data:`ORGS`, as ``network init`` takes a member."""
    return f"{name}:{ORGS[name]}"


MEMBERS: Final = tuple(
    member(o) for o in ("port-authority", "shipper-acme", "shipper-beta", "auditor")
)
"""The members beside one customs validator: enough to take every lifecycle step."""
