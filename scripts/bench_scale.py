#!/usr/bin/env python3
"""Scale benchmark: audit, catch-up, reads and storage on a chain of N declarations.

Run from the repository root::

    .venv/bin/python scripts/bench_scale.py                       # 1,000,000 declarations
    .venv/bin/python scripts/bench_scale.py --declarations 100000
    .venv/bin/python scripts/bench_scale.py --declarations 20000 --quick --json out.json
    .venv/bin/python scripts/bench_scale.py --reuse --dir DIR --reads-only --paces 0.5,1,2

Steps, each timed on its own:

1. the machine's Ed25519 verification ceiling: libsodium on every core at once
   (one process per core) and on one core;
2. a 4-validator network (``LocalNetwork``) whose chain is made by
   ``scripts/make_chain.py`` in three validators' data directories, the
   fourth left empty;
3. ``dgledger audit --data`` of the whole chain, as its own process: rate and
   peak RSS (with ``--curve``, instead: the same audit as ``node.audit.audit``
   in a child process that also reports rate and RSS as it passes each of
   ``CHECKPOINTS`` transactions, for the plot);
4. catch-up: the three validators start, then the empty one; time until it
   holds the chain, then until a block carries its precommit;
5. reads: ``--readers`` concurrent clients, each request freshly signed
   (with the network's member keys in turn: the node limits requests per
   key), ``GET /v1/declarations/{id}`` (receipt and proofs) and list queries
   by vessel and by status following ``next`` from page to page: p50/p99 as
   the readers see them, and the node's own from its ``/metrics``; refused
   reads by status and code, dropped connections by exception. First in a
   closed loop (each reader sends again as soon as it has an answer: the
   node's throughput, and latencies that are mostly the readers queueing
   behind each other), then at each of ``--paces`` requests/s per reader
   (latency at a stated load, counted from when each request was due);
6. the chain is extended through the API, then the serving node's RSS;
7. bytes on disk per declaration against the signed declaration's size;
8. the network stops and the caught-up node's blocks and certificates are
   compared byte for byte with those of a node that made them.

Latencies are measured by the client, which shares the machine's cores
with the node it reads from.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nacl.bindings

from contracts.access import SEE_EVERY_DECLARATION
from contracts.dgl_builtin import builtin_list
from contracts.membership import AppGenesis
from ledger.block import Block
from ledger.chainstore import ChainStore
from ledger.crypto import Domain, SigningKey, sign_bytes
from ledger.encoding import decode, sha256
from ledger.keyfile import load_signing_key
from ledger.kv import LevelDBKV
from ledger.votes import Certificate
from node.auth import sign_request
from node.client.client import Client
from node.client.errors import ClientError
from node.devnet.localnet import LocalNetwork, wait_for
from node.devnet.traffic import TrafficGenerator
from node.genesis_file import load_genesis
from node.network import ENC_KEY_SUFFIX

ROOT = Path(__file__).resolve().parents[1]

MAKERS = ("customs", "port-authority", "forwarder-a")
FRESH = "forwarder-b"
CHECKPOINTS = (25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000)
now = time.perf_counter

# Runs a command and prints, last, the peak RSS (KiB) of its process tree.
_RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- 1. signature ceiling ---------------------------------------------------------------------


def _verify_many(count: int) -> tuple[float, float]:
    """Verify ``count`` distinct signatures with libsodium; wall-clock start and end."""
    key = SigningKey.from_seed(sha256(str(os.getpid()).encode()))
    raw = key.public.raw
    items = []
    for i in range(count):
        object_hash = sha256(i.to_bytes(8, "big"))
        message = sign_bytes(Domain.TX, "ceiling", object_hash)
        items.append(key.sign(Domain.TX, "ceiling", object_hash) + message)
    start = time.time()
    for signed in items:
        nacl.bindings.crypto_sign_open(signed, raw)
    return start, time.time()


def ceiling(count: int = 30_000) -> dict[str, float]:
    """Ed25519 verifications per second: one core, and every core at once (one process each).

    The all-core rate is every verification over the wall-clock span from the
    first worker's start to the last one's end, so a worker that ran while
    another was still signing its items cannot inflate it.
    """

    cores = os.cpu_count() or 1
    start, end = _verify_many(count)
    one = count / (end - start)
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_verify_many, [100] * cores))  # every worker started first
        spans = list(pool.map(_verify_many, [count] * cores))
    span = max(e for _, e in spans) - min(s for s, _ in spans)
    return {"cores": cores, "one_core": one, "all_cores": cores * count / span}


# -- 2. chain ---------------------------------------------------------------------------------


def make(net_dir: Path, declarations: int, per_block: int) -> dict[str, Any]:
    """Run ``make_chain.py`` into the makers' data directories."""
    cmd = [
        sys.executable,
        str(ROOT / "scripts" / "make_chain.py"),
        "--network",
        str(net_dir),
        "--declarations",
        str(declarations),
        "--block-declarations",
        str(per_block),
        "--nodes",
        ",".join(MAKERS),
        "--json",
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    summary: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return summary


# -- 3. audit ---------------------------------------------------------------------------------


def audit(net_dir: Path) -> dict[str, Any]:
    """``dgledger audit --data`` of a maker's store: report, seconds, peak RSS."""
    cmd = [
        sys.executable,
        "-c",
        _RSS_WRAPPER,
        sys.executable,
        "-m",
        "node.cli",
        "audit",
        "--data",
        str(net_dir / MAKERS[0] / "data"),
        "--genesis",
        str(net_dir / "genesis.json"),
        "--json",
    ]
    start = now()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT)
    seconds = now() - start
    if out.returncode != 0:
        raise SystemExit(
            f"audit failed ({out.returncode}): {out.stdout[-2000:]}{out.stderr[-2000:]}"
        )
    report: dict[str, Any] = json.loads(out.stdout)
    rss_kib = int(out.stderr.strip().splitlines()[-1])
    return {"report": report, "seconds": seconds, "peak_rss_mb": rss_kib / 1024}


