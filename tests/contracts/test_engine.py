"""The rules as a state machine: lifecycle, roles, replays, lifetimes, governance, determinism."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import declarations_tx, indexes
from contracts import engine as engine_module
from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from contracts.engine import MAX_TX_LIFETIME
from contracts.errors import ContractError
from contracts.lifecycle import TABLE, Status, allowed_targets
from contracts.membership import AppGenesis
from ledger.errors import ChainError
from ledger.tx import Envelope, Transaction
from tests.contracts.fixtures import Community, community, key_for
from tests.samples import INVALID, sample


def submit(c: Community, org: str = "shipper-acme", decl_id: str = "D-1") -> dict[str, Any]:
    return c.block([c.tx(org, "declaration.submit", {"declaration": sample(decl_id=decl_id)})])[0]


def decide(
    c: Community,
    org: str,
    decision: str,
    decl_id: str = "D-1",
    reason: str = "",
    owner: str = "shipper-acme",
) -> dict[str, Any]:
    body = {"id": decl_id, "owner": owner, "decision": decision, "reason": reason}
    return c.block([c.tx(org, "declaration.decide", body)])[0]


def status(c: Community, decl_id: str = "D-1", owner: str = "shipper-acme") -> str:
    record = c.engine.view().get(f"decl/{owner}/{decl_id}")
    assert record is not None
    return str(record["status"])


def codes(result: dict[str, Any]) -> set[str]:
    assert result["ok"] is False, result
    return {v["code"] for v in result["violations"]}


def indexed(c: Community, decl_id: str = "D-1") -> set[str]:
    """The index entries the store holds for ``decl_id``."""
    return {e for e in indexes.scan(c.overlay.base, "idx/") if indexes.target(e)[1] == decl_id}


def test_submit_by_shipper_records_declaration_and_indexes() -> None:
    c = community()
    tx = c.tx("shipper-acme", "declaration.submit", {"declaration": sample(decl_id="D-1")})
    result = c.block([tx])[0]
    assert result["ok"] is True, result
    assert (result["action"], result["version"], result["status"]) == ("submit", 1, "submitted")
    assert (result["org"], result["replaces"], result["reason"]) == ("shipper-acme", None, "")
    view = c.engine.view()
    record = view.get("decl/shipper-acme/D-1")
    assert record["status"] == "submitted"
    assert record["org"] == "shipper-acme"
    assert (record["version"], record["txs"]) == (1, [tx.id])
    assert view.get("doc/shipper-acme/D-1/000001")["declarationId"] == "D-1"
    assert indexed(c) == {
        "idx/status/submitted/shipper-acme/D-1",
        "idx/org/shipper-acme/D-1",
        "idx/container/CSQU3054383/shipper-acme/D-1",
        "idx/vessel/9454436/0AB12W/shipper-acme/D-1",
        "idx/id/D-1/shipper-acme",
        "idx/own/shipper-acme/status/submitted/D-1",
        "idx/own/shipper-acme/vessel/9454436/0AB12W/D-1",
        "idx/own/shipper-acme/container/CSQU3054383/D-1",
    }
    # The indexes are derived data, outside the authenticated state.
    assert view.get("idx/status/submitted/shipper-acme/D-1") is None


def test_submit_by_customs_is_refused_by_role() -> None:
    c = community()
    assert codes(submit(c, "customs")) == {"role.not_allowed"}


def test_duplicate_declaration_id_refused() -> None:
    c = community()
    submit(c)
    assert "declaration.exists" in codes(submit(c))
    assert submit(c, "shipper-beta")["ok"]  # ids are namespaced per organisation


@pytest.mark.parametrize("name", INVALID)
def test_invalid_samples_are_rejected_with_paths_into_the_body(name: str) -> None:
    c = community()
    tx = c.tx("shipper-acme", "declaration.submit", {"declaration": sample(name)})
    result = c.block([tx])[0]
    assert result["ok"] is False
    assert all(v["path"].startswith("$.body.declaration") for v in result["violations"])
    assert c.engine.view().get(f"decl/shipper-acme/{sample(name)['declarationId']}") is None


def test_full_lifecycle_to_discharge() -> None:
    c = community()
    submit(c)
    assert decide(c, "port-authority", "accepted")["ok"]
    assert decide(c, "customs", "held", reason="documents incomplete")["ok"]
    assert decide(c, "customs", "released")["ok"]
    assert decide(c, "port-authority", "loaded")["ok"]
    assert decide(c, "port-authority", "discharged")["ok"]
    assert status(c) == "discharged"
    view = c.engine.view()
    made = view.get("decl/shipper-acme/D-1")["txs"]
    history = [view.get(f"tx/{tx_id.hex()}") for tx_id in made]
    assert [h["version"] for h in history] == [1, 2, 3, 4, 5, 6]
    assert [h["status"] for h in history] == [
        "submitted",
        "accepted",
        "held",
        "released",
        "loaded",
        "discharged",
    ]
    for older, newer in itertools.pairwise(range(6)):
        assert history[newer]["replaces"] == made[older]
    assert indexed(c) == {
        "idx/status/discharged/shipper-acme/D-1",
        "idx/org/shipper-acme/D-1",
        "idx/container/CSQU3054383/shipper-acme/D-1",
        "idx/vessel/9454436/0AB12W/shipper-acme/D-1",
        "idx/id/D-1/shipper-acme",
        "idx/own/shipper-acme/status/discharged/D-1",
        "idx/own/shipper-acme/vessel/9454436/0AB12W/D-1",
        "idx/own/shipper-acme/container/CSQU3054383/D-1",
    }


def test_hold_needs_a_reason() -> None:
    c = community()
    submit(c)
    decide(c, "port-authority", "accepted")
    assert codes(decide(c, "customs", "held")) == {"decision.reason_required"}


def test_customs_cannot_accept_and_port_cannot_clear() -> None:
    c = community()
    submit(c)
    assert codes(decide(c, "customs", "accepted")) == {"role.not_allowed"}
    assert codes(decide(c, "port-authority", "cleared")) == {"role.not_allowed"}


def test_transition_outside_the_table_refused() -> None:
    c = community()
    submit(c)
    assert codes(decide(c, "customs", "cleared")) == {"lifecycle.transition_not_allowed"}


def test_amend_by_owner_then_decisions_start_again() -> None:
    c = community()
    submit(c)
    decide(c, "port-authority", "accepted")
    amended = sample(decl_id="D-1")
    amended["containers"][0]["dangerousGoods"][0]["numberOfPackages"] = 79
    tx = c.tx("shipper-acme", "declaration.amend", {"id": "D-1", "declaration": amended})
    assert c.block([tx])[0]["ok"]
    assert status(c) == "amended"
    view = c.engine.view()
    packages = [
        view.get(f"doc/shipper-acme/D-1/{v:06d}")["containers"][0]["dangerousGoods"][0][
            "numberOfPackages"
        ]
        for v in (1, 3)
    ]
    assert packages == [80, 79]
    assert "idx/status/accepted/shipper-acme/D-1" not in indexed(c)
    assert "idx/status/amended/shipper-acme/D-1" in indexed(c)


def test_record_keeps_the_current_document_once_and_follows_amendments() -> None:
    c = community()
    submit(c)
    record = c.engine.view().get("decl/shipper-acme/D-1")
    assert "declaration" not in record
    assert (record["document"], record["vessel"], record["voyage"]) == (1, "9454436", "0AB12W")
    assert record["containers"] == ["CSQU3054383"]
    decide(c, "port-authority", "accepted")
    view = c.engine.view()
    assert view.get("doc/shipper-acme/D-1/000002") is None  # a decision brings no document
    assert view.get("decl/shipper-acme/D-1")["document"] == 1
    amended = sample(decl_id="D-1")
    amended["transport"]["voyageNumber"] = "0AB13W"
    amended["containers"][0]["equipmentReference"] = "MSCU1234566"
    tx = c.tx("shipper-acme", "declaration.amend", {"id": "D-1", "declaration": amended})
    assert c.block([tx])[0]["ok"]
    view = c.engine.view()
    record = view.get("decl/shipper-acme/D-1")
    assert (record["document"], record["voyage"], record["containers"]) == (
        3,
        "0AB13W",
        ["MSCU1234566"],
    )
    assert indexed(c) == {
        "idx/status/amended/shipper-acme/D-1",
        "idx/org/shipper-acme/D-1",
        "idx/container/MSCU1234566/shipper-acme/D-1",
        "idx/vessel/9454436/0AB13W/shipper-acme/D-1",
        "idx/id/D-1/shipper-acme",
        "idx/own/shipper-acme/status/amended/D-1",
        "idx/own/shipper-acme/vessel/9454436/0AB13W/D-1",
        "idx/own/shipper-acme/container/MSCU1234566/D-1",
    }


def test_amend_by_other_shipper_refused_but_delegated_forwarder_allowed() -> None:
    c = community()
    submit(c)
    body = {"id": "D-1", "owner": "shipper-acme", "declaration": sample(decl_id="D-1")}
    assert codes(c.block([c.tx("shipper-beta", "declaration.amend", body)])[0]) == {
        "role.not_allowed"
    }
    assert codes(c.block([c.tx("forwarder-a", "declaration.amend", body)])[0]) == {
        "role.not_allowed"
    }
    grant = c.tx("shipper-acme", "delegation.grant", {"forwarder": "forwarder-a"})
    assert c.block([grant])[0]["ok"]
    assert c.block([c.tx("forwarder-a", "declaration.amend", body)])[0]["ok"]


def test_cancel_only_before_loading() -> None:
    c = community()
    submit(c)
    for org, decision in (
        ("port-authority", "accepted"),
        ("customs", "cleared"),
        ("port-authority", "loaded"),
    ):
        assert decide(c, org, decision)["ok"]
    cancel = c.tx("shipper-acme", "declaration.cancel", {"id": "D-1", "reason": "sold"})
    assert codes(c.block([cancel])[0]) == {"lifecycle.transition_not_allowed"}


def test_a_declaration_has_a_bounded_number_of_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its record lists every version: a cap keeps the record, and each rewrite, bounded."""
    monkeypatch.setattr(declarations_tx, "MAX_VERSIONS", 3)
    c = community()
    submit(c)
    assert decide(c, "port-authority", "accepted")["ok"]
    assert decide(c, "customs", "cleared")["ok"]
    result = decide(c, "port-authority", "loaded")
    assert codes(result) == {"declaration.too_many_versions"}
    assert result["violations"][0]["path"] == "$.body.id"
    assert c.engine.view().get("decl/shipper-acme/D-1")["version"] == 3


