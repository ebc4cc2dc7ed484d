"""What a declaration writes to the authenticated state, and the indexes derived from it.

A submission or an amendment writes three authenticated keys, a decision
or a cancellation two, however many containers the declaration has; the
list indexes live outside the tree, and rebuilding them from the state
alone gives exactly the ones the blocks maintained.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import indexes
from contracts.state import StateView
from ledger.kv import MemoryKV, Overlay
from ledger.smt import EMPTY_ROOT, StateTree
from node.devnet.traffic import container_number
from tests.contracts.fixtures import Community, community
from tests.samples import sample

OWNERS = {"D-1": "shipper-acme", "D-2": "shipper-beta", "D-3": "shipper-acme"}
"""Whose each declaration of :func:`_chain` is."""


def declaration(decl_id: str, containers: int = 1, voyage: str = "0AB12W") -> dict[str, Any]:
    """The valid sample under ``decl_id``, its container repeated ``containers`` times."""
    doc = sample(decl_id=decl_id)
    first = doc["containers"][0]
    doc["containers"] = [
        {**copy.deepcopy(first), "equipmentReference": container_number("MSC", "U", 100 + i)}
        for i in range(containers)
    ]
    doc["transport"]["voyageNumber"] = voyage
    return doc


def stored(c: Community) -> set[str]:
    """Every index entry the store holds."""
    return set(indexes.scan(c.overlay.base, "idx/"))


def rebuilt(c: Community) -> set[str]:
    """The index entries the state at the engine's root calls for."""
    return indexes.rebuild(StateTree(c.overlay, c.engine.root))


@pytest.mark.parametrize("containers", [1, 12])
def test_a_declaration_writes_three_authenticated_keys_and_a_decision_two(
    containers: int,
) -> None:
    c = community()
    submit = c.tx(
        "shipper-acme", "declaration.submit", {"declaration": declaration("D-1", containers)}
    )
    assert c.block([submit])[0]["ok"]
    assert c.engine.written == {
        "decl/shipper-acme/D-1",
        "doc/shipper-acme/D-1/000001",
        f"tx/{submit.id.hex()}",
    }
    # Status, organisation, voyage, id and each container; within the owner's own:
    # status, voyage and each container.
    assert len(stored(c)) == 4 + containers + 2 + containers

    amend = c.tx(
        "shipper-acme",
        "declaration.amend",
        {"id": "D-1", "declaration": declaration("D-1", containers, "0AB13W"), "reason": "voyage"},
    )
    assert c.block([amend])[0]["ok"]
    assert c.engine.written == {
        "decl/shipper-acme/D-1",
        "doc/shipper-acme/D-1/000002",
        f"tx/{amend.id.hex()}",
    }

    for org, type_, body in (
        (
            "port-authority",
            "declaration.decide",
            {"id": "D-1", "owner": OWNERS["D-1"], "decision": "accepted"},
        ),
        (
            "customs",
            "declaration.decide",
            {"id": "D-1", "owner": OWNERS["D-1"], "decision": "cleared"},
        ),
        ("shipper-acme", "declaration.cancel", {"id": "D-1", "reason": "booking withdrawn"}),
    ):
        tx = c.tx(org, type_, body)
        assert c.block([tx])[0]["ok"]
        assert c.engine.written == {"decl/shipper-acme/D-1", f"tx/{tx.id.hex()}"}, type_

    refused = c.tx(
        "customs",
        "declaration.decide",
        {"id": "D-1", "owner": OWNERS["D-1"], "decision": "cleared"},
    )
    assert c.block([refused])[0]["ok"] is False
    assert c.engine.written == {f"tx/{refused.id.hex()}"}
    assert rebuilt(c) == stored(c)


def _chain() -> Community:
    """Submissions, amendments that move voyage and containers, decisions, cancellations."""
    c = community()
    c.block(
        [
            c.tx("shipper-acme", "declaration.submit", {"declaration": declaration("D-1", 2)}),
            c.tx("shipper-beta", "declaration.submit", {"declaration": declaration("D-2")}),
            c.tx("shipper-acme", "declaration.submit", {"declaration": declaration("D-3", 3)}),
            c.tx("customs", "declaration.submit", {"declaration": declaration("D-4")}),  # refused
        ]
    )
    c.block(
        [
            c.tx(
                "port-authority",
                "declaration.decide",
                {"id": "D-1", "owner": OWNERS["D-1"], "decision": "accepted"},
            ),
            c.tx(
                "port-authority",
                "declaration.decide",
                {"id": "D-2", "owner": OWNERS["D-2"], "decision": "accepted"},
            ),
            c.tx("shipper-acme", "declaration.cancel", {"id": "D-3", "reason": "withdrawn"}),
        ]
    )
    moved = {"id": "D-1", "declaration": declaration("D-1", 1, "0AB13W"), "reason": "one box"}
    c.block(
        [
            c.tx("shipper-acme", "declaration.amend", moved),
            c.tx(
                "customs",
                "declaration.decide",
                {"id": "D-2", "owner": OWNERS["D-2"], "decision": "cleared"},
            ),
        ]
    )
    c.block(
        [
            c.tx(
                "port-authority",
                "declaration.decide",
                {"id": "D-2", "owner": OWNERS["D-2"], "decision": "loaded"},
            )
        ]
    )
    return c


