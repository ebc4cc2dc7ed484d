"""Audit: replay a chain from genesis with the ledger's and the contracts' own rules.

The blocks come from a stopped node's data directory, an exported chain
file, or a running node (over a signed request); the audit trusts none of
them. It re-executes every block with the contracts :class:`Engine` over a
fresh, temporary state store, so its state roots are its own, and
:func:`ledger.replay.replay` checks links, certificates, signatures, the
transaction log and the state root of every block, stopping at the first
failure with its height, transaction index and reason. Memory stays flat:
blocks stream through, and the state lives in a temporary LevelDB.
"""

from __future__ import annotations

import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contracts import indexes
from contracts.declarations_tx import OnceMemo
from contracts.engine import Engine, dgl_in_force
from ledger.block import Block
from ledger.chainstore import ChainStore
from ledger.crypto import SigningKey, Verifier
from ledger.encoding import decode
from ledger.genesis import Genesis
from ledger.kv import MIN_TABLE_BYTES, LevelDBKV, Overlay
from ledger.replay import BlockOutcome, ReplaySummary, replay
from ledger.smt import STALE_LOG_KEY, NodeCache, prune, records_written
from ledger.votes import Certificate
from node.auth import sign_request
from node.errors import AuditSourceError
from node.pipeline import DEFAULT_AHEAD, Prefetch, memo_capacity

SEQUENTIAL_OPEN_FILES = 16
SEQUENTIAL_CACHE_BYTES = 4 << 20
STATE_OPEN_FILES = 74
"""Table files of the audit's own state store kept open: LevelDB's floor.

Every page LevelDB reads through an open table stays mapped, and so
resident, until the table is closed. With a node's 256 the audit of a
100k-declaration chain peaked at 922 MB, 550 MB of it such pages; with
this and the caches below, at 478 MB, at the same speed (2026-11-24,
docs/benchmarks.md).
"""
STATE_TABLE_BYTES = MIN_TABLE_BYTES
"""Table size of the audit's own state store: LevelDB's floor, half its default.

Its open tables' mapped pages are then at most about 74 MB instead of 148.
Audits of a 40k-declaration chain (54,325 transactions), two runs each,
peaked at 355 and 356 MB with 2 MB tables and at 306 and 307 MB with
1 MB, in 97 - 105 s every time (2026-12-06, docs/benchmarks.md).
"""
STATE_WRITE_BUFFER_BYTES = 64 << 20
"""Memtable of the audit's state store. Its writes are tree nodes (hashes) and
documents written once: a larger memtable means fewer, larger level-0 tables and
far less compaction. Measured on a 20,000-declaration chain (2026-12-07, 3 runs
each, A/B in turn): with no compression, 64 MiB took 1.24x less CPU than the store's
16 MiB default and 1.13x less than 32 MiB, for 34 and 12 MiB more peak RSS."""
STATE_COMPRESSION = None
"""No compression for the audit's state store: tree nodes are hashes, which snappy
cannot shrink, and the store is thrown away after the audit (1.36x less CPU together
with the write buffer above, same measurement)."""
STATE_CACHE_BYTES = 8 << 20
"""LevelDB's block cache for the audit's state: most reads hit the node cache first."""
STATE_CACHE_NODES = 1 << 14
"""Decoded state-tree pages kept between blocks, as a node keeps (about 1.4 KB each)."""
SIGNATURE_CACHE = 1 << 16
"""Verified signatures remembered: those of the blocks the prefetch checked ahead
(:func:`node.pipeline.memo_capacity`), and a certificate met twice."""


@dataclass(slots=True)
class AuditReport:
    """What the audit found."""

    blocks: int = 0
    transactions: int = 0
    tip_hash: str = ""
    state_root: str = ""
    log_root: str = ""
    tx_types: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, int] = field(default_factory=dict)
    declarations_by_status: dict[str, int] = field(default_factory=dict)
    declarations_by_org: dict[str, int] = field(default_factory=dict)
    evidence: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "sound": True,
            "blocks": self.blocks,
            "transactions": self.transactions,
            "tip_hash": self.tip_hash,
            "state_root": self.state_root,
            "log_root": self.log_root,
            "transaction_types": self.tx_types,
            "rejections": self.rejections,
            "declarations_by_status": self.declarations_by_status,
            "declarations_by_organisation": self.declarations_by_org,
            "evidence": self.evidence,
        }


