#!/usr/bin/env python3
"""Cluster benchmark: four validators on this machine, declarations from client processes.

Run from the repository root::

    .venv/bin/python scripts/bench_cluster.py                       # 60 s at 1,200 tx/s offered
    .venv/bin/python scripts/bench_cluster.py --duration 30 --rate 400
    .venv/bin/python scripts/bench_cluster.py --duration 20 --rate 300 --vs-etcd

The validators are real node processes (``node.devnet.load`` starts them)
with the default consensus timeouts, serving clients over TLS as every
network ``network init`` writes does: each client connection makes one
handshake when it opens and is kept for the run. Client processes sign their own
``declaration.submit`` transactions with shippers' member keys, all of them
*before* the timed window (sealing the sensitive fields to the declaration's
readers, as every network ``network init`` writes gives each organisation an
encryption key, then signing and encoding cost about a millisecond per
declaration, which on a shared two-core machine would otherwise be taken
from the nodes), then offer them open-loop at ``--rate``
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

With ``--batch N`` a request (``POST /v1/transactions/batch``) carries N
consecutive transactions of the schedule, all signed with one key, and
leaves when the last of them is due.

With ``--vs-etcd`` the same client processes then offer the same
pre-signed transactions, on the same schedule, over the same connections,
to four etcd members on loopback (``etcd_cluster.py``; Debian's
``etcd-server`` 3.4 is installed if ``etcd`` is not on ``PATH``) at its
default durability, over plain HTTP (ours is over TLS), the validators
stopped: each transaction's wire bytes are the value of one put (``POST
/v3/kv/put`` on etcd's HTTP/JSON gateway, with ``--batch`` one
``/v3/kv/txn`` of N puts), its id the key. etcd answers
once the put is committed and fsynced on a quorum, so a put's latency runs
from its scheduled send time to its answer. Printed after ours: etcd's
figures, the load average before each run, and committed per second side
by side with the ratio (ours / etcd). Offered at a fixed ``--rate`` that
etcd keeps up with, the ratio says how far we fall short of that rate; it
compares capacities only when ``--rate`` is above both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import multiprocessing as mp
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self
from urllib.parse import urlsplit

import httpx
import msgpack
from etcd_cluster import EtcdCluster, etcd_version, find_etcd

from contracts.engine import MAX_TX_LIFETIME
from ledger.crypto import Domain, SigningKey, Verifier, sign_bytes
from ledger.encoding import encode
from ledger.keyfile import load_signing_key
from node.api.batch import MAX_BATCH_TXS
from node.auth import sign_request
from node.client.tls import trust
from node.devnet.errors import NetworkError
from node.devnet.load import Cluster, declaration_tx
from node.devnet.localnet import wait_for

ROOT = Path(__file__).resolve().parents[1]

NODES = ("customs", "port-authority", "forwarder-a", "forwarder-b")
TARGET_RATE = 1000.0
TARGET_P99_S = 2.0
DGLEDGER: Final = "dgledger"
ETCD: Final = "etcd"
ADMITTED: Final = frozenset({"202", "pending", "committed", "rejected"})
"""Answers of a node that took a declaration: HTTP 202 alone, its status in a batch."""

Sent = tuple[bytes, float, str, float]
"""A transaction a client sent: its id, scheduled send time, answer, and when it came."""


# ------------------------------------------------------------------ client side


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """What one client process signs and sends: its keys, its share of the rate, for how long."""

    index: int
    key_files: tuple[str, ...]
    key_nodes: tuple[int, ...]
    """For each key, the index in an order's ``urls`` of the server it sends to."""
    chain: str
    rate: float
    seconds: float
    batch: int
    """Transactions per request; a batch holds transactions of one key."""
    sealed_for: tuple[tuple[str, dict[str, bytes]], ...] = ()
    """For each key: its organisation and whom its declarations are sealed to."""


