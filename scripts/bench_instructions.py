#!/usr/bin/env python3
"""Instructions per applied declaration and decision, counted by valgrind (callgrind).

Run from the repository root (needs ``valgrind``; about two minutes)::

    .venv/bin/python scripts/bench_instructions.py
    .venv/bin/python scripts/bench_instructions.py --count 500

Timings on a shared machine move by a third from one run to the next;
instruction counts do not, so they can tell a few percent apart. The
script runs itself twice under ``valgrind --tool=callgrind``: once building
the same signed blocks as ``bench_contracts.py`` (the declarations, then
the port authority's acceptance of each) and applying the declarations to an
in-memory store; once building them only. The difference, divided by the
number of declarations, is what validating and applying one costs. With
``--decide``, a third run applies the decisions too, and the difference
with the first run is what applying one decision costs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

import bench_contracts as bench

from contracts.engine import Engine
from ledger.kv import MemoryKV, Overlay

ROOT = Path(__file__).resolve().parents[1]


def inner(count: int, apply: int) -> None:
    """Build ``count`` declarations and their decisions in blocks; apply ``apply`` chains."""

    genesis, dgl = bench.genesis_and_list()
    docs = bench.documents(dgl, count)
    submitted = bench.blocks(genesis, bench.transactions(docs))
    decided = bench.blocks(genesis, bench.decisions(docs), first=len(submitted) + 1)
    overlay = Overlay(MemoryKV())
    engine = Engine(genesis, overlay, {dgl.digest(): dgl})
    overlay.flush()
    for block in [*submitted, *decided][: apply * len(submitted)]:
        engine.apply_block(block)
        overlay.flush()
        if not all(result["ok"] for result in engine.results):
            raise SystemExit(f"a transaction of block {block.height} was refused")


def counted(count: int, apply: int) -> int:
    """Instructions of one inner run under callgrind."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [sys.executable, __file__, "--inner", "--count", str(count), "--apply", str(apply)]
    run = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Count and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="declarations (default 1000)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--decide", action="store_true", help="count a decision's cost too")
    parser.add_argument("--apply", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        inner(args.count, args.apply)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    with_apply = counted(args.count, 1)
    without = counted(args.count, 0)
    per = (with_apply - without) / args.count
    print(f"{args.count} two-item declarations, blocks of 500, in memory")
    print(f"instructions with apply {with_apply:,}, without {without:,}")
    print(f"validate and apply: {per / 1e6:.3f} million instructions per declaration")
    if args.decide:
        with_decide = counted(args.count, 2)
        per = (with_decide - with_apply) / args.count
        print(f"instructions with the decisions applied too {with_decide:,}")
        print(f"decide and apply: {per / 1e6:.3f} million instructions per decision")


if __name__ == "__main__":
    main()
