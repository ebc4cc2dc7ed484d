"""A node that prunes old states: the tip and receipts stay provable, the rest goes."""

from __future__ import annotations

import copy
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.dgl_builtin import builtin_list
from ledger.crypto import Verifier
from ledger.errors import ChainError
from ledger.kv import LevelDBKV
from ledger.smt import STALE_LOG_KEY, STALE_PREFIX
from node.chain import STATE_FROM_KEY, Chain
from node.chainfile import read_chain_file
from node.client.receipt import verify_receipt
from node.config import StoreConfig
from tests.ledger.test_smt_prune import reachable, records
from tests.node.metrics_text import scrape
from tests.node.reads_support import LocalNode, change_validators

ROOT = Path(__file__).resolve().parents[2]


def _headers(node: LocalNode, doc: dict[str, Any], height: int) -> dict[str, Any]:
    return {**doc, "headers": node.client("auditor").header_chain(height)}


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalNode, int]]:
    """A node keeping 2 states, whose validator set changed by governance along the way."""
    n = LocalNode(tmp_path_factory.mktemp("pruned"), store=StoreConfig(prune_keep=2))
    try:
        effective = change_validators(n, "DG-PRUNE-", 5)
        assert n.service.chain.height > effective + 1
        yield n, effective
    finally:
        n.close()


def test_only_the_last_two_states_are_left(pruned: tuple[LocalNode, int]) -> None:
    node, _ = pruned
    chain = node.service.chain
    tip = chain.store.header(chain.height).state_root
    before = chain.store.header(chain.height - 1).state_root
    assert chain.state_from == chain.height - 1
    assert records(chain.kv) == reachable(chain.kv, tip) | reachable(chain.kv, before)
    stale = [k for k, _ in chain.kv.scan_prefix(STALE_PREFIX)]
    assert stale and all(int.from_bytes(k[1:9], "big") == chain.height for k in stale)
    samples = scrape(node.http)
    assert samples[("dgledger_state_from_height", ())] == chain.height - 1
    assert samples[("dgledger_state_records_pruned_total", ())] > 0


def test_a_receipt_of_a_pruned_block_is_proven_at_the_tip(pruned: tuple[LocalNode, int]) -> None:
    node, effective = pruned
    auditor = node.client("auditor")
    doc = auditor.declaration("DG-PRUNE-1")
    first = auditor.transaction(doc["history"][0]["tx"])
    assert first["tx"]["height"] < node.service.chain.state_from
    assert first["header"]["height"] == node.service.chain.height
    checks = verify_receipt(
        copy.deepcopy(_headers(node, first, first["header"]["height"])), node.genesis
    )
    assert f"proven at block {node.service.chain.height}" in checks[-1]
    assert f"accepted at block {first['tx']['height']}" in checks[-1]
    # The header chain proves the validator change of a pruned block from what was kept.
    assert f"followed by state proofs (after block {effective - 1})" in checks[1]
    latest = auditor.declaration("DG-PRUNE-5")
    verify_receipt(_headers(node, latest, latest["receipt"]["header"]["height"]), node.genesis)


def _commit(path: Path, kv: LevelDBKV, keep: int) -> Chain:
    dgl = builtin_list()
    with path.open("rb") as stream:
        genesis, blocks = read_chain_file(stream)
        chain = Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1), prune_keep=keep)
        for block, certificate in blocks:
            if block.height > chain.height:
                chain.commit_block(block, certificate)
    return chain


def test_pruning_is_switched_on_and_off_across_restarts(small_chain: Path, tmp_path: Path) -> None:
    full_kv = LevelDBKV(tmp_path / "full")
    full = _commit(small_chain, full_kv, 0)
    assert not any(True for _ in full_kv.scan_prefix(STALE_PREFIX))
    kv = LevelDBKV(tmp_path / "pruned")
    chain = _commit(small_chain, kv, 3)
    assert chain.state_root == full.state_root
    assert chain.state_from == chain.height - 2
    kept = set()
    for height in range(chain.height - 2, chain.height + 1):
        kept |= reachable(kv, chain.store.header(height).state_root)
    assert records(kv) == kept
    assert len(kept) < len(records(full_kv))

    # Reopened without pruning: nothing more is logged, what was pruned stays recorded.
    chain = Chain(kv, chain.genesis, chain.lists, Verifier(workers=1))
    assert kv.get(STALE_LOG_KEY) is None and chain.state_from == chain.height - 2
    assert kv.get(STATE_FROM_KEY) == (chain.height - 2).to_bytes(8, "big")
    # And with a shorter history: the next start prunes down to it at once.
    chain = Chain(kv, chain.genesis, chain.lists, Verifier(workers=1), prune_keep=2)
    assert kv.get(STALE_LOG_KEY) == b""
    with pytest.raises(ChainError):
        Chain(kv, chain.genesis, chain.lists, Verifier(workers=1), prune_keep=1)
    kv.close()
    full_kv.close()


def test_kill_nine_while_pruning_loses_nothing(small_chain: Path, tmp_path: Path) -> None:
    data = tmp_path / "chain"
    rng = random.Random(7)
    acknowledged = 0
    killed = 0
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.node.prune_writer", str(small_chain), str(data)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.startswith("committed"):
            acknowledged = max(acknowledged, int(line.split()[1]))
            # Land the kill in the prune after that commit, or in the next commit.
            time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait(timeout=30) == -signal.SIGKILL
        proc.stdout.close()
        kv = LevelDBKV(data)
        with small_chain.open("rb") as stream:
            genesis, _ = read_chain_file(stream)
            dgl = builtin_list()
            chain = Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1), prune_keep=2)
        assert chain.height >= acknowledged
        if chain.height:
            reachable(kv, chain.state_root)  # every record of the tip's state is there
        kv.close()
    assert killed, "no kill landed before the writer finished"
    done = subprocess.run(
        [sys.executable, "-m", "tests.node.prune_writer", str(small_chain), str(data)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert done.stdout.rstrip().endswith("done")
    kv = LevelDBKV(data)
    chain = _commit(small_chain, kv, 2)
    tip = chain.store.header(chain.height).state_root
    before = chain.store.header(chain.height - 1).state_root
    assert records(kv) == reachable(kv, tip) | reachable(kv, before)
    kv.close()