@dataclass(frozen=True, slots=True)
class Order:
    """One run, the same for every client: which system, its servers, when the schedule starts."""

    system: str
    urls: tuple[str, ...]
    start: float
    ca: str | None = None
    """The authority of ``https://`` servers' certificates (PEM file)."""


@dataclass(frozen=True, slots=True)
class Requests:
    """How a client turns the transactions due into a request and its answer into labels."""

    system: str
    batched: bool
    ids: list[bytes]
    wires: list[bytes]

    def request(self, host: str, items: list[int]) -> bytes:
        """One HTTP/1.1 request carrying the transactions ``items``."""
        if self.system == ETCD:
            puts = [{"key": _b64(self.ids[i]), "value": _b64(self.wires[i])} for i in items]
            if self.batched:
                txn = {"success": [{"request_put": put} for put in puts]}
                return _http(host, "/v3/kv/txn", "application/json", json.dumps(txn).encode())
            return _http(host, "/v3/kv/put", "application/json", json.dumps(puts[0]).encode())
        if self.batched:
            body = encode([self.wires[i] for i in items])
            return _http(host, "/v1/transactions/batch", "application/msgpack", body)
        return _http(host, "/v1/transactions", "application/msgpack", self.wires[items[0]])

    def answers(self, status: int, body: bytes, count: int) -> list[str]:
        """The answer to each of the ``count`` transactions of a request."""
        if self.system != DGLEDGER or not self.batched or status != 200:
            return [str(status)] * count
        results = json.loads(body)["results"]
        if len(results) != count:
            raise ValueError("not one result per transaction")
        return [
            f"refused {r['error']['code']}" if r["status"] == "refused" else str(r["status"])
            for r in results
        ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _http(host: str, path: str, content_type: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one HTTP/1.1 response; return its status code and body."""
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while size := int((await reader.readline()).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    while (await reader.readline()) not in (b"\r\n", b""):
        pass  # trailer fields
    return status, body


async def _connection(
    url: str,
    queue: asyncio.Queue[list[int] | None],
    requests: Requests,
    answers: list[str],
    answered: list[float],
    tls: ssl.SSLContext | None,
) -> None:
    """One keep-alive connection: send queued requests one after the other.

    Over TLS for an ``https://`` URL: one handshake when the connection opens,
    none per request.
    """
    parts = urlsplit(url)
    secure = tls if parts.scheme == "https" else None
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while (items := await queue.get()) is not None:
        try:
            if writer is None or reader is None:
                reader, writer = await asyncio.open_connection(host, port, ssl=secure)
            writer.write(requests.request(f"{host}:{port}", items))
            labels = requests.answers(*await _read_response(reader), len(items))
        except (OSError, ValueError, LookupError, TypeError, asyncio.IncompleteReadError):
            labels = ["-1"] * len(items)
            if writer is not None:
                writer.close()
            reader = writer = None
        now = time.time()
        for i, label in zip(items, labels, strict=True):
            answers[i], answered[i] = label, now
    if writer is not None:
        writer.close()


async def _offer(
    plan: ClientPlan, order: Order, requests: Requests
) -> tuple[list[str], list[float], float]:
    """Send on schedule; return each transaction's answer and its time, and the worst lag.

    Each key has one connection, to one server: a key's transactions arrive
    in the order they were signed. A request leaves when the last of its
    ``plan.batch`` transactions is due.
    """
    count = len(requests.wires)
    answers, answered = ["0"] * count, [float("inf")] * count
    keys = len(plan.key_files)
    queues: list[asyncio.Queue[list[int] | None]] = [asyncio.Queue() for _ in range(keys)]
    tls = trust(order.ca) if order.ca else None
    tasks = [
        asyncio.create_task(
            _connection(order.urls[k % len(order.urls)], q, requests, answers, answered, tls)
        )
        for k, q in zip(plan.key_nodes, queues, strict=True)
    ]
    worst_lag = 0.0
    due_now: list[int] = []
    for i in range(count):
        due = order.start + i / plan.rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            worst_lag = max(worst_lag, -delay)
        due_now.append(i)
        if len(due_now) == plan.batch or i == count - 1:
            queues[i // plan.batch % keys].put_nowait(due_now)
            due_now = []
    for q in queues:
        q.put_nowait(None)
    await asyncio.gather(*tasks)
    return answers, answered, worst_lag


def client_main(plan: ClientPlan, ready: Any, orders: Any, results: Any) -> None:
    """A client process: pre-sign, report ready, then run each order and report what it saw."""
    keys = [load_signing_key(f) for f in plan.key_files]
    count = int(plan.rate * plan.seconds)
    signing_started = time.process_time()
    nonces = [0] * len(keys)
    ids: list[bytes] = []
    wires: list[bytes] = []
    for j in range(count):
        k = j // plan.batch % len(keys)
        nonces[k] += 1
        # Signed before the run on a new chain: valid from genesis for the longest lifetime.
        name = f"bench-{plan.index}-{j}"
        sealed_for = plan.sealed_for[k] if plan.sealed_for else None
        tx = declaration_tx(
            keys[k], plan.chain, nonces[k], name, MAX_TX_LIFETIME, sealed_for=sealed_for
        )
        ids.append(tx.id)
        wires.append(tx.wire)
    ready.put((plan.index, count, time.process_time() - signing_started, sum(map(len, wires))))
    while (order := orders.get()) is not None:
        requests = Requests(order.system, plan.batch > 1, ids, wires)
        answers, answered, lag = asyncio.run(_offer(plan, order, requests))
        sched = [order.start + i / plan.rate for i in range(count)]
        results.put((plan.index, list(zip(ids, sched, answers, answered, strict=True)), lag))


class Clients:
    """The client processes: started at once (they sign), given orders, killed on exit."""

    def __init__(self, plans: list[ClientPlan]) -> None:
        ctx = mp.get_context("spawn")
        self.ready, self.results = ctx.Queue(), ctx.Queue()
        self.orders = [ctx.Queue() for _ in plans]
        self.procs = [
            ctx.Process(target=client_main, args=(p, self.ready, q, self.results))
            for p, q in zip(plans, self.orders, strict=True)
        ]
        self.count = self.wire_bytes = 0

    def __enter__(self) -> Self:
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            if p.is_alive():
                p.kill()
            p.join()

    def signed(self) -> float:
        """Wait until every client has signed; return the CPU seconds signing took."""
        signed = [self.ready.get(timeout=600) for _ in self.procs]
        self.count = sum(n for _, n, _, _ in signed)
        self.wire_bytes = sum(b for _, _, _, b in signed)
        return float(sum(s for _, _, s, _ in signed))

    def order(self, order: Order) -> None:
        """Start a run in every client."""
        for q in self.orders:
            q.put(order)

    def collect(self, timeout: float) -> tuple[list[Sent], float]:
        """Every client's record of the run, and the worst send lag of any."""
        sent: list[Sent] = []
        worst_lag = 0.0
        for _ in self.procs:
            _, items, lag = self.results.get(timeout=timeout)
            sent.extend(items)
            worst_lag = max(worst_lag, lag)
        return sent, worst_lag


# ------------------------------------------------------------------ observer side


@dataclass(slots=True)
class Observed:
    """Blocks as the observer saw them."""

    commit_time: dict[bytes, float] = field(default_factory=dict)
    blocks: list[tuple[int, float, int]] = field(default_factory=list)
    rounds: Counter[int] = field(default_factory=Counter)


class Observer(threading.Thread):
    """Polls one node for new blocks and notes when each transaction was seen committed."""

    def __init__(
        self, url: str, node: str, chain: str, key: SigningKey, tls: ssl.SSLContext
    ) -> None:
        super().__init__(name="observer", daemon=True)
        self.url = url
        self.tls = tls
        self.node = node
        self.chain = chain
        self.key = key
        self.seen = Observed()
        self.height = 0
        self.stopping = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=30.0, verify=self.tls) as client:
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


@dataclass(frozen=True, slots=True)
class Side:
    """One of the systems measured, and the words its figures are printed with."""

    system: str
    things: str
    answers: str
    servers: str
    targets: bool
    """Whether the project's targets apply to its figures."""


OURS = Side(DGLEDGER, "declarations", "node answers to submissions", "node", targets=True)
THEIRS = Side(ETCD, "puts", "etcd answers to puts", "member", targets=False)


@dataclass(frozen=True, slots=True)
class Offered:
    """What the clients sent in one run, and what it cost the servers."""

    window: tuple[float, float]
    sent: list[Sent]
    worst_lag: float
    cpu: dict[str, float]
    """CPU each server process used over the window (1.0 = one core)."""
    load: tuple[float, float, float]
    """``os.getloadavg()`` before the run."""


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one run over its window."""

    committed: int
    rate: float
    latencies: list[float]
    """Of the transactions sent in the window, sorted; one never committed is ``inf``."""
    answers: Counter[str]


def offer(
    args: argparse.Namespace,
    clients: Clients,
    side: Side,
    pids: dict[str, int],
    urls: tuple[str, ...],
    ca: str | None = None,
) -> Offered:
    """Order a run from the clients, note the servers' CPU over the window, collect."""
    load = os.getloadavg()
    if args.vs_etcd:
        print(f"load average before the {side.system} run: " + " ".join(f"{x:.2f}" for x in load))
    start = time.time() + 0.5
    window = (start + args.warmup, start + args.warmup + args.duration)
    clients.order(Order(side.system, urls, start, ca))
    wait_for(lambda: time.time() >= window[0], args.warmup + 5, "the warm-up", interval=0.01)
    cpu0 = {n: cpu_seconds(pid) for n, pid in pids.items()}
    wait_for(lambda: time.time() >= window[1], args.duration + 5, "the window", interval=0.05)
    cpu1 = {n: cpu_seconds(pid) for n, pid in pids.items()}
    sent, worst_lag = clients.collect(timeout=args.drain + 120)
    cpu = {n: (cpu1[n] - cpu0[n]) / args.duration for n in pids}
    return Offered(window, sent, worst_lag, cpu, load)


def figures(offered: Offered, commit_time: Mapping[bytes, float], duration: float) -> Figures:
    """Commits in the window per second, and the latencies of what was sent in the window."""
    lo, hi = offered.window
    committed = sum(1 for t in commit_time.values() if lo <= t < hi)
    latencies = sorted(
        commit_time.get(tx_id, float("inf")) - t for tx_id, t, _, _ in offered.sent if lo <= t < hi
    )
    answers = Counter(answer for _, t, answer, _ in offered.sent if lo <= t < hi)
    return Figures(committed, committed / duration, latencies, answers)


def report(args: argparse.Namespace, side: Side, offered: Offered, fig: Figures) -> None:
    """Print the figures every run has, as far as the clients' send lag."""
    p50, p99 = quantile(fig.latencies, 0.50), quantile(fig.latencies, 0.99)
    uncommitted = sum(1 for x in fig.latencies if x == float("inf"))
    rate_target = p99_target = ""
    if side.targets:
        rate_target = f"  (target >= {TARGET_RATE:,.0f}/s: {_met(fig.rate >= TARGET_RATE)})"
        p99_target = f"  (target p99 <= {TARGET_P99_S:.0f} s: {_met(p99 <= TARGET_P99_S)})"
    print(
        f"window: {args.duration:.0f} s after {args.warmup:.0f} s warm-up,"
        f" offered {args.rate:,.0f}/s"
    )
    print(f"committed {side.things}: {fig.committed:,} = {fig.rate:,.1f}/s sustained{rate_target}")
    print(
        f"submit-to-commit latency: p50 {p50:.3f} s, p99 {p99:.3f} s"
        f" over {len(fig.latencies):,} sent in the window, {uncommitted:,} never committed"
        + p99_target
    )
    codes = ", ".join(f"{c}: {n:,}" for c, n in sorted(fig.answers.items()))
    print(f"{side.answers} in the window: {codes}  (-1: connection error)")
    print(f"client send lag: worst {offered.worst_lag * 1000:.0f} ms behind schedule")


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report_cpu(side: Side, cpu: dict[str, float]) -> None:
    """Print the CPU each server process used over the window."""
    print(
        f"{side.servers} CPU over the window (1.0 = one core): "
        + ", ".join(f"{n} {c:.2f}" for n, c in cpu.items())
        + f"; total {sum(cpu.values()):.2f} of {os.cpu_count()}"
    )


# -------------------------------------------------------------------------- runs


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="timed window, seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="load before the window")
    parser.add_argument("--rate", type=float, default=1200.0, help="offered tx/s in total")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--keys", type=int, default=64, help="shipper keys = client connections")
    parser.add_argument(
        "--batch",
        type=int,
        default=1,
        choices=range(1, MAX_BATCH_TXS + 1),
        metavar=f"1..{MAX_BATCH_TXS}",
        help="transactions per request (POST /v1/transactions/batch; etcd: a txn)",
    )
    parser.add_argument("--block-delay-ms", type=int, default=50)
    parser.add_argument("--max-block-txs", type=int, default=2000)
    parser.add_argument(
        "--prune-keep",
        type=int,
        default=0,
        help="every node keeps the state of its last N blocks only ([store] prune_keep; 0: all)",
    )
    parser.add_argument("--drain", type=float, default=20.0, help="max wait for the last commits")
    parser.add_argument("--dir", help="network directory, kept (default: a temporary one)")
    parser.add_argument("--log-level", default="warning", help="the nodes' log level")
    parser.add_argument(
        "--vs-etcd",
        action="store_true",
        help="then the same clients against 4 etcd members (installs etcd-server if absent)",
    )
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    etcd = find_etcd() if args.vs_etcd else None
    ceiling = verification_ceiling()
    print(
        f"Ed25519 verification ceiling: {ceiling:,.0f}/s on all cores,"
        f" {ceiling / len(NODES):,.0f}/s per node with {len(NODES)} nodes"
    )
    with tempfile.TemporaryDirectory(prefix="dgledger-bench-") as tmp:
        directory = Path(args.dir) if args.dir else Path(tmp) / "net"
        return run(args, directory, ceiling, etcd, Path(tmp) / "etcd")


def run(
    args: argparse.Namespace, directory: Path, ceiling: float, etcd: str | None, etcd_dir: Path
) -> int:
    """Start the network and the clients, measure, print; then etcd's run if asked."""
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
        if args.prune_keep:
            for name in NODES:
                with (directory / name / "node.toml").open("a") as config:
                    config.write(f"\n[store]\nprune_keep = {args.prune_keep}\n")
        cluster.start()
        plans = [
            ClientPlan(
                c,
                tuple(str(directory / "keys" / f"{s}.pem") for s in shippers[c :: args.clients]),
                tuple(k % len(NODES) for k in range(args.keys)[c :: args.clients]),
                cluster.genesis.chain,
                args.rate / args.clients,
                args.warmup + args.duration,
                args.batch,
                tuple((s, cluster.readers[s]) for s in shippers[c :: args.clients]),
            )
            for c in range(args.clients)
        ]
        with Clients(plans) as clients:
            ours, our_load = measure(args, cluster, clients, ceiling)
            if etcd is None:
                return 0
            cluster.stop()  # etcd gets the machine to itself, as we had it
            theirs, their_load = measure_etcd(args, etcd, etcd_dir, clients)
    ratio = f"{ours.rate / theirs.rate:.2f}" if theirs.rate > 0 else "n/a"
    print(
        f"dgledger {ours.rate:,.1f}/s, etcd {theirs.rate:,.1f}/s committed:"
        f" ratio (ours / etcd) {ratio}; load average (1 min) before the runs:"
        f" dgledger {our_load:.2f}, etcd {their_load:.2f}"
    )
    return 0


def measure(
    args: argparse.Namespace, cluster: Cluster, clients: Clients, ceiling: float
) -> tuple[Figures, float]:
    """Drive our run: wait for signing, open the window, collect, print; figures and load."""
    sign_cpu = clients.signed()
    total = clients.count
    print(
        f"clients: {len(clients.procs)} processes, {args.keys} keys,"
        f" pre-signed {total:,} declarations, sealed"
        f" ({sign_cpu / total * 1e6:.0f} us of CPU each, kept out of the window;"
        f" {clients.wire_bytes / total:,.0f} bytes each)"
    )
    if args.batch > 1:
        etcd = "; etcd: one txn of as many puts (POST /v3/kv/txn)" if args.vs_etcd else ""
        print(f"requests: {args.batch} declarations each (POST /v1/transactions/batch){etcd}")
    cluster.wait_ready(timeout=120)
    observer = Observer(
        cluster.url(NODES[0]),
        NODES[0],
        cluster.genesis.chain,
        cluster.keys["auditor"],
        cluster.tls,
    )
    observer.start()
    pids = {n: node.proc.pid for n, node in cluster.nodes.items() if node.proc is not None}
    urls = tuple(cluster.url(n) for n in NODES)
    offered = offer(args, clients, OURS, pids, urls, str(cluster.ca))
    admitted = {tx_id for tx_id, _, answer, _ in offered.sent if answer in ADMITTED}

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
    fig = figures(offered, observer.seen.commit_time, args.duration)
    report(args, OURS, offered, fig)
    seen = observer.seen
    lo, hi = offered.window
    blocks = [(h, t, n) for h, t, n in seen.blocks if lo <= t < hi]
    sizes = [n for _, _, n in blocks]
    gaps = sorted(b[1] - a[1] for a, b in itertools.pairwise(blocks))
    if blocks:
        print(
            f"blocks: {len(blocks)} in the window, txs/block mean {statistics.mean(sizes):.0f}"
            f" max {max(sizes)}, interval p50 {quantile(gaps, 0.5) * 1000:.0f} ms"
            f" p99 {quantile(gaps, 0.99) * 1000:.0f} ms"
        )
    later = sum(n for r, n in seen.rounds.items() if r > 0)
    print(f"heights decided after round 0: {later} of {sum(seen.rounds.values())}")
    report_cpu(OURS, offered.cpu)
    if fig.rate > 0:
        per_tx = sum(offered.cpu.values()) / len(offered.cpu) / fig.rate * 1000
        print(
            f"node CPU per committed declaration: {per_tx:.2f} ms per node;"
            f" one signature verification costs {(os.cpu_count() or 1) / ceiling * 1000:.3f} ms"
        )
    return fig, offered.load[0]


def measure_etcd(
    args: argparse.Namespace, etcd: str, directory: Path, clients: Clients
) -> tuple[Figures, float]:
    """Drive etcd's run with the same clients and transactions, print; figures and load."""
    route = "/v3/kv/txn" if args.batch > 1 else "/v3/kv/put"
    print(
        f"etcd {etcd_version(etcd)}: {len(NODES)} members on loopback, WAL fsynced on every"
        f" commit; the same clients, connections, schedule and payloads (the pre-signed"
        f" declarations, {clients.wire_bytes / clients.count:,.0f} bytes on average),"
        f" puts round-robin over the members (POST {route})"
    )
    with EtcdCluster(etcd, directory, members=len(NODES), max_txn_ops=args.batch) as members:
        offered = offer(args, clients, THEIRS, members.pids, tuple(members.urls))
    commit_time = {tx_id: at for tx_id, _, answer, at in offered.sent if answer == "200"}
    fig = figures(offered, commit_time, args.duration)
    report(args, THEIRS, offered, fig)
    report_cpu(THEIRS, offered.cpu)
    return fig, offered.load[0]


if __name__ == "__main__":
    sys.exit(main())
