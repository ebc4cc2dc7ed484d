"""Reading one transaction of a stored block, and the block put together again."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.block import Block
from ledger.chainstore import ChainStore
from ledger.errors import CorruptStore
from ledger.kv import MemoryKV, Overlay
from ledger.merkle_log import MerkleLog
from ledger.votes import Certificate
from tests.ledger.chainmaker import make_chain


def _store() -> tuple[ChainStore, MemoryKV, list[list[bytes]]]:
    maker = make_chain(4, txs_per_block=5)
    kv = MemoryKV()
    store = ChainStore(kv, maker.genesis)
    for block, cert in zip(maker.blocks, maker.certificates, strict=True):
        overlay = Overlay(kv)
        log = MerkleLog.open(overlay)
        for tx in block.txs:
            log.append(tx.wire)
        store.stage(overlay, block, cert)
        store.commit(overlay)
    return store, kv, [[tx.wire for tx in block.txs] for block in maker.blocks]


def test_each_transaction_is_the_one_in_its_block() -> None:
    store, _, wires = _store()
    for height, block_wires in enumerate(wires, start=1):
        for index, wire in enumerate(block_wires):
            tx = store.transaction(height, index)
            assert tx.wire == wire
            location = store.tx_location(tx.id)
            assert location is not None
            assert (location.height, location.index) == (height, index)


def test_index_outside_the_block_is_a_corrupt_store() -> None:
    store, _, wires = _store()
    with pytest.raises(CorruptStore):
        store.transaction(2, len(wires[1]))


def test_missing_or_garbled_transaction_record_is_a_corrupt_store() -> None:
    store, kv, _ = _store()
    key = b"X" + (2).to_bytes(8, "big") + (1).to_bytes(4, "big")
    raw = kv.get(key)
    assert raw is not None
    kv.write({key: raw[: len(raw) // 2]})
    with pytest.raises(CorruptStore, match="unreadable"):
        store.transaction(2, 1)
    kv.write({key: None})
    with pytest.raises(CorruptStore, match="transaction 1 of block 2 missing"):
        store.transaction(2, 1)


def test_above_the_tip_is_a_key_error() -> None:
    store, _, _ = _store()
    with pytest.raises(KeyError):
        store.transaction(9, 0)
    with pytest.raises(KeyError):
        store.block_bytes(9)


@pytest.mark.parametrize("size", [0, 1, 15, 16, 255, 256, 70_000])
def test_blocks_come_back_byte_for_byte_whatever_their_sizes(size: int) -> None:
    """Every MessagePack header size of the transaction count and of a transaction's bytes."""
    maker = make_chain(1, txs_per_block=0)
    block = maker.blocks[0]
    wires = [b"\x01" * size] if size >= 256 else [b"\x02" * (i % 300) for i in range(size)]
    # Transactions as bytes only: the store keeps wire bytes and never decodes them here.
    fake = Block.__new__(Block)
    object.__setattr__(fake, "header", dataclasses.replace(block.header, log_size=len(wires)))
    object.__setattr__(fake, "txs", tuple(_Wire(w) for w in wires))
    object.__setattr__(fake, "last_commit", None)
    kv = MemoryKV()
    store = ChainStore(kv, maker.genesis)
    overlay = Overlay(kv)
    store.stage(overlay, fake, Certificate(1, 0, fake.header.hash, ()))
    store.commit(overlay)
    assert store.block_bytes(1) == fake.encode()


class _Wire:
    def __init__(self, wire: bytes) -> None:
        self.wire = wire
        self.id = bytes(32)