_CURVE = """
import json, sys, time
from pathlib import Path
from contracts.dgl_builtin import builtin_list
from node.audit import audit, blocks_from_store
from node.genesis_file import genesis_from_json
genesis = genesis_from_json(Path({genesis!r}).read_text())
dgl = builtin_list()
marks = list({marks!r})
start = time.perf_counter()
def rss():
    v = {{}}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "RssAnon:")):
            v[line.split(":")[0]] = int(line.split()[1]) / 1024
    return v["VmRSS"], v["RssAnon"]
def progress(s):
    if marks and s.transactions >= marks[0]:
        marks.pop(0)
        t = time.perf_counter() - start
        print(json.dumps({{"transactions": s.transactions, "seconds": t,
                          "rate": s.transactions / t, "rss_mb": rss()[0],
                          "anon_mb": rss()[1]}}), flush=True)
r = audit(genesis, blocks_from_store(Path({data!r}), genesis), {{dgl.digest(): dgl}},
          progress=progress)
t = time.perf_counter() - start
print(json.dumps({{"transactions": r.transactions, "seconds": t,
                  "rate": r.transactions / t, "rss_mb": rss()[0], "anon_mb": rss()[1]}}),
      flush=True)
"""


def audit_curve(net_dir: Path) -> dict[str, Any]:
    """Audit with rate and RSS at each checkpoint passed.

    The process runs :func:`node.audit.audit` over :func:`node.audit.blocks_from_store`,
    which is all ``dgledger audit --data`` does besides printing.
    """
    code = _CURVE.format(
        genesis=str(net_dir / "genesis.json"),
        data=str(net_dir / MAKERS[0] / "data"),
        marks=CHECKPOINTS,
    )
    cmd = [sys.executable, "-c", _RSS_WRAPPER, sys.executable, "-c", code]
    start = now()
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT)
    seconds = now() - start
    if out.returncode != 0:
        raise SystemExit(f"audit failed ({out.returncode}): {out.stderr[-3000:]}")
    points = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    final = points[-1]
    rss_kib = int(out.stderr.strip().splitlines()[-1])
    report = {"sound": True, "transactions": final["transactions"]}
    return {"report": report, "seconds": seconds, "peak_rss_mb": rss_kib / 1024, "curve": points}


