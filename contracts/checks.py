"""The IMDG rule checks on a parsed declaration, and the contract's entry points.

::

    parse_declaration(data)          -> Declaration      (shape; contracts.document)
    check_declaration(decl, dgl)     -> list[Violation]  (rules; empty means valid)
    validate(data, dgl)              -> Declaration      (both; raises DeclarationInvalid)

The checks are pure functions of the declaration and the Dangerous Goods
List in force: no clock, no randomness, no I/O. Every check runs and every
violation is reported; codes are listed in :data:`contracts.codes.CODES`.
The list is anything with ``lookup(un_number) -> tuple[DglEntry, ...]``
(empty when the list has no such UN number).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from contracts import formats as f
from contracts.codes import CODES
from contracts.declaration import Declaration
from contracts.dgl_types import DangerousGoodsListProtocol
from contracts.document import ItemDraft, parse_document
from contracts.errors import DeclarationInvalid, Violation
from contracts.item_checks import check_draft, check_item
from contracts.segregation_checks import UnitItem, check_unit

__all__ = [
    "CODES",
    "DangerousGoodsListProtocol",
    "check_declaration",
    "check_departure_at",
    "departure_violations",
    "validate",
]


def check_declaration(decl: Declaration, dgl: DangerousGoodsListProtocol) -> list[Violation]:
    """Every rule the declaration breaks against ``dgl``; empty when it is valid."""
    out: list[Violation] = []
    _check_transport(decl, out)
    _check_dates(decl, out)
    seen: dict[str, int] = {}
    for c, container in enumerate(decl.containers):
        path = f"$.containers[{c}]"
        _check_container_number(container.equipment_reference, c, seen, out)
        unit = []
        for i, item in enumerate(container.dangerous_goods):
            item_path = f"{path}.dangerousGoods[{i}]"
            unit.append(UnitItem(item_path, item, check_item(item, dgl, item_path, out)))
        out.extend(check_unit(container.equipment_reference, unit))
    return out


def validate(data: bytes | str | Mapping[str, Any], dgl: DangerousGoodsListProtocol) -> Declaration:
    """Parse and check a declaration; raise DeclarationInvalid with every violation.

    A document that does not read whole is still judged as far as it can be:
    each item that read gets its checks, each that did not is told the fields
    the rules require of it that it lacks (``contracts.item_checks.check_draft``).
    The document-wide checks (check digits, dates, segregation) wait for a
    document that reads.
    """
    reading = parse_document(data)
    decl = reading.declaration
    if decl is not None:
        violations = check_declaration(decl, dgl)
        if violations:
            raise DeclarationInvalid(violations)
        return decl
    out = list(reading.violations)
    for path, kept in reading.items:
        if isinstance(kept, ItemDraft):
            check_draft(kept, dgl, path, out)
        else:
            check_item(kept, dgl, path, out)
    raise DeclarationInvalid(out)


def _check_transport(decl: Declaration, out: list[Violation]) -> None:
    number = decl.transport.vessel_imo_number
    if not f.imo_check_digit_ok(number):
        out.append(
            Violation(
                "imo_number.check_digit",
                "$.transport.vesselIMONumber",
                f"vesselIMONumber {number}: check digit should be {f.imo_check_digit(number)}",
            )
        )


def _check_dates(decl: Declaration, out: list[Violation]) -> None:
    """The document's own dates in order: certificates signed, then departure, then arrival."""
    transport = decl.transport
    departure = f.moment(transport.estimated_departure)
    if transport.estimated_arrival is not None and departure.after(
        f.moment(transport.estimated_arrival)
    ):
        out.append(
            Violation(
                "date.arrival_before_departure",
                "$.transport.estimatedArrival",
                f"estimatedArrival {transport.estimated_arrival} is before estimatedDeparture "
                f"{transport.estimated_departure}",
            )
        )
    certificates = [decl.shipper_certification]
    certificates += [container.packing_certificate for container in decl.containers]
    for n, cert in enumerate(certificates):
        if cert is not None and cert.date is not None and f.moment(cert.date).after(departure):
            path = (
                "$.shipperCertification" if n == 0 else f"$.containers[{n - 1}].packingCertificate"
            )
            paragraph = "5.4.1.6.1" if n == 0 else "5.4.2.1"
            out.append(
                Violation(
                    "certification.after_departure",
                    f"{path}.date",
                    f"the certificate is dated {cert.date}, after the vessel's estimatedDeparture "
                    f"{transport.estimated_departure}: goods are certified before they are "
                    "offered for shipment",
                    paragraph,
                )
            )


