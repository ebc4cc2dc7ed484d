"""An observer node (the auditor's) follows the chain on loopback without voting."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.keyfile import load_signing_key
from node.client.client import Client
from node.devnet.localnet import LocalNetwork
from tests.samples import sample

pytestmark = pytest.mark.slow


def test_observer_follows_serves_and_forwards_without_voting(tmp_path: Path) -> None:
    with LocalNetwork(tmp_path, observers=("auditor",)) as net:
        net.start()
        assert set(net.nodes) == {
            "customs",
            "port-authority",
            "forwarder-a",
            "forwarder-b",
            "auditor",
        }
        shipper = load_signing_key(net.key_path("shipper-acme"))
        with Client.connect(net.url("customs"), shipper, ca=net.ca) as client:
            for i in range(3):
                outcome = client.declare(sample(decl_id=f"OBS-{i}"))
                assert outcome["status"] == "committed", outcome
        tip = net.status("customs")
        assert tip is not None
        net.wait_height(["auditor"], tip["height"], timeout=30)
        observed = net.status("auditor")
        assert observed is not None
        assert observed["validator"] is False
        assert observed["height"] >= tip["height"]
        # Same chain: the observer's block at the validators' tip is theirs.
        auditor = load_signing_key(net.key_path("auditor"))
        with Client.connect(net.url("auditor"), auditor, ca=net.ca) as reader:
            assert reader.block(tip["height"])["header"]["hash"] == tip["tip"]
            assert reader.declaration("OBS-2")["record"]["status"] == "submitted"
        # A transaction sent to the observer reaches the validators and commits.
        with Client.connect(net.url("auditor"), shipper, ca=net.ca) as client:
            outcome = client.declare(sample(decl_id="OBS-VIA-OBSERVER"))
            assert outcome["status"] == "committed", outcome
        # The observer holds no vote: killing it does not stop the chain.
        net.kill("auditor")
        with Client.connect(net.url("port-authority"), shipper, ca=net.ca) as client:
            assert client.declare(sample(decl_id="OBS-AFTER"))["status"] == "committed"
        validators = [n for n in net.nodes if n != "auditor"]
        net.wait_converged(*validators, timeout=30)
