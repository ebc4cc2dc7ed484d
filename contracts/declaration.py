"""The dangerous-goods declaration as a typed, frozen, canonical record.

A declaration arrives as a JSON document whose field names follow the DCSA
``DangerousGoods`` model; :mod:`contracts.document` reads it:
``parse_declaration`` turns it into a :class:`Declaration`, and
``read_declaration`` reads a canonical map back through the same validation,
as it does for values read from the chain. Every record has ``to_value()``
(the canonical map that ``ledger.encoding.encode`` signs: the same field
names, counts as integers, every other number a normalised decimal string,
every flag explicit).

A record is a well-formed document: types, lengths, code shapes and units
are right. Whether it obeys the rules (check digits, the Dangerous Goods
List, segregation, certifications) is what ``contracts.checks`` judges.
Build records only through ``contracts.document``.

A declaration may carry a :class:`Sealed` section: the commercially
sensitive fields (:data:`SEALABLE_TOP`, and :data:`SEALABLE_ITEM` of any
item) encrypted to the organisations entitled to read it, as
``node.client.sealing`` describes. The record keeps the section as it came
(its texts unchanged, so ``to_value`` writes it back byte for byte); a field
the section names is absent from the clear document, and counts as there
for every rule that requires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

SEALABLE_TOP: Final = (
    "consignee",
    "forwarder",
    "carrierBookingReference",
    "transportDocumentReference",
)
"""Top-level fields a sealed section may hold: parties besides the shipper, commercial
references. The shipper stays in clear: the signature names its organisation anyway."""
SEALABLE_ITEM: Final = ("emergencyContactDetails",)
"""Fields of a dangerous-goods item a sealed section may hold: contacts."""
SEALED_VERSION: Final = 1
"""The one version of the sealed section's format."""


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    # Optional fields are absent from the canonical form rather than null.
    if value is not None:
        out[key] = value


@dataclass(frozen=True, slots=True)
class Quantity:
    """A positive amount: a normalised decimal string and a UN/ECE Rec 20 unit code."""

    value: str
    unit: str

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Party:
    """Shipper, consignee or forwarder: name and address (IMDG 5.4.1.2)."""

    party_name: str
    address: str

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        return {"partyName": self.party_name, "address": self.address}


@dataclass(frozen=True, slots=True)
class Transport:
    """The voyage: vessel, ports and planned departure (IMDG 5.4.1.5 / FAL Form 7)."""

    vessel_imo_number: str
    vessel_name: str
    voyage_number: str
    port_of_loading: str
    port_of_discharge: str
    estimated_departure: str
    estimated_arrival: str | None = None

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        out = {
            "vesselIMONumber": self.vessel_imo_number,
            "vesselName": self.vessel_name,
            "voyageNumber": self.voyage_number,
            "portOfLoading": self.port_of_loading,
            "portOfDischarge": self.port_of_discharge,
            "estimatedDeparture": self.estimated_departure,
        }
        _put(out, "estimatedArrival", self.estimated_arrival)
        return out


@dataclass(frozen=True, slots=True)
class Certification:
    """A signed statement: the shipper's (IMDG 5.4.1.6) or the packer's (5.4.2).

    Each part may be absent from a well-formed document; the checks report
    which one is missing.
    """

    signatory_name: str | None = None
    place: str | None = None
    date: str | None = None

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        out: dict[str, str] = {}
        _put(out, "signatoryName", self.signatory_name)
        _put(out, "place", self.place)
        _put(out, "date", self.date)
        return out


@dataclass(frozen=True, slots=True)
class Limits:
    """Temperatures of an item, as signed decimal strings in ``temperature_unit``."""

    temperature_unit: str
    flash_point: str | None = None
    transport_control_temperature: str | None = None
    transport_emergency_temperature: str | None = None
    sadt: str | None = None
    sapt: str | None = None

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        out = {"temperatureUnit": self.temperature_unit}
        _put(out, "flashPoint", self.flash_point)
        _put(out, "transportControlTemperature", self.transport_control_temperature)
        _put(out, "transportEmergencyTemperature", self.transport_emergency_temperature)
        _put(out, "SADT", self.sadt)
        _put(out, "SAPT", self.sapt)
        return out


