"""The audit keeps one state: what each block takes out of the tree is deleted after it."""

from __future__ import annotations

from pathlib import Path

from contracts.dgl_builtin import builtin_list
from ledger.smt import STALE_PREFIX
from node.audit import _AuditMachine
from node.chainfile import read_chain_file
from tests.ledger.test_smt_prune import reachable, records


def test_the_audit_store_holds_the_last_state_only(small_chain: Path, tmp_path: Path) -> None:
    dgl = builtin_list()
    with small_chain.open("rb") as stream:
        genesis, blocks = read_chain_file(stream)
        machine = _AuditMachine(genesis, {dgl.digest(): dgl}, tmp_path / "state")
        try:
            roots = []
            for block, _ in blocks:
                roots.append(machine.apply_block(block).state_root)
                assert roots[-1] == block.header.state_root
                # After every block: exactly the records of its state, nothing stale logged.
                assert records(machine.kv) == reachable(machine.kv, roots[-1])
                assert not any(True for _ in machine.kv.scan_prefix(STALE_PREFIX))
            assert len(roots) >= 5 and len(set(roots)) == len(roots)
        finally:
            machine.close()