# -- 4. catch-up ------------------------------------------------------------------------------


def rss_of(pid: int) -> dict[str, float]:
    """Resident memory of a process in MB: all, peak, and its anonymous and file-backed parts.

    LevelDB maps table files into memory; the pages it reads count as
    resident (``file_mb``) though the kernel may drop them at any time.
    """
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            name = line.split(":")[0]
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[name] = int(line.split()[1]) / 1024
    return {
        "rss_mb": values["VmRSS"],
        "peak_rss_mb": values["VmHWM"],
        "anon_mb": values["RssAnon"],
        "file_mb": values["RssFile"],
    }


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used, user and system, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def height(net: LocalNetwork, name: str) -> int:
    """Committed height reported by a node."""
    status = net.status(name)
    return -1 if status is None else int(status["height"])


def participation(net: LocalNetwork, name: str, first: int, key_id: str) -> dict[str, int]:
    """Blocks from ``first`` on that ``key_id`` proposed, and certificates holding its precommit."""

    key = load_signing_key(net.directory / name / "node-key.pem")
    path = f"/peer/v1/blocks?from={first}&count=100"
    now_ms = time.time_ns() // 1_000_000
    headers = sign_request(key, _chain(net), "GET", path, b"", now_ms, node=name)
    response = net.http.get(net.url(name) + path, headers=headers, timeout=30.0)
    response.raise_for_status()
    proposed = precommits = 0
    for raw_block, raw_cert in decode(response.content, max_size=1 << 28, max_depth=4):
        block = Block.decode(raw_block)
        cert = Certificate.decode(raw_cert)
        proposed += block.header.proposer == key_id
        precommits += any(v == key_id for v, _ in cert.signatures)
    return {"proposed": proposed, "precommits": precommits}


def _chain(net: LocalNetwork) -> str:
    return str(json.loads(net.genesis_path.read_text())["chain"])


def catch_up(net: LocalNetwork, timeout: float) -> dict[str, Any]:
    """Start the makers, then the empty validator; time its catch-up (or its progress)."""
    for name in MAKERS:
        net.start(name, wait=False)
    net.wait_ready(*MAKERS, timeout=600)
    tip = max(height(net, n) for n in MAKERS)
    log(f"makers up at height {tip}; starting {FRESH}")
    start = now()
    net.start(FRESH, wait=False)
    deadline = start + timeout
    status: dict[str, Any] = {}
    while now() < deadline:
        status = net.status(FRESH) or {}
        if status.get("height", 0) >= tip:
            break
        time.sleep(0.5)
    seconds = now() - start
    reached = int(status.get("height", 0))
    transactions = int(status.get("log_size", 0))
    return {
        "tip": tip,
        "reached": reached,
        "complete": reached >= tip,
        "transactions": transactions,
        "seconds": seconds,
        "transactions_per_s": transactions / seconds,
        "height": reached,
        "fresh_rss": rss_of(_pid(net, FRESH)),
    }


def _pid(net: LocalNetwork, name: str) -> int:
    process = net.nodes[name].proc
    assert process is not None
    return process.pid


# -- 5. reads ---------------------------------------------------------------------------------


