"""The block store: atomic commits, reopen checks, crash safety with real processes."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.chainstore import ChainStore
from ledger.errors import CorruptStore, IncompatibleStore, WrongChain
from ledger.genesis import Genesis
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay
from ledger.merkle_log import MerkleLog
from tests.ledger.chainmaker import ChainMaker, make_chain

ROOT = Path(__file__).resolve().parents[2]


def commit_all(kv: KVStore, maker: ChainMaker) -> ChainStore:
    store = ChainStore(kv, maker.genesis)
    for block, cert in zip(maker.blocks, maker.certificates, strict=True):
        overlay = Overlay(kv)
        log = MerkleLog.open(overlay)
        for tx in block.txs:
            log.append(tx.wire)
        assert log.root() == block.header.log_root
        store.stage(overlay, block, cert)
        store.commit(overlay)
    return store


@pytest.mark.parametrize("backend", ["memory", "leveldb"])
def test_commit_and_read_back(backend: str, tmp_path: Path) -> None:
    kv: KVStore = MemoryKV() if backend == "memory" else LevelDBKV(tmp_path / "db")
    maker = make_chain(4)
    store = commit_all(kv, maker)
    assert store.height == 4
    for block in maker.blocks:
        assert store.block(block.height).encode() == block.encode()
        assert store.header(block.height) == block.header
        assert store.height_of(block.hash) == block.height
        for i, tx in enumerate(block.txs):
            loc = store.tx_location(tx.id)
            assert loc is not None
            assert (loc.height, loc.index) == (block.height, i)
            assert loc.log_index == block.header.log_size - len(block.txs) + i
    # The tip's certificate is the node's own; earlier ones are the canonical ones blocks carry.
    for h in range(1, 4):
        assert store.certificate_bytes(h) == maker.blocks[h].last_commit.encode()  # type: ignore[union-attr]
    kv.close()


def test_reopen_and_wrong_chain(tmp_path: Path) -> None:
    maker = make_chain(2)
    kv = LevelDBKV(tmp_path / "db")
    commit_all(kv, maker)
    kv.close()
    kv = LevelDBKV(tmp_path / "db")
    assert ChainStore(kv, maker.genesis).height == 2
    other = Genesis.create("another-chain", maker.genesis.time, maker.genesis.validators, {})
    with pytest.raises(WrongChain):
        ChainStore(kv, other)
    same_id = Genesis.create(
        maker.genesis.chain, maker.genesis.time + 1, maker.genesis.validators, {}
    )
    with pytest.raises(WrongChain, match="another genesis"):
        ChainStore(kv, same_id)
    kv.close()


def test_corruption_is_reported_not_rebuilt(tmp_path: Path) -> None:
    maker = make_chain(3)
    kv = LevelDBKV(tmp_path / "db")
    commit_all(kv, maker)
    kv.write({b"C" + (3).to_bytes(8, "big"): None})
    with pytest.raises(CorruptStore, match="certificate"):
        ChainStore(kv, maker.genesis)
    kv.write({b"C" + (3).to_bytes(8, "big"): maker.certificates[2].encode()})
    kv.write({b"B" + (2).to_bytes(8, "big"): b"\x00garbage"})
    store = ChainStore(kv, maker.genesis)
    with pytest.raises(CorruptStore, match="unreadable"):
        store.block(2)
    kv.close()


def test_header_records_are_checked(tmp_path: Path) -> None:
    maker = make_chain(3)
    kv = LevelDBKV(tmp_path / "db")
    commit_all(kv, maker)
    kv.write({b"H" + (2).to_bytes(8, "big"): maker.blocks[0].header.encode()})
    store = ChainStore(kv, maker.genesis)
    with pytest.raises(CorruptStore, match="holds header 1"):
        store.header(2)
    with pytest.raises(KeyError):
        store.header(4)
    forged = dataclasses.replace(maker.blocks[2].header, time=maker.blocks[2].header.time + 1)
    kv.write({b"H" + (3).to_bytes(8, "big"): forged.encode()})
    with pytest.raises(CorruptStore, match="header record of the latest block 3"):
        ChainStore(kv, maker.genesis)
    kv.write({b"H" + (3).to_bytes(8, "big"): None})
    with pytest.raises(CorruptStore, match="header 3 missing"):
        ChainStore(kv, maker.genesis)
    kv.close()


@pytest.mark.parametrize("layout", [None, 1, 2, 3, 4, 5, 6, 8])
def test_store_of_another_layout_refused(tmp_path: Path, layout: int | None) -> None:
    maker = make_chain(2)
    kv = LevelDBKV(tmp_path / "db")
    commit_all(kv, maker)
    kv.write({b"Mformat": None if layout is None else layout.to_bytes(8, "big")})
    with pytest.raises(IncompatibleStore, match="reads layout 7 only") as caught:
        ChainStore(kv, maker.genesis)
    assert caught.value.code == "incompatible_store"
    if layout in (2, 3, 4, 5, 6):
        # Layouts 2 to 6 differ in the state's records only: their blocks can still be read.
        store = ChainStore(kv, maker.genesis, blocks_only=True)
        assert store.height == 2
        assert store.block_bytes(2) == maker.blocks[1].encode()
    else:
        with pytest.raises(IncompatibleStore):
            ChainStore(kv, maker.genesis, blocks_only=True)
    kv.close()


def test_store_with_foreign_records_refused(tmp_path: Path) -> None:
    kv = LevelDBKV(tmp_path / "db")
    kv.write({b"something": b"else"})
    with pytest.raises(CorruptStore):
        ChainStore(kv, make_chain(0).genesis)
    kv.close()


def test_stage_refuses_gaps_and_mismatched_certificates() -> None:
    maker = make_chain(3)
    kv = MemoryKV()
    store = ChainStore(kv, maker.genesis)
    with pytest.raises(CorruptStore):
        store.stage(Overlay(kv), maker.blocks[1], maker.certificates[1])
    with pytest.raises(CorruptStore):
        store.stage(Overlay(kv), maker.blocks[0], maker.certificates[1])


def _wait_for_line(proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line or time.monotonic() < deadline, "writer stopped without output"
    return line.strip()


@pytest.mark.slow
def test_kill_minus_nine_during_commits_leaves_last_or_previous_block(tmp_path: Path) -> None:
    """Kill the writer at random instants; the store always opens at an acknowledged block."""
    blocks = 60
    maker = make_chain(blocks, txs_per_block=20)
    rng = random.Random(20261123)
    path = tmp_path / "db"
    acknowledged = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for attempt in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.ledger.crash_writer", str(path), str(blocks)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + 120
        kill_after = rng.randint(1, 6)
        seen = 0
        finished = False
        while seen < kill_after:
            line = _wait_for_line(proc, deadline)
            if line == "done":
                finished = True
                break
            if line.startswith("committed "):
                acknowledged = max(acknowledged, int(line.split()[1]))
                seen += 1
        if not finished:
            # Land the kill somewhere inside the next commit (or between commits).
            time.sleep(rng.random() * 0.01)
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert proc.stdout is not None
        for line in proc.stdout.read().split():
            if line.isdigit():
                acknowledged = max(acknowledged, int(line))
        proc.stdout.close()
        kv = LevelDBKV(path)
        store = ChainStore(kv, maker.genesis)
        assert store.height in (acknowledged, acknowledged + 1), (
            attempt,
            store.height,
            acknowledged,
        )
        tip = store.block(store.height)
        assert tip.encode() == maker.blocks[store.height - 1].encode()
        log = MerkleLog.open(Overlay(kv))
        assert log.size == tip.header.log_size
        assert log.root() == tip.header.log_root
        kv.close()
        acknowledged = store.height
        if finished:
            break
    assert acknowledged > 0