def test_nonces_have_no_order_and_no_state() -> None:
    """A nonce only tells apart transactions of the same content: any value will do."""
    c = community()
    for decl_id, nonce in (("D-1", 7), ("D-2", 7), ("D-3", 1)):
        body = {"declaration": sample(decl_id=decl_id)}
        assert c.block([c.tx("shipper-acme", "declaration.submit", body, nonce=nonce)])[0]["ok"]
    assert not any(k.startswith("nonce/") for k in c.engine.written)
    decision = {"id": "D-1", "owner": "shipper-acme", "decision": "accepted"}
    first = c.tx("port-authority", "declaration.decide", decision, nonce=1)
    second = c.tx("port-authority", "declaration.decide", decision, nonce=2)
    assert first.id != second.id
    results = c.block([first, second])
    assert results[0]["ok"]
    assert codes(results[1]) == {"lifecycle.transition_not_allowed"}


def test_a_committed_transaction_is_never_applied_again_even_if_rejected() -> None:
    c = community()
    refused = c.tx("customs", "declaration.submit", {"declaration": sample(decl_id="D-1")})
    assert codes(c.block([refused])[0]) == {"role.not_allowed"}
    with pytest.raises(ChainError, match="already committed"):
        c.block([refused])


@pytest.mark.parametrize(
    ("ahead", "code"),
    [
        (-1, "tx.expired"),
        (0, None),
        (MAX_TX_LIFETIME, None),
        (MAX_TX_LIFETIME + 1, "tx.expires_too_far"),
    ],
)
def test_a_transaction_lives_at_most_max_tx_lifetime_blocks(ahead: int, code: str | None) -> None:
    c = community()
    c.block([])
    height = c.height + 1
    body = {"declaration": sample(decl_id="D-1")}
    result = c.block([c.tx("shipper-acme", "declaration.submit", body, expires=height + ahead)])[0]
    if code is None:
        assert result["ok"], result
    else:
        assert codes(result) == {code}
        assert result["violations"][0]["path"] == "$.env.expires"


