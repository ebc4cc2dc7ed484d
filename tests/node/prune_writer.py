"""Child process for the pruning crash test: commits a chain file with pruning on.

Usage: python -m tests.node.prune_writer CHAIN_FILE DATA_DIR
Prints "committed <height>" after each commit returns (after the fsync and
the prune that follows it), then "done".
"""

from __future__ import annotations

import sys
from pathlib import Path

from contracts.dgl_builtin import builtin_list
from ledger.crypto import Verifier
from ledger.kv import LevelDBKV
from node.chain import Chain
from node.chainfile import read_chain_file


def main() -> None:
    chain_file, data = Path(sys.argv[1]), Path(sys.argv[2])
    dgl = builtin_list()
    kv = LevelDBKV(data)
    with chain_file.open("rb") as stream:
        genesis, blocks = read_chain_file(stream)
        chain = Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1), prune_keep=2)
        for block, certificate in blocks:
            if block.height > chain.height:
                chain.commit_block(block, certificate)
                print(f"committed {block.height}", flush=True)
    print("done", flush=True)
    kv.close()


if __name__ == "__main__":
    main()
