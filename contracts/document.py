"""Reading a declaration document: JSON limits, strict schema, every problem at once.

The schema (DCSA field names where DCSA has one)::

    declarationId  shipper{partyName, address}  consignee{...}  forwarder?{...}
    carrierBookingReference?  transportDocumentReference?
    transport{vesselIMONumber, vesselName, voyageNumber, portOfLoading,
              portOfDischarge, estimatedDeparture, estimatedArrival?}
    containers[{equipmentReference, ISOEquipmentCode, seals?[], packingCertificate,
                dangerousGoods[{UNNumber, properShippingName, imoClass, ...}]}]
    shipperCertification{signatoryName, place, date}
    sealed?{version, paths[], digest, nonce, ciphertext,
            recipients[{organisation, key, wrapped}]}

Every missing required field is reported, each once at its path
(``field.missing``); the certifications and their parts are required (IMDG
5.4.1.6.1, 5.4.2.1). Unknown fields are refused with ``field.unknown`` naming
the field, so a typo is never silently ignored.

:func:`read_document` also keeps every item, as a record or, when it did not
read, as an :class:`ItemDraft` of what it states, so the rules that need the
Dangerous Goods List can still say which fields it lacks. Numbers that are not
counts are decimal strings.
The reader never recurses into values the schema does not expect, so the
schema bounds the depth it walks; ``json``'s own recursion guard is turned
into ``json.too_deep``.

The ``sealed`` section (format: ``node.client.sealing``) is read for its
shape only, since no validator can open it: version 1; ``paths`` a sorted
set of sealable paths (:data:`contracts.declaration.SEALABLE_TOP`, and
``containers[c].dangerousGoods[i].emergencyContactDetails`` with indices
written without leading zeros), each naming a field that is absent from the
clear document, of an item it has; ``digest`` 64 lower-case hex digits;
``nonce`` (12 bytes), ``ciphertext`` (a tag and at least a byte, at most
:data:`MAX_CIPHERTEXT`), each recipient's ``key`` (32 bytes) and ``wrapped``
(80) in base64url without padding, written canonically; recipients sorted by
organisation, one each. A consignee the section holds satisfies "consignee
is required"; no other rule needs a sealable field.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts import formats as f
from contracts.declaration import (
    SEALABLE_ITEM,
    SEALABLE_TOP,
    SEALED_VERSION,
    Certification,
    Container,
    DangerousGoodsItem,
    Declaration,
    EmergencyContact,
    InnerPackaging,
    Limits,
    Party,
    Recipient,
    Sealed,
    Transport,
)
from contracts.document_reader import (
    Build,
    Field,
    Pairs,
    Reader,
    Schema,
    choice,
    code,
    count,
    date,
    decimal,
    flag,
    nested_list,
    quantity,
    record,
    strings,
    text,
)
from contracts.errors import DeclarationInvalid, Violation
from contracts.membership import MAX_ORGS, ORG_NAME
from ledger.tx import MAX_TX_SIZE

MAX_DOCUMENT_BYTES: Final = 1 << 20
"""A JSON document is at most 1 MiB."""
MAX_CONTAINERS: Final = 500
MAX_ITEMS: Final = 200
"""Dangerous-goods items per container."""
MAX_CIPHERTEXT: Final = MAX_TX_SIZE
"""Bytes of a sealed section's ciphertext: no more than a transaction may hold."""


