"""Seeded fault scenarios for the consensus simulator.

``run_seed(seed)`` draws a whole scenario (validator count, fault kind,
network, Byzantine validators, crashes, transaction submissions) from
``random.Random(seed)`` and runs it with the same generator, so a failing
seed reproduces exactly with ``run_seed(seed, n=..., kind=...)``.
"""

from __future__ import annotations

import random
from typing import Final

from ledger.crypto import Verifier
from tests.node.sim import NetConfig, Scenario, Simulation
from tests.node.sim_app import TX_POOL_SIZE
from tests.node.sim_byzantine import BEHAVIOURS

KINDS: Final = (
    "clean",
    "lossy",
    "partition",
    "crash",
    "silent",
    "equivocator",
    "double_voter",
    "lock_attacker",
    "invalid_proposer",
    "mixed",
)
BYZANTINE_KINDS: Final = (
    "silent",
    "equivocator",
    "double_voter",
    "lock_attacker",
    "invalid_proposer",
)
MIXED_BEHAVIOURS: Final = (*BYZANTINE_KINDS, "spammer")


def _noisy(rng: random.Random, net: NetConfig, gst_max: int) -> None:
    """Loss, long delays and duplicates before a random GST."""
    net.gst = rng.randint(500, gst_max)
    net.loss = rng.uniform(0.05, 0.35)
    net.pre_gst_delay = rng.randint(50, 600)
    net.duplicate = rng.choice((0.0, 0.05, 0.2))


def _partition(rng: random.Random, n: int) -> tuple[frozenset[int], ...]:
    nodes = list(range(n))
    rng.shuffle(nodes)
    cut = rng.randint(1, n - 1)
    return (frozenset(nodes[:cut]), frozenset(nodes[cut:]))


def _crashes(
    rng: random.Random, candidates: list[int], count: int, gst: int
) -> list[tuple[int, int, int]]:
    out = []
    for i in rng.sample(candidates, count):
        down = rng.randint(0, max(0, gst - 200))
        out.append((i, down, min(gst, down + rng.randint(100, 2500))))
    return out


def make_scenario(
    seed: int, rng: random.Random, *, n: int | None = None, kind: str | None = None
) -> Scenario:
    """Draw a scenario from ``rng``; ``n`` and ``kind`` may be fixed by the caller."""
    n = n if n is not None else rng.choice((4, 7))
    kind = kind if kind is not None else rng.choice(KINDS)
    f = (n - 1) // 3
    net = NetConfig(delta=rng.randint(5, 40), duplicate=rng.choice((0.0, 0.0, 0.1)))
    byzantine: dict[int, str] = {}
    crashes: list[tuple[int, int, int]] = []
    if kind == "lossy":
        _noisy(rng, net, 5000)
    elif kind == "partition":
        _noisy(rng, net, 5000)
        net.loss /= 3
        net.partition = _partition(rng, n)
    elif kind == "crash":
        _noisy(rng, net, 4000)
        net.loss /= 3
        crashes = _crashes(rng, list(range(n)), rng.randint(1, f + 1), net.gst)
    elif kind in BYZANTINE_KINDS:
        if rng.random() < 0.5:
            _noisy(rng, net, 3000)
        for i in rng.sample(range(n), rng.randint(1, f)):
            byzantine[i] = kind
    elif kind == "mixed":
        _noisy(rng, net, 4000)
        if rng.random() < 0.5:
            net.partition = _partition(rng, n)
        for i in rng.sample(range(n), f):
            byzantine[i] = rng.choice(MIXED_BEHAVIOURS)
        correct = [i for i in range(n) if i not in byzantine]
        crashes = _crashes(rng, correct, 1, net.gst)
    elif kind != "clean":
        raise ValueError(f"unknown scenario kind {kind!r}")
    correct = [i for i in range(n) if i not in byzantine]
    submissions = sorted(
        (rng.randint(0, net.gst + 1500), rng.choice(correct), tx)
        for tx in rng.sample(range(TX_POOL_SIZE), rng.randint(1, 6))
    )
    return Scenario(seed, n, kind, net, byzantine, crashes, submissions)


def run_seed(
    seed: int, verifier: Verifier, *, n: int | None = None, kind: str | None = None
) -> Simulation:
    """Build and run the scenario of ``seed``; return the finished simulation."""
    rng = random.Random(seed)
    scenario = make_scenario(seed, rng, n=n, kind=kind)
    sim = Simulation(scenario, rng, verifier, BEHAVIOURS)
    sim.run()
    return sim
