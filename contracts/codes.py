"""Every violation code a declaration can receive, in one table.

Codes are stable: clients, receipts and auditors match on them. Add new
codes here; never reuse or rename one. The tests check that every code the
parser and the checks emit is listed.
"""

from __future__ import annotations

from typing import Final

CODES: Final[dict[str, str]] = {
    # The document as JSON.
    "json.invalid": "not a well-formed UTF-8 JSON document",
    "json.too_large": "the document exceeds the size limit",
    "json.too_deep": "the document nests deeper than the limit",
    "json.duplicate_key": "an object has the same key twice",
    "json.float": "a number with a fraction or exponent: quantities are decimal strings",
    "json.constant": "NaN or Infinity is not JSON",
    # Structure.
    "field.unknown": "a field the schema does not define (typos are never ignored)",
    "field.missing": "a field the document must carry is absent: by the schema, or by a rule "
    "given the rest of the item (packing group, subsidiary hazards, flashpoint, net explosive "
    "content, technical name, the net quantity of a limited quantity)",
    "field.type": "a field has the wrong JSON type",
    "field.length": "a text or list is shorter or longer than allowed",
    "text.format": "text with control characters or leading/trailing whitespace",
    "count.range": "a count outside its range",
    # Code formats.
    "declaration_id.format": "declarationId: letters, digits, '.', '_', '-', at most 100",
    "un_number.format": "UN number is not four digits",
    "un_number.na_number": "an NA number (US domestic) where IMDG needs a UN number",
    "coded_variant.format": "codedVariantList is not 0-3 then three of 0-9, A-Z",
    "inhalation_zone.format": "inhalationZone is not A, B, C or D",
    "class.format": "imoClass is not a class or division (class 1 with compatibility group)",
    "subsidiary.format": "subsidiary hazard is not a class or division",
    "subsidiary.duplicate": "a subsidiary hazard repeats the class or the other subsidiary",
    "subsidiary.order": "subsidiaryRisk2 without subsidiaryRisk1",
    "packing_group.range": "packing group is not 1, 2 or 3",
    "container_number.format": "container number is not owner code, U/J/Z, seven digits",
    "container_number.check_digit": "container number fails its ISO 6346 check digit",
    "imo_number.format": "IMO ship number is not seven digits",
    "imo_number.check_digit": "IMO ship number fails its check digit",
    "locode.format": "not a UN/LOCODE (country code and three letters or digits 2-9)",
    "locode.country": "a UN/LOCODE whose first two letters are no ISO 3166-1 country",
    "date.format": "not an ISO 8601 date or date-time with zone",
    "equipment_type.format": "not an ISO 6346 size-type code",
    "ems.format": "EmS is not 'F-x S-y'",
    "package_code.format": "not a UN packaging code or UN/ECE Rec 21 package code",
    "segregation_group.format": "not an IMDG 3.1.4 segregation group code",
    "phone.format": "not a telephone number",
    "unit.invalid": "a unit not allowed for this quantity",
    "decimal.format": "not a plain decimal string",
    "quantity.not_positive": "a quantity that is zero or negative",
    # Dangerous Goods List.
    "un_number.unknown": "the UN number is not in the Dangerous Goods List in force",
    "psn.mismatch": "the proper shipping name is not one of the entry's names",
    "class.mismatch": "the class differs from the Dangerous Goods List entry",
    "subsidiary.mismatch": "the subsidiary hazards differ from the entry",
    "packing_group.mismatch": "the packing group differs from the entry",
    "ems.mismatch": "the EmS differs from the entry",
    "marine_pollutant.mismatch": "the list marks the entry a marine pollutant; the item does not",
    # Class-specific information.
    "flashpoint.out_of_range": "a class 3 hazard with a flashpoint above 60 degC, not carried hot",
    "quantity.net_exceeds_gross": "net weight above gross weight",
    # Limited and excepted quantities.
    "quantity.limited_and_excepted": "an item declared both limited and excepted quantity",
    "limited_quantity.not_permitted": "limited quantity declared where the list permits none",
    "limited_quantity.exceeded": "more per inner packaging than the limited-quantity limit",
    "limited_quantity.package_too_heavy": "a limited-quantity package above 30 kg gross",
    # Segregation inside one container.
    "segregation.same_container": "goods that must be separated share a container",
    "segregation.away_from_without_approval": "'away from' goods together without approval",
    "segregation.class1_incompatible": "class 1 compatibility groups not allowed together",
    "segregation.sg_code": "goods the list's segregation codes separate share a container",
    # Reference data (raised as ReferenceDataError, not reported as a violation).
    "dgl.limited_quantity": "the list in force states a limited-quantity limit that cannot be read",
    # Containers and certifications.
    "container.duplicate": "the same container number twice in one declaration",
    "certification.after_departure": "a certificate dated after the vessel's departure",
    # Dates of the voyage.
    "date.arrival_before_departure": "estimated arrival before estimated departure",
    "date.departure_past": "estimated departure before the time of the block recording it",
    "date.too_late": "estimated departure sooner after the block's time than the network's lead "
    "time (params.lead_time_hours)",
    # The sealed section's shape (validators cannot open it; see contracts/sealed.py).
    "sealed.version": "a sealed section of a format version this node does not know",
    "sealed.path": "a sealed path that is no sealable field, out of order, repeated, naming an "
    "item the document lacks, or a field also in clear",
    "sealed.digest": "a sealed section's digest is not 64 lower-case hex digits",
    "sealed.encoding": "a nonce, ciphertext, key or wrapped key not in canonical base64url "
    "without padding",
    "sealed.length": "a nonce, ciphertext, key or wrapped key of the wrong number of bytes",
    "sealed.recipients": "recipients not sorted by organisation, one each, or not named as "
    "organisations are",
}

RETIRED: Final[dict[str, str]] = {
    # Emitted by earlier versions, now field.missing at the same path; never reuse them.
    "technical_name.missing": "now field.missing at technicalName",
    "flashpoint.missing": "now field.missing at limits.flashPoint",
    "net_explosive_content.missing": "now field.missing at netExplosiveContent",
    "limited_quantity.unverifiable": "now field.missing at netVolume or netWeight",
    "certification.shipper_missing": "now field.missing at shipperCertification",
    "certification.packing_missing": "now field.missing at packingCertificate",
    "certification.signatory_missing": "now field.missing at signatoryName",
    "certification.date_missing": "now field.missing at date",
    "certification.place_missing": "now field.missing at place",
}
"""Codes no longer emitted, with what replaced them. Receipts of older blocks may carry them."""
