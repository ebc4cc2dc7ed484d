#!/usr/bin/env python3
"""Contracts benchmark: validating and applying typical two-item declarations on one core.

Run from the repository root::

    .venv/bin/python scripts/bench_contracts.py            # 5 runs, about a minute
    .venv/bin/python scripts/bench_contracts.py --runs 3 --count 2000

Declarations come from the traffic generator the demo uses: two items of
random classes, grouped into containers as segregation allows, each on its
own voyage. Transactions are signed before any timing. Three figures, each
the median of the runs, all in one process (one core):

* validate: parse the DCSA document and run every IMDG check against the
  built-in Dangerous Goods List (``contracts.checks.validate``);
* validate and apply: ``Engine.apply_block`` over blocks of 500
  ``declaration.submit`` transactions on an in-memory store: membership,
  lifetime, validation, the record, its document, its indexes, the state tree
  update and the new state root (signatures are the ledger core's, measured
  by ``bench_core.py``);
* the same through LevelDB, each block's overlay flushed to disk (unsynced);
* decide and apply: the port authority then accepts every declaration, in
  blocks of 500 ``declaration.decide`` transactions (in memory): the
  lifecycle's most frequent transaction, a status change of a stored record.

Target: validating and applying >= 5,000 declarations/s on one core.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from contracts.checks import validate
from contracts.dgl_builtin import builtin_list
from contracts.engine import MAX_TX_LIFETIME, Engine
from contracts.lifecycle import Role
from contracts.membership import AppGenesis, Organisation
from ledger.block import Block, Header
from ledger.crypto import SigningKey
from ledger.encoding import sha256
from ledger.genesis import Genesis
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay
from ledger.tx import Envelope, Transaction
from ledger.validators import Validator, ValidatorSet
from ledger.votes import Certificate
from node.devnet.traffic import TrafficGenerator

ROOT = Path(__file__).resolve().parents[1]

CHAIN = "dg-contracts-bench"
T0 = 1_790_000_000_000
BLOCK = 500
SHIPPERS = [f"shipper-{i}" for i in range(8)]
TARGET = 5_000


def key(name: str) -> SigningKey:
    """A fixed key per name."""
    return SigningKey.from_seed(sha256(f"bench-{name}".encode()))


def genesis_and_list() -> tuple[Genesis, Any]:
    """A community of four validators and eight shippers on the built-in list."""
    dgl = builtin_list()
    validators = ["customs", "port-authority", "forwarder-a", "forwarder-b"]
    roles = [Role.CUSTOMS, Role.PORT_AUTHORITY, Role.FORWARDER, Role.FORWARDER]
    orgs = [Organisation(n, r, (key(n).public,)) for n, r in zip(validators, roles, strict=True)]
    orgs += [Organisation(n, Role.SHIPPER, (key(n).public,)) for n in SHIPPERS]
    vset = ValidatorSet.create([Validator(key(f"{n}-node").public, 10, n) for n in validators])
    app = AppGenesis(tuple(orgs), dgl.digest(), 2)
    return Genesis.create(CHAIN, T0, vset, app.to_value()), dgl


def documents(dgl: Any, count: int) -> list[dict[str, Any]]:
    """``count`` valid two-item declarations."""
    gen = TrafficGenerator(dgl, seed=7, base_time_ms=T0)
    return [
        gen.declaration(SHIPPERS[i % len(SHIPPERS)].split("-")[1], classes=_pair(gen))
        for i in range(count)
    ]


def _pair(gen: TrafficGenerator) -> tuple[str, str]:
    classes = ("1", "2", "3", "4", "5", "6", "8", "9", "3")
    return gen.rng.choice(classes), gen.rng.choice(classes)


def transactions(docs: list[dict[str, Any]]) -> list[Transaction]:
    """One signed ``declaration.submit`` per document, round-robin over the shippers."""
    nonces: dict[str, int] = {}
    out = []
    for i, doc in enumerate(docs):
        name = SHIPPERS[i % len(SHIPPERS)]
        nonces[name] = nonces.get(name, 0) + 1
        k = key(name)
        env = Envelope(
            CHAIN,
            "declaration.submit",
            k.public.key_id,
            nonces[name],
            {"declaration": doc},
            MAX_TX_LIFETIME,
        )
        out.append(Transaction.create(env, [k]))
    return out


def decisions(docs: list[dict[str, Any]]) -> list[Transaction]:
    """The port authority's acceptance of each document's declaration (as submitted)."""
    k = key("port-authority")
    return [
        Transaction.create(
            Envelope(
                CHAIN,
                "declaration.decide",
                k.public.key_id,
                nonce,
                {
                    "id": doc["declarationId"],
                    "owner": SHIPPERS[(nonce - 1) % len(SHIPPERS)],
                    "decision": "accepted",
                },
                MAX_TX_LIFETIME,
            ),
            [k],
        )
        for nonce, doc in enumerate(docs, start=1)
    ]


def blocks(genesis: Genesis, txs: list[Transaction], first: int = 1) -> list[Block]:
    """Blocks of ``BLOCK`` transactions from height ``first`` (headers: what execution reads)."""
    zero = b"\x00" * 32
    out = []
    for n, start in enumerate(range(0, len(txs), BLOCK), start=first):
        header = Header(CHAIN, n, T0 + n * 1000, zero, zero, 0, zero, zero, zero, zero, "0" * 40)
        commit = Certificate(n - 1, 0, zero, ()) if n > 1 else None
        out.append(Block(header, tuple(txs[start : start + BLOCK]), commit))
    return out


def time_validate(docs: list[dict[str, Any]], dgl: Any) -> float:
    """Declarations validated per second."""
    started = time.perf_counter()
    for doc in docs:
        validate(doc, dgl)
    return len(docs) / (time.perf_counter() - started)


def time_apply(genesis: Genesis, dgl: Any, chains: list[list[Block]], kv: KVStore) -> list[float]:
    """Transactions applied per second, state root included, for each chain in turn."""
    overlay = Overlay(kv)
    engine = Engine(genesis, overlay, {dgl.digest(): dgl})
    overlay.flush()
    rates = []
    for chain in chains:
        count = 0
        started = time.perf_counter()
        for block in chain:
            outcome = engine.apply_block(block)
            overlay.flush()
            count += len(block.txs)
            assert outcome.state_root == engine.root
            if not all(result["ok"] for result in engine.results):
                raise SystemExit(f"a transaction of block {block.height} was refused")
        rates.append(count / (time.perf_counter() - started))
    return rates


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=5000, help="declarations per run")
    args = parser.parse_args()
    genesis, dgl = genesis_and_list()
    docs = documents(dgl, args.count)
    chain = blocks(genesis, transactions(docs))
    decided = blocks(genesis, decisions(docs), first=len(chain) + 1)
    print(
        f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()},"
        f" Python {platform.python_version()}; {datetime.date.today().isoformat()}"
    )
    print(f"{args.count} two-item declarations per run, blocks of {BLOCK}, {args.runs} runs")
    rates: dict[str, list[float]] = {"validate": [], "memory": [], "decide": [], "leveldb": []}
    for run in range(args.runs):
        rates["validate"].append(time_validate(docs, dgl))
        submit, decide = time_apply(genesis, dgl, [chain, decided], MemoryKV())
        rates["memory"].append(submit)
        rates["decide"].append(decide)
        with tempfile.TemporaryDirectory(prefix="dgl-bench-") as tmp:
            kv = LevelDBKV(Path(tmp) / "db")
            try:
                rates["leveldb"].extend(time_apply(genesis, dgl, [chain], kv))
            finally:
                kv.close()
        print(f"  run {run + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()))
    med = {k: statistics.median(v) for k, v in rates.items()}
    verdict = "met" if med["memory"] >= TARGET else "NOT met"
    print(f"validate:                      {med['validate']:>8,.0f} declarations/s (median)")
    print(
        f"validate and apply (memory):   {med['memory']:>8,.0f} declarations/s"
        f"  (target >= {TARGET:,}/s on one core: {verdict})"
    )
    print(f"validate and apply (LevelDB):  {med['leveldb']:>8,.0f} declarations/s")
    print(f"decide and apply (memory):     {med['decide']:>8,.0f} decisions/s")
    print(f"apply share beyond validation: {1 - med['memory'] / med['validate']:.0%} of the time")


if __name__ == "__main__":
    main()
