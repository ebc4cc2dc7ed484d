"""Four validator processes on loopback under load: kills, a halt, a partition.

Each test runs its own network (:mod:`node.devnet.load`), drives it
through one fault while shippers submit declarations, lets it settle, stops
it, and then checks the stores: byte-identical chains on every node, every
transaction a node acknowledged as committed present on every node at the
height it was acknowledged at, and an audit replay of every store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from node.devnet.checks import ChainCheck, check_chains
from node.devnet.load import Cluster, Load
from tests.node.metrics_text import parse_metrics

PRUNING = "forwarder-b"
"""The validator that keeps the state of its last 2 blocks only ([store] prune_keep)."""


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A started four-validator network, stopped whatever the test does.

    One validator prunes its old states: the others must not be able to tell.
    """
    with Cluster(tmp_path / "net") as c:
        with (c.directory / PRUNING / "node.toml").open("a") as config:
            config.write("\n[store]\nprune_keep = 2\n")
        c.start()
        c.wait_ready()
        yield c


def node_work(cluster: Cluster, name: str) -> dict[str, float]:
    """What a node counts of its work per transaction, from its /metrics."""
    samples = parse_metrics(cluster.http.get(f"{cluster.url(name)}/metrics").text)
    return {
        kind: samples[(f"dgledger_{kind}_total", ())]
        for kind in (
            "committed_txs",
            "tx_signatures_verified",
            "documents_validated",
            "txs_applied",
        )
    }


def settle_and_check(cluster: Cluster, load: Load) -> ChainCheck:
    """Wait for one tip everywhere, stop the nodes, check their stores."""
    cluster.wait_converged()
    cluster.stop()
    result = check_chains(cluster, load.acked)
    assert result.acknowledged == load.count() > 0
    assert result.transactions >= result.acknowledged
    return result


@pytest.mark.slow
def test_steady_load_every_acknowledged_transaction_on_every_node(cluster: Cluster) -> None:
    """Three shippers for ten seconds: every acknowledged declaration is on all four nodes."""
    with Load(cluster) as load:
        load.run_for(10.0)
    outcomes = load.outcomes()
    # With every node up, every answer is a commit, and every rule passed.
    assert set(outcomes) == {"committed"}, outcomes
    assert all(c.outcomes["committed"] > 0 for c in load.clients)
    cluster.wait_converged()
    work = {name: node_work(cluster, name) for name in cluster.names}
    result = settle_and_check(cluster, load)
    assert result.transactions == result.acknowledged
    for name, counts in work.items():
        # Each node checked each transaction's signature once and its document once,
        # and applied each once: in the block (a round that did not commit would add
        # its own block's, and none is expected on a calm network).
        assert counts["committed_txs"] == result.transactions, (name, counts)
        assert counts["tx_signatures_verified"] == result.transactions, (name, counts)
        assert counts["documents_validated"] == result.transactions, (name, counts)
        assert result.transactions <= counts["txs_applied"] <= 1.1 * result.transactions, (
            name,
            counts,
        )
    for report in result.audits.values():
        assert report.tx_types == {"declaration.submit": result.transactions}
        assert report.rejections == {}


@pytest.mark.slow
def test_kill_nine_one_validator_mid_load_then_it_catches_up(cluster: Cluster) -> None:
    """``kill -9`` one validator under load: the others go on; restarted, it catches up.

    The victim is the one that prunes: killed mid-prune or mid-commit, it
    must restart, catch up, and keep pruning.
    """
    victim = PRUNING
    rest = cluster.others(victim)
    with Load(cluster) as load:
        load.wait_more(15)
        load.set_targets(rest)
        cluster.kill(victim)
        at_kill = max(cluster.heights(rest).values())
        load.wait_more(30)
        cluster.wait_height(rest, at_kill + 3)
        cluster.start(victim)
        cluster.wait_ready(victim)
        ahead = max(cluster.heights(rest).values())
        cluster.wait_height([victim], ahead, timeout=150)
        load.set_targets(cluster.names)
        load.wait_more(15, timeout=150)
        samples = parse_metrics(cluster.http.get(f"{cluster.url(victim)}/metrics").text)
        assert samples[("dgledger_state_records_pruned_total", ())] > 0
        assert samples[("dgledger_state_from_height", ())] >= ahead - 1
    settle_and_check(cluster, load)


@pytest.mark.slow
def test_kill_nine_two_validators_halts_without_fork_then_resumes(cluster: Cluster) -> None:
    """Two of four down: nothing commits (no quorum) and nothing forks; back up, it resumes."""
    down = ["forwarder-a", "forwarder-b"]
    up = cluster.others(*down)
    with Load(cluster) as load:
        load.wait_more(15)
        load.set_targets(up)
        cluster.kill(*down)
        at_kill = max(cluster.heights(up).values())
        probe = cluster.declaration_tx("forwarder-a")
        assert cluster.submit(up[0], probe, wait=False).status_code == 202
        samples = cluster.observe_heights(up, 4.0)
        seen = max(h for sample in samples for h in sample.values())
        # At most the block whose votes were already in flight can still be decided
        # (and reach the other survivor); after that, with 2 of 4, nothing.
        assert seen <= at_kill + 2, (at_kill, samples)
        late = samples[len(samples) // 2 :]
        assert all(s == samples[-1] for s in late), samples
        acked_during_halt = load.count()
        cluster.start(*down)
        cluster.wait_ready(*down)
        receipt = cluster.submit(up[0], probe, timeout=90.0)
        assert receipt.status_code == 200, receipt.text
        assert receipt.json()["status"] == "committed"
        # The probe was pending all through the window, so it was not committed in it.
        assert receipt.json()["height"] > seen
        load.set_targets(cluster.names)
        load.wait_more(15)
        assert load.count() > acked_during_halt
    result = settle_and_check(cluster, load)
    assert result.height > seen


@pytest.mark.slow
def test_partitioned_validator_catches_up_after_heal(cluster: Cluster) -> None:
    """One validator cut off both ways while the rest commit; healed, it catches up."""
    victim = "port-authority"
    rest = cluster.others(victim)
    with Load(cluster) as load:
        load.wait_more(15)
        load.set_targets(rest)
        cluster.partition(victim)
        cut = cluster.height(victim)
        # Three validators of four commit, but every round the victim would
        # propose times out first: on a loaded machine that is slow, not wrong.
        load.wait_more(30, timeout=150)
        cluster.wait_height(rest, cut + 3, timeout=150)
        # Cut off, it can at most finish the block it was deciding.
        assert cluster.height(victim) <= cut + 1
        with pytest.raises(httpx.ReadTimeout):
            # What it is sent while cut off stays with it: no quorum, no gossip.
            cluster.submit(victim, cluster.declaration_tx("forwarder-a"), timeout=1.0)
        cluster.heal()
        ahead = max(cluster.heights(rest).values())
        cluster.wait_height([victim], ahead, timeout=150)
        load.set_targets(cluster.names)
        load.wait_more(15, timeout=150)
    settle_and_check(cluster, load)
