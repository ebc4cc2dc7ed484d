"""One container, many declarations: IMDG 7.3.4 judges a unit's goods whoever declared them."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import indexes, units
from contracts.checks import check_declaration
from contracts.dgl_builtin import builtin_list
from contracts.document import parse_declaration
from contracts.state import DERIVED_PREFIX
from ledger.encoding import decode, encode
from node.devnet.traffic import TrafficGenerator
from tests.contracts.fixtures import Community, community
from tests.samples import ammonium_nitrate, sample

CONTAINER = "CSQU3054383"
SECRET = "HARBOUR SECRET CONSIGNEE LTD"

AMMONIUM_NITRATE = ammonium_nitrate()


def declaration(decl_id: str, items: list[dict[str, Any]], **transport: str) -> dict[str, Any]:
    """The valid sample with ``items`` in its one container."""
    doc = sample(decl_id=decl_id)
    doc["consignee"]["partyName"] = SECRET
    doc["containers"][0]["equipmentReference"] = CONTAINER
    doc["containers"][0]["dangerousGoods"] = copy.deepcopy(items)
    doc["transport"].update(transport)
    return doc


def gasoline() -> dict[str, Any]:
    item: dict[str, Any] = sample()["containers"][0]["dangerousGoods"][0]
    return item


def submit(c: Community, org: str, doc: dict[str, Any]) -> dict[str, Any]:
    return c.block([c.tx(org, "declaration.submit", {"declaration": doc})])[0]


def send(c: Community, org: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    return c.block([c.tx(org, type_, body)])[0]


def stored(c: Community) -> dict[str, Any]:
    """The derived unit listings as the store holds them."""
    start = DERIVED_PREFIX + units.UNIT.encode()
    return {
        k[len(DERIVED_PREFIX) :].decode(): decode(v)
        for k, v in c.overlay.base.scan(start, start + b"\xff")
    }


def test_goods_that_may_not_share_a_container_are_refused_across_declarations() -> None:
    """IMDG 7.3.4.1 with the 7.2.4 table: 3 and 5.1 are "separated from", not in one unit."""
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    result = submit(c, "shipper-beta", declaration("BETA-1", [AMMONIUM_NITRATE]))
    assert result["ok"] is False, result
    (v,) = result["violations"]
    assert v["code"].startswith("segregation."), v
    assert v["path"] == "$.body.declaration.containers[0].dangerousGoods[0]"
    assert v["paragraph"] is not None and v["paragraph"].startswith("7.")
    assert "UN 1203" in v["message"] and CONTAINER in v["message"]
    assert "another declaration" in v["message"]
    for secret in ("shipper-acme", "ACME", "ACME-1", SECRET):
        assert secret not in v["message"]


def test_the_same_goods_in_one_declaration_are_refused_alike() -> None:
    one = parse_declaration(declaration("ONE", [gasoline(), AMMONIUM_NITRATE]))
    found = check_declaration(one, builtin_list())
    assert [v.code for v in found] == ["segregation.same_container"], found
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    result = submit(c, "shipper-beta", declaration("BETA-1", [AMMONIUM_NITRATE]))
    assert [v["code"] for v in result["violations"]] == [v.code for v in found]
    assert [v["paragraph"] for v in result["violations"]] == [v.paragraph for v in found]


def test_another_voyage_or_container_is_another_unit() -> None:
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    later = declaration("BETA-1", [AMMONIUM_NITRATE], voyageNumber="777W")
    assert submit(c, "shipper-beta", later)["ok"]
    other = declaration("BETA-2", [AMMONIUM_NITRATE])
    other["containers"][0]["equipmentReference"] = "MSCU1234566"
    assert submit(c, "shipper-beta", other)["ok"]


def test_goods_leave_the_unit_when_their_declaration_stops_being_active() -> None:
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    assert not submit(c, "shipper-beta", declaration("BETA-1", [AMMONIUM_NITRATE]))["ok"]
    assert send(c, "shipper-acme", "declaration.cancel", {"id": "ACME-1"})["ok"]
    assert submit(c, "shipper-beta", declaration("BETA-1", [AMMONIUM_NITRATE]))["ok"]
    # Now acme's gasoline may not come back beside beta's ammonium nitrate.
    assert not submit(c, "shipper-acme", declaration("ACME-2", [gasoline()]))["ok"]
    refuse = {"id": "BETA-1", "owner": "shipper-beta", "decision": "refused", "reason": "UNSAFE"}
    assert send(c, "port-authority", "declaration.decide", refuse)["ok"], "decision"
    assert submit(c, "shipper-acme", declaration("ACME-2", [gasoline()]))["ok"]


def test_an_amendment_is_judged_against_the_others_not_against_itself() -> None:
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    again = declaration("ACME-1", [gasoline(), gasoline()])
    assert send(c, "shipper-acme", "declaration.amend", {"id": "ACME-1", "declaration": again})[
        "ok"
    ]
    assert submit(
        c, "shipper-beta", declaration("BETA-1", [sample()["containers"][0]["dangerousGoods"][1]])
    )["ok"]  # methanol (3) beside gasoline (3): allowed
    bad = declaration("BETA-1", [AMMONIUM_NITRATE])
    result = send(c, "shipper-beta", "declaration.amend", {"id": "BETA-1", "declaration": bad})
    assert result["ok"] is False and result["violations"][0]["code"].startswith("segregation.")


def test_two_declarations_in_one_block_see_each_other() -> None:
    c = community()
    first = c.tx(
        "shipper-acme", "declaration.submit", {"declaration": declaration("A", [gasoline()])}
    )
    second = c.tx(
        "shipper-beta", "declaration.submit", {"declaration": declaration("B", [AMMONIUM_NITRATE])}
    )
    a, b = c.block([first, second])
    assert a["ok"] and not b["ok"]


def test_the_listings_are_made_again_from_the_records_alone() -> None:
    c = community()
    assert submit(c, "shipper-acme", declaration("ACME-1", [gasoline()]))["ok"]
    assert submit(c, "shipper-beta", declaration("BETA-1", [gasoline()]))["ok"]
    assert submit(c, "shipper-beta", declaration("BETA-2", [gasoline()], voyageNumber="9W"))["ok"]
    assert send(c, "shipper-beta", "declaration.cancel", {"id": "BETA-2"})["ok"]
    view = c.engine.view()
    rebuilt = units.rebuild(indexes.records(view.tree))
    assert rebuilt == stored(c)
    (key,) = rebuilt
    assert rebuilt[key] == [["shipper-acme", "ACME-1"], ["shipper-beta", "BETA-1"]]


_GEN = TrafficGenerator(builtin_list(), seed=7, base_time_ms=Community.time)
POOL = [_GEN.item(cls) for cls in ("1", "2", "3", "4", "5", "6", "8", "9") for _ in range(4)]
"""Valid items of every class the traffic generator makes (no class 7)."""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(POOL), st.sampled_from(POOL))
def test_two_declarations_are_judged_as_one_declaration_of_their_items(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    """IMDG 7.3.4: accepted together exactly when one declaration of both items would be,
    refused with the same codes and paragraphs."""
    together = check_declaration(parse_declaration(declaration("ONE", [a, b])), builtin_list())
    c = community()
    assert submit(c, "shipper-acme", declaration("A", [a]))["ok"]
    result = submit(c, "shipper-beta", declaration("B", [b]))
    if not together:
        assert result["ok"], result
    else:
        assert not result["ok"]
        got = [(v["code"], v["paragraph"]) for v in result["violations"]]
        assert got == [(v.code, v.paragraph) for v in together]


def test_a_unit_holds_a_bounded_number_of_declarations() -> None:
    """What one submission costs is bounded, whoever filled the unit."""
    c = community()
    txs = [
        c.tx(
            "shipper-acme",
            "declaration.submit",
            {"declaration": declaration(f"A-{n}", [gasoline()])},
        )
        for n in range(units.MAX_DECLARATIONS)
    ]
    assert all(r["ok"] for r in c.block(txs))
    result = submit(c, "shipper-beta", declaration("B-1", [gasoline()]))
    assert result["ok"] is False
    (v,) = result["violations"]
    assert v["code"] == "unit.too_many_declarations"
    assert v["path"] == "$.body.declaration.containers[0].equipmentReference"
    assert send(c, "shipper-acme", "declaration.cancel", {"id": "A-0"})["ok"]
    assert submit(c, "shipper-beta", declaration("B-1", [gasoline()]))["ok"]


def test_goods_are_parsed_once_per_document() -> None:
    cache = units.GoodsCache(capacity=2)
    raw = encode(parse_declaration(declaration("X", [gasoline()])).to_value())
    first = cache.containers(raw)
    assert cache.containers(bytes(raw)) is first
    cache.containers(encode(parse_declaration(declaration("Y", [gasoline()])).to_value()))
    cache.containers(encode(parse_declaration(declaration("Z", [gasoline()])).to_value()))
    assert cache.containers(raw) is not first  # evicted, parsed again