def pct(xs: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``xs``, nearest rank."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * len(s)) - 1))]


async def _readers(
    url: str,
    node: str,
    chain: str,
    keys: list[SigningKey],
    readers: int,
    seconds: float,
    next_target: Any,
    pace: float = 0.0,
    tls: ssl.SSLContext | bool = True,
) -> tuple[list[float], dict[str, int], dict[str, int]]:
    """Each reader's latencies, refusals and drops; closed loop, or ``pace`` requests/s each.

    Paced, a reader's requests are due on a fixed schedule (its own phase, so
    the readers do not all send at once) and a latency runs from when the
    request was due: a request kept waiting by a slow answer before it counts
    that wait, so a node falling behind shows in the figures instead of
    slowing the load that measures it.
    """
    latencies: list[float] = []
    refused: dict[str, int] = {}
    # A connection the node drops is counted and named, not the end of the run.
    dropped: dict[str, int] = {}
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers)
    async with httpx.AsyncClient(base_url=url, timeout=30.0, limits=limits, verify=tls) as client:
        deadline = now() + seconds
        stamp = [0]

        async def reader(rng: random.Random, key: SigningKey) -> None:
            cursor: dict[str, Any] = {}
            due = now() + (rng.random() / pace if pace else 0.0)
            while now() < deadline:
                if pace:
                    await asyncio.sleep(max(0.0, due - now()))
                    if due >= deadline:
                        break
                target = next_target(rng, cursor)
                # A signature is deterministic: the same path signed in the same
                # millisecond would be refused as a replay, so times never repeat.
                stamp[0] = max(time.time_ns() // 1_000_000, stamp[0] + 1)
                headers = sign_request(key, chain, "GET", target, b"", stamp[0], node=node)
                start = min(due, now()) if pace else now()
                due += 1 / pace if pace else 0.0
                try:
                    response = await client.get(target, headers=headers)
                except httpx.TransportError as e:
                    name = f"{type(e).__name__} ({e})" if str(e) else type(e).__name__
                    dropped[name] = dropped.get(name, 0) + 1
                    continue
                if response.status_code != 200:
                    # Named by status and error code (a 429 is the node's per-key rate
                    # limit); a refused request's latency is not a read's.
                    name = f"{response.status_code} {ClientError.from_response(response).code}"
                    refused[name] = refused.get(name, 0) + 1
                    continue
                latencies.append((now() - start) * 1000)
                # Parsed only by a target that follows it: the client shares the cores.
                cursor["last"] = response

        await asyncio.gather(
            *(reader(random.Random(i), keys[i % len(keys)]) for i in range(readers))
        )
    return latencies, refused, dropped


def reads(
    net: LocalNetwork,
    name: str,
    made: dict[str, Any],
    readers: int,
    seconds: float,
    paces: tuple[float, ...] = (),
) -> dict[str, Any]:
    """p50/p99 of declaration reads and of paginated list queries under concurrent readers.

    First with every reader sending its next request as soon as it has an
    answer (closed loop: the node's throughput, and latencies that are mostly
    queueing, since fifty readers wait behind each other), then, for each of
    ``paces``, with every reader sending that many requests per second
    (``paced``: the latency at a stated load, below saturation).
    """
    chain = _chain(net)
    # Readers are the network's members, one key each in turn: the node limits
    # requests per key, and fifty readers signing with one key would meet it.
    keys = [
        load_signing_key(path)
        for path in sorted((net.directory / "keys").glob("*.pem"))
        if not path.name.endswith(ENC_KEY_SUFFIX)
    ]
    # A declaration is read by those who read every declaration (customs, the port
    # authority, auditors): any other member is told that a competitor's is unknown.
    app = AppGenesis.from_value(load_genesis(net.genesis_path).app)
    officers = [
        load_signing_key(net.key_path(org.name))
        for org in app.orgs
        if org.role in SEE_EVERY_DECLARATION and net.key_path(org.name).exists()
    ]
    blocks = int(made["blocks"])
    per_block = int(made["per_block"])
    # The vessels and voyages are the seed's alone, whatever the base time.
    vessels = [
        v.imo for v in TrafficGenerator(builtin_list(), int(made["seed"]), base_time_ms=0).voyages
    ]

    def one_declaration(rng: random.Random, cursor: dict[str, Any]) -> str:
        while True:
            b, i = rng.randrange(blocks), rng.randrange(per_block)
            if i % 100 != 99 and b * per_block + i < int(made["declarations"]):
                return f"/v1/declarations/DG-{b:07d}-{i:05d}"

    def one_page(rng: random.Random, cursor: dict[str, Any]) -> str:
        answer = cursor.get("last")
        last = None if answer is None else answer.json()
        base = cursor.get("base")
        if last is not None and last.get("next") and base is not None and cursor["pages"] < 20:
            cursor["pages"] += 1
            return f"{base}&after={quote(last['next'], safe='')}"
        if rng.random() < 0.5:
            base = f"/v1/declarations?vessel={rng.choice(vessels)}&limit=50"
        else:
            base = f"/v1/declarations?status={rng.choice(['submitted', 'loaded'])}&limit=50"
        cursor.update(base=base, pages=0, last=None)
        return base

    out: dict[str, Any] = {"paced": {}}
    pid = _pid(net, name)
    targets = {"declaration": one_declaration, "list": one_page}
    signers = {"declaration": officers, "list": keys}
    for pace, label in [(pace, label) for pace in (0.0, *paces) for label in targets]:
        # Long enough at a pace for the node's window of its last 1,000 reads
        # (``node_read_quantiles``) to hold this phase's reads alone.
        duration = max(seconds, 1100 / (pace * readers)) if pace else seconds
        cpu = cpu_seconds(pid)
        lat, refused, dropped = asyncio.run(
            _readers(
                net.url(name),
                name,
                chain,
                signers[label],
                readers,
                duration,
                targets[label],
                pace,
                net.tls,
            )
        )
        # The readers share the machine with the node, so their rate says as much
        # about them as about it; the node's CPU per answer is the node's alone.
        answers = len(lat) + sum(refused.values())
        figures = {
            "node_cpu_ms": (cpu_seconds(pid) - cpu) * 1000 / max(answers, 1),
            "dropped": dropped,
            "requests": len(lat),
            "errors": sum(refused.values()),
            "refused": refused,
            "per_s": len(lat) / duration,
            "p50_ms": pct(lat, 0.50),
            "p99_ms": pct(lat, 0.99),
            "node": node_read_quantiles(net, name),
        }
        if pace:
            figures["offered_per_s"] = pace * readers
            out["paced"].setdefault(str(pace), {})[label] = figures
        else:
            out[label] = figures
        log(f"reads {label}{f' at {pace}/s per reader' if pace else ''}: {figures}")
    return out


def _node_side(node: dict[str, float]) -> str:
    if len(node) < 4:
        return ""
    return (
        f"; in the node: p50 {node['read_p50_ms']:.1f} ms, p99 {node['read_p99_ms']:.1f} ms"
        f" (building alone p50 {node['build_p50_ms']:.1f}, p99 {node['build_p99_ms']:.1f})"
    )


def node_read_quantiles(net: LocalNetwork, name: str) -> dict[str, float]:
    """The node's own p50/p99 of its last 1,000 reads (``/metrics``): admission to built,
    and the build alone; the client's figures add HTTP and the client's own waits."""
    text = net.http.get(net.url(name) + "/metrics", timeout=30.0).text
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line[:1] not in "#")
    return {
        f"{key}_{tag}_ms": float(samples[f'dgledger_{metric}{{quantile="{q}"}}'])
        for metric, key in (("read_latency_ms", "read"), ("read_build_ms", "build"))
        for q, tag in (("0.5", "p50"), ("0.99", "p99"))
    }