class _AuditMachine:
    """The contracts engine over a throwaway store, flushed block by block.

    Only the last block's state is kept: what each block takes out of the
    state tree is deleted after it (:func:`ledger.smt.prune`), so the store
    holds one state, not every version of it.
    """

    def __init__(self, genesis: Genesis, lists: dict[bytes, Any], directory: Path) -> None:
        self.kv = LevelDBKV(
            directory,
            open_files=STATE_OPEN_FILES,
            cache_bytes=STATE_CACHE_BYTES,
            table_bytes=STATE_TABLE_BYTES,
            write_buffer_bytes=STATE_WRITE_BUFFER_BYTES,
            compression=STATE_COMPRESSION,
        )
        self.kv.write({STALE_LOG_KEY: b""})
        self.overlay = Overlay(self.kv)
        self.memo = OnceMemo(memo_capacity(DEFAULT_AHEAD))
        self.engine = Engine(
            genesis, self.overlay, lists, cache=NodeCache(STATE_CACHE_NODES), memo=self.memo
        )
        self.overlay.flush(sync=False)
        self.rejections: dict[str, int] = {}
        self.evidence = 0

    def apply_block(self, block: Block) -> BlockOutcome:
        outcome = self.engine.apply_block(block)
        written = dict.fromkeys(records_written(self.overlay.pending), block.height)
        self.overlay.flush(sync=False)
        # The records this block took out and did not write again are in no later state.
        prune(self.kv, block.height, written=written, written_from=block.height)
        for tx, result in zip(block.txs, self.engine.results, strict=True):
            if not result.get("ok"):
                for violation in result.get("violations", []):
                    code = violation.get("code", "unknown")
                    self.rejections[code] = self.rejections.get(code, 0) + 1
            elif tx.type == "evidence.submit":
                self.evidence += 1
        return outcome

    def list_in_force(self) -> bytes:
        """Digest of the Dangerous Goods List in force after the last block applied."""
        return dgl_in_force(self.engine.view())

    def count_index(self, kind: str) -> dict[str, int]:
        """Declarations by status or organisation, from this audit's own index.

        The index is not read from the source: this replay's engine derived
        it, block by block, from the declaration records it computed itself
        and whose state root it checked against every header.
        """
        counts: dict[str, int] = {}
        for key in indexes.scan(self.kv, f"idx/{kind}/"):
            value = key.split("/")[2]
            counts[value] = counts.get(value, 0) + 1
        return counts

    def close(self) -> None:
        self.kv.close()


def audit(
    genesis: Genesis,
    blocks: Iterable[tuple[Block, Certificate | None]],
    lists: dict[bytes, Any],
    *,
    verifier: Verifier | None = None,
    progress: Callable[[ReplaySummary], None] | None = None,
    workers: int | None = None,
) -> AuditReport:
    """Replay ``blocks`` from genesis; raise ``ReplayError`` at the first fault.

    The signatures and documents of the next blocks are checked while one
    executes (:class:`node.pipeline.Prefetch`), documents in ``workers``
    processes (default: one per core but one; 0: none, checked in line).
    """
    verifier = verifier or Verifier(cache_size=SIGNATURE_CACHE)
    with tempfile.TemporaryDirectory(prefix="dgledger-audit-") as tmp:
        machine = _AuditMachine(genesis, lists, Path(tmp) / "state")
        prefetch = Prefetch(lists, machine.memo, verifier, workers=workers)
        try:
            ahead = prefetch.blocks(blocks, machine.list_in_force)
            summary = replay(genesis, ahead, machine, verifier, progress=progress)
            report = AuditReport(
                blocks=summary.height,
                transactions=summary.transactions,
                tip_hash=summary.tip_hash.hex(),
                state_root=summary.state_root.hex(),
                log_root=summary.log_root.hex(),
                tx_types=dict(summary.tx_types),
                rejections=dict(machine.rejections),
                declarations_by_status=machine.count_index("status"),
                declarations_by_org=machine.count_index("org"),
                evidence=machine.evidence,
            )
        finally:
            prefetch.close()
            machine.close()
    return report


def blocks_from_store(
    data_dir: Path, genesis: Genesis, *, on_height: Callable[[int], None] | None = None
) -> Iterator[tuple[Block, Certificate | None]]:
    """Blocks of a stopped node's data directory (``DIR`` or ``DIR/chain``).

    ``on_height`` is told the store's height once it is open, before the first block.
    """

    path = data_dir / "chain" if (data_dir / "chain").is_dir() else data_dir
    # Read once from end to end: few open table files are needed (LevelDB keeps
    # at least 64), and the mapped part of the audit's memory stays bounded.
    kv = LevelDBKV(
        path, create=False, open_files=SEQUENTIAL_OPEN_FILES, cache_bytes=SEQUENTIAL_CACHE_BYTES
    )
    try:
        store = ChainStore(kv, genesis, blocks_only=True)
        if on_height is not None:
            on_height(store.height)
        for height in range(1, store.height + 1):
            yield store.block(height), store.certificate(height)
    finally:
        kv.close()


def blocks_from_node(
    url: str,
    node: str,
    genesis: Genesis,
    key: SigningKey,
    *,
    batch: int = 200,
    verify: ssl.SSLContext | bool = True,
) -> Iterator[tuple[Block, Certificate | None]]:
    """Blocks fetched from the node named ``node`` at ``url`` over signed requests.

    ``verify`` is what the node's TLS certificate is checked against
    (:func:`node.client.tls.trust`; True: the system's trust store).
    """

    with httpx.Client(base_url=url.rstrip("/"), timeout=60.0, verify=verify) as client:
        start = 1
        while True:
            path = f"/peer/v1/blocks?from={start}&count={batch}"
            now = time.time_ns() // 1_000_000
            headers = sign_request(key, genesis.chain, "GET", path, b"", now, node=node)
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise AuditSourceError(
                    f"{url} answered {response.status_code}: {response.text[:200]}"
                )
            items = decode(response.content, max_size=1 << 30, max_depth=4)
            if type(items) is not list:
                raise AuditSourceError(f"{url} sent a malformed block list")
            for item in items:
                if type(item) is not list or len(item) != 2:
                    raise AuditSourceError(f"{url} sent a malformed block entry")
                yield Block.decode(item[0]), Certificate.decode(item[1])
            if len(items) < batch:
                return
            start += len(items)