def test_the_index_rebuilt_from_the_state_is_the_one_the_blocks_maintained() -> None:
    c = _chain()
    assert stored(c) == {
        "idx/status/amended/shipper-acme/D-1",
        "idx/org/shipper-acme/D-1",
        "idx/vessel/9454436/0AB13W/shipper-acme/D-1",
        f"idx/container/{container_number('MSC', 'U', 100)}/shipper-acme/D-1",
        "idx/id/D-1/shipper-acme",
        "idx/own/shipper-acme/status/amended/D-1",
        "idx/own/shipper-acme/vessel/9454436/0AB13W/D-1",
        f"idx/own/shipper-acme/container/{container_number('MSC', 'U', 100)}/D-1",
        "idx/status/loaded/shipper-beta/D-2",
        "idx/org/shipper-beta/D-2",
        "idx/vessel/9454436/0AB12W/shipper-beta/D-2",
        f"idx/container/{container_number('MSC', 'U', 100)}/shipper-beta/D-2",
        "idx/id/D-2/shipper-beta",
        "idx/own/shipper-beta/status/loaded/D-2",
        "idx/own/shipper-beta/vessel/9454436/0AB12W/D-2",
        f"idx/own/shipper-beta/container/{container_number('MSC', 'U', 100)}/D-2",
        "idx/status/cancelled/shipper-acme/D-3",
        "idx/org/shipper-acme/D-3",
        "idx/vessel/9454436/0AB12W/shipper-acme/D-3",
        *(
            f"idx/container/{container_number('MSC', 'U', 100 + i)}/shipper-acme/D-3"
            for i in range(3)
        ),
        "idx/id/D-3/shipper-acme",
        "idx/own/shipper-acme/status/cancelled/D-3",
        "idx/own/shipper-acme/vessel/9454436/0AB12W/D-3",
        *(
            f"idx/own/shipper-acme/container/{container_number('MSC', 'U', 100 + i)}/D-3"
            for i in range(3)
        ),
    }
    assert rebuilt(c) == stored(c)
    for entry in stored(c):
        owner, decl_id = indexes.target(entry)
        assert {owner, decl_id} <= set(entry.split("/"))
        assert owner.startswith("shipper-") and decl_id.startswith("D-")


def test_restore_makes_a_damaged_index_right_again() -> None:
    c = _chain()
    right = stored(c)
    c.overlay.base.write(
        {
            b"Qidx/status/amended/shipper-acme/D-1": None,
            b"Qidx/status/held/shipper-beta/D-2": b"",
        }
    )
    assert stored(c) != right
    tree = StateTree(c.overlay, c.engine.root)
    assert indexes.restore(c.overlay, tree) == 2
    c.overlay.flush()
    assert stored(c) == right
    assert indexes.restore(c.overlay, tree) == 0


def test_only_a_record_under_its_own_key_counts_as_a_declaration() -> None:
    overlay = Overlay(MemoryKV())
    view = StateView(StateTree(overlay, EMPTY_ROOT))
    record = {"id": "D-1", "status": "held", "org": "x", "vessel": "1", "voyage": "2"}
    view.put("decl/x/D-1", {**record, "containers": []})
    view.put("org/D-1", {**record, "id": "D-2", "containers": []})  # a look-alike elsewhere
    view.put("decl/y/D-1", {**record, "containers": []})  # under another owner's key
    view.put("decl/D-1", {**record, "containers": []})  # under a key without the owner
    view.put("doc/x/D-1/000001", ["not", "a", "record"])
    tree = StateTree(overlay, view.commit())
    assert [(r["org"], r["id"]) for r in indexes.records(tree)] == [("x", "D-1")]


STEPS = [
    ("shipper-acme", "declaration.amend", None),
    ("shipper-acme", "declaration.cancel", None),
    ("port-authority", "declaration.decide", "accepted"),
    ("customs", "declaration.decide", "cleared"),
    ("customs", "declaration.decide", "held"),
    ("port-authority", "declaration.decide", "loaded"),
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(STEPS), st.integers(0, 2), st.integers(1, 3)),
        max_size=10,
    )
)
def test_any_history_leaves_the_rebuilt_and_maintained_indexes_equal(
    steps: list[tuple[tuple[str, str, str | None], int, int]],
) -> None:
    c = community()
    c.block(
        [
            c.tx("shipper-acme", "declaration.submit", {"declaration": declaration(f"D-{i}")})
            for i in range(3)
        ]
    )
    for (org, type_, decision), i, boxes in steps:
        body: dict[str, Any] = {"id": f"D-{i}", "owner": "shipper-acme", "reason": "r"}
        if type_ == "declaration.amend":
            body["declaration"] = declaration(f"D-{i}", boxes, f"0AB1{boxes}W")
        elif decision is not None:
            body["decision"] = decision
        c.block([c.tx(org, type_, body)])
        assert len(c.engine.written) <= (3 if type_ == "declaration.amend" else 2)
    assert rebuilt(c) == stored(c)
