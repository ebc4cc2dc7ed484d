"""Seeded multi-node runs of the real consensus machine under faults, with invariant checks.

Each seed draws one scenario (see ``sim_scenarios.py``); seeds alternate
between 4 and 7 validators and cycle through the fault kinds, so every run
of this file covers each kind about 55 times. A failing seed prints the
scenario and the last events of every node; rerun it alone with
``run_seed(seed, Verifier(), n=..., kind=...)``.
"""

from __future__ import annotations

import random
from typing import Final

import pytest

from ledger.crypto import Verifier
from ledger.evidence import EvidenceKind
from tests.node.sim import NetConfig, Scenario, Simulation
from tests.node.sim_byzantine import BEHAVIOURS
from tests.node.sim_scenarios import KINDS, run_seed

SEEDS: Final = 500
VERIFIER: Final = Verifier(workers=1)


def case(seed: int) -> tuple[int, str]:
    """Validator count and fault kind of ``seed``."""
    return (4 if seed % 2 == 0 else 7), KINDS[(seed // 2) % len(KINDS)]


@pytest.mark.parametrize("seed", range(SEEDS))
def test_invariants_hold(seed: int) -> None:
    n, kind = case(seed)
    sim = run_seed(seed, VERIFIER, n=n, kind=kind)
    problems = sim.violations()
    assert not problems, sim.report(problems)
    assert min(nd.chain.height for nd in sim.nodes if nd.correct) >= 1


def test_runs_are_deterministic() -> None:
    def fingerprint(seed: int) -> tuple[object, ...]:
        n, kind = case(seed)
        sim = run_seed(seed, Verifier(workers=1), n=n, kind=kind)
        return (
            sim.now,
            sim.delivered,
            tuple(tuple(nd.chain.hashes) for nd in sim.nodes),
            tuple(tuple(e.hash for e in nd.evidence) for nd in sim.nodes),
        )

    for seed in (12, 17):  # a double voter; a mixed run with crashes
        assert fingerprint(seed) == fingerprint(seed)


def _run(scenario: Scenario) -> Simulation:

    sim = Simulation(scenario, random.Random(scenario.seed), VERIFIER, BEHAVIOURS)
    sim.run()
    return sim


def test_checker_reports_disagreement_and_bad_certificates() -> None:
    sim = _run(Scenario(1, 4, "clean", NetConfig(), submissions=[(0, 0, 0)]))
    assert sim.violations() == []
    sim.nodes[1].chain.hashes[0] = bytes(32)
    problems = sim.violations()
    assert any(p.startswith("agreement") for p in problems)
    assert any(p.startswith("certificate of node 1") for p in problems)
    assert "--- node 1 [honest]" in sim.report(problems)


def test_checker_reports_a_stall_beyond_f_faults() -> None:
    scenario = Scenario(
        2,
        4,
        "too_many_silent",
        NetConfig(),
        byzantine={0: "silent", 1: "silent"},
        submissions=[(0, 2, 0)],
        liveness_bound=3000,
    )
    sim = _run(scenario)
    problems = sim.violations()
    assert problems and all(p.startswith("liveness") for p in problems)
    assert all(nd.chain.height == 0 for nd in sim.nodes)


@pytest.mark.parametrize(
    ("kind", "evidence"),
    [
        ("double_voter", EvidenceKind.DUPLICATE_VOTE),
        ("equivocator", EvidenceKind.CONFLICTING_PROPOSAL),
    ],
)
def test_double_signers_are_caught(kind: str, evidence: EvidenceKind) -> None:
    found = 0
    for seed in range(1000, 1010):
        sim = run_seed(seed, VERIFIER, n=4 + 3 * (seed % 2), kind=kind)
        assert sim.violations() == []
        found += sum(1 for nd in sim.nodes if nd.correct for e in nd.evidence if e.kind is evidence)
    assert found > 0


def test_spam_stays_within_the_bounds() -> None:
    scenario = Scenario(
        3, 4, "spam", NetConfig(delta=10), byzantine={0: "spammer"}, submissions=[(5000, 1, 0)]
    )
    scenario.liveness_bound = 10_000
    sim = _run(scenario)
    assert sim.violations() == []
    for nd in sim.nodes:
        m = nd.machine
        if not nd.correct or m is None:
            continue
        assert m.rejected.get("round_too_far", 0) > 0
        assert m.rejected.get("future_height", 0) + m.rejected.get("buffer_full", 0) > 0
        hs, buffer = m._hs, m._buffer
        assert hs is not None and buffer is not None
        assert max(hs.rounds) <= m.round + m.limits.rounds_ahead
        assert len(buffer._messages) <= m.limits.next_height_total
        assert max(buffer._per_sender.values(), default=0) <= m.limits.next_height_per_sender
