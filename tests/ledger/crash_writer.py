"""Child process for the crash test: commits blocks to LevelDB and reports each one.

Usage: python -m tests.ledger.crash_writer DATA_DIR BLOCKS
Prints "committed <height>" after each commit returns (after the fsync).
"""

from __future__ import annotations

import sys

from ledger.chainstore import ChainStore
from ledger.kv import LevelDBKV, Overlay
from ledger.merkle_log import MerkleLog
from tests.ledger.chainmaker import make_chain


def main() -> None:
    path, count = sys.argv[1], int(sys.argv[2])
    maker = make_chain(count, txs_per_block=20)
    kv = LevelDBKV(path)
    store = ChainStore(kv, maker.genesis)
    for block, cert in zip(
        maker.blocks[store.height :], maker.certificates[store.height :], strict=True
    ):
        overlay = Overlay(kv)
        log = MerkleLog.open(overlay)
        for tx in block.txs:
            log.append(tx.wire)
        # Filler so each batch is large enough that a kill lands inside a write.
        for i in range(200):
            overlay.put(b"Z" + block.height.to_bytes(8, "big") + i.to_bytes(4, "big"), b"x" * 512)
        store.stage(overlay, block, cert)
        store.commit(overlay)
        print(f"committed {block.height}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