def test_unknown_key_refused() -> None:
    c = community()

    stranger = key_for("stranger")
    env = Envelope(
        "dg-test", "declaration.submit", stranger.public.key_id, 1, {"declaration": sample()}, 100
    )
    result = c.block([Transaction.create(env, [stranger])])[0]
    assert codes(result) == {"auth.unknown_key"}


def test_unknown_type_refused() -> None:
    c = community()
    assert codes(c.block([c.tx("shipper-acme", "declaration.frobnicate", {})])[0]) == {
        "tx.unknown_type"
    }


def _org_add(c: Community, signers: list[str], effective: int) -> dict[str, Any]:
    body = {
        "action": "org.add",
        "effective_height": effective,
        "params": {
            "name": "shipper-new",
            "role": "shipper",
            "keys": [key_for("shipper-new").public.raw],
        },
    }
    return c.block([c.tx(signers[0], "governance", body, extra=signers[1:])])[0]


def test_governance_needs_more_than_two_thirds() -> None:
    c = community()
    assert codes(_org_add(c, ["customs", "port-authority"], 10)) == {"governance.no_supermajority"}
    assert codes(_org_add(c, ["customs", "shipper-acme", "port-authority"], 10)) == {
        "governance.not_validator"
    }


def test_governance_takes_effect_at_its_height() -> None:
    c = community()
    result = _org_add(c, ["customs", "port-authority", "forwarder-a"], 4)
    assert result["ok"], result
    assert c.engine.view().get("org/shipper-new") is None
    c.block([])  # height 2
    assert c.engine.view().get("org/shipper-new") is None
    c.block([])  # height 3: at its end the change for height 4 is applied
    assert c.engine.view().get("org/shipper-new") is not None
    assert submit(c, "shipper-new", "D-9")["ok"]


