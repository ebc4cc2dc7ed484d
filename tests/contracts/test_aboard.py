"""On board: the ``loaded`` decision places containers, and IMDG 7.4.3.3 keeps them apart.

Each test names the cell of the table of segregation of containers on board
container ships (IMDG 7.4.3.3, closed versus closed) it relies on, and the
7.2.4 cell that sets the requirement between the goods.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, Final

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import aboard, indexes
from contracts.dgl_builtin import builtin_list
from contracts.segregation import Segregation
from contracts.state import DERIVED_PREFIX
from contracts.stowage import Position, judge
from ledger.encoding import decode
from node.devnet.traffic import container_number
from tests.contracts.fixtures import Community, community
from tests.samples import ammonium_nitrate as sample_nitrate
from tests.samples import benzaldehyde as sample_benzaldehyde
from tests.samples import sample

VESSEL: Final = "9454436"
VOYAGE: Final = "0AB12W"
SECRET: Final = "HARBOUR SECRET CONSIGNEE LTD"
EMERGENCY: Final = {"contact": "ACME 24H", "phone": "+33 2 35 00 00 00"}
C1, C2, C3, C4 = (container_number("MSC", "U", n) for n in (100001, 100002, 100003, 100004))
SHIPPERS: Final = itertools.cycle(["shipper-acme", "shipper-beta"])
NAMES: Final = {"shipper-acme": "ACME CHEMICALS SAS", "shipper-beta": "BETA POLYMERS GMBH"}


def gasoline() -> dict[str, Any]:
    """UN 1203, class 3."""
    item: dict[str, Any] = sample()["containers"][0]["dangerousGoods"][0]
    return item


def ammonium_nitrate() -> dict[str, Any]:
    """UN 1942, class 5.1: "separated from" class 3 (7.2.4)."""
    return sample_nitrate(EMERGENCY)


def infectious() -> dict[str, Any]:
    """UN 2814, class 6.2: "separated by a complete compartment or hold from" class 3 (7.2.4)."""
    return {
        "UNNumber": "2814",
        "properShippingName": "INFECTIOUS SUBSTANCE, AFFECTING HUMANS",
        "technicalName": "EBOLA VIRUS",
        "imoClass": "6.2",
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-A S-T",
        "numberOfPackages": 2,
        "packageCode": "4G",
        "grossWeight": {"value": "40", "unit": "KGM"},
        "emergencyContactDetails": dict(EMERGENCY),
    }


def explosive() -> dict[str, Any]:
    """UN 0081, 1.1D: "separated longitudinally by an intervening complete compartment or hold
    from" class 3 (7.2.4)."""
    return {
        "UNNumber": "0081",
        "properShippingName": "EXPLOSIVE, BLASTING, TYPE A",
        "imoClass": "1.1D",
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-B S-Y",
        "numberOfPackages": 40,
        "packageCode": "4G",
        "grossWeight": {"value": "1100", "unit": "KGM"},
        "netExplosiveContent": {"value": "1000", "unit": "KGM"},
        "emergencyContactDetails": dict(EMERGENCY),
    }


def benzaldehyde() -> dict[str, Any]:
    """UN 1990, class 9: no segregation from anything (7.2.4 row 9)."""
    return sample_benzaldehyde(EMERGENCY)


def hydrochloric_acid() -> dict[str, Any]:
    """UN 1789, class 8, SGG1 acids, SG36 and SG49 (column 16b)."""
    return {
        "UNNumber": "1789",
        "properShippingName": "HYDROCHLORIC ACID",
        "imoClass": "8",
        "packingGroup": 2,
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-A S-B",
        "numberOfPackages": 20,
        "packageCode": "1H1",
        "grossWeight": {"value": "500", "unit": "KGM"},
        "netVolume": {"value": "400", "unit": "LTR"},
        "emergencyContactDetails": dict(EMERGENCY),
    }


def sodium_cyanide() -> dict[str, Any]:
    """UN 1689, class 6.1, SGG6 cyanides, SG35 (column 16b); 7.2.4 says nothing against 8."""
    return {
        "UNNumber": "1689",
        "properShippingName": "SODIUM CYANIDE, SOLID",
        "imoClass": "6.1",
        "packingGroup": 1,
        "isMarinePollutant": True,
        "isLimitedQuantity": False,
        "EMSNumber": "F-A S-A",
        "numberOfPackages": 10,
        "packageCode": "1A2",
        "grossWeight": {"value": "500", "unit": "KGM"},
        "netWeight": {"value": "450", "unit": "KGM"},
        "emergencyContactDetails": dict(EMERGENCY),
    }