class _Reject(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _no_float(text: str) -> Any:
    raise _Reject("json.float", f"number {text[:40]} has a fraction or exponent: write a string")


def _no_constant(name: str) -> Any:
    raise _Reject("json.constant", f"{name} is not a JSON number")


# Built once: json.loads with arguments would build a decoder and scanner per call.
_DECODER: Final = json.JSONDecoder(
    parse_float=_no_float, parse_constant=_no_constant, object_pairs_hook=Pairs
)


def _invalid(code: str, message: str) -> DeclarationInvalid:
    return DeclarationInvalid([Violation(code, "$", message)])


def load_json(data: bytes | str) -> Any:
    """Decode a JSON document within the limits: no floats, NaN or duplicate keys."""
    if isinstance(data, bytes):
        if len(data) > MAX_DOCUMENT_BYTES:
            raise _invalid("json.too_large", f"document of {len(data)} bytes exceeds 1 MiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _invalid("json.invalid", f"not UTF-8: {e.reason} at byte {e.start}") from e
    else:
        text = data
        # Each character is at least one UTF-8 byte; only long text needs counting.
        if len(text) > MAX_DOCUMENT_BYTES or (
            len(text) * 4 > MAX_DOCUMENT_BYTES
            and len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES
        ):
            raise _invalid("json.too_large", "document exceeds 1 MiB")
    try:
        return _DECODER.decode(text)
    except _Reject as e:
        raise _invalid(e.code, e.message) from None
    except RecursionError:
        raise _invalid("json.too_deep", "the document nests too deeply") from None
    except ValueError as e:
        raise _invalid("json.invalid", f"not well-formed JSON: {str(e)[:200]}") from None


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """What an item that did not read states: for the rules that say what it lacks."""

    values: Mapping[str, Any]
    """Attribute -> value for the fields that read (None for one given but not valid);
    subsidiary hazards as ``_risk1``, ``_risk2``."""
    given: frozenset[str]
    """The keys the item has, null ones aside."""
    flash_point_given: bool
    """Whether ``limits.flashPoint`` is there (or ``limits`` is, but not an object)."""


Kept = tuple[str, DangerousGoodsItem | ItemDraft]
"""An item's JSON path, and its record or its draft."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A document read: the declaration, or the violations and every item as far as it read."""

    declaration: Declaration | None
    violations: tuple[Violation, ...]
    items: tuple[Kept, ...]


def _decoded(data: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(data, bytes | str):
        return load_json(data)
    if isinstance(data, bytearray | memoryview):
        return load_json(bytes(data))
    return data


def parse_declaration(data: bytes | str | Mapping[str, Any]) -> Declaration:
    """A declaration from JSON bytes or text, or from an already decoded map."""
    return read_declaration(_decoded(data))


def parse_document(data: bytes | str | Mapping[str, Any]) -> Reading:
    """Read JSON bytes, text or a decoded map; JSON that does not decode still raises."""
    return read_document(_decoded(data))


def read_document(value: Any) -> Reading:
    """Read a decoded document, keeping what the rules may still judge if it has flaws."""
    r = Reader()
    seals_consignee = "consignee" in _sealed_paths(value)
    values = r.fields(value, "$", _SEALED_CONSIGNEE if seals_consignee else _DECLARATION)
    section = (values if values is not None else r.last or {}).get("sealed")
    if section is not None:
        _check_sealed_paths(r, section, value)
    if values is None or r.out:
        return Reading(None, tuple(r.out), tuple(r.kept))
    values.setdefault("consignee", None)  # only a sealed one is absent here
    return Reading(Declaration(**values), (), ())


def read_declaration(value: Any) -> Declaration:
    """Read a decoded document; raise DeclarationInvalid with every violation."""
    reading = read_document(value)
    if reading.declaration is None:
        raise DeclarationInvalid(reading.violations)
    return reading.declaration


def _record(cls: type) -> Build:
    def build(r: Reader, values: dict[str, Any], path: str) -> Any:
        return cls(**values)

    return build


def _item(r: Reader, values: dict[str, Any], path: str) -> DangerousGoodsItem | None:
    values.pop("_na_number", None)  # always a violation: the item is never built with it
    first = values.pop("_risk1", None)
    second = values.pop("_risk2", None)
    if second is not None and first is None:
        r.add(
            "subsidiary.order",
            f"{path}.subsidiaryRisk2",
            "subsidiaryRisk2 is given without subsidiaryRisk1",
            "5.4.1.4.1.4",
        )
        return None
    if first is None:
        return DangerousGoodsItem(**values)
    hazards = (first,) if second is None else (first, second)
    primary: str = values["imo_class"]
    ok = True
    if hazards[-1] == hazards[0] and len(hazards) == 2:
        r.add("subsidiary.duplicate", f"{path}.subsidiaryRisk2", "repeats subsidiaryRisk1")
        ok = False
    division = primary[:3] if primary[0] == "1" else primary
    for n, hazard in enumerate(hazards):
        if hazard == division or (hazard == "1" and primary[0] == "1"):
            r.add(
                "subsidiary.duplicate",
                f"{path}.subsidiaryRisk{n + 1}",
                f"subsidiary hazard {hazard} repeats the class {primary}",
                "5.4.1.4.1.4",
            )
            ok = False
    return DangerousGoodsItem(subsidiary_hazards=hazards, **values) if ok else None


def _draft(values: Mapping[str, Any], raw: Any) -> ItemDraft:
    pairs = raw if type(raw) is Pairs else raw.items()
    given = frozenset(k for k, v in pairs if v is not None and type(k) is str)
    limits = dict(raw).get("limits")
    if limits is None:
        flash = False
    elif isinstance(limits, Mapping) or type(limits) is Pairs:
        flash = dict(limits).get("flashPoint") is not None
    else:
        flash = True  # not an object: reported as such, its flashpoint unknown
    return ItemDraft(dict(values), given, flash)


def _items(r: Reader, v: Any, path: str, key: str) -> tuple[DangerousGoodsItem, ...] | None:
    # nested_list's reading of dangerousGoods, keeping every item for the checks.
    if type(v) is not list and type(v) is not tuple:
        r.wrong_type(v, path, key, "an array")
        return None
    if not 1 <= len(v) <= MAX_ITEMS:
        r.add(
            "field.length",
            f"{path}.{key}",
            f"{key} must have 1 to {MAX_ITEMS} entries, not {len(v)}",
        )
        return None
    out = []
    for i, element in enumerate(v):
        p = f"{path}.{key}[{i}]"
        values = r.fields(element, p, _ITEM)
        if values is None:
            if r.last is not None:
                r.kept.append((p, _draft(r.last, element)))
            continue
        built = _item(r, values, p)
        if built is None:  # its subsidiary hazards refused: they count as unknown
            r.kept.append((p, _draft(values, element)))
        else:
            out.append(built)
            r.kept.append((p, built))
    return tuple(out)


def _na_number(r: Reader, v: Any, path: str, key: str) -> None:
    # DCSA allows NANumber in place of UNNumber; NA numbers are US domestic
    # identifiers (49 CFR), and the IMDG Code knows only UN numbers.
    r.add(
        "un_number.na_number",
        f"{path}.{key}",
        "NANumber is a US domestic (49 CFR) identifier: a declaration for sea transport"
        " under the IMDG Code gives the UN number in UNNumber",
        "5.4.1.4.1.1",
    )


def _schema(
    fields: dict[str, tuple[str, Field]], *required: str, paragraphs: dict[str, str] | None = None
) -> Schema:
    return Schema.of(fields, *required, paragraphs=paragraphs)


def _locode(r: Reader, v: Any, path: str, key: str) -> str | None:
    if type(v) is str and f.KNOWN_LOCODE.fullmatch(v):
        return v
    if type(v) is not str:
        r.wrong_type(v, path, key, "a string")
    elif not f.UN_LOCODE.fullmatch(v):
        r.add(
            "locode.format",
            f"{path}.{key}",
            f"{key} {v[:40]!r} is not a UN/LOCODE: a country code and three letters or digits 2-9",
        )
    else:
        r.add(
            "locode.country",
            f"{path}.{key}",
            f"{key} {v!r}: {v[:2]} is not an ISO 3166-1 country code, so not a UN/LOCODE",
        )
    return None


_LOCODE: Final = Field(_locode, str, f.KNOWN_LOCODE.fullmatch)
"""A UN/LOCODE: an assigned ISO 3166-1 country code, then three letters or digits 2-9."""

_PARTY: Final = _schema(
    {"partyName": ("party_name", text(70)), "address": ("address", text(250))},
    "partyName",
    "address",
)
_CERTIFICATION_FIELDS: Final = {
    "signatoryName": ("signatory_name", text(70)),
    "place": ("place", text(70)),
    "date": ("date", date),
}
_SIGNED: Final = ("signatoryName", "place", "date")
"""A certificate names who signed it, where and when."""
_SHIPPER_CERTIFICATION: Final = Schema.of(
    _CERTIFICATION_FIELDS, *_SIGNED, paragraphs=dict.fromkeys(_SIGNED, "5.4.1.6.1")
)
_PACKING_CERTIFICATE: Final = Schema.of(
    _CERTIFICATION_FIELDS, *_SIGNED, paragraphs=dict.fromkeys(_SIGNED, "5.4.2.1")
)
_TRANSPORT: Final = _schema(
    {
        "vesselIMONumber": (
            "vessel_imo_number",
            code(f.IMO_NUMBER, "imo_number.format", "seven digits"),
        ),
        "vesselName": ("vessel_name", text(50)),
        "voyageNumber": ("voyage_number", text(50)),
        "portOfLoading": ("port_of_loading", _LOCODE),
        "portOfDischarge": ("port_of_discharge", _LOCODE),
        "estimatedDeparture": ("estimated_departure", date),
        "estimatedArrival": ("estimated_arrival", date),
    },
    "vesselIMONumber",
    "vesselName",
    "voyageNumber",
    "portOfLoading",
    "portOfDischarge",
    "estimatedDeparture",
)
_TEMPERATURE: Final = decimal(False)
_LIMITS: Final = _schema(
    {
        "temperatureUnit": ("temperature_unit", choice(f.TEMPERATURE_UNITS, "unit.invalid")),
        "flashPoint": ("flash_point", _TEMPERATURE),
        "transportControlTemperature": ("transport_control_temperature", _TEMPERATURE),
        "transportEmergencyTemperature": ("transport_emergency_temperature", _TEMPERATURE),
        "SADT": ("sadt", _TEMPERATURE),
        "SAPT": ("sapt", _TEMPERATURE),
    },
    "temperatureUnit",
)
_CONTACT: Final = _schema(
    {
        "contact": ("contact", text(255)),
        "provider": ("provider", text(255)),
        "phone": ("phone", code(f.PHONE, "phone.format", "a telephone number")),
        "referenceNumber": ("reference_number", text(255)),
    },
    "contact",
    "phone",
)
_INNER: Final = _schema(
    {
        "quantity": ("quantity", count(1, 1_000_000)),
        "material": ("material", text(100)),
        "description": ("description", text(100)),
    },
    "quantity",
    "material",
    "description",
)
_SUBSIDIARY: Final = choice(f.SUBSIDIARY_CLASSES, "subsidiary.format")
_ITEM: Final = _schema(
    {
        "UNNumber": ("un_number", code(f.UN_NUMBER, "un_number.format", "four digits")),
        "properShippingName": ("proper_shipping_name", text(250)),
        "technicalName": ("technical_name", text(250)),
        "imoClass": ("imo_class", choice(f.PRIMARY_CLASSES, "class.format")),
        "subsidiaryRisk1": ("_risk1", _SUBSIDIARY),
        "subsidiaryRisk2": ("_risk2", _SUBSIDIARY),
        "packingGroup": ("packing_group", count(1, 3, "packing_group.range")),
        "isMarinePollutant": ("is_marine_pollutant", flag),
        "isLimitedQuantity": ("is_limited_quantity", flag),
        "isExceptedQuantity": ("is_excepted_quantity", flag),
        "isWaste": ("is_waste", flag),
        "isHot": ("is_hot", flag),
        "isEmptyUncleanedResidue": ("is_empty_uncleaned_residue", flag),
        "isSalvagePackings": ("is_salvage_packings", flag),
        "isCompetentAuthorityApprovalRequired": (
            "is_competent_authority_approval_required",
            flag,
        ),
        "competentAuthorityApproval": ("competent_authority_approval", text(70)),
        "segregationGroups": (
            "segregation_groups",
            strings(code(f.SEGREGATION_GROUP, "segregation_group.format", "SGG1..SGG18"), 18),
        ),
        "innerPackagings": (
            "inner_packagings",
            nested_list(_INNER, _record(InnerPackaging), 1, 20),
        ),
        "EMSNumber": ("ems_number", code(f.EMS, "ems.format", "'F-x S-y'")),
        "limits": ("limits", record(_LIMITS, Limits)),
        "numberOfPackages": ("number_of_packages", count(1, 10_000_000)),
        "packageCode": (
            "package_code",
            code(f.PACKAGE_CODE, "package_code.format", "a package code"),
        ),
        "grossWeight": ("gross_weight", quantity(f.WEIGHT_UNITS)),
        "netWeight": ("net_weight", quantity(f.WEIGHT_UNITS)),
        "netVolume": ("net_volume", quantity(f.VOLUME_UNIT_CODES)),
        "netExplosiveContent": ("net_explosive_content", quantity(f.EXPLOSIVE_UNITS)),
        "emergencyContactDetails": (
            "emergency_contact",
            record(_CONTACT, EmergencyContact),
        ),
        "NANumber": ("_na_number", Field(_na_number)),
        "codedVariantList": (
            "coded_variant_list",
            code(f.CODED_VARIANT, "coded_variant.format", "0-3 then three of 0-9, A-Z"),
        ),
        "isReportableQuantity": ("is_reportable_quantity", flag),
        "inhalationZone": (
            "inhalation_zone",
            choice(f.INHALATION_ZONES, "inhalation_zone.format"),
        ),
        "endOfHoldingTime": ("end_of_holding_time", date),
        "fumigationDateTime": ("fumigation_date_time", date),
        "specialCertificateNumber": ("special_certificate_number", text(255)),
        "additionalContainerCargoHandling": ("additional_container_cargo_handling", text(255)),
    },
    "UNNumber",
    "properShippingName",
    "imoClass",
    "numberOfPackages",
    "grossWeight",
)
_CONTAINER: Final = _schema(
    {
        "equipmentReference": (
            "equipment_reference",
            code(
                f.CONTAINER_NUMBER,
                "container_number.format",
                "owner code, category U/J/Z and seven digits (ISO 6346)",
            ),
        ),
        "ISOEquipmentCode": (
            "iso_equipment_code",
            code(f.ISO_EQUIPMENT_CODE, "equipment_type.format", "an ISO 6346 size-type code"),
        ),
        "seals": ("seals", strings(text(15), 10)),
        "packingCertificate": (
            "packing_certificate",
            record(_PACKING_CERTIFICATE, Certification),
        ),
        "dangerousGoods": ("dangerous_goods", Field(_items)),
    },
    "equipmentReference",
    "ISOEquipmentCode",
    "dangerousGoods",
    "packingCertificate",
    paragraphs={"packingCertificate": "5.4.2.1"},
)
# --- the sealed section ----------------------------------------------------------------

_B64: Final = "[A-Za-z0-9_-]"
_BASE64URL: Final = re.compile(f"{_B64}*")
_CANONICAL_BASE64URL: Final = re.compile(
    f"(?:{_B64}{{4}})*(?:{_B64}{{2}}[AEIMQUYcgkosw048]|{_B64}[AQgw])?"
)
"""Base64url without padding whose last character leaves no spare bit set."""
_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_INDEX: Final = r"(0|[1-9][0-9]{0,8})"
_ITEM_PATH: Final = re.compile(
    rf"containers\[{_INDEX}\]\.dangerousGoods\[{_INDEX}\]\.({'|'.join(SEALABLE_ITEM)})"
)
_MAX_PATHS: Final = len(SEALABLE_TOP) + len(SEALABLE_ITEM) * MAX_CONTAINERS * MAX_ITEMS


def _base64(least: int, most: int) -> Field:
    """Base64url without padding, written canonically, of ``least`` to ``most`` bytes."""

    def read(r: Reader, v: Any, path: str, key: str) -> str | None:
        if type(v) is not str:
            r.wrong_type(v, path, key, "a base64url string")
            return None
        data = None
        if len(v) <= (most * 4 + 2) // 3 and _BASE64URL.fullmatch(v) and len(v) % 4 != 1:
            try:
                data = base64.urlsafe_b64decode(v + "=" * (-len(v) % 4))
            except binascii.Error:
                data = None
            if data is not None and base64.urlsafe_b64encode(data).rstrip(b"=").decode() != v:
                data = None  # spare bits set: another text of the same bytes
        if data is None and (len(v) > (most * 4 + 2) // 3 and _BASE64URL.fullmatch(v)):
            r.add("sealed.length", f"{path}.{key}", f"{key} holds more than {most} bytes")
        elif data is None:
            r.add(
                "sealed.encoding",
                f"{path}.{key}",
                f"{key} is not base64url without padding, written canonically",
            )
        elif not least <= len(data) <= most:
            size = f"{least}" if least == most else f"{least} to {most}"
            r.add("sealed.length", f"{path}.{key}", f"{key} holds {len(data)} bytes, not {size}")
        else:
            return v
        return None

    # A good value passes one C-level match: canonical (a last character's spare
    # bits zero), of exactly ``least`` bytes, or within the bounds of a ciphertext.
    if least == most:
        full, left = divmod(least * 8, 6)  # whole characters, then data bits left over
        tail = {0: "", 2: "[AQgw]", 4: "[AEIMQUYcgkosw048]"}[left]
        exact = re.compile(f"{_B64}{{{full}}}{tail}")
        return Field(read, str, exact.fullmatch)
    fewest, longest = (least * 4 + 2) // 3, (most * 4 + 2) // 3

    def fast(v: str) -> bool:
        return fewest <= len(v) <= longest and _CANONICAL_BASE64URL.fullmatch(v) is not None

    return Field(read, str, fast)


def _sealed_version(r: Reader, v: Any, path: str, key: str) -> int | None:
    if type(v) is int and v == SEALED_VERSION:
        return v
    if type(v) is not int:
        r.wrong_type(v, path, key, "an integer")
    else:
        shown = v if -(10**18) < v < 10**18 else "of that size"
        r.add(
            "sealed.version",
            f"{path}.{key}",
            f"sealed section version {shown} is not known: version {SEALED_VERSION} is",
        )
    return None


def _sealable(text: str) -> bool:
    return text in SEALABLE_TOP or _ITEM_PATH.fullmatch(text) is not None


def _paths(r: Reader, v: Any, path: str, key: str) -> tuple[str, ...] | None:
    if type(v) is not list and type(v) is not tuple:
        r.wrong_type(v, path, key, "an array of strings")
        return None
    if not 1 <= len(v) <= _MAX_PATHS:
        r.add("field.length", f"{path}.{key}", f"{key} must have 1 to {_MAX_PATHS} entries")
        return None
    ok = True
    for i, p in enumerate(v):
        if type(p) is not str:
            r.wrong_type(p, path, f"{key}[{i}]", "a string")
            ok = False
        elif not _sealable(p):
            r.add(
                "sealed.path",
                f"{path}.{key}[{i}]",
                f"{p[:80]!r} is not a field that may be sealed: "
                f"{', '.join(SEALABLE_TOP)}, or an item's {', '.join(SEALABLE_ITEM)}",
            )
            ok = False
    if not ok:
        return None
    if list(v) != sorted(set(v)):
        r.add("sealed.path", f"{path}.{key}", f"{key} must be sorted, each path once")
        return None
    return tuple(v)


def _recipients(r: Reader, v: Any, path: str, key: str) -> tuple[Recipient, ...] | None:
    out: tuple[Recipient, ...] | None = _RECIPIENT_LIST.read(r, v, path, key)
    if out is None or len(out) != len(v):  # a recipient that did not read is reported
        return None
    names = [recipient.organisation for recipient in out]
    if names != sorted(set(names)):
        r.add(
            "sealed.recipients",
            f"{path}.{key}",
            f"{key} must be sorted by organisation, each organisation once",
        )
        return None
    return out


_RECIPIENT: Final = _schema(
    {
        "organisation": (
            "organisation",
            code(ORG_NAME, "sealed.recipients", "an organisation name"),
        ),
        "key": ("key", _base64(32, 32)),
        "wrapped": ("wrapped", _base64(80, 80)),
    },
    "organisation",
    "key",
    "wrapped",
)
_RECIPIENT_LIST: Final = nested_list(_RECIPIENT, _record(Recipient), 1, MAX_ORGS)
_SEALED: Final = _schema(
    {
        "version": ("version", Field(_sealed_version)),
        "paths": ("paths", Field(_paths)),
        "digest": (
            "digest",
            code(_DIGEST, "sealed.digest", "64 lower-case hex digits (a SHA-256)"),
        ),
        "nonce": ("nonce", _base64(12, 12)),
        "ciphertext": ("ciphertext", _base64(17, MAX_CIPHERTEXT)),
        "recipients": ("recipients", Field(_recipients)),
    },
    "version",
    "paths",
    "digest",
    "nonce",
    "ciphertext",
    "recipients",
)


def _member(value: Any, key: str) -> Any:
    """What a decoded object (Pairs or a map) holds at ``key``; None for anything else."""
    if type(value) is Pairs:
        return next((v for k, v in value if k == key), None)
    return value.get(key) if isinstance(value, Mapping) else None


def _sealed_paths(value: Any) -> Any:
    """The ``sealed.paths`` a raw document states, as far as they are a list."""
    paths = _member(_member(value, "sealed"), "paths")
    return paths if type(paths) is list or type(paths) is tuple else ()


def _in_clear(holder: Any, key: str) -> bool:
    return _member(holder, key) is not None


def _check_sealed_paths(r: Reader, section: Sealed, value: Any) -> None:
    """Each sealed path names a field absent from the clear document, of an item it has."""
    for n, p in enumerate(section.paths):
        where = f"$.sealed.paths[{n}]"
        m = _ITEM_PATH.fullmatch(p)
        if m is None:
            if _in_clear(value, p):
                r.add("sealed.path", where, f"{p} is sealed and in clear too: give it once")
            continue
        item = _element(
            _member(_element(_member(value, "containers"), int(m[1])), "dangerousGoods"), int(m[2])
        )
        if item is None:
            r.add("sealed.path", where, f"{p} names an item the document does not have")
        elif _in_clear(item, m[3]):
            r.add("sealed.path", where, f"{p} is sealed and in clear too: give it once")


def _element(array: Any, index: int) -> Any:
    """``array[index]`` of a decoded JSON array; None for anything else."""
    if (type(array) is list or type(array) is tuple) and index < len(array):
        return array[index]
    return None


_PARTY_READER: Final = record(_PARTY, Party)
_DECLARATION: Final = _schema(
    {
        "declarationId": (
            "declaration_id",
            code(
                f.DECLARATION_ID,
                "declaration_id.format",
                "letters, digits, '.', '_' or '-', at most 100",
            ),
        ),
        "shipper": ("shipper", _PARTY_READER),
        "consignee": ("consignee", _PARTY_READER),
        "forwarder": ("forwarder", _PARTY_READER),
        "carrierBookingReference": ("carrier_booking_reference", text(35)),
        "transportDocumentReference": ("transport_document_reference", text(20)),
        "transport": ("transport", record(_TRANSPORT, Transport)),
        "containers": (
            "containers",
            nested_list(_CONTAINER, _record(Container), 1, MAX_CONTAINERS),
        ),
        "shipperCertification": (
            "shipper_certification",
            record(_SHIPPER_CERTIFICATION, Certification),
        ),
        "sealed": ("sealed", record(_SEALED, Sealed)),
    },
    "declarationId",
    "shipper",
    "consignee",
    "transport",
    "containers",
    "shipperCertification",
    paragraphs={"shipperCertification": "5.4.1.6.1"},
)
_SEALED_CONSIGNEE: Final = Schema(
    _DECLARATION.fields,
    _DECLARATION.required - {"consignee"},
    _DECLARATION.required_attributes - {"consignee"},
    _DECLARATION.paragraphs,
)
"""The declaration whose sealed section holds the consignee: it need not be in clear."""