def test_governance_too_soon_refused() -> None:
    c = community()
    assert codes(_org_add(c, ["customs", "port-authority", "forwarder-a"], 2)) == {
        "governance.too_soon"
    }


def test_key_revocation_blocks_the_key() -> None:
    c = community()
    body = {
        "action": "key.revoke",
        "effective_height": 3,
        "params": {"key_id": key_for("shipper-acme").public.key_id},
    }
    assert c.block([c.tx("customs", "governance", body, extra=["port-authority", "forwarder-b"])])[
        0
    ]["ok"]
    c.block([])
    assert codes(submit(c)) == {"auth.key_revoked"}


def test_validator_set_change_reported_as_next_validators() -> None:
    c = community()
    new = [
        {"key": key_for(f"{o}-node2").public.raw, "power": 10, "org": o}
        for o in ("customs", "port-authority", "forwarder-a")
    ]
    body = {"action": "validators.set", "effective_height": 3, "params": {"validators": new}}
    tx = c.tx("customs", "governance", body, extra=["port-authority", "forwarder-b"])
    assert c.block([tx])[0]["ok"]
    before = c.engine.validators
    c.block([])
    assert c.engine.validators != before
    assert len(c.engine.validators) == 3


ACTIONS = [
    ("shipper-acme", "declaration.amend", None),
    ("shipper-acme", "declaration.cancel", None),
    ("shipper-beta", "declaration.cancel", None),
    ("port-authority", "declaration.decide", "accepted"),
    ("port-authority", "declaration.decide", "refused"),
    ("customs", "declaration.decide", "cleared"),
    ("customs", "declaration.decide", "held"),
    ("customs", "declaration.decide", "released"),
    ("customs", "declaration.decide", "refused"),
    ("port-authority", "declaration.decide", "loaded"),
    ("port-authority", "declaration.decide", "discharged"),
    ("forwarder-a", "declaration.decide", "cleared"),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_no_sequence_leaves_the_lifecycle_table(steps: list[tuple[str, str, str | None]]) -> None:
    c = community()
    submit(c)
    current = Status.SUBMITTED
    seen = [current]
    for org, type_, decision in steps:
        body: dict[str, Any] = {"id": "D-1", "owner": "shipper-acme"}
        if type_ == "declaration.amend":
            body["declaration"] = sample(decl_id="D-1")
        elif decision is not None:
            body |= {"decision": decision, "reason": "r"}
        result = c.block([c.tx(org, type_, body)])[0]
        new = Status(status(c))
        if result["ok"]:
            assert new in allowed_targets(current), (current, new, org, type_)
        else:
            assert new == current
            assert all(v["code"] for v in result["violations"])
        current = new
        seen.append(current)
    assert set(seen) <= {t.target for t in TABLE.values()}


def test_state_root_depends_only_on_transactions() -> None:
    a, b = community(), community()
    assert a.engine.root == b.engine.root
    txs = [
        a.tx("shipper-acme", "declaration.submit", {"declaration": sample(decl_id="D-1")}),
        a.tx("shipper-beta", "declaration.submit", {"declaration": sample(decl_id="D-2")}),
    ]
    a.block(txs)
    b.block(copy.copy(txs))
    assert a.engine.root == b.engine.root
    c = community()
    c.block(list(reversed(txs)))
    assert c.engine.root != a.engine.root  # order is part of what the chain says


def test_duplicate_transaction_makes_the_block_invalid() -> None:
    c = community()
    tx = c.tx("shipper-acme", "declaration.submit", {"declaration": sample(decl_id="D-1")})
    c.block([tx])
    with pytest.raises(ChainError, match="already committed"):
        c.block([tx])


def test_a_new_dangerous_goods_list_governs_declarations_from_its_height() -> None:
    """``dgl.set``: declarations are checked against the new list once it is in force."""

    old = builtin_list()
    new = DangerousGoodsList(e for e in old if e.un_number != "1230")  # no methanol
    c = community()
    c.engine.lists[new.digest()] = new
    body = {"action": "dgl.set", "effective_height": 4, "params": {"dgl": new.digest()}}
    signers = ["customs", "port-authority", "forwarder-a"]
    assert c.block([c.tx(signers[0], "governance", body, extra=signers[1:])])[0]["ok"]
    assert submit(c, decl_id="D-1")["ok"]  # height 2: the old list, methanol known
    c.block([])  # height 3: at its end the new list comes into force
    assert c.engine.view().get("params")["dgl"] == new.digest()
    assert codes(submit(c, decl_id="D-2")) == {"un_number.unknown"}
    # An engine without the list in force cannot execute a declaration at all:
    # it stops with a named error instead of guessing.
    del c.engine.lists[new.digest()]
    with pytest.raises(ContractError) as info:
        submit(c, decl_id="D-3")
    assert info.value.code == "dgl.unavailable"


def test_an_engine_per_block_reads_the_genesis_organisations_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = community()
    reads = []
    original = AppGenesis.from_value

    def counted(value: Any) -> Any:
        reads.append(value)
        return original(value)

    monkeypatch.setattr(AppGenesis, "from_value", counted)
    engine_module._APPS.clear()
    engines = [
        engine_module.Engine(c.genesis, c.engine.overlay, c.engine.lists, c.engine.root)
        for _ in range(3)
    ]
    assert len(reads) == 1
    assert engines[0].app is engines[2].app
    assert [o.name for o in engines[1].app.orgs] == [o["name"] for o in c.genesis.app["orgs"]]
