"""The corridor: the ports a network serves, the port authority of each, and the lead time.

Issue 22, build item 4. Genesis lists the ports (UN/LOCODE, UNECE
Recommendation 16, with their names) and the port authority organisation of
each: HAROPA is one port authority for Le Havre (FRLEH), Rouen (FRURO) and
Paris (FRPAR). A port authority decides only on calls at its ports: accepts,
refuses and records the loading of goods at the port of loading (or, for
goods loaded outside the network, at the port of discharge, where they enter
it), records their discharge at the port of discharge. A declaration whose
ports are both outside the network has no port authority on it. A network
parameter, ``lead_time_hours``, sets how long before the estimated departure a
declaration must be submitted or amended, against the block's time (the only
clock contracts have).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import formats as f
from contracts.checks import check_departure_at
from contracts.dgl_builtin import builtin_list
from contracts.document import parse_declaration
from contracts.engine import Engine
from contracts.errors import ContractError, TransactionRejected
from contracts.handler import Context
from contracts.lifecycle import Role
from contracts.membership import MAX_LEAD_TIME_HOURS, AppGenesis, Organisation, Port
from ledger.genesis import Genesis
from ledger.kv import MemoryKV, Overlay
from ledger.validators import Validator, ValidatorSet
from tests.contracts.fixtures import CHAIN, Community, key_for
from tests.samples import ORGS, VALIDATOR_ORGS, sample

HAROPA = (
    Port("FRLEH", "Le Havre", "port-authority"),
    Port("FRURO", "Rouen", "port-authority"),
    Port("FRPAR", "Paris", "port-authority"),
)
"""One port authority, three ports on the Seine."""
ANTWERP = Port("BEANR", "Antwerp", "port-antwerp")
SIGNERS = ["customs", "port-authority", "forwarder-a"]
HOUR = 3_600_000


def corridor(ports: tuple[Port, ...] = (*HAROPA, ANTWERP), lead_time_hours: int = 0) -> Community:
    """The test community with a second port authority, ``port-antwerp``, and ``ports``."""
    roles = {**ORGS, "port-antwerp": Role.PORT_AUTHORITY}
    orgs = tuple(Organisation(name, role, (key_for(name).public,)) for name, role in roles.items())
    validators = ValidatorSet.create(
        [Validator(key_for(f"{o}-node").public, 10, o) for o in VALIDATOR_ORGS]
    )
    dgl = builtin_list()
    app = AppGenesis(orgs, dgl.digest(), 2, ports, lead_time_hours)
    genesis = Genesis.create(CHAIN, 1_790_000_000_000, validators, app.to_value())
    overlay = Overlay(MemoryKV())
    engine = Engine(genesis, overlay, {dgl.digest(): dgl})
    overlay.flush()
    return Community(genesis, engine, overlay)


def voyage(loading: str, discharge: str, decl_id: str = "D-1") -> dict[str, Any]:
    doc = sample(decl_id=decl_id)
    doc["transport"]["portOfLoading"] = loading
    doc["transport"]["portOfDischarge"] = discharge
    return doc


def submit(c: Community, doc: dict[str, Any], org: str = "shipper-acme") -> dict[str, Any]:
    return c.block([c.tx(org, "declaration.submit", {"declaration": doc})])[0]


def decide(c: Community, org: str, decision: str, decl_id: str = "D-1") -> dict[str, Any]:
    reason = "no berth" if decision == "refused" else ""
    body = {"id": decl_id, "owner": "shipper-acme", "decision": decision, "reason": reason}
    return c.block([c.tx(org, "declaration.decide", body)])[0]


def refused(result: dict[str, Any]) -> dict[str, Any]:
    assert result["ok"] is False, result
    [violation] = result["violations"]
    return dict(violation)


def propose(c: Community, action: str, params: dict[str, Any], after: int = 3) -> int:
    """A governance action signed by enough validators; the height it takes effect at."""
    effective = c.height + 1 + after
    body = {"action": action, "effective_height": effective, "params": params}
    result = c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]
    assert result["ok"] is True, result
    return effective


def propose_refused(c: Community, action: str, params: dict[str, Any]) -> dict[str, Any]:
    body = {"action": action, "effective_height": c.height + 5, "params": params}
    return refused(c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0])


def reach(c: Community, height: int) -> None:
    while c.height < height - 1:
        c.block([])


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- genesis --------------------------------------------------------------------------------


def _app(**extra: Any) -> dict[str, Any]:
    orgs = [
        {"name": "port-authority", "role": "port_authority", "keys": []},
        {"name": "customs", "role": "customs", "keys": []},
    ]
    return {
        "orgs": orgs,
        "dgl": builtin_list().digest(),
        "params": {"governance_delay": 2},
        **extra,
    }


def _port(locode: str = "FRLEH", name: str = "Le Havre", authority: str = "port-authority") -> Any:
    return {"locode": locode, "name": name, "authority": authority}


def test_a_genesis_without_ports_reads_and_hashes_as_before() -> None:
    # Genesis files written before the corridor keep their hash: no field is added.
    old = _app()
    app = AppGenesis.from_value(old)
    assert (app.ports, app.lead_time_hours) == ((), 0)
    assert app.to_value() == old
    validators = ValidatorSet.create([Validator(key_for("n").public, 10, "customs")])
    before = Genesis.create(CHAIN, 1, validators, old)
    after = Genesis.create(CHAIN, 1, validators, app.to_value())
    assert before.hash == after.hash


def test_ports_and_the_lead_time_round_trip_through_genesis() -> None:
    value = _app(ports=[_port(), _port("FRURO", "Rouen")])
    value["params"]["lead_time_hours"] = 24
    app = AppGenesis.from_value(value)
    assert app.ports == (HAROPA[0], HAROPA[1])
    assert app.lead_time_hours == 24
    assert app.to_value() == value


def test_genesis_puts_the_ports_and_the_lead_time_in_the_state() -> None:
    c = corridor(lead_time_hours=12)
    view = c.engine.view()
    assert view.get("ports") == {
        "BEANR": {"name": "Antwerp", "authority": "port-antwerp"},
        "FRLEH": {"name": "Le Havre", "authority": "port-authority"},
        "FRPAR": {"name": "Paris", "authority": "port-authority"},
        "FRURO": {"name": "Rouen", "authority": "port-authority"},
    }
    assert view.get("params")["lead_time_hours"] == 12


def test_a_network_without_ports_keeps_its_state_as_before() -> None:
    # The same genesis state, so the same roots, as a chain made before the corridor.
    view = corridor(ports=()).engine.view()
    assert view.get("ports") is None
    assert set(view.get("params")) == {"dgl", "governance_delay"}


@pytest.mark.parametrize(
    ("ports", "path", "words"),
    [
        ([], "$.app.ports", "absent rather than empty"),
        ([_port("ZZZZZ")], "$.app.ports[0].locode", "UN/LOCODE"),
        ([_port("frleh")], "$.app.ports[0].locode", "UN/LOCODE"),
        ([_port(name="")], "$.app.ports[0].name", "printable"),
        ([_port(authority="nobody")], "$.app.ports[0].authority", "no organisation"),
        ([_port(authority="customs")], "$.app.ports[0].authority", "not a port authority"),
        ([_port(), _port(name="Havre")], "$.app.ports[1].locode", "twice"),
        ([{**_port(), "country": "FR"}], "$.app.ports[0]", "locode, name, authority"),
        ("FRLEH", "$.app.ports", "a list"),
    ],
)
def test_genesis_refuses_ports_it_cannot_use(ports: Any, path: str, words: str) -> None:
    with pytest.raises(ContractError) as info:
        AppGenesis.from_value(_app(ports=ports))
    assert (info.value.code, info.value.path) == ("genesis.invalid", path)
    assert words in info.value.message


@pytest.mark.parametrize("hours", [0, -1, MAX_LEAD_TIME_HOURS + 1, "24", True])
def test_genesis_refuses_a_lead_time_it_cannot_use(hours: Any) -> None:
    # 0 is the default: absent rather than 0, so one network has one genesis value.
    value = _app()
    value["params"]["lead_time_hours"] = hours
    with pytest.raises(ContractError) as info:
        AppGenesis.from_value(value)
    assert info.value.path == "$.app.params.lead_time_hours"


# --- who decides on a call ---------------------------------------------------------------------


def test_the_port_authority_of_the_port_of_loading_decides() -> None:
    c = corridor()
    assert submit(c, voyage("FRURO", "USNYC"))["ok"]
    violation = refused(decide(c, "port-antwerp", "accepted"))
    assert (violation["code"], violation["path"]) == ("port.not_authority", "$.body.decision")
    # The port by code and name, and whose port it is.
    assert "FRURO (Rouen)" in violation["message"]
    assert "port-authority" in violation["message"]
    assert decide(c, "port-authority", "accepted")["ok"]
    assert decide(c, "customs", "cleared")["ok"]
    assert refused(decide(c, "port-antwerp", "loaded"))["code"] == "port.not_authority"
    assert decide(c, "port-authority", "loaded")["ok"]


def test_a_refusal_is_the_port_of_loading_authority_s_too() -> None:
    c = corridor()
    assert submit(c, voyage("BEANR", "FRLEH"))["ok"]
    violation = refused(decide(c, "port-authority", "refused"))
    assert violation["code"] == "port.not_authority"
    assert "BEANR (Antwerp)" in violation["message"]
    assert decide(c, "port-antwerp", "refused")["ok"]


def test_discharge_is_decided_by_the_port_of_discharge_authority() -> None:
    c = corridor()
    assert submit(c, voyage("FRLEH", "BEANR"))["ok"]
    for org, decision in [
        ("port-authority", "accepted"),
        ("customs", "cleared"),
        ("port-authority", "loaded"),
    ]:
        assert decide(c, org, decision)["ok"]
    violation = refused(decide(c, "port-authority", "discharged"))
    assert violation["code"] == "port.not_authority"
    assert "BEANR (Antwerp)" in violation["message"] and "port-antwerp" in violation["message"]
    assert decide(c, "port-antwerp", "discharged")["ok"]


def test_goods_loaded_outside_the_network_are_decided_where_they_enter_it() -> None:
    # Loaded at Singapore, discharged at Le Havre: HAROPA is the only authority on the call.
    c = corridor()
    assert submit(c, voyage("SGSIN", "FRLEH"))["ok"]
    violation = refused(decide(c, "port-antwerp", "accepted"))
    assert violation["code"] == "port.not_authority"
    assert "FRLEH (Le Havre)" in violation["message"]
    for org, decision in [
        ("port-authority", "accepted"),
        ("customs", "cleared"),
        ("port-authority", "loaded"),
        ("port-authority", "discharged"),
    ]:
        assert decide(c, org, decision)["ok"], decision


def test_no_port_authority_decides_on_a_call_outside_the_network() -> None:
    c = corridor()
    assert submit(c, voyage("SGSIN", "USNYC"))["ok"]
    for org in ("port-authority", "port-antwerp"):
        violation = refused(decide(c, org, "accepted"))
        assert (violation["code"], violation["path"]) == ("port.not_served", "$.body.decision")
        assert "SGSIN" in violation["message"] and "USNYC" in violation["message"]
        assert "no port authority" in violation["message"]


def test_customs_decides_whatever_the_ports() -> None:
    c = corridor()
    assert submit(c, voyage("SGSIN", "FRLEH"))["ok"]
    assert decide(c, "port-authority", "accepted")["ok"]
    body = {"id": "D-1", "owner": "shipper-acme", "decision": "held", "reason": "scan"}
    assert c.block([c.tx("customs", "declaration.decide", body)])[0]["ok"]


def test_without_ports_in_genesis_any_port_authority_decides() -> None:
    c = corridor(ports=())
    assert submit(c, voyage("SGSIN", "USNYC"))["ok"]
    assert decide(c, "port-antwerp", "accepted")["ok"]


def test_the_port_of_an_amended_declaration_is_the_current_one() -> None:
    c = corridor()
    assert submit(c, voyage("FRLEH", "USNYC"))["ok"]
    body = {"id": "D-1", "declaration": voyage("BEANR", "USNYC"), "reason": "rerouted"}
    assert c.block([c.tx("shipper-acme", "declaration.amend", body)])[0]["ok"]
    assert refused(decide(c, "port-authority", "accepted"))["code"] == "port.not_authority"
    assert decide(c, "port-antwerp", "accepted")["ok"]


# --- governance of the corridor ---------------------------------------------------------------


def test_a_port_changes_authority_at_the_action_s_height() -> None:
    c = corridor()
    assert submit(c, voyage("FRURO", "USNYC"))["ok"]
    effective = propose(c, "port.authority", {"locode": "FRURO", "authority": "port-antwerp"})
    assert c.engine.view().get("ports")["FRURO"]["authority"] == "port-authority"
    reach(c, effective)
    assert c.engine.view().get("ports")["FRURO"] == {"name": "Rouen", "authority": "port-antwerp"}
    assert refused(decide(c, "port-authority", "accepted"))["code"] == "port.not_authority"
    assert decide(c, "port-antwerp", "accepted")["ok"]


def test_a_port_is_added_and_removed_by_governance() -> None:
    c = corridor(ports=HAROPA)
    assert submit(c, voyage("BEANR", "USNYC"))["ok"]
    assert refused(decide(c, "port-antwerp", "accepted"))["code"] == "port.not_served"
    effective = propose(
        c, "port.add", {"locode": "BEANR", "name": "Antwerp", "authority": "port-antwerp"}
    )
    reach(c, effective)
    assert decide(c, "port-antwerp", "accepted")["ok"]
    assert submit(c, voyage("FRPAR", "USNYC", "D-2"))["ok"]
    effective = propose(c, "port.remove", {"locode": "FRPAR"})
    reach(c, effective)
    assert "FRPAR" not in c.engine.view().get("ports")
    violation = refused(decide(c, "port-authority", "accepted", "D-2"))
    assert violation["code"] == "port.not_served"


def test_a_network_without_ports_starts_listing_them_by_governance() -> None:
    c = corridor(ports=())
    effective = propose(
        c, "port.add", {"locode": "FRLEH", "name": "Le Havre", "authority": "port-authority"}
    )
    reach(c, effective)
    assert c.engine.view().get("ports") == {
        "FRLEH": {"name": "Le Havre", "authority": "port-authority"}
    }
    assert submit(c, voyage("BEANR", "USNYC"))["ok"]
    assert refused(decide(c, "port-antwerp", "accepted"))["code"] == "port.not_served"


@pytest.mark.parametrize(
    ("action", "params", "code", "path"),
    [
        ("port.add", {"locode": "FRLEH", "name": "Le Havre", "authority": "port-authority"},
         "governance.port_exists", "$.body.params.locode"),
        ("port.add", {"locode": "ZZZZZ", "name": "Nowhere", "authority": "port-authority"},
         "governance.invalid_params", "$.body.params.locode"),
        ("port.add", {"locode": "NLRTM", "name": "Rotterdam", "authority": "customs"},
         "governance.invalid_params", "$.body.params.authority"),
        ("port.add", {"locode": "NLRTM", "name": "Rotterdam", "authority": "nobody"},
         "governance.unknown_org", "$.body.params.authority"),
        ("port.add", {"locode": "NLRTM", "name": "", "authority": "port-authority"},
         "governance.invalid_params", "$.body.params.name"),
        ("port.authority", {"locode": "NLRTM", "authority": "port-authority"},
         "governance.unknown_port", "$.body.params.locode"),
        ("port.authority", {"locode": "FRLEH", "authority": "shipper-acme"},
         "governance.invalid_params", "$.body.params.authority"),
        ("port.remove", {"locode": "NLRTM"}, "governance.unknown_port", "$.body.params.locode"),
        ("port.remove", {"locode": "FRLEH", "name": "x"}, "governance.invalid_params",
         "$.body.params"),
        ("params.set", {"lead_time_hours": -1}, "governance.invalid_params",
         "$.body.params.lead_time_hours"),
        ("params.set", {"lead_time_hours": MAX_LEAD_TIME_HOURS + 1}, "governance.invalid_params",
         "$.body.params.lead_time_hours"),
        ("params.set", {}, "governance.invalid_params", "$.body.params"),
        ("params.set", {"governance_delay": 5}, "governance.invalid_params", "$.body.params"),
    ],
)  # fmt: skip
def test_governance_refuses_corridor_changes_it_cannot_make(
    action: str, params: dict[str, Any], code: str, path: str
) -> None:
    violation = propose_refused(corridor(), action, params)
    assert (violation["code"], violation["path"]) == (code, path)


def test_the_last_port_is_not_removed() -> None:
    # Removing every port would lift the rule: any port authority would decide anywhere.
    c = corridor(ports=HAROPA[:1])
    violation = propose_refused(c, "port.remove", {"locode": "FRLEH"})
    assert violation["code"] == "governance.last_port"
    c = corridor(ports=HAROPA[:2])
    first = propose(c, "port.remove", {"locode": "FRLEH"})
    second = propose(c, "port.remove", {"locode": "FRURO"})
    reach(c, max(first, second) + 1)
    # Two removals pending at once: the second to take effect would leave none; it does nothing.
    assert list(c.engine.view().get("ports")) == ["FRURO"]


# --- the lead time ----------------------------------------------------------------------------


def departing(c: Community, after_ms: int, decl_id: str = "D-1") -> dict[str, Any]:
    """The sample, departing ``after_ms`` after the time of the next block."""
    doc = sample(decl_id=decl_id)
    doc["transport"]["estimatedDeparture"] = iso(c.time + 5_000 + after_ms)
    for cert in (doc["shipperCertification"], doc["containers"][0]["packingCertificate"]):
        cert["date"] = iso(c.time - 86_400_000)[:10]
    return doc


def test_a_departure_sooner_than_the_lead_time_is_refused() -> None:
    c = corridor(lead_time_hours=24)
    violation = refused(submit(c, departing(c, 23 * HOUR)))
    assert (violation["code"], violation["path"]) == (
        "date.too_late",
        "$.body.declaration.transport.estimatedDeparture",
    )
    assert "24 hours" in violation["message"] and "lead_time_hours" in violation["message"]
    assert submit(c, departing(c, 24 * HOUR))["ok"]


def test_a_departure_already_past_is_refused_at_submission_and_amendment() -> None:
    c = corridor()
    violation = refused(submit(c, departing(c, -1_000)))
    assert (violation["code"], violation["path"]) == (
        "date.departure_past",
        "$.body.declaration.transport.estimatedDeparture",
    )
    assert iso(c.time)[:10] in violation["message"]  # the block's time, said
    assert submit(c, departing(c, 0))["ok"]  # departing at the block's time is not past
    body = {"id": "D-1", "declaration": departing(c, -60_000), "reason": "delayed"}
    violation = refused(c.block([c.tx("shipper-acme", "declaration.amend", body)])[0])
    assert violation["code"] == "date.departure_past"


def test_an_amendment_within_the_lead_time_is_refused() -> None:
    c = corridor(lead_time_hours=6)
    assert submit(c, departing(c, 7 * HOUR))["ok"]
    body = {"id": "D-1", "declaration": departing(c, 5 * HOUR), "reason": "earlier sailing"}
    assert refused(c.block([c.tx("shipper-acme", "declaration.amend", body)])[0])["code"] == (
        "date.too_late"
    )


def test_the_lead_time_changes_by_governance() -> None:
    c = corridor()
    effective = propose(c, "params.set", {"lead_time_hours": 48})
    assert submit(c, departing(c, 30 * HOUR))["ok"]
    reach(c, effective)
    assert c.engine.view().get("params")["lead_time_hours"] == 48
    assert refused(submit(c, departing(c, 30 * HOUR, "D-2")))["code"] == "date.too_late"
    assert submit(c, departing(c, 49 * HOUR, "D-3"))["ok"]
    effective = propose(c, "params.set", {"lead_time_hours": 0})
    reach(c, effective)
    assert submit(c, departing(c, HOUR, "D-4"))["ok"]


def test_decisions_are_not_held_to_the_lead_time() -> None:
    # The lead time is for filing; the port authority and customs decide up to departure.
    c = corridor()
    assert submit(c, departing(c, 2 * HOUR))["ok"]
    propose(c, "params.set", {"lead_time_hours": 24}, after=2)
    reach(c, c.height + 4)
    assert decide(c, "port-authority", "accepted")["ok"]


@given(
    block=st.integers(10 * 86_400_000, 4_000_000_000_000),
    ahead=st.integers(-10 * 86_400_000, 10 * 86_400_000),
    hours=st.integers(0, 240),
)
def test_check_departure_at_is_departure_at_least_the_lead_time_after_the_block(
    block: int, ahead: int, hours: int
) -> None:
    # A date-time departure: taken iff departure >= block time + lead time, to the second.
    departure = (block + ahead) // 1000 * 1000
    doc = sample()
    doc["transport"]["estimatedDeparture"] = iso(departure)
    decl = parse_declaration(doc)
    violations = check_departure_at(decl, block, hours)
    found = [v.code for v in violations]
    if departure >= block + hours * HOUR:
        assert found == []
    elif departure >= block:
        assert found == ["date.too_late"]
    else:
        assert found == ["date.departure_past"]
    # The message names the block's time as the standard library writes it.
    assert all(iso(block) in v.message for v in violations)


def test_a_departure_given_as_a_date_counts_the_whole_day_everywhere() -> None:
    # A date alone is the whole day, wherever it is said (DATE_ONLY_GRACE_MS).
    doc = sample()
    doc["transport"]["estimatedDeparture"] = "2026-10-01"
    decl = parse_declaration(doc)
    midnight = f.epoch_millis("2026-10-01")
    assert check_departure_at(decl, midnight + 38 * HOUR) == []
    assert [v.code for v in check_departure_at(decl, midnight + 38 * HOUR + 1)] == [
        "date.departure_past"
    ]
    assert [v.code for v in check_departure_at(decl, midnight + 20 * HOUR, 24)] == ["date.too_late"]


def admit(c: Community, type_: str, body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Admission's verdict, as a node's mempool asks it: at the latest block's time plus 1 ms."""
    try:
        c.engine.precheck(
            c.engine.view(), c.tx("shipper-acme", type_, body), Context(c.height + 1, c.time + 1)
        )
    except TransactionRejected as e:
        return [(v.code, v.path, v.message) for v in e.violations]
    return []


