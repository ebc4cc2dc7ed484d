"""A store whose index has an older layout gets the new entries when a chain opens it."""

from __future__ import annotations

from pathlib import Path

from contracts import indexes
from contracts.dgl_builtin import builtin_list
from ledger.crypto import Verifier
from ledger.kv import LevelDBKV, Overlay
from node.chain import Chain
from node.chainfile import read_chain_file


def _own_entries(kv: LevelDBKV) -> list[str]:
    return list(indexes.scan(kv, indexes.OWN))


def test_an_index_of_the_older_layout_is_completed_from_the_state(
    small_chain: Path, tmp_path: Path
) -> None:
    dgl = builtin_list()
    kv = LevelDBKV(tmp_path / "chain")
    with small_chain.open("rb") as stream:
        genesis, blocks = read_chain_file(stream)
        chain = Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1))
        for block, certificate in blocks:
            chain.commit_block(block, certificate)
    made = _own_entries(kv)
    everything = list(indexes.scan(kv, indexes.ENTRY))
    assert len(made) > 1000  # status, voyage, containers of each declaration
    assert kv.get(indexes.FORMAT_KEY) == indexes.FORMAT

    # The store as an older node left it: no idx/own/ entries, no layout recorded.
    old = Overlay(kv)
    for entry in made:
        old.delete(indexes.PREFIX + entry.encode())
    old.delete(indexes.FORMAT_KEY)
    old.flush(sync=True)
    assert _own_entries(kv) == []

    Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1))
    assert _own_entries(kv) == made
    assert list(indexes.scan(kv, indexes.ENTRY)) == everything
    assert kv.get(indexes.FORMAT_KEY) == indexes.FORMAT
    kv.close()
