"""evidence.submit: double signing committed on chain against the offending organisation."""

from __future__ import annotations

from typing import Any

from ledger.evidence import Evidence
from ledger.votes import Vote, VoteType
from tests.contracts.fixtures import CHAIN, Community, community, key_for

BLOCK_A = b"\x0a" * 32
BLOCK_B = b"\x0b" * 32


def double_vote(org: str, height: int = 1, chain: str = CHAIN) -> Evidence:
    """Two prevotes of ``org``'s validator key at one height and round, for two blocks."""
    key = key_for(f"{org}-node")
    a = Vote.sign(key, chain, VoteType.PREVOTE, height, 0, BLOCK_A)
    b = Vote.sign(key, chain, VoteType.PREVOTE, height, 0, BLOCK_B)
    return Evidence.of(a, b)


def submit(c: Community, reporter: str, evidence: Any) -> dict[str, Any]:
    (result,) = c.block([c.tx(reporter, "evidence.submit", {"evidence": evidence})])
    return result


def violation(result: dict[str, Any]) -> str:
    assert result["ok"] is False, result
    code: str = result["violations"][0]["code"]
    return code


def test_evidence_is_recorded_once_against_the_organisation() -> None:
    c = community()
    ev = double_vote("forwarder-b")
    result = submit(c, "customs", ev.to_value())
    assert result["ok"] is True, result
    view = c.engine.view()
    record = view.get(f"evidence/{ev.hash.hex()}")
    assert record["org"] == "forwarder-b"
    assert record["offender"] == key_for("forwarder-b-node").public.key_id
    assert record["reported_by"] == "customs"
    assert view.get("misbehaviour/forwarder-b") == 1

    again = submit(c, "port-authority", ev.to_value())
    assert violation(again) == "evidence.duplicate"
    assert c.engine.view().get("misbehaviour/forwarder-b") == 1


def test_forged_evidence_is_rejected() -> None:
    c = community()
    ev = double_vote("forwarder-a").to_value()
    ev["second"]["sig"] = bytes(64)
    assert violation(submit(c, "customs", ev)) == "evidence.invalid"


def test_evidence_from_another_chain_does_not_verify() -> None:
    c = community()
    ev = double_vote("forwarder-a", chain="dg-other")
    assert violation(submit(c, "customs", ev.to_value())) == "evidence.invalid"


def test_evidence_against_a_non_validator_is_rejected() -> None:
    c = community()
    ev = double_vote("shipper-acme")
    assert violation(submit(c, "customs", ev.to_value())) == "evidence.unknown_validator"


def test_evidence_of_the_future_is_rejected() -> None:
    c = community()
    ev = double_vote("forwarder-a", height=50)
    assert violation(submit(c, "customs", ev.to_value())) == "evidence.out_of_range"


def test_malformed_evidence_names_the_field() -> None:
    c = community()
    result = submit(c, "customs", {"kind": "duplicate_vote", "first": 1, "second": 2})
    assert violation(result) == "evidence.malformed"
    assert result["violations"][0]["path"] == "$.body.evidence"


def test_only_validator_organisations_report_evidence() -> None:
    c = community()
    ev = double_vote("forwarder-a")
    assert violation(submit(c, "shipper-acme", ev.to_value())) == "role.not_allowed"
    assert violation(submit(c, "auditor", ev.to_value())) == "role.not_allowed"