DATE_ONLY_GRACE_MS: Final = 38 * 3_600_000
"""How long after its midnight UTC a departure given as a date alone may still be to come:
the whole day, in the latest time zone (UTC+14)."""
HOUR_MS: Final = 3_600_000
DEPARTURE_PATH: Final = "$.transport.estimatedDeparture"


def check_departure_at(
    decl: Declaration, block_time_ms: int, lead_time_hours: int = 0
) -> list[Violation]:
    """A violation if ``decl``'s departure is sooner than ``lead_time_hours`` after a block's time.

    Contracts read no clock: a declaration handler passes the time of the block
    it applies the declaration in (``Context.time``) and the network's lead time
    (``params.lead_time_hours``), so every node decides alike.
    """
    return departure_violations(decl.transport.estimated_departure, block_time_ms, lead_time_hours)


def departure_violations(
    departure: str,
    block_time_ms: int,
    lead_time_hours: int = 0,
    path: str = DEPARTURE_PATH,
    *,
    admission: bool = False,
) -> list[Violation]:
    """:func:`check_departure_at` of a departure as the document writes it, reported at ``path``.

    A departure given as a date alone counts as late as that day may end
    anywhere (:data:`DATE_ONLY_GRACE_MS`). Departing at the block's time plus
    the lead time exactly is in time. With ``admission``, ``block_time_ms`` is
    the earliest time a block could record the declaration, and the message
    says so.
    """
    latest = f.epoch_millis(departure)
    if f.moment(departure).utc_seconds is None:
        latest += DATE_ONLY_GRACE_MS
    due = block_time_ms + lead_time_hours * HOUR_MS
    if latest >= due:
        return []
    when = (
        f"the earliest time a block could record it, {_utc(block_time_ms)}"
        if admission
        else f"the time of the block that records the declaration, {_utc(block_time_ms)}"
    )
    if latest < block_time_ms:
        lead = (
            f" (this network's lead time, lead_time_hours, is {lead_time_hours} hours)"
            if lead_time_hours
            else ""
        )
        return [
            Violation(
                "date.departure_past",
                path,
                f"estimatedDeparture {departure} is already past at {when}{lead}",
            )
        ]
    return [
        Violation(
            "date.too_late",
            path,
            f"estimatedDeparture {departure} is less than {lead_time_hours} hours after {when}:"
            f" this network's lead time (lead_time_hours) is {lead_time_hours} hours, so a"
            f" declaration is submitted or amended at least {lead_time_hours} hours before"
            " departure",
        )
    ]


def _utc(ms: int) -> str:
    """A block's time as an ISO 8601 UTC date-time, to the second (no clock read, no library)."""
    days, ms_of_day = divmod(ms, 86_400_000)
    # Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant, "chrono-compatible
    # low-level date algorithms", civil_from_days).
    z = days + 719_468
    era, doe = divmod(z, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    hours, rest = divmod(ms_of_day // 1000, 3600)
    return f"{year:04d}-{month:02d}-{day:02d}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _check_container_number(
    number: str, index: int, seen: dict[str, int], out: list[Violation]
) -> None:
    path = f"$.containers[{index}].equipmentReference"
    if not f.container_check_digit_ok(number):
        out.append(
            Violation(
                "container_number.check_digit",
                path,
                f"equipmentReference {number}: ISO 6346 check digit should be "
                f"{f.iso6346_check_digit(number)}",
            )
        )
    if number in seen:
        out.append(
            Violation(
                "container.duplicate",
                path,
                f"container {number} is already declared at $.containers[{seen[number]}]",
            )
        )
    else:
        seen[number] = index
