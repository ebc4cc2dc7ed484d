"""Checks ahead of execution (node/pipeline.py): same results, work moved to worker processes.

A small chain from ``scripts/make_chain.py`` (declarations valid and
invalid, amendments, decisions, a governance transaction) is replayed with
and without workers; what the workers hand back must be exactly what the
replay would compute, a signature that fails must never be vouched for, and a
worker that dies must cost nothing but time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.declarations_tx import DocumentMemo, document_outcome
from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from ledger.block import Block
from ledger.crypto import Verifier
from ledger.errors import ReplayError
from ledger.genesis import Genesis
from ledger.replay import ReplaySummary
from ledger.tx import Transaction
from ledger.votes import Certificate
from node import pipeline
from node.audit import audit
from node.chainfile import read_chain_file
from node.pipeline import DOCUMENT_TYPES, Prefetch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dgl() -> DangerousGoodsList:
    return builtin_list()


def _chain(path: Path) -> tuple[Genesis, list[tuple[Block, Certificate]]]:
    with path.open("rb") as stream:
        genesis, blocks = read_chain_file(stream)
        return genesis, list(blocks)


def _documents(blocks: list[tuple[Block, Certificate]]) -> Iterator[Transaction]:
    for block, _ in blocks:
        for tx in block.txs:
            if tx.type in DOCUMENT_TYPES:
                yield tx


def test_same_report_with_and_without_workers(small_chain: Path, dgl: DangerousGoodsList) -> None:
    genesis, blocks = _chain(small_chain)
    lists = {dgl.digest(): dgl}
    in_line = audit(genesis, iter(blocks), lists, workers=0)
    ahead = audit(genesis, iter(blocks), lists, workers=1)
    assert ahead.to_json() == in_line.to_json()
    assert ahead.blocks == len(blocks) >= 5
    assert sum(in_line.rejections.values()) > 0  # invalid documents were met on both paths


def test_workers_hand_back_what_the_replay_would_compute(
    small_chain: Path, dgl: DangerousGoodsList
) -> None:
    _, blocks = _chain(small_chain)
    memo = DocumentMemo(10_000)
    verifier = Verifier(cache_size=10_000)
    met: list[dict[str, object] | tuple[object, ...] | None] = []
    expected = []
    with Prefetch({dgl.digest(): dgl}, memo, verifier, workers=2, ahead=1) as prefetch:
        seen = []
        for item in prefetch.blocks(iter(blocks), dgl.digest):
            seen.append(item)
            # While its block's turn lasts, each document's outcome is in the memo.
            for tx in _documents([item]):
                met.append(memo.get(tx.id + dgl.digest()))
                expected.append(document_outcome(tx.body["declaration"], dgl))
        assert seen == blocks  # every item, unchanged and in order
        counts = prefetch.counts
    assert counts.blocks == len(blocks)
    assert counts.documents == len(expected) == len(list(_documents(blocks))) > 500
    assert counts.dropped == 0
    assert met == expected
    assert any(isinstance(outcome, tuple) for outcome in met)  # refusals too
    # Once the next block is asked for, what a block did not take is dropped.
    assert len(memo._entries) <= len(list(_documents(blocks[-1:])))
    # Every signature was vouched for: none is verified again in this process.
    items = [item for block, _ in blocks for tx in block.txs for item in tx.verify_items()]
    assert counts.signatures == len(items)
    assert verifier.verify_many(items) == [True] * len(items)
    assert verifier.verified == 0


def test_a_signature_that_fails_is_not_vouched_for(
    small_chain: Path, dgl: DangerousGoodsList
) -> None:
    _, blocks = _chain(small_chain)
    good = blocks[0][0].txs[0]
    wire = bytearray(good.wire)
    signature = good.signatures[0].signature
    at = bytes(wire).index(signature)
    wire[at + 5] ^= 0x01
    bad = Transaction.decode(bytes(wire))
    pipeline._init_worker([dgl])
    vouched, found = pipeline._check([good.wire, bytes(wire)], dgl.digest())
    assert vouched == [Verifier.cache_key(item) for item in good.verify_items()]
    # The document is judged all the same: the signature is the replay's to refuse.
    assert [tx_id for tx_id, _ in found] == [good.id, bad.id]
    verifier = Verifier(cache_size=100)
    verifier.vouch(vouched)
    assert verifier.verify_many(bad.verify_items()) == [False]
    assert verifier.verified == 1


def test_unknown_list_or_bad_bytes_give_no_documents(
    small_chain: Path, dgl: DangerousGoodsList
) -> None:
    _, blocks = _chain(small_chain)
    wires = [tx.wire for tx in blocks[0][0].txs]
    pipeline._init_worker([dgl])
    vouched, found = pipeline._check([*wires, b"\xc1"], b"\x00" * 32)
    assert found == []
    assert len(vouched) == sum(len(tx.signatures) for tx in blocks[0][0].txs)


def test_a_dead_worker_costs_only_time(small_chain: Path, dgl: DangerousGoodsList) -> None:
    genesis, blocks = _chain(small_chain)
    lists = {dgl.digest(): dgl}
    killed: list[int] = []

    def kill_workers(summary: ReplaySummary) -> None:
        if summary.height == 1:
            for child in multiprocessing.active_children():
                if child.pid is not None:
                    os.kill(child.pid, signal.SIGKILL)
                    killed.append(child.pid)

    report = audit(genesis, iter(blocks), lists, workers=1, progress=kill_workers)
    assert killed
    assert report.to_json() == audit(genesis, iter(blocks), lists, workers=0).to_json()


def test_a_tampered_chain_still_fails_where_it_did(
    small_chain: Path, dgl: DangerousGoodsList
) -> None:
    genesis, blocks = _chain(small_chain)
    block, certificate = blocks[2]
    tx = block.txs[3]
    wire = bytearray(tx.wire)
    wire[wire.index(tx.signatures[0].signature) + 7] ^= 0x01
    txs = (*block.txs[:3], Transaction.decode(bytes(wire)), *block.txs[4:])
    tampered = Block(block.header, txs, block.last_commit)
    chain = [*blocks[:2], (tampered, certificate), *blocks[3:]]
    for workers in (0, 1):
        with pytest.raises(ReplayError) as e:
            audit(genesis, iter(chain), {dgl.digest(): dgl}, workers=workers)
        assert (e.value.height, e.value.tx_index) == (3, 3)
        assert "signature does not verify" in str(e.value)


@pytest.mark.parametrize(("workers", "ahead"), [(-1, 2), (65, 2), (1, 0)])
def test_settings_out_of_range_are_refused(workers: int, ahead: int) -> None:
    with pytest.raises(ValueError):
        Prefetch({}, DocumentMemo(), Verifier(), workers=workers, ahead=ahead)


@pytest.mark.parametrize("given", ["-1", "65", "two"])
def test_audit_refuses_a_worker_count_out_of_range(small_chain: Path, given: str) -> None:
    genesis = small_chain.parent / "net" / "genesis.json"
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "audit", "--file", str(small_chain), "--genesis",
         str(genesis), "--workers", given],
        check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert "--workers" in run.stderr
    assert "Traceback" not in run.stderr


def test_audit_cli_with_and_without_workers(small_chain: Path) -> None:
    genesis = small_chain.parent / "net" / "genesis.json"
    outputs = []
    for workers in ("0", "1"):
        run = subprocess.run(
            [sys.executable, "-m", "node.cli", "audit", "--file", str(small_chain), "--genesis",
             str(genesis), "--workers", workers, "--json"],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=True,
        )  # fmt: skip
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1]
    assert '"sound": true' in outputs[0]