@dataclass(frozen=True, slots=True)
class EmergencyContact:
    """Who answers around the clock for an item (DCSA ``EmergencyContactDetails``)."""

    contact: str
    phone: str
    provider: str | None = None
    reference_number: str | None = None

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        out = {"contact": self.contact, "phone": self.phone}
        _put(out, "provider", self.provider)
        _put(out, "referenceNumber", self.reference_number)
        return out


@dataclass(frozen=True, slots=True)
class InnerPackaging:
    """Inner packagings in each outer package: how many, of what material."""

    quantity: int
    material: str
    description: str

    def to_value(self) -> dict[str, Any]:
        """Canonical map."""
        return {
            "quantity": self.quantity,
            "material": self.material,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class Recipient:
    """An organisation a sealed section is encrypted to: its X25519 key and wrapped data key.

    ``key`` and ``wrapped`` are base64url without padding, as the document has them.
    """

    organisation: str
    key: str
    wrapped: str

    def to_value(self) -> dict[str, str]:
        """Canonical map."""
        return {"organisation": self.organisation, "key": self.key, "wrapped": self.wrapped}


@dataclass(frozen=True, slots=True)
class Sealed:
    """The sealed section: which fields it holds, its digest, ciphertext and recipients.

    Validators cannot open it; they check its shape, and that it names the
    organisations entitled to read the declaration (``contracts.sealed``).
    ``nonce`` and ``ciphertext`` are base64url without padding; ``digest``
    is the SHA-256 commitment to the plaintext, 64 lower-case hex digits.
    """

    version: int
    paths: tuple[str, ...]
    digest: str
    nonce: str
    ciphertext: str
    recipients: tuple[Recipient, ...]

    def to_value(self) -> dict[str, Any]:
        """Canonical map."""
        return {
            "version": self.version,
            "paths": list(self.paths),
            "digest": self.digest,
            "nonce": self.nonce,
            "ciphertext": self.ciphertext,
            "recipients": [r.to_value() for r in self.recipients],
        }


_EXTRAS: Final = (
    ("codedVariantList", "coded_variant_list"),
    ("isReportableQuantity", "is_reportable_quantity"),
    ("inhalationZone", "inhalation_zone"),
    ("endOfHoldingTime", "end_of_holding_time"),
    ("fumigationDateTime", "fumigation_date_time"),
    ("specialCertificateNumber", "special_certificate_number"),
    ("additionalContainerCargoHandling", "additional_container_cargo_handling"),
)
"""Optional DCSA fields an item keeps as declared: (key, attribute)."""


@dataclass(frozen=True, slots=True)
class DangerousGoodsItem:
    """One dangerous-goods line of a container: the IMDG 5.4.1.4 transport information."""

    un_number: str
    proper_shipping_name: str
    imo_class: str
    number_of_packages: int
    gross_weight: Quantity
    subsidiary_hazards: tuple[str, ...] = ()
    """``subsidiaryRisk1`` then ``subsidiaryRisk2``, as declared."""
    packing_group: int | None = None
    technical_name: str | None = None
    is_marine_pollutant: bool = False
    is_limited_quantity: bool = False
    is_excepted_quantity: bool = False
    is_waste: bool = False
    is_hot: bool = False
    is_empty_uncleaned_residue: bool = False
    is_salvage_packings: bool = False
    is_competent_authority_approval_required: bool = False
    competent_authority_approval: str | None = None
    segregation_groups: tuple[str, ...] = ()
    inner_packagings: tuple[InnerPackaging, ...] = ()
    ems_number: str | None = None
    limits: Limits | None = None
    package_code: str | None = None
    net_weight: Quantity | None = None
    net_volume: Quantity | None = None
    net_explosive_content: Quantity | None = None
    emergency_contact: EmergencyContact | None = None
    coded_variant_list: str | None = None
    is_reportable_quantity: bool | None = None
    """Kept as declared: absent stays absent (older records carry no such key)."""
    inhalation_zone: str | None = None
    end_of_holding_time: str | None = None
    fumigation_date_time: str | None = None
    special_certificate_number: str | None = None
    additional_container_cargo_handling: str | None = None

    @property
    def hazards(self) -> tuple[str, ...]:
        """The class followed by the subsidiary hazards."""
        return (self.imo_class, *self.subsidiary_hazards)

    @property
    def flash_point(self) -> str | None:
        """The declared flashpoint, if any, in ``limits.temperature_unit``."""
        return None if self.limits is None else self.limits.flash_point

    def to_value(self) -> dict[str, Any]:
        """Canonical map."""
        out: dict[str, Any] = {
            "UNNumber": self.un_number,
            "properShippingName": self.proper_shipping_name,
            "imoClass": self.imo_class,
            "numberOfPackages": self.number_of_packages,
            "grossWeight": self.gross_weight.to_value(),
            "isMarinePollutant": self.is_marine_pollutant,
            "isLimitedQuantity": self.is_limited_quantity,
            "isExceptedQuantity": self.is_excepted_quantity,
            "isWaste": self.is_waste,
            "isHot": self.is_hot,
            "isEmptyUncleanedResidue": self.is_empty_uncleaned_residue,
            "isSalvagePackings": self.is_salvage_packings,
            "isCompetentAuthorityApprovalRequired": self.is_competent_authority_approval_required,
        }
        for i, hazard in enumerate(self.subsidiary_hazards):
            out[f"subsidiaryRisk{i + 1}"] = hazard
        _put(out, "packingGroup", self.packing_group)
        _put(out, "technicalName", self.technical_name)
        _put(out, "competentAuthorityApproval", self.competent_authority_approval)
        if self.segregation_groups:
            out["segregationGroups"] = list(self.segregation_groups)
        if self.inner_packagings:
            out["innerPackagings"] = [p.to_value() for p in self.inner_packagings]
        _put(out, "EMSNumber", self.ems_number)
        _put(out, "packageCode", self.package_code)
        for key, part in (
            ("limits", self.limits),
            ("netWeight", self.net_weight),
            ("netVolume", self.net_volume),
            ("netExplosiveContent", self.net_explosive_content),
            ("emergencyContactDetails", self.emergency_contact),
        ):
            if part is not None:
                out[key] = part.to_value()
        for key, attr in _EXTRAS:
            if (value := getattr(self, attr)) is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Container:
    """A cargo transport unit, its seals, its packing certificate and what it carries."""

    equipment_reference: str
    iso_equipment_code: str
    dangerous_goods: tuple[DangerousGoodsItem, ...]
    seals: tuple[str, ...] = ()
    packing_certificate: Certification | None = None

    def to_value(self) -> dict[str, Any]:
        """Canonical map."""
        out: dict[str, Any] = {
            "equipmentReference": self.equipment_reference,
            "ISOEquipmentCode": self.iso_equipment_code,
            "dangerousGoods": [item.to_value() for item in self.dangerous_goods],
        }
        if self.seals:
            out["seals"] = list(self.seals)
        if self.packing_certificate is not None:
            out["packingCertificate"] = self.packing_certificate.to_value()
        return out


@dataclass(frozen=True, slots=True)
class Declaration:
    """A whole dangerous-goods declaration (IMDG 5.4.1) for one voyage."""

    declaration_id: str
    shipper: Party
    consignee: Party | None
    """None only when the sealed section holds it."""
    transport: Transport
    containers: tuple[Container, ...]
    shipper_certification: Certification | None = None
    forwarder: Party | None = None
    carrier_booking_reference: str | None = None
    transport_document_reference: str | None = None
    sealed: Sealed | None = None

    def items(self) -> list[tuple[int, int, DangerousGoodsItem]]:
        """Every item with its container index and its index in the container."""
        return [
            (c, i, item)
            for c, container in enumerate(self.containers)
            for i, item in enumerate(container.dangerous_goods)
        ]

    def to_value(self) -> dict[str, Any]:
        """The canonical map that is encoded and signed."""
        out: dict[str, Any] = {
            "declarationId": self.declaration_id,
            "shipper": self.shipper.to_value(),
            "transport": self.transport.to_value(),
            "containers": [c.to_value() for c in self.containers],
        }
        if self.consignee is not None:
            out["consignee"] = self.consignee.to_value()
        if self.shipper_certification is not None:
            out["shipperCertification"] = self.shipper_certification.to_value()
        if self.forwarder is not None:
            out["forwarder"] = self.forwarder.to_value()
        _put(out, "carrierBookingReference", self.carrier_booking_reference)
        _put(out, "transportDocumentReference", self.transport_document_reference)
        if self.sealed is not None:
            out["sealed"] = self.sealed.to_value()
        return out
