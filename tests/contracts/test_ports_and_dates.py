"""Port codes are UN/LOCODEs of real countries; the document's dates come in order.

UN/LOCODE (UNECE Recommendation 16): the ISO 3166-1 alpha-2 code of the
country, then three letters or digits 2-9. The shipper's certification (IMDG
5.4.1.6.1) and the container packing certificate (5.4.2.1) are signed before
the goods sail. Contracts read no clock: a departure is "past" only against
the time of the block that records it (``check_departure_at``).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import formats as f
from contracts.checks import check_declaration, check_departure_at
from contracts.document import parse_declaration
from contracts.errors import DeclarationInvalid
from tests.contracts.check_helpers import FAKE, found
from tests.samples import sample

Doc = dict[str, Any]


def shape_violations(doc: Doc) -> list[tuple[str, str]]:
    with pytest.raises(DeclarationInvalid) as info:
        parse_declaration(doc)
    return [(v.code, v.path) for v in info.value.violations]


# --- UN/LOCODE ---------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["ZZZZZ", "XZABC", "AAAAA", "QMXYZ", "UKLON", "EUFRA"])
def test_a_port_code_of_no_country_is_refused(port: str) -> None:
    doc = sample()
    doc["transport"]["portOfDischarge"] = port
    assert shape_violations(doc) == [("locode.country", "$.transport.portOfDischarge")]


def test_shape_and_country_are_told_apart() -> None:
    doc = sample()
    doc["transport"]["portOfLoading"] = "FRLE1"  # digit 1 is not allowed
    doc["transport"]["portOfDischarge"] = "ZZZZZ"
    assert shape_violations(doc) == [
        ("locode.format", "$.transport.portOfLoading"),
        ("locode.country", "$.transport.portOfDischarge"),
    ]


@pytest.mark.parametrize("port", ["FRLEH", "FRURO", "FRPAR", "USNYC", "GBFXT", "DE2XY", "CNSHA"])
def test_ports_of_real_countries_pass(port: str) -> None:
    doc = sample()
    doc["transport"]["portOfLoading"] = port
    assert check_declaration(parse_declaration(doc), FAKE) == []


def test_the_country_list_is_iso_3166_alpha_2_as_shipped() -> None:
    # contracts/data/iso3166_countries.csv (origin in contracts/data/README.md).
    assert len(f.COUNTRIES) == 249
    assert f.COUNTRIES["FR"] == "France"
    for user_assigned in ("AA", "QM", "XA", "XZ", "ZZ", "EU", "UK"):
        assert user_assigned not in f.COUNTRIES
    path = Path(f.__file__).parent / "data" / "iso3166_countries.csv"
    with path.open(encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[1:] == sorted(rows[1:]), "kept in code order"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ23456789", min_size=5, max_size=5))
def test_known_locode_is_the_shape_and_a_country(code: str) -> None:
    expected = bool(f.UN_LOCODE.fullmatch(code)) and code[:2] in f.COUNTRIES
    assert bool(f.KNOWN_LOCODE.fullmatch(code)) == expected


# --- dates within the document --------------------------------------------------------------


def test_shipper_certification_dated_after_departure_is_refused() -> None:
    doc = sample()
    doc["shipperCertification"]["date"] = "2036-12-03"  # departure 2036-12-02T18:00Z
    [v] = found(doc)
    assert (v.code, v.path, v.paragraph) == (
        "certification.after_departure",
        "$.shipperCertification.date",
        "5.4.1.6.1",
    )
    assert "2036-12-03" in v.message and "2036-12-02T18:00:00Z" in v.message


def test_packing_certificate_dated_after_departure_is_refused() -> None:
    doc = sample()
    doc["containers"][0]["packingCertificate"]["date"] = "2036-12-02T19:00:00+00:00"
    [v] = found(doc)
    assert (v.code, v.path, v.paragraph) == (
        "certification.after_departure",
        "$.containers[0].packingCertificate.date",
        "5.4.2.1",
    )


@pytest.mark.parametrize(
    "signed",
    ["2036-12-02", "2036-12-02T18:00:00Z", "2036-12-02T18:30:00+01:00", "2020-01-01"],
)
def test_certification_on_or_before_departure_passes(signed: str) -> None:
    doc = sample()
    doc["shipperCertification"]["date"] = signed
    assert found(doc) == []


def test_arrival_before_departure_is_refused() -> None:
    doc = sample()
    doc["transport"]["estimatedArrival"] = "2036-12-01"
    [v] = found(doc)
    assert (v.code, v.path) == ("date.arrival_before_departure", "$.transport.estimatedArrival")
    doc["transport"]["estimatedArrival"] = "2036-12-02"  # the same day, as written
    assert found(doc) == []


def test_departure_against_the_block_time() -> None:
    decl = parse_declaration(sample())  # departure 2036-12-02T18:00:00Z
    departure_ms = f.epoch_millis("2036-12-02T18:00:00Z")
    assert check_departure_at(decl, departure_ms) == []
    [v] = check_departure_at(decl, departure_ms + 1)
    assert (v.code, v.path) == ("date.departure_past", "$.transport.estimatedDeparture")
    doc = sample()
    doc["transport"]["estimatedDeparture"] = "2020-06-01"
    old = parse_declaration(doc)
    assert [v.code for v in check_departure_at(old, departure_ms)] == ["date.departure_past"]
    # A date alone is the whole day, wherever it is said.
    assert check_departure_at(old, f.epoch_millis("2020-06-02T13:59:59Z")) == []


@given(st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)))
def test_moment_agrees_with_the_standard_library(when: dt.datetime) -> None:
    aware = when.replace(microsecond=0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    text = aware.isoformat()
    point = f.moment(text)
    assert point.day == aware.date().toordinal()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert point.utc_seconds == (aware - epoch) // dt.timedelta(seconds=1)
    assert f.moment(aware.date().isoformat()).utc_seconds is None
