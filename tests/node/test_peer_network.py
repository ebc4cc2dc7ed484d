"""Node processes on loopback over their TLS peer connections: catching up, being cut off.

Four validators, three started first: they commit without the fourth. When
it starts it learns their height from their statuses and fetches what it
missed with ``get_blocks`` on its own connections (its block sync counter
says so, not only its height). Then fault injection cuts it off both ways:
the others commit on and it does not move; healed, it catches up again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.keyfile import load_signing_key
from node.client.client import Client
from node.devnet.localnet import LocalNetwork, wait_for
from tests.node.metrics_text import parse_metrics
from tests.samples import sample

pytestmark = pytest.mark.slow


def metric(net: LocalNetwork, name: str, metric_name: str) -> float:
    samples = parse_metrics(net.http.get(f"{net.url(name)}/metrics").text)
    return samples.get((metric_name, ()), 0.0)


def test_a_late_validator_catches_up_over_its_connections_and_faults_cut_it_off(
    tmp_path: Path,
) -> None:
    late = "forwarder-b"
    with LocalNetwork(tmp_path) as net:
        rest = net.others(late)
        net.start(*rest)
        shipper = load_signing_key(net.key_path("shipper-acme"))
        with Client.connect(net.url("customs"), shipper, ca=net.ca) as client:
            for i in range(4):
                assert client.declare(sample(decl_id=f"LATE-{i}"))["status"] == "committed"
        ahead = net.height("customs")
        net.start(late)
        net.wait_height([late], ahead, timeout=60)
        assert metric(net, late, "dgledger_blocks_synced_total") >= ahead
        wait_for(
            lambda: all(
                (s := net.status(n)) is not None and s["peers"]["connected"] == 3 for n in net.names
            ),
            30,
            "every validator connected to the three others",
        )
        net.wait_converged(timeout=60)

        net.partition(late)
        cut = net.height(late)
        with Client.connect(net.url("port-authority"), shipper, ca=net.ca) as client:
            for i in range(2):
                assert client.declare(sample(decl_id=f"CUT-{i}"))["status"] == "committed"
        assert net.height(late) <= cut + 1  # at most the block it was deciding
        net.heal()
        net.wait_height([late], net.height("customs"), timeout=60)
        net.wait_converged(timeout=60)