def detonators() -> dict[str, Any]:
    """UN 0029, 1.1B: table 7.2.7.1.4 lets group B be stowed with no group D goods."""
    return {
        "UNNumber": "0029",
        "properShippingName": "DETONATORS, NON-ELECTRIC",
        "imoClass": "1.1B",
        "isMarinePollutant": False,
        "isLimitedQuantity": False,
        "EMSNumber": "F-B S-X",
        "numberOfPackages": 10,
        "packageCode": "4G",
        "grossWeight": {"value": "100", "unit": "KGM"},
        "netExplosiveContent": {"value": "5", "unit": "KGM"},
        "emergencyContactDetails": dict(EMERGENCY),
    }


def declaration(
    decl_id: str, org: str, containers: dict[str, list[dict[str, Any]]], **transport: str
) -> dict[str, Any]:
    """The valid sample with one container per entry of ``containers``, each with its items."""
    doc = sample(decl_id=decl_id)
    doc["shipper"]["partyName"] = NAMES[org]
    doc["consignee"]["partyName"] = SECRET
    template = doc["containers"][0]
    doc["containers"] = []
    for number, items in containers.items():
        c = copy.deepcopy(template)
        c["equipmentReference"] = number
        c["dangerousGoods"] = copy.deepcopy(items)
        doc["containers"].append(c)
    doc["transport"].update(transport)
    return doc


def send(c: Community, org: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = c.block([c.tx(org, type_, body)])[0]
    return result


def decide(c: Community, org: str, owner: str, decl_id: str, decision: str, **extra: Any) -> Any:
    body = {"id": decl_id, "owner": owner, "decision": decision, **extra}
    return send(c, org, "declaration.decide", body)


def cleared(
    c: Community, decl_id: str, containers: dict[str, list[dict[str, Any]]], **transport: str
) -> str:
    """A declaration submitted by the next shipper, accepted and cleared; its owner."""
    org = next(SHIPPERS)
    doc = declaration(decl_id, org, containers, **transport)
    assert send(c, org, "declaration.submit", {"declaration": doc})["ok"], decl_id
    assert decide(c, "port-authority", org, decl_id, "accepted")["ok"]
    assert decide(c, "customs", org, decl_id, "cleared")["ok"]
    return org


def load(c: Community, owner: str, decl_id: str, **stowage: str) -> dict[str, Any]:
    result: dict[str, Any] = decide(
        c, "port-authority", owner, decl_id, "loaded", stowage=dict(stowage)
    )
    return result


def loaded(c: Community, decl_id: str, items: list[dict[str, Any]], container: str, at: str) -> str:
    """One container of ``items`` cleared and loaded at ``at``; the declaration's owner."""
    owner = cleared(c, decl_id, {container: items})
    assert load(c, owner, decl_id, **{container: at})["ok"], (decl_id, at)
    return owner


def refused(result: dict[str, Any]) -> list[tuple[str, str]]:
    assert result["ok"] is False, result
    return [(v["code"], v["path"]) for v in result["violations"]]


def stored(c: Community) -> dict[str, Any]:
    """The derived on-board listings as the store holds them."""
    start = DERIVED_PREFIX + aboard.ABOARD.encode()
    return {
        k[len(DERIVED_PREFIX) :].decode(): decode(v)
        for k, v in c.overlay.base.scan(start, start + b"\xff")
    }


# ------------------------------------------------------ IMDG 7.4.3.3 cells


def test_separated_from_on_deck_adjacent_bays_refused_one_space_apart_accepted() -> None:
    """7.2.4 class 3 / 5.1: "separated from"; 7.4.3.3 on deck, fore and aft: one container
    space. Adjacent bays in one row are refused, naming both containers and nothing of the
    other declaration; one empty bay between them is accepted."""
    c = community()
    acme = loaded(c, "GAS-1", [gasoline()], C1, "010282")
    beta = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    result = load(c, beta, "AN-1", **{C2: "030282"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C2}")]
    (v,) = result["violations"]
    assert v["paragraph"] == "7.4.3.3"
    for words in (C1, C2, "010282", "030282", "separated from", "UN 1203", "UN 1942", "on deck"):
        assert words in v["message"], (words, v["message"])
    for secret in (acme, NAMES[acme], "GAS-1", SECRET):
        assert secret not in v["message"]
    assert load(c, beta, "AN-1", **{C2: "050282"})["ok"]


def test_separated_from_under_deck_one_space_in_the_same_hold() -> None:
    """7.4.3.3 "separated from", under deck, fore and aft: one container space or one bulkhead.
    Bays 01 and 05 are both in hold 1, with bay 03 empty between them."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010202")
    beta = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    assert refused(load(c, beta, "AN-1", **{C2: "030202"})) == [
        ("stowage.segregation", f"$.body.stowage.{C2}")
    ]
    assert refused(load(c, beta, "AN-1", **{C2: "010402"}))  # the next row to port
    assert load(c, beta, "AN-1", **{C2: "050202"})["ok"]


def test_separated_from_athwartships_and_across_the_deck() -> None:
    """7.4.3.3 "separated from": athwartships one container space; vertically, not in the same
    line unless segregated by a deck, so on the hatch cover above it is accepted."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010102")
    beta = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    assert refused(load(c, beta, "AN-1", **{C2: "010104"}))  # on top of it, in the hold
    assert refused(load(c, beta, "AN-1", **{C2: "010302"}))  # the next row
    assert load(c, beta, "AN-1", **{C2: "010182"})["ok"]  # above it, on deck


def test_separated_by_a_complete_compartment_refused_in_one_hold_accepted_across() -> None:
    """7.2.4 class 3 / 6.2: "separated by a complete compartment or hold from"; 7.4.3.3 under
    deck, fore and aft: one bulkhead. Bays 01 and 07 (two empty bays between) are in hold 1;
    bay 09 is in hold 2."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010202")
    beta = cleared(c, "INF-1", {C2: [infectious()]})
    result = load(c, beta, "INF-1", **{C2: "070202"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C2}")]
    assert "separated by a complete compartment or hold from" in result["violations"][0]["message"]
    assert load(c, beta, "INF-1", **{C2: "090202"})["ok"]


def test_separated_longitudinally_on_deck_needs_24_metres() -> None:
    """7.2.4 1.1D / 3: "separated longitudinally by an intervening complete compartment or hold
    from"; 7.4.3.3 on deck, fore and aft: 24 m (four empty 20-foot bays), athwartships
    prohibited."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010282")
    beta = cleared(c, "EXP-1", {C2: [explosive()]})
    assert refused(load(c, beta, "EXP-1", **{C2: "090282"}))  # three empty bays: 18.2 m
    assert refused(load(c, beta, "EXP-1", **{C2: "011282"}))  # athwartships, however far
    assert load(c, beta, "EXP-1", **{C2: "110282"})["ok"]


