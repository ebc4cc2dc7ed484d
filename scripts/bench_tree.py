#!/usr/bin/env python3
"""State tree benchmark: what a change costs in a large tree on LevelDB.

Run from the repository root::

    .venv/bin/python scripts/bench_tree.py                       # 400,000 keys, about a minute
    .venv/bin/python scripts/bench_tree.py --keys 2000000 --cache 16384

Preloads ``--keys`` keys in batches of 20,000 (one version each), then
applies ``--batches`` batches of ``--changes`` changes, two thirds new keys
and one third new values of existing ones (a block's mix: declarations
submitted, records decided), one version each, each flushed unsynced. For the
timed batches it reports, per change: the median time of a batch's update,
the tree records and bytes the batch wrote, and the store reads it made (the
last batch; the cache is warm by then); then the process's peak RSS and the
tree's records and bytes in the store, every version kept.

``--cache`` is the shared :class:`ledger.smt.NodeCache`'s size in entries
(pages since layout 7; a node and the audit use 2**14).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from ledger.kv import LevelDBKV, Overlay
from ledger.smt import DEEP_NODE_PREFIX, EMPTY_ROOT, NODE_PREFIX, NodeCache, StateTree

PRELOAD_BATCH = 20_000


def value(i: int, version: int) -> bytes:
    """A 96-byte value, like a small record."""
    return hashlib.sha256(b"%d/%d" % (i, version)).digest() * 3


class CountingKV(LevelDBKV):
    """LevelDB that counts point reads."""

    reads = 0

    def get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return super().get(key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=400_000, help="keys preloaded")
    parser.add_argument("--batches", type=int, default=20, help="timed batches")
    parser.add_argument("--changes", type=int, default=4_000, help="changes a batch")
    parser.add_argument("--cache", type=int, default=1 << 14, help="NodeCache entries")
    args = parser.parse_args(argv)
    directory = Path(tempfile.mkdtemp(prefix="bench-tree-"))
    kv = CountingKV(directory / "state")
    try:
        cache = NodeCache(args.cache)
        root = EMPTY_ROOT
        version = 0
        start = time.perf_counter()
        for lo in range(0, args.keys, PRELOAD_BATCH):
            version += 1
            overlay = Overlay(kv)
            tree = StateTree(overlay, root, cache=cache, version=version)
            hi = min(args.keys, lo + PRELOAD_BATCH)
            root = tree.update({b"key%d" % i: value(i, 0) for i in range(lo, hi)})
            overlay.flush(sync=False)
        preload = time.perf_counter() - start
        size = args.keys
        times, records, written = [], 0, 0
        reads = 0
        for batch in range(args.batches):
            version += 1
            changes = {}
            for j in range(args.changes):
                if j % 3 == 2:
                    i = (batch * 7919 + j * 104729) % args.keys
                    changes[b"key%d" % i] = value(i, version)
                else:
                    changes[b"key%d" % size] = value(size, 0)
                    size += 1
            overlay = Overlay(kv)
            before = kv.reads
            start = time.perf_counter()
            root = StateTree(overlay, root, cache=cache, version=version).update(changes)
            times.append(time.perf_counter() - start)
            reads = kv.reads - before
            for key, record in overlay.pending.items():
                if record is not None and key[:1] in (NODE_PREFIX, DEEP_NODE_PREFIX):
                    records += 1
                    written += len(key) + len(record)
            overlay.flush(sync=False)
        times.sort()
        median = times[len(times) // 2]
        n = args.batches * args.changes
        stored = count = 0
        for key, record in kv.scan(NODE_PREFIX[:1], b"Q"):
            if key[:1] in (NODE_PREFIX, DEEP_NODE_PREFIX):
                stored += len(key) + len(record)
                count += 1
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(f"preload of {args.keys:,} keys: {preload:.1f} s")
        print(
            f"a change: {median / args.changes * 1e6:.1f} us (median batch {median * 1e3:.1f} ms),"
            f" {records / n:.2f} tree records and {written / n:,.0f} bytes written,"
            f" {reads / args.changes:.2f} store reads (last batch)"
        )
        print(f"cache {len(cache):,} entries; peak RSS {peak:,} MB")
        print(
            f"tree in the store: {count:,} records, {stored / size:,.1f} bytes a key"
            " (every version kept)"
        )
    finally:
        kv.close()
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
