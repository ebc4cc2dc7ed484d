#!/usr/bin/env python3
"""Cluster benchmark: four validators on this machine, declarations from client processes.

Run from the repository root::

    .venv/bin/python scripts/bench_cluster.py                       # 60 s at 1,200 tx/s offered
    .venv/bin/python scripts/bench_cluster.py --duration 30 --rate 400

The validators are real node processes (``node.devnet.load`` starts them)
with the default consensus timeouts. Client processes sign their own
``declaration.submit`` transactions with shippers' member keys, all of them
*before* the timed window (signing and encoding cost about a quarter of a
millisecond per declaration, which on a shared two-core machine would
otherwise be taken from the nodes), then offer them open-loop at ``--rate``
per second in total, round-robin over the nodes, without waiting for the
commit (202 on admission). An observer polls one node and fetches each new
block; a declaration's latency runs from its *scheduled* send time to the
moment the observer saw its block, so client lag and the observer's poll
period (25 ms) count against it. Figures:

* committed declarations per second, sustained over the window (after a
  warm-up), and p50/p99 submit-to-commit latency of the declarations sent
  in the window (one not committed by the end counts as slower than all);
* the Ed25519 verification ceiling of this machine, measured first in the
  same run: ``Verifier.verify_many`` on every core, divided by the number of
  nodes (each node verifies every signature at least once);
* CPU used by each node over the window, blocks and their sizes, consensus
  rounds above 0, and what the nodes refused.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgpack

from contracts.engine import MAX_TX_LIFETIME
from ledger.crypto import Domain, SigningKey, Verifier, sign_bytes
from ledger.keyfile import load_signing_key
from node.auth import sign_request
from node.devnet.errors import NetworkError
from node.devnet.load import Cluster, declaration_tx
from node.devnet.localnet import wait_for

ROOT = Path(__file__).resolve().parents[1]

NODES = ("customs", "port-authority", "forwarder-a", "forwarder-b")
TARGET_RATE = 1000.0
TARGET_P99_S = 2.0


# ------------------------------------------------------------------ client side


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """What one client process sends: its keys, its share of the rate, for how long."""

    index: int
    key_files: tuple[str, ...]
    key_nodes: tuple[int, ...]
    """For each key, the index in ``urls`` of the node it submits to."""
    chain: str
    urls: tuple[str, ...]
    rate: float
    seconds: float


def _request(host: str, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/msgpack\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_status(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response; return its status code."""
    status = int((await reader.readline()).split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _connection(
    url: str, queue: asyncio.Queue[int | None], wires: list[bytes], answers: list[int]
) -> None:
    """One keep-alive connection: send queued transactions one after the other."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while True:
        i = await queue.get()
        if i is None:
            break
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(_request(f"{host}:{port}", "/v1/transactions", wires[i]))
            answers[i] = await _read_status(reader)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            answers[i] = -1
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _offer(plan: ClientPlan, wires: list[bytes], start: float) -> tuple[list[int], float]:
    """Send ``wires`` open-loop on schedule; return HTTP answers and the worst send lag.

    Each key has one connection, to one node, so that its nonces arrive in
    order (a node admits nonce n+1 before n, then refuses n as reused).
    """
    answers = [0] * len(wires)
    keys = len(plan.key_files)
    queues: list[asyncio.Queue[int | None]] = [asyncio.Queue() for _ in range(keys)]
    tasks = [
        asyncio.create_task(_connection(plan.urls[k % len(plan.urls)], q, wires, answers))
        for k, q in zip(plan.key_nodes, queues, strict=True)
    ]
    worst_lag = 0.0
    for i in range(len(wires)):
        due = start + i / plan.rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        queues[i % keys].put_nowait(i)
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*tasks)
    return answers, worst_lag


def client_main(plan: ClientPlan, ready: Any, go: MpEvent, start_at: Any, results: Any) -> None:
    """A client process: pre-sign, report ready, send on schedule, report every id and answer."""
    keys = [load_signing_key(f) for f in plan.key_files]
    count = int(plan.rate * plan.seconds)
    signing_started = time.process_time()
    ids: list[bytes] = []
    wires: list[bytes] = []
    for j in range(count):
        key = keys[j % len(keys)]
        nonce = j // len(keys) + 1
        tx = declaration_tx(key, plan.chain, nonce, f"bench-{plan.index}-{j}", MAX_TX_LIFETIME)
        ids.append(tx.id)
        wires.append(tx.wire)
    ready.put((plan.index, count, time.process_time() - signing_started))
    go.wait()
    start = float(start_at.value)
    answers, lag = asyncio.run(_offer(plan, wires, start))
    sched = [start + i / plan.rate for i in range(count)]
    results.put((plan.index, list(zip(ids, sched, answers, strict=True)), lag))


# ------------------------------------------------------------------ observer side


@dataclass(slots=True)
class Observed:
    """Blocks as the observer saw them."""

    commit_time: dict[bytes, float] = field(default_factory=dict)
    blocks: list[tuple[int, float, int]] = field(default_factory=list)
    rounds: Counter[int] = field(default_factory=Counter)


class Observer(threading.Thread):
    """Polls one node for new blocks and notes when each transaction was seen committed."""

    def __init__(self, url: str, node: str, chain: str, key: SigningKey) -> None:
        super().__init__(name="observer", daemon=True)
        self.url = url
        self.node = node
        self.chain = chain
        self.key = key
        self.seen = Observed()
        self.height = 0
        self.stopping = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=30.0) as client:
                while not self.stopping.wait(0.025):
                    height = int(client.get("/v1/status").json()["height"])
                    while self.height < height:
                        self._fetch(client, height)
        except Exception as e:  # reported by the main thread
            self.error = e

    def _fetch(self, client: httpx.Client, height: int) -> None:
        count = min(100, height - self.height)
        path = f"/peer/v1/blocks?from={self.height + 1}&count={count}"
        now_ms = time.time_ns() // 10**6
        headers = sign_request(self.key, self.chain, "GET", path, b"", now_ms, node=self.node)
        response = client.get(path, headers=headers)
        response.raise_for_status()
        now = time.time()
        for block_bytes, _ in msgpack.unpackb(response.content):
            block = msgpack.unpackb(block_bytes)
            self.height = block["header"]["height"]
            for wire in block["txs"]:
                env = msgpack.unpackb(wire)["env"]
                self.seen.commit_time[hashlib.sha256(env).digest()] = now
            self.seen.blocks.append((self.height, now, len(block["txs"])))
            if block["last_commit"] is not None:
                self.seen.rounds[block["last_commit"]["round"]] += 1


# ---------------------------------------------------------------------- figures


def verification_ceiling(samples: int = 20_000) -> float:
    """Ed25519 verifications per second with ``Verifier.verify_many`` on every core."""
    keys = [SigningKey.generate() for _ in range(16)]
    items = []
    for i in range(samples):
        key = keys[i % len(keys)]
        message = sign_bytes(Domain.TX, "bench", hashlib.sha256(i.to_bytes(8, "big")).digest())
        items.append((key.public.raw, message, key.sign_raw(message)))
    with Verifier(os.cpu_count() or 1, cache_size=0) as verifier:
        verifier.verify_many(items[:256])  # start the pool outside the timing
        started = time.perf_counter()
        verdicts = verifier.verify_many(items)
        elapsed = time.perf_counter() - started
    if not all(verdicts):
        raise SystemExit("verification ceiling: a good signature failed")
    return samples / elapsed


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of sorted ``values``."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(q * len(values)) - 1))]


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="timed window, seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="load before the window")
    parser.add_argument("--rate", type=float, default=1200.0, help="offered tx/s in total")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--keys", type=int, default=64, help="shipper keys = client connections")
    parser.add_argument("--block-delay-ms", type=int, default=50)
    parser.add_argument("--max-block-txs", type=int, default=2000)
    parser.add_argument("--drain", type=float, default=20.0, help="max wait for the last commits")
    parser.add_argument("--dir", help="network directory, kept (default: a temporary one)")
    parser.add_argument("--log-level", default="warning", help="the nodes' log level")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    ceiling = verification_ceiling()
    print(
        f"Ed25519 verification ceiling: {ceiling:,.0f}/s on all cores,"
        f" {ceiling / len(NODES):,.0f}/s per node with {len(NODES)} nodes"
    )
    with tempfile.TemporaryDirectory(prefix="dgledger-bench-") as tmp:
        directory = Path(args.dir) if args.dir else Path(tmp) / "net"
        return run(args, directory, ceiling)


def run(args: argparse.Namespace, directory: Path, ceiling: float) -> int:
    """Start the network and the clients, measure, print."""
    shippers = [f"bench-shipper-{i}" for i in range(args.keys)]
    consensus = {"block_delay_ms": args.block_delay_ms, "max_block_txs": args.max_block_txs}
    with Cluster(
        directory,
        validators=NODES,
        members=[f"{s}:shipper" for s in shippers] + ["auditor:auditor"],
        consensus=consensus,
        port_range=(7600, 7700),
        chain="dgledger-bench",
        log_level=args.log_level,
    ) as cluster:
        cluster.start()
        seconds = args.warmup + args.duration
        ctx = mp.get_context("spawn")
        ready, results = ctx.Queue(), ctx.Queue()
        go = ctx.Event()
        start_at = ctx.Value("d", 0.0)
        plans = [
            ClientPlan(
                c,
                tuple(str(directory / "keys" / f"{s}.pem") for s in shippers[c :: args.clients]),
                tuple(k % len(NODES) for k in range(args.keys)[c :: args.clients]),
                cluster.genesis.chain,
                tuple(cluster.url(n) for n in NODES),
                args.rate / args.clients,
                seconds,
            )
            for c in range(args.clients)
        ]
        procs = [
            ctx.Process(target=client_main, args=(p, ready, go, start_at, results)) for p in plans
        ]
        for p in procs:
            p.start()
        try:
            return measure(args, cluster, procs, ready, results, go, start_at, ceiling)
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
                p.join()


def measure(
    args: argparse.Namespace,
    cluster: Cluster,
    procs: list[Any],
    ready: Any,
    results: Any,
    go: MpEvent,
    start_at: Any,
    ceiling: float,
) -> int:
    """Drive one run: wait for signing, open the window, collect, print."""
    signed = [ready.get(timeout=600) for _ in procs]
    total = sum(n for _, n, _ in signed)
    sign_cpu = sum(s for _, _, s in signed)
    print(
        f"clients: {len(procs)} processes, {args.keys} keys, pre-signed {total:,} declarations"
        f" ({sign_cpu / total * 1e6:.0f} us of CPU each, kept out of the window)"
    )
    cluster.wait_ready(timeout=120)
    observer = Observer(
        cluster.url(NODES[0]), NODES[0], cluster.genesis.chain, cluster.keys["auditor"]
    )
    observer.start()
    pids = {n: node.proc.pid for n, node in cluster.nodes.items() if node.proc is not None}
    start = time.time() + 0.5
    window = (start + args.warmup, start + args.warmup + args.duration)
    start_at.value = start
    go.set()
    wait_for(lambda: time.time() >= window[0], args.warmup + 5, "the warm-up", interval=0.01)
    cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items()}
    wait_for(lambda: time.time() >= window[1], args.duration + 5, "the window", interval=0.05)
    cpu1 = {n: cpu_seconds(pid) for n, pid in pids.items()}
    sent: list[tuple[bytes, float, int]] = []
    worst_lag = 0.0
    for _ in procs:
        _, items, lag = results.get(timeout=args.drain + 120)
        sent.extend(items)
        worst_lag = max(worst_lag, lag)
    admitted = {tx_id for tx_id, _, code in sent if code == 202}

    def drained() -> bool:
        return admitted <= observer.seen.commit_time.keys() or observer.error is not None

    try:
        wait_for(drained, args.drain, "the last admitted declarations to commit", 0.1)
    except NetworkError as e:  # an undrained mempool is a figure, not a failure
        print(f"note: {e}")
    observer.stopping.set()
    observer.join(timeout=30)
    if observer.error is not None:
        raise SystemExit(f"observer failed: {observer.error!r}")
    report(args, observer.seen, sent, window, cpu0, cpu1, worst_lag, ceiling)
    return 0


def report(
    args: argparse.Namespace,
    seen: Observed,
    sent: list[tuple[bytes, float, int]],
    window: tuple[float, float],
    cpu0: dict[str, float],
    cpu1: dict[str, float],
    worst_lag: float,
    ceiling: float,
) -> None:
    """Print the figures of one run."""
    lo, hi = window
    in_window = sum(n for _, t, n in seen.blocks if lo <= t < hi)
    rate = in_window / args.duration
    latencies = sorted(
        seen.commit_time.get(tx_id, float("inf")) - t for tx_id, t, _ in sent if lo <= t < hi
    )
    uncommitted = sum(1 for x in latencies if x == float("inf"))
    answers = Counter(code for _, t, code in sent if lo <= t < hi)
    blocks = [(h, t, n) for h, t, n in seen.blocks if lo <= t < hi]
    sizes = [n for _, _, n in blocks]
    gaps = sorted(b[1] - a[1] for a, b in itertools.pairwise(blocks))
    p50, p99 = quantile(latencies, 0.50), quantile(latencies, 0.99)
    print(
        f"window: {args.duration:.0f} s after {args.warmup:.0f} s warm-up,"
        f" offered {args.rate:,.0f}/s"
    )
    print(
        f"committed declarations: {in_window:,} = {rate:,.1f}/s sustained"
        f"  (target >= {TARGET_RATE:,.0f}/s: {'met' if rate >= TARGET_RATE else 'NOT met'})"
    )
    print(
        f"submit-to-commit latency: p50 {p50:.3f} s, p99 {p99:.3f} s"
        f" over {len(latencies):,} sent in the window, {uncommitted:,} never committed"
        f"  (target p99 <= {TARGET_P99_S:.0f} s: {'met' if p99 <= TARGET_P99_S else 'NOT met'})"
    )
    codes = ", ".join(f"{c}: {n:,}" for c, n in sorted(answers.items()))
    print(f"node answers to submissions in the window: {codes}  (-1: connection error)")
    print(f"client send lag: worst {worst_lag * 1000:.0f} ms behind schedule")
    if blocks:
        print(
            f"blocks: {len(blocks)} in the window, txs/block mean {statistics.mean(sizes):.0f}"
            f" max {max(sizes)}, interval p50 {quantile(gaps, 0.5) * 1000:.0f} ms"
            f" p99 {quantile(gaps, 0.99) * 1000:.0f} ms"
        )
    later = sum(n for r, n in seen.rounds.items() if r > 0)
    print(f"heights decided after round 0: {later} of {sum(seen.rounds.values())}")
    cpu = {n: (cpu1[n] - cpu0[n]) / args.duration for n in cpu0}
    print(
        "node CPU over the window (1.0 = one core): "
        + ", ".join(f"{n} {c:.2f}" for n, c in cpu.items())
        + f"; total {sum(cpu.values()):.2f} of {os.cpu_count()}"
    )
    if rate > 0:
        per_tx = sum(cpu.values()) / len(cpu) / rate * 1000
        print(
            f"node CPU per committed declaration: {per_tx:.2f} ms per node;"
            f" one signature verification costs {(os.cpu_count() or 1) / ceiling * 1000:.3f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