# -- 6. extend --------------------------------------------------------------------------------


def extend(net: LocalNetwork, name: str, count: int) -> dict[str, Any]:
    """Submit ``count`` new declarations through the API and wait for each to commit."""
    key = load_signing_key(net.key_path("shipper-gamma"))
    run = time.strftime("%H%M%S")
    # A --reuse run must not declare the same ids, nor the same containers, again.
    gen = TrafficGenerator(
        builtin_list(), seed=int(run) + 100, base_time_ms=time.time_ns() // 1_000_000
    )
    start = now()
    with Client.connect(net.url(name), key, ca=net.ca) as client:
        for i in range(count):
            doc = gen.declaration("gamma")
            doc["declarationId"] = f"EXT-{run}-{i:06d}"
            client.declare(doc, wait=True)
    return {"declarations": count, "seconds": now() - start, "height": height(net, name)}


# -- 8. identical chains ----------------------------------------------------------------------


def _store(net_dir: Path, name: str) -> tuple[LevelDBKV, ChainStore]:
    kv = LevelDBKV(net_dir / name / "data" / "chain", create=False)
    return kv, ChainStore(kv, load_genesis(net_dir / "genesis.json"), blocks_only=True)


def compare(net_dir: Path, a: str, b: str) -> dict[str, Any]:
    """Compare blocks and certificates of two stopped nodes, byte for byte."""
    kva, sa = _store(net_dir, a)
    kvb, sb = _store(net_dir, b)
    try:
        top = min(sa.height, sb.height)
        differ = []
        for h in range(1, top + 1):
            if sa.block_bytes(h) != sb.block_bytes(h):
                differ.append(f"block {h}")
            # The tip's certificate is each node's own until the next block fixes it.
            if h < top and sa.certificate_bytes(h) != sb.certificate_bytes(h):
                differ.append(f"certificate {h}")
        heights = [sa.height, sb.height]
        return {"heights": heights, "compared": top, "identical": not differ, "differ": differ[:5]}
    finally:
        kva.close()
        kvb.close()


