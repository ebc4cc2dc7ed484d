"""``GET /v1/stowage``, the client's ``decide(stowage=)`` and ``stowage()``, and the CLI's views.

One validator (customs) in this process; shipper-acme's gasoline and
shipper-beta's ammonium nitrate ("separated from", IMDG 7.2.4) are cleared
and loaded on deck one container space apart (IMDG 7.4.3.3, on deck, fore
and aft), and a class 9 container under deck. The port authority, customs
and the auditor read the whole plan; each shipper only its own container.
A loading that breaks the segregation is refused through the client with
every violation; the CLI prints the plan with positions, deck or hold, and
the checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Final

import pytest

from node.cli.common import CliError
from node.cli.declarations import render, stowage_positions
from node.cli.stowage import render_plan
from node.client.errors import ClientError
from node.client.receipt import verify_receipt
from node.devnet.traffic import container_number
from tests.node.reads_support import LocalNode
from tests.samples import ammonium_nitrate, benzaldehyde, member, sample

VESSEL: Final = "9454436"
VOYAGE: Final = "0AB12W"
GAS, NITRATE, BENZ, LATE = (container_number("TST", "U", n) for n in (1, 2, 3, 4))
MEMBERS: Final = tuple(
    member(o) for o in ("port-authority", "shipper-acme", "shipper-beta", "auditor")
)
NAMES: Final = {"shipper-acme": "ACME CHEMICALS SAS", "shipper-beta": "BETA POLYMERS GMBH"}
EMERGENCY: Final = {"contact": "ACME 24H", "phone": "+33 2 35 00 00 00"}
NITRATE_ITEM: Final = ammonium_nitrate(EMERGENCY)
BENZ_ITEM: Final = benzaldehyde(EMERGENCY)


def document(decl_id: str, org: str, container: str, item: dict[str, Any] | None) -> Any:
    doc = sample(decl_id=decl_id)
    doc["shipper"]["partyName"] = NAMES[org]
    doc["containers"][0]["equipmentReference"] = container
    if item is not None:
        doc["containers"][0]["dangerousGoods"] = [copy.deepcopy(item)]
    return doc


def clear(node: LocalNode, org: str, decl_id: str, container: str, item: Any) -> None:
    node.client(org).declare(document(decl_id, org, container, item))
    node.client("port-authority").decide(decl_id, "accepted", owner=org)
    node.client("customs").decide(decl_id, "cleared", owner=org)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("stowage"), members=MEMBERS, chain="dg-stowage")
    try:
        port = n.client("port-authority")
        for org, decl_id, container, item, at in (
            ("shipper-acme", "GAS-1", GAS, None, "010282"),
            ("shipper-beta", "AN-1", NITRATE, NITRATE_ITEM, "050282"),
            ("shipper-acme", "BZ-1", BENZ, BENZ_ITEM, "100406"),
        ):
            clear(n, org, decl_id, container, item)
            port.decide(decl_id, "loaded", owner=org, stowage={container: at})
        clear(n, "shipper-beta", "AN-2", LATE, NITRATE_ITEM)
        yield n
    finally:
        n.close()


@pytest.mark.parametrize("org", ["port-authority", "customs", "auditor"])
def test_authorities_and_auditors_read_the_whole_plan(node: LocalNode, org: str) -> None:
    plan = node.client(org).stowage(VESSEL, VOYAGE)
    assert [(c["container"], c["position"], c["where"]) for c in plan["containers"]] == [
        (GAS, "010282", "on deck"),
        (NITRATE, "050282", "on deck"),
        (BENZ, "100406", "under deck in hold 2"),
    ]
    assert plan["containers"][0]["declarations"] == [{"owner": "shipper-acme", "id": "GAS-1"}]
    (check,) = plan["checks"]
    assert check["containers"] == [GAS, NITRATE]
    assert (check["requirement"], check["term"], check["held"]) == (2, "separated from", True)


def test_a_shipper_sees_only_its_own_containers(node: LocalNode) -> None:
    beta = node.client("shipper-beta").stowage(VESSEL, VOYAGE)
    assert [c["container"] for c in beta["containers"]] == [NITRATE]
    assert beta["checks"] == []
    acme = node.client("shipper-acme").stowage(VESSEL, VOYAGE)
    assert [c["container"] for c in acme["containers"]] == [GAS, BENZ]
    assert "AMMONIUM NITRATE" not in str(acme)


def test_another_voyage_has_nothing_on_board(node: LocalNode) -> None:
    plan = node.client("port-authority").stowage(VESSEL, "NONE1")
    assert (plan["containers"], plan["checks"]) == ([], [])


def test_a_loading_that_breaks_the_segregation_is_refused_naming_both(node: LocalNode) -> None:
    """IMDG 7.4.3.3, on deck, fore and aft: ammonium nitrate next to the gasoline."""
    with pytest.raises(ClientError) as info:
        node.client("port-authority").decide(
            "AN-2", "loaded", owner="shipper-beta", stowage={LATE: "030282"}
        )
    (v,) = info.value.violations
    assert v["code"] == "stowage.segregation" and v["path"] == f"$.body.stowage.{LATE}"
    assert GAS in v["message"] and LATE in v["message"]
    assert "shipper-acme" not in v["message"] and "GAS-1" not in v["message"]


@pytest.mark.parametrize(
    ("query", "code", "path"),
    [
        (f"vessel={VESSEL}&voyage={VOYAGE}&bay=01", "request.unknown_parameter", "$.bay"),
        (f"vessel={VESSEL}", "request.invalid", "$.voyage"),
        (f"vessel=945443&voyage={VOYAGE}", "request.invalid", "$.vessel"),
    ],
)
def test_bad_parameters_are_refused_by_name(
    node: LocalNode, query: str, code: str, path: str
) -> None:
    r = node.get("port-authority", f"/v1/stowage?{query}")
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["code"], error["path"]) == (code, path)


def test_the_plan_needs_a_signed_request(node: LocalNode) -> None:
    r = node.http.get(f"/v1/stowage?vessel={VESSEL}&voyage={VOYAGE}")
    assert r.status_code == 401


# ------------------------------------------------------------------- CLI


def test_the_cli_prints_positions_deck_or_hold_goods_and_checks(node: LocalNode) -> None:
    lines = render_plan(node.client("port-authority").stowage(VESSEL, VOYAGE))
    text = "\n".join(lines)
    assert lines[0].startswith(f"vessel IMO {VESSEL}, voyage {VOYAGE}, at block ")
    assert "3 containers with dangerous goods on board" in lines[0]
    assert f"{GAS}  010282  bay 01 row 02 tier 82  on deck" in text
    assert f"{BENZ}  100406  bay 10 row 04 tier 06  under deck in hold 2" in text
    assert "UN 1203, GASOLINE, 3, PG II" in text
    assert f'{GAS} / {NITRATE}: "separated from" holds' in text
    assert "1 container space apart fore and aft (bays 01 and 05)" in text
    assert "four 20-foot bays" in text


def test_the_cli_says_when_nothing_is_on_board() -> None:
    plan = {"vessel": VESSEL, "voyage": "X", "height": 3, "containers": [], "checks": []}
    (line,) = render_plan(plan)
    assert "no dangerous goods on board" in line


def test_show_says_where_a_loaded_container_stands_and_the_receipt_proves_it(
    node: LocalNode,
) -> None:
    auditor = node.client("auditor")
    doc = auditor.declaration("BZ-1", "shipper-acme")
    assert doc["record"]["stowage"] == {BENZ: "100406"}
    doc["headers"] = auditor.header_chain(doc["receipt"]["header"]["height"])
    checks = verify_receipt(doc, node.genesis)
    assert "state decl/shipper-acme/BZ-1: loaded" in checks[3]
    # The consignee travels sealed; what show prints of it is not this test's concern.
    doc["declaration"].setdefault("consignee", {"partyName": "(sealed)"})
    text = "\n".join(render(doc))
    placed = f"container {BENZ} on board at 100406 (bay 10, row 04, tier 06, under deck in hold 2):"
    assert placed in text


@pytest.mark.parametrize(
    ("values", "decision", "wrong"),
    [
        (["CSQU3054383"], "loaded", "CONTAINER=BBRRTT"),
        (["=030282"], "loaded", "CONTAINER=BBRRTT"),
        (["CSQU3054383=010282", "CSQU3054383=030282"], "loaded", "twice"),
        (["CSQU3054383=010282"], "cleared", "--decision loaded"),
    ],
)
def test_decide_stowage_options_are_checked(values: list[str], decision: str, wrong: str) -> None:
    with pytest.raises(CliError) as info:
        stowage_positions(values, decision)
    assert wrong in str(info.value)


def test_decide_stowage_options_become_a_map() -> None:
    got = stowage_positions(["CSQU3054383=030282", " MSCU1234566 = 100406 "], "loaded")
    assert got == {"CSQU3054383": "030282", "MSCU1234566": "100406"}
    assert stowage_positions(None, "cleared") == {}
