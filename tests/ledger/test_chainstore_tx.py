"""Reading one transaction of a stored block without decoding the others."""

from __future__ import annotations

import pytest

from ledger.chainstore import ChainStore
from ledger.errors import CorruptStore
from ledger.kv import MemoryKV, Overlay
from ledger.merkle_log import MerkleLog
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


def test_record_under_the_wrong_height_is_refused() -> None:
    store, kv, _ = _store()
    kv.write({b"B" + (2).to_bytes(8, "big"): kv.get(b"B" + (3).to_bytes(8, "big"))})
    with pytest.raises(CorruptStore):
        store.transaction(2, 0)


def test_above_the_tip_is_a_key_error() -> None:
    store, _, _ = _store()
    with pytest.raises(KeyError):
        store.transaction(9, 0)


def test_truncated_block_record_is_a_corrupt_store() -> None:
    store, kv, _ = _store()
    key = b"B" + (2).to_bytes(8, "big")
    raw = kv.get(key)
    assert raw is not None
    kv.write({key: raw[: len(raw) // 2]})
    with pytest.raises(CorruptStore):
        store.transaction(2, 4)
