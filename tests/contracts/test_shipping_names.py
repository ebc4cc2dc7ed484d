"""Proper shipping name normalisation and matching (IMDG 3.1.2.1)."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.shipping_names import accepted_forms, fold, name_matches, normalise
from tests.contracts.dg_strategies import LIST
from tests.samples import reference

GASOLINE_49CFR = (
    "Gasoline includes gasoline mixed with ethyl alcohol, with not more than 10% alcohol"
)
NITRATE_49CFR = (
    "Ammonium nitrate, with not more than 0.2% combustible substances, including any organic "
    "substance calculated as carbon, to the exclusion of any other added substance"
)
PAINT_IMDG = (
    "PAINT (including paint, lacquer, enamel, stain, shellac solution, varnish, polish, liquid "
    "filler and liquid lacquer base) or PAINT RELATED MATERIAL (including paint thinning or "
    "reducing compound)"
)
PAINT_RELATED_49CFR = (
    "Paint related material including paint thinning, drying, removing, or reducing compound"
)
ETHANOL = "ETHANOL (ETHYL ALCOHOL) or ETHANOL SOLUTION (ETHYL ALCOHOL SOLUTION)"


@pytest.mark.parametrize(
    ("declared", "listed"),
    [
        # Case, punctuation and whitespace.
        ("gasoline", "GASOLINE"),
        ("  Flammable   liquid,n.o.s. ", "FLAMMABLE LIQUID, N.O.S."),
        ("FLAMMABLE LIQUID NOS", "FLAMMABLE LIQUID, N.O.S."),
        ("Flammable liquid, N. O. S.", "FLAMMABLE LIQUID, N.O.S."),
        ("2,4-DINITROPHENOL", "2,4-Dinitrophenol"),
        # " or " alternatives.
        ("PAINT", "PAINT or PAINT RELATED MATERIAL"),
        ("PAINT RELATED MATERIAL", "PAINT or PAINT RELATED MATERIAL"),
        ("PETROL", "MOTOR SPIRIT or GASOLINE or PETROL"),
        (
            "CARTRIDGES, SMALL ARMS",
            "CARTRIDGES FOR WEAPONS, INERT PROJECTILE or CARTRIDGES, SMALL ARMS",
        ),
        ("PAINT", PAINT_IMDG),
        ("PAINT RELATED MATERIAL", PAINT_IMDG),
        # Bracketed alternative names.
        ("ETHYL ALCOHOL", ETHANOL),
        ("ETHANOL SOLUTION", ETHANOL),
        ("ETHYL ALCOHOL SOLUTION", ETHANOL),
        ("ETHANOL (ETHYL ALCOHOL)", ETHANOL),
        # Qualifiers that 49 CFR merges into its names.
        ("GASOLINE", GASOLINE_49CFR),
        ("GASOLINE INCLUDES GASOLINE MIXED WITH ETHYL ALCOHOL", GASOLINE_49CFR),
        ("AMMONIUM NITRATE", NITRATE_49CFR),
        ("PAINT RELATED MATERIAL", PAINT_RELATED_49CFR),
        ("BOOSTERS", "Boosters, without detonator"),
        ("DETONATORS, NON-ELECTRIC", "Detonators, non-electric, for blasting"),
        ("BUTANE", "Butane see also Petroleum gases, liquefied"),
        ("AEROSOLS, FLAMMABLE", "Aerosols, flammable, (each not exceeding 1 L capacity)"),
        ("LITHIUM ION BATTERIES", "Lithium ion batteries including lithium ion polymer batteries"),
        ("BATTERIES, WET, FILLED WITH ACID", "BATTERIES, WET, FILLED WITH ACID, electric storage"),
        # Singular and plural, British and American spelling, per cent.
        ("FLAMMABLE LIQUIDS, N.O.S.", "FLAMMABLE LIQUID, N.O.S."),
        ("BATTERY, WET, FILLED WITH ACID", "BATTERIES, WET, FILLED WITH ACID"),
        ("SULPHURIC ACID", "Sulfuric acid"),
        ("ALUMINIUM POWDER, COATED", "Aluminum powder, coated"),
        ("NITRIC ACID WITH MORE THAN 70 PERCENT ACID", "Nitric acid with more than 70% acid"),
    ],
)
def test_matches(declared: str, listed: str) -> None:
    assert name_matches(declared, listed)


@pytest.mark.parametrize(
    ("declared", "listed"),
    [
        ("METHANOL", "GASOLINE"),
        ("AMMONIUM", NITRATE_49CFR),
        ("FLAMMABLE LIQUID", "FLAMMABLE LIQUID, N.O.S."),
        ("REDUCING COMPOUND", PAINT_RELATED_49CFR),
        ("PAINT THINNING", PAINT_RELATED_49CFR),
        ("CARTRIDGES", "CARTRIDGES FOR WEAPONS, INERT PROJECTILE or CARTRIDGES, SMALL ARMS"),
        ("AEROSOLS", "Aerosols, flammable, (each not exceeding 1 L capacity)"),
        ("GASOLINE MIXED WITH ETHYL ALCOHOL", GASOLINE_49CFR),
        ("", "GASOLINE"),
        ("ETHANOL ALCOHOL", ETHANOL),
        ("NITRIC", "Nitric acid with more than 70% acid"),
    ],
)
def test_does_not_match(declared: str, listed: str) -> None:
    assert not name_matches(declared, listed)


def test_normalisation() -> None:
    assert normalise("Flammable liquids, n.o.s. (10% ethanol)") == (
        "FLAMMABLE",
        "LIQUID",
        "NOS",
        "10",
        "PERCENT",
        "ETHANOL",
    )
    assert normalise("Éther diéthylique") == ("ETHER", "DIETHYLIQUE")
    assert fold("GASES") == "GAS" and fold("GAS") == "GAS"
    assert fold("BATTERIES") == "BATTERY" and fold("NITROUS") == "NITROUS"
    assert fold("MATCHES") == "MATCH" and fold("GLASS") == "GLASS"


def test_forms_never_start_with_a_qualifier_or_are_empty() -> None:
    forms = accepted_forms(GASOLINE_49CFR)
    assert () not in forms
    assert ("GASOLINE",) in forms
    assert all(form[0] == "GASOLINE" for form in forms)


@given(st.sampled_from(LIST.entries), st.sampled_from([str.upper, str.lower, str.title]))
def test_every_builtin_name_matches_itself_in_any_case(entry: object, case: object) -> None:
    name = entry.proper_shipping_name  # type: ignore[attr-defined]
    assert name_matches(case(name), name)  # type: ignore[operator]


def test_every_49cfr_international_name_matches_itself_and_its_head() -> None:
    with reference("dgl_us_49cfr_172101.csv").open(newline="", encoding="utf-8") as f:
        names = {
            r["properShippingName"] for r in csv.DictReader(f) if r["idNumber"].startswith("UN")
        }
    assert len(names) > 1000
    for name in names:
        assert name_matches(name, name), name
        assert name_matches(name.upper(), name.lower()), name
        head = name.split(" or ")[0]
        if " (" not in head and "," not in head:
            assert name_matches(head, name), name
