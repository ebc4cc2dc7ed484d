"""The scale pipeline at 20,000 declarations: make, audit, serve, catch up.

``scripts/make_chain.py`` writes a chain into three validators' data
directories; ``dgledger audit`` must pass with the counts the generator's
plan implies; real node processes open the chain and serve it at its
height; the fourth validator, started empty, must catch up to a chain
identical byte for byte, and then take part in consensus. Correctness
only: the speed is ``scripts/bench_scale.py``'s business.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from contracts.dgl_builtin import builtin_list
from ledger.chainstore import ChainStore
from ledger.keyfile import load_signing_key
from ledger.kv import LevelDBKV
from node.client.client import Client
from node.devnet.localnet import LocalNetwork
from node.devnet.traffic import TrafficGenerator
from node.genesis_file import load_genesis
from tests.node.metrics_text import scrape

ROOT = Path(__file__).resolve().parents[2]
DECLARATIONS = 20_000
PER_BLOCK = 1000
GOVERNANCE_EVERY = 4  # blocks: adds a shipper organisation or reweighs the validators
MAKERS = ("customs", "port-authority", "forwarder-a")
FRESH = "forwarder-b"

pytestmark = pytest.mark.slow


def _run(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, *args], check=True, capture_output=True, text=True, cwd=ROOT, timeout=600
    )
    return out.stdout


def _records(path: Path, genesis: Path, top: int) -> list[tuple[bytes, bytes | None]]:
    kv = LevelDBKV(path, create=False)
    try:
        store = ChainStore(kv, load_genesis(genesis))
        return [(store.block_bytes(h), store.certificate_bytes(h)) for h in range(1, top + 1)]
    finally:
        kv.close()


def test_chain_of_20000_declarations(tmp_path: Path) -> None:
    with LocalNetwork(tmp_path / "net") as net:
        made = json.loads(
            _run(
                "scripts/make_chain.py",
                "--network",
                str(net.directory),
                "--declarations",
                str(DECLARATIONS),
                "--block-declarations",
                str(PER_BLOCK),
                "--governance-every",
                str(GOVERNANCE_EVERY),
                "--nodes",
                ",".join(MAKERS),
                "--json",
            )
        )
        blocks = DECLARATIONS // PER_BLOCK
        assert made["declarations"] == DECLARATIONS
        assert made["blocks"] == blocks

        report = json.loads(
            _run(
                "-m",
                "node.cli",
                "audit",
                "--data",
                str(net.directory / "customs" / "data"),
                "--genesis",
                str(net.genesis_path),
                "--json",
            )
        )
        assert report["sound"] is True
        assert report["blocks"] == blocks
        assert report["transactions"] == made["transactions"]
        types = report["transaction_types"]
        assert types["declaration.submit"] == DECLARATIONS
        assert sum(types.values()) == made["transactions"]
        assert types["governance"] == blocks // GOVERNANCE_EVERY
        # The first organisation added by governance submits once it is in force.
        assert report["declarations_by_organisation"].get("shipper-g0000", 0) > 0
        # One declaration in a hundred is made invalid on purpose, with one fault each.
        invalid = DECLARATIONS // 100
        assert sum(report["rejections"].values()) == invalid
        assert sum(report["declarations_by_status"].values()) == DECLARATIONS - invalid
        statuses = report["declarations_by_status"]
        for word in ("submitted", "amended", "cancelled", "loaded", "released"):
            assert statuses.get(word, 0) > 0, word

        for name in MAKERS:
            net.start(name)
        for name in MAKERS:
            status = net.status(name)
            assert status is not None
            assert status["height"] == blocks
            assert status["log_size"] == made["transactions"]

        net.start(FRESH)
        net.wait_height([FRESH], blocks, timeout=240)
        # It caught up from far behind: worker processes checked the signatures and
        # documents of the blocks ahead (node/pipeline.py) while it executed one.
        with httpx.Client(base_url=net.url(FRESH), verify=net.tls) as http:
            samples = scrape(http)
        assert samples[("dgledger_sync_signatures_ahead_total", ())] > made["transactions"] // 2
        assert samples[("dgledger_sync_documents_ahead_total", ())] > DECLARATIONS // 2

        # Once caught up it is one of the validators: the network commits new
        # declarations, and some of the blocks carry its vote or its proposal.
        key = load_signing_key(net.key_path("shipper-gamma"))
        gen = TrafficGenerator(builtin_list(), base_time_ms=time.time_ns() // 1_000_000)
        with Client.connect(net.url(MAKERS[0]), key, ca=net.ca) as client:
            for i in range(8):
                doc = gen.declaration("gamma")
                doc["declarationId"] = f"AFTER-{i:03d}"
                client.declare(doc, wait=True)
        top = net.height(MAKERS[0])
        net.wait_height([FRESH], top, timeout=60)
        fresh_key = load_signing_key(net.directory / FRESH / "node-key.pem").public.key_id
        # Whole blocks are for node operators and auditors (contracts/access.py).
        auditor = load_signing_key(net.key_path("auditor"))
        with Client.connect(net.url(MAKERS[0]), auditor, ca=net.ca) as client:
            took_part = False
            for h in range(blocks + 1, top + 1):
                block = client.block(h)
                signers = [key_id for key_id, _ in block["certificate"]["sigs"]]
                if block["header"]["proposer"] == fresh_key or fresh_key in signers:
                    took_part = True
        assert took_part
        net.stop()

    a = _records(net.directory / MAKERS[0] / "data" / "chain", net.genesis_path, top)
    b = _records(net.directory / FRESH / "data" / "chain", net.genesis_path, top)
    # Every block, and every certificate but the tip's (each node holds its own
    # until the next block carries the canonical one), byte for byte.
    assert [x[0] for x in a] == [x[0] for x in b]
    assert a[:-1] == b[:-1]
