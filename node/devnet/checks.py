"""Checks of the chains a local network made, on its stopped nodes' stores.

:func:`check_chains` proves that the chains are byte-identical, that every
transaction a node acknowledged as committed is on every node at the height
it was acknowledged at, that each tip's own certificate verifies, and that an
audit replay of each store from genesis passes and ends at the same tip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contracts.dgl_builtin import builtin_list
from ledger.block import Block
from ledger.chainstore import ChainStore
from ledger.crypto import Verifier
from ledger.genesis import Genesis
from ledger.kv import LevelDBKV
from ledger.votes import Certificate
from node.audit import AuditReport, audit, blocks_from_store
from node.devnet.errors import NetworkError
from node.devnet.localnet import LocalNetwork, NodeProcess
from node.genesis_file import load_genesis


@dataclass(slots=True)
class ChainCopy:
    """A stopped node's chain as stored: block and certificate bytes by height."""

    name: str
    blocks: list[bytes] = field(default_factory=list)
    certificates: list[bytes] = field(default_factory=list)

    @property
    def height(self) -> int:
        """Committed height."""
        return len(self.blocks)


def read_chain(node: NodeProcess, genesis: Genesis, acked: Mapping[bytes, int]) -> ChainCopy:
    """Read a stopped node's store; every acknowledged transaction must be at its height."""
    if node.alive():
        raise NetworkError(f"{node.name} must be stopped before its store is read")
    kv = LevelDBKV(node.data_dir / "chain", create=False)
    try:
        store = ChainStore(kv, genesis)
        copy_ = ChainCopy(node.name)
        for height in range(1, store.height + 1):
            copy_.blocks.append(store.block_bytes(height))
            certificate = store.certificate_bytes(height)
            if certificate is None:
                raise NetworkError(f"{node.name}: no certificate for block {height}")
            copy_.certificates.append(certificate)
        missing = []
        for tx_id, height in acked.items():
            location = store.tx_location(tx_id)
            if location is None or location.height != height:
                missing.append((tx_id.hex(), height, location))
        if missing:
            raise NetworkError(
                f"{node.name}: {len(missing)} acknowledged transactions missing or moved,"
                f" e.g. {missing[:3]}"
            )
        return copy_
    finally:
        kv.close()


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """What :func:`check_chains` established."""

    height: int
    transactions: int
    acknowledged: int
    tip_hash: str
    audits: dict[str, AuditReport]


def check_chains(cluster: LocalNetwork, acked: Mapping[bytes, int]) -> ChainCheck:
    """On stopped nodes: identical chains, every acknowledged tx present, audits pass."""
    genesis = load_genesis(cluster.genesis_path)
    copies = [read_chain(node, genesis, acked) for node in cluster.nodes.values()]
    first = copies[0]
    for other in copies[1:]:
        if other.height != first.height:
            raise NetworkError(
                f"heights differ: {first.name} {first.height}, {other.name} {other.height}"
            )
        for i, (a, b) in enumerate(zip(first.blocks, other.blocks, strict=True)):
            if a != b:
                raise NetworkError(f"block {i + 1} differs between {first.name} and {other.name}")
        # Below the tip every node holds the canonical certificate the next block carries;
        # at the tip each holds the one it assembled itself.
        for i in range(first.height - 1):
            if first.certificates[i] != other.certificates[i]:
                raise NetworkError(
                    f"certificate {i + 1} differs between {first.name} and {other.name}"
                )
    audits: dict[str, AuditReport] = {}
    lists = {builtin_list().digest(): builtin_list()}
    with Verifier() as verifier:
        for c in copies:
            if c.height:
                _check_tip_certificate(c, genesis, verifier)
            blocks = blocks_from_store(cluster.nodes[c.name].data_dir, genesis)
            report = audit(genesis, blocks, lists, verifier=verifier)
            if report.blocks != c.height:
                raise NetworkError(f"{c.name}: audit saw {report.blocks} of {c.height} blocks")
            audits[c.name] = report
    tips = {r.tip_hash for r in audits.values()}
    if len(tips) != 1:
        raise NetworkError(f"audits end at different tips: {tips}")
    report = audits[first.name]
    return ChainCheck(first.height, report.transactions, len(acked), tips.pop(), audits)


def _check_tip_certificate(copy_: ChainCopy, genesis: Genesis, verifier: Verifier) -> None:
    tip = Block.decode(copy_.blocks[-1])
    certificate = Certificate.decode(copy_.certificates[-1])
    # These networks make no governance changes, so genesis's set signs every block.
    certificate.verify(
        genesis.chain, genesis.validators, verifier, height=tip.height, block_hash=tip.hash
    )