def signed_declaration_bytes(net_dir: Path) -> float:
    """Mean wire size of the ``declaration.submit`` transactions of the first blocks."""
    kv, store = _store(net_dir, MAKERS[0])
    try:
        sizes = []
        for h in range(1, min(3, store.height) + 1):
            sizes += [len(t.wire) for t in store.block(h).txs if t.type == "declaration.submit"]
        return statistics.fmean(sizes)
    finally:
        kv.close()


def dir_size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Every step; returns the figures."""
    result: dict[str, Any] = {
        "declarations": args.declarations,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": os.getloadavg()[0],
    }
    if not args.quick:
        log("signature ceiling")
        result["ceiling"] = ceiling()
        log(f"ceiling: {result['ceiling']}")
    saved = work / "make.json"
    if args.reuse and not saved.exists():
        # Making a chain instead would take hours at the sizes --reuse is for.
        raise SystemExit(f"--reuse: no chain to reuse in {work} (no make.json there)")
    if args.reuse:
        net = LocalNetwork.reopen(work / "net")
        made = json.loads(saved.read_text(encoding="utf-8"))
        log(f"reusing the chain of {made['declarations']:,} declarations in {work}")
    else:
        net = LocalNetwork(work / "net")
        log(f"making {args.declarations:,} declarations")
        made = make(net.directory, args.declarations, args.block_declarations)
        made.update(per_block=args.block_declarations, seed=1)
        saved.write_text(json.dumps(made), encoding="utf-8")
        if args.make_only:
            log(f"made: {made}")
            net.http.close()
            raise SystemExit(0)
    result["declarations"] = made["declarations"]
    fresh_data = net.directory / FRESH / "data"
    if fresh_data.exists():
        log(f"emptying {fresh_data} (left by an earlier run)")
        shutil.rmtree(fresh_data)
    serving = MAKERS[0]
    paces = tuple(float(x) for x in args.paces.split(",") if x.strip())
    try:
        result["make"] = made
        log(f"made: {made}")
        if not (args.skip_audit or args.reads_only):
            log("audit")
            result["audit"] = audit_curve(net.directory) if args.curve else audit(net.directory)
            a = result["audit"]
            a["transactions_per_s"] = a["report"]["transactions"] / a["seconds"]
            log(
                f"audit: {a['transactions_per_s']:,.0f} tx/s, peak RSS {a['peak_rss_mb']:.0f} MB,"
                f" sound={a['report']['sound']}"
            )
        if args.reads_only:
            # The serving node alone: it answers reads, and commits nothing new.
            net.start(serving, wait=False)
            net.wait_ready(serving, timeout=600)
            result["reads"] = reads(net, serving, made, args.readers, args.read_seconds, paces)
            result["node_rss"] = rss_of(_pid(net, serving))
            log(f"node RSS: {result['node_rss']}")
            return result
        log("catch-up")
        result["catch_up"] = catch_up(net, args.catch_up_timeout)
        log(f"catch-up: {result['catch_up']}")
        result["reads"] = reads(net, serving, made, args.readers, args.read_seconds, paces)
        result["extend"] = extend(net, serving, args.extend)
        result["node_rss"] = rss_of(_pid(net, serving))
        log(f"node RSS: {result['node_rss']}")
        if result["catch_up"]["complete"]:
            fresh_key = load_signing_key(net.directory / FRESH / "node-key.pem").public.key_id
            result["participation"] = participation(
                net, serving, result["catch_up"]["height"] + 1, fresh_key
            )
            log(f"{FRESH} after catching up: {result['participation']}")
            wait_for(lambda: height(net, FRESH) >= result["extend"]["height"], 120, "fresh node")
            result["fresh_rss_end"] = rss_of(_pid(net, FRESH))
    finally:
        net.stop()
        store = dir_size(net.directory / serving / "data")
        declarations = int(made["declarations"])
        wire = signed_declaration_bytes(net.directory)
        result["disk"] = {
            "store_bytes": store,
            "bytes_per_declaration": store / declarations,
            "signed_declaration_bytes": wire,
            "ratio": store / declarations / wire,
        }
        result["load_after"] = os.getloadavg()[0]
    result["identical"] = compare(net.directory, serving, FRESH)
    result["identical"]["catch_up_complete"] = result["catch_up"]["complete"]
    return result


def show(r: dict[str, Any]) -> None:
    """Print every figure."""
    print(f"scale benchmark, {r['declarations']:,} declarations, {r['machine']}, {r['date']}")
    print(f"load average {r['load_before']:.2f} before, {r['load_after']:.2f} after")
    c = r.get("ceiling")
    if c:
        print(
            f"Ed25519 ceiling: {c['all_cores']:,.0f} verifications/s on {c['cores']} cores"
            f" ({c['one_core']:,.0f}/s on one)"
        )
    m = r["make"]
    print(
        f"make_chain: {m['declarations']:,} declarations, {m['transactions']:,} txs,"
        f" {m['blocks']} blocks in {m['seconds']:.1f} s = {m['declarations_per_s']:,.0f} decl/s"
        " (target >= 20,000)"
    )
    a = r.get("audit")
    share = f", {a['transactions_per_s'] / c['all_cores']:.0%} of the ceiling" if c and a else ""
    if a is not None:
        print(
            f"audit: {a['report']['transactions']:,} txs in {a['seconds']:.1f} s ="
            f" {a['transactions_per_s']:,.0f} tx/s{share} (target >= 8,000, >= 70%);"
            f" peak RSS {a['peak_rss_mb']:.0f} MB (target <= 300); sound: {a['report']['sound']}"
        )
        for p in a.get("curve", []):
            print(
                f"  audit at {p['transactions']:>9,} txs: {p['rate']:,.0f} tx/s,"
                f" RSS {p['rss_mb']:.0f} MB ({p['anon_mb']:.0f} MB anonymous)"
            )
    k = r.get("catch_up")
    if k is not None:
        print(
            f"catch-up: {'' if k['complete'] else 'NOT COMPLETE, '}height {k['reached']} of"
            f" {k['tip']}, {k['transactions']:,} txs"
            f" in {k['seconds']:.1f} s = {k['transactions_per_s']:,.0f}"
            f" tx/s (target >= 5,000); its RSS {k['fresh_rss']['rss_mb']:.0f} MB"
            f" (peak {k['fresh_rss']['peak_rss_mb']:.0f})"
        )
    phases = [("", r["reads"])] + [
        (f" at {float(pace):g}/s per reader", paced)
        for pace, paced in r["reads"].get("paced", {}).items()
    ]
    for (at, figures), (label, target) in itertools.product(
        phases, (("declaration", 20), ("list", 50))
    ):
        x = figures[label]
        print(
            f"reads {label}{at}: {x['requests']:,} answered, {x['per_s']:,.0f}/s,"
            f" refused {x['errors']}"
            + (f" {x['refused']}" if x.get("refused") else "")
            + (f" (connections dropped: {x['dropped']})" if x.get("dropped") else "")
            + f", p50 {x['p50_ms']:.1f} ms, p99 {x['p99_ms']:.1f} ms (target <= {target})"
            + _node_side(x.get("node", {}))
            + (f"; node CPU {x['node_cpu_ms']:.2f} ms per answer" if "node_cpu_ms" in x else "")
        )
    q = r.get("participation")
    if q is not None:
        print(
            f"after catching up, {FRESH} proposed {q['proposed']} of the blocks that followed"
            f" and its precommit is in {q['precommits']} of their certificates"
        )
    e = r.get("extend")
    n = r["node_rss"]
    print(
        (
            f"extended by {e['declarations']} declarations in {e['seconds']:.1f} s, to height"
            f" {e['height']}; node"
            if e is not None
            else "serving node after the reads (not extended):"
        )
        + f" RSS {n['rss_mb']:.0f} MB ({n['anon_mb']:.0f} MB anonymous,"
        f" {n['file_mb']:.0f} MB mapped store files), peak {n['peak_rss_mb']:.0f} MB"
        " (target <= 300)"
    )
    d = r["disk"]
    print(
        f"disk: {d['store_bytes'] / 1e9:.2f} GB, {d['bytes_per_declaration']:,.0f} bytes per"
        f" declaration, {d['ratio']:.1f}x the signed declaration"
        f" ({d['signed_declaration_bytes']:,.0f} bytes)"
    )
    i = r.get("identical")
    if i is not None:
        print(f"caught-up chain identical: {i['identical']} ({i['compared']} blocks compared)")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--declarations", type=int, default=1_000_000)
    p.add_argument("--block-declarations", type=int, default=1000)
    p.add_argument("--readers", type=int, default=50)
    p.add_argument("--read-seconds", type=float, default=10.0)
    p.add_argument("--extend", type=int, default=20, help="declarations added through the API")
    p.add_argument("--catch-up-timeout", type=float, default=3600.0)
    p.add_argument(
        "--curve", action="store_true", help="audit in-process with checkpoints (for plots)"
    )
    p.add_argument("--quick", action="store_true", help="skip the signature ceiling")
    p.add_argument("--dir", type=Path, help="work here and keep it (default: a temporary one)")
    p.add_argument(
        "--reuse", action="store_true", help="use the chain a previous run left in --dir"
    )
    p.add_argument("--make-only", action="store_true", help="make the chain in --dir and stop")
    p.add_argument(
        "--skip-audit", action="store_true", help="with --reuse: every step but the audit"
    )
    p.add_argument(
        "--paces",
        default="1",
        help="after the closed-loop reads, reads at these requests/s per reader (comma-separated)",
    )
    p.add_argument(
        "--reads-only",
        action="store_true",
        help="with --reuse: only the reads, from the serving node alone (no audit, no catch-up)",
    )
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    if args.reads_only and not args.reuse:
        p.error("--reads-only needs --reuse")
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        result = run(args, args.dir)
    else:
        with tempfile.TemporaryDirectory(prefix="dgledger-scale-") as tmp:
            result = run(args, Path(tmp))
    show(result)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    sound = "audit" not in result or result["audit"]["report"]["sound"]
    return 0 if sound and result.get("identical", {"identical": True})["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