def test_goods_with_no_requirement_may_stand_side_by_side() -> None:
    """7.2.4: class 9 needs no segregation; nor two class 3 goods (X)."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010282")
    loaded(c, "BZ-1", [benzaldehyde()], C2, "030282")
    loaded(c, "GAS-2", [gasoline()], C3, "010382")


def test_column_16b_keeps_acids_from_cyanides_on_board() -> None:
    """7.2.8 SG35 and SG49: "separated from", though 7.2.4 has X between 8 and 6.1; so on
    deck one container space (7.4.3.3)."""
    c = community()
    loaded(c, "HCL-1", [hydrochloric_acid()], C1, "010282")
    owner = cleared(c, "CN-1", {C2: [sodium_cyanide()]})
    result = load(c, owner, "CN-1", **{C2: "030282"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C2}")]
    assert "SG35" in result["violations"][0]["message"]
    assert "7.2.8" in result["violations"][0]["message"]
    assert load(c, owner, "CN-1", **{C2: "050282"})["ok"]


def test_class_1_groups_not_stowed_together_are_separated_from_each_other() -> None:
    """7.2.7.1.4: groups B and D may not be stowed together, so closed units of them are kept
    "separated from" each other (7.4.3.3 on deck: one container space)."""
    c = community()
    loaded(c, "DET-1", [detonators()], C1, "010282")
    owner = cleared(c, "EXP-1", {C2: [explosive()]})
    result = load(c, owner, "EXP-1", **{C2: "030282"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C2}")]
    assert "compatibility groups" in result["violations"][0]["message"]
    assert load(c, owner, "EXP-1", **{C2: "050282"})["ok"]


def test_limited_quantities_need_no_segregation_on_board() -> None:
    """3.4.4.1: goods in limited quantities are exempt from segregation."""
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010282")
    small = {**ammonium_nitrate(), "isLimitedQuantity": True, "numberOfPackages": 1}
    small.update(grossWeight={"value": "5", "unit": "KGM"}, netWeight={"value": "4", "unit": "KGM"})
    loaded(c, "AN-LQ", [small], C2, "030282")


# ------------------------------------------------- who and what is on board


def test_a_discharged_container_no_longer_counts() -> None:
    c = community()
    acme = loaded(c, "GAS-1", [gasoline()], C1, "010282")
    beta = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    assert refused(load(c, beta, "AN-1", **{C2: "030282"}))
    assert decide(c, "port-authority", acme, "GAS-1", "discharged")["ok"]
    assert load(c, beta, "AN-1", **{C2: "030282"})["ok"]


def test_a_cancelled_declarations_goods_leave_a_container_on_board() -> None:
    """A consolidated container carries the goods of every active declaration for it: beta's
    gasoline in C1 keeps ammonium nitrate away until beta cancels it."""
    c = community()
    loaded(c, "BZ-1", [benzaldehyde()], C1, "010282")
    gas = cleared(c, "GAS-1", {C1: [gasoline()]})  # in C1 too, not loaded itself
    other = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    result = load(c, other, "AN-1", **{C2: "030282"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C2}")]
    assert "UN 1203" in result["violations"][0]["message"]
    assert send(c, gas, "declaration.cancel", {"id": "GAS-1"})["ok"]
    assert load(c, other, "AN-1", **{C2: "030282"})["ok"]


def test_two_loadings_in_one_block_see_each_other() -> None:
    c = community()
    acme = cleared(c, "GAS-1", {C1: [gasoline()]})
    beta = cleared(c, "AN-1", {C2: [ammonium_nitrate()]})
    first, second = (
        c.tx(
            "port-authority",
            "declaration.decide",
            {"id": i, "owner": o, "decision": "loaded", "stowage": {n: at}},
        )
        for i, o, n, at in (("GAS-1", acme, C1, "010282"), ("AN-1", beta, C2, "030282"))
    )
    a, b = c.block([first, second])
    assert a["ok"] and not b["ok"], (a, b)
    assert b["violations"][0]["code"] == "stowage.segregation"


def test_the_containers_of_one_loading_are_judged_against_each_other() -> None:
    c = community()
    owner = cleared(c, "MIX-1", {C1: [gasoline()], C2: [ammonium_nitrate()]})
    assert refused(load(c, owner, "MIX-1", **{C1: "010282", C2: "030282"})) == [
        ("stowage.segregation", f"$.body.stowage.{C2}")
    ]
    assert load(c, owner, "MIX-1", **{C1: "010282", C2: "050282"})["ok"]


def test_another_voyage_is_another_ship() -> None:
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010282")
    owner = cleared(c, "AN-1", {C2: [ammonium_nitrate()]}, voyageNumber="777W")
    assert load(c, owner, "AN-1", **{C2: "030282"})["ok"]


def test_a_position_is_free_or_the_containers_own() -> None:
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "020282")  # 40 feet over bays 01 and 03
    owner = cleared(c, "GAS-2", {C2: [gasoline()]})
    assert refused(load(c, owner, "GAS-2", **{C2: "030282"})) == [
        ("stowage.position_taken", f"$.body.stowage.{C2}")
    ]
    assert load(c, owner, "GAS-2", **{C2: "030284"})["ok"]  # on top of it


def test_a_consolidated_container_is_placed_once() -> None:
    c = community()
    loaded(c, "GAS-1", [gasoline()], C1, "010282")
    owner = cleared(c, "GAS-2", {C1: [gasoline()]})
    assert refused(load(c, owner, "GAS-2", **{C1: "050282"})) == [
        ("stowage.already_aboard", f"$.body.stowage.{C1}")
    ]
    assert load(c, owner, "GAS-2", **{C1: "010282"})["ok"]
    listed = stored(c)[aboard.aboard_key(VESSEL, VOYAGE)]
    assert [e[:2] for e in listed] == [[C1, "010282"], [C1, "010282"]]


def test_goods_put_in_a_container_on_board_are_judged_when_their_declaration_is_loaded() -> None:
    """A consolidated container on board gets gasoline declared after its neighbour, ammonium
    nitrate, was loaded: loading that declaration at the container's position judges it again
    (7.2.4 class 3 / 5.1, "separated from"; 7.4.3.3 on deck: one container space)."""
    c = community()
    loaded(c, "BZ-1", [benzaldehyde()], C1, "010282")
    loaded(c, "AN-1", [ammonium_nitrate()], C2, "030282")
    owner = cleared(c, "GAS-1", {C1: [gasoline()]})
    result = load(c, owner, "GAS-1", **{C1: "010282"})
    assert refused(result) == [("stowage.segregation", f"$.body.stowage.{C1}")]
    assert C2 in result["violations"][0]["message"]


def test_stowage_is_for_the_declarations_containers_and_the_loaded_decision() -> None:
    c = community()
    owner = cleared(c, "GAS-1", {C1: [gasoline()]})
    assert refused(load(c, owner, "GAS-1", **{C2: "010282"})) == [
        ("stowage.unknown_container", f"$.body.stowage.{C2}")
    ]
    assert refused(load(c, owner, "GAS-1", **{C1: "010280"})) == [
        ("stowage.tier", f"$.body.stowage.{C1}")
    ]
    held = decide(c, "customs", owner, "GAS-1", "held", reason="X", stowage={C1: "010282"})
    assert refused(held) == [("stowage.not_loaded", "$.body.stowage")]
    assert decide(c, "port-authority", owner, "GAS-1", "loaded", stowage={})["ok"] is False
    assert decide(c, "port-authority", owner, "GAS-1", "loaded")["ok"]  # a position is optional
    assert stored(c) == {}


def test_the_record_keeps_the_positions() -> None:
    c = community()
    owner = cleared(c, "TWO-1", {C1: [gasoline()], C2: [gasoline()]})
    assert load(c, owner, "TWO-1", **{C2: "050282", C1: "010282"})["ok"]
    record = c.engine.view().get(f"decl/{owner}/TWO-1")
    assert record["stowage"] == {C1: "010282", C2: "050282"}


def test_the_listings_are_made_again_from_the_records_alone() -> None:
    c = community()
    acme = loaded(c, "GAS-1", [gasoline()], C1, "010282")
    loaded(c, "GAS-2", [gasoline()], C2, "030282")
    owner = cleared(c, "BZ-1", {C3: [benzaldehyde()]}, voyageNumber="9W")
    assert load(c, owner, "BZ-1", **{C3: "010202"})["ok"]
    assert decide(c, "port-authority", acme, "GAS-1", "discharged")["ok"]
    rebuilt = aboard.rebuild(indexes.records(c.engine.view().tree))
    assert rebuilt == stored(c)
    assert sorted(rebuilt) == [aboard.aboard_key(VESSEL, VOYAGE), aboard.aboard_key(VESSEL, "9W")]
    assert [e[:2] for e in rebuilt[aboard.aboard_key(VESSEL, VOYAGE)]] == [[C2, "030282"]]


# ------------------------------------------------------------------ plan


def test_the_plan_lists_goods_positions_and_the_checks_between_them() -> None:
    c = community()
    acme = loaded(c, "GAS-1", [gasoline()], C1, "010282")
    beta = loaded(c, "AN-1", [ammonium_nitrate()], C2, "050282")
    loaded(c, "BZ-1", [benzaldehyde()], C3, "100406")
    view = c.engine.view()
    plan = aboard.plan(view, VESSEL, VOYAGE, builtin_list(), lambda _: True)
    assert [(e["container"], e["position"], e["where"]) for e in plan["containers"]] == [
        (C1, "010282", "on deck"),
        (C2, "050282", "on deck"),
        (C3, "100406", "under deck in hold 2"),
    ]
    assert plan["containers"][0]["goods"][0]["un_number"] == "1203"
    (check,) = plan["checks"]  # class 9 needs nothing from either
    assert check["containers"] == [C1, C2]
    assert (check["term"], check["held"], check["paragraph"]) == ("separated from", True, "7.2.4")
    # Another shipper sees only its own containers, and no check with the others.
    mine = aboard.plan(view, VESSEL, VOYAGE, builtin_list(), lambda org: org == beta)
    assert [e["container"] for e in mine["containers"]] == [C2]
    assert mine["checks"] == []
    assert acme != beta


# ------------------------------------------------------------ properties

POSITIONS = st.builds(
    Position,
    st.integers(1, 40),
    st.integers(0, 12),
    st.sampled_from([2, 4, 6, 82, 84, 86]),
)


@settings(max_examples=300, deadline=None)
@given(POSITIONS, POSITIONS)
def test_the_strictest_requirement_held_holds_every_other(a: Position, b: Position) -> None:
    """What lets the chain skip reading the goods of containers far apart: IMDG 7.4.3.3's
    requirements are ordered, each asking at least what the one before asks."""
    levels = [
        Segregation.AWAY_FROM,
        Segregation.SEPARATED_FROM,
        Segregation.SEPARATED_BY_COMPARTMENT,
        Segregation.SEPARATED_LONGITUDINALLY,
    ]
    verdicts = [judge(level, a, b).held for level in levels]
    assert verdicts == sorted(verdicts, reverse=True), verdicts