def test_admission_refuses_what_no_later_block_could_take() -> None:
    c = corridor(lead_time_hours=24)
    # Too soon even at the earliest time the next block can have: refused before any block.
    soon = departing(c, 23 * HOUR - 5_000)
    [(code, path, message)] = admit(c, "declaration.submit", {"declaration": soon})
    assert (code, path) == ("date.too_late", "$.body.declaration.transport.estimatedDeparture")
    assert "the earliest time a block could record it" in message
    past = departing(c, -10_000)
    assert admit(c, "declaration.submit", {"declaration": past})[0][0] == "date.departure_past"
    # In time at the earliest block time: admitted; the block's own time decides.
    edge = departing(c, 24 * HOUR - 4_000)  # 1 s after the earliest time plus 24 hours
    assert admit(c, "declaration.submit", {"declaration": edge}) == []
    assert refused(submit(c, edge))["code"] == "date.too_late"  # the block came 5 s later


def test_admission_refuses_an_amendment_too_soon() -> None:
    c = corridor(lead_time_hours=6)
    assert submit(c, departing(c, 7 * HOUR))["ok"]
    body = {"id": "D-1", "declaration": departing(c, 5 * HOUR), "reason": "earlier sailing"}
    assert [code for code, _, _ in admit(c, "declaration.amend", body)] == ["date.too_late"]
