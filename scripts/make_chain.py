#!/usr/bin/env python3
"""Build a realistic, fully valid chain of N declarations, fast, for scale tests.

Run from the repository root::

    .venv/bin/python scripts/make_chain.py --network DIR --declarations 100000
    .venv/bin/python scripts/make_chain.py --network DIR --init --declarations 20000 \\
        --export chain.dgl --nodes customs,port-authority

``--network`` is a directory written by ``dgledger network init`` (or by
``--init``, which writes one with the default organisations). The chain is
built in the data directory of the first node named by ``--nodes`` and
copied to the others, so a real node started on any of them serves it and
continues it; ``--export`` also writes it as a chain file.

Every block goes through the node's own commit path (:class:`node.chain.Chain`:
the contracts engine computes the state root, the Merkle log and the block
store are written in one batch) with a commit certificate signed by every
validator's node key, so ``dgledger audit`` passes and a node takes it for
its own. Only the transactions are made elsewhere: worker processes draw
declarations from :class:`node.devnet.traffic.TrafficGenerator` and sign them,
while the main process executes and commits blocks.

What a chain holds (``S`` = ``--block-declarations``; slot ``i`` of block ``b``
is the ``i``-th declaration submitted in that block)::

    every block   S declaration.submit (1 in 100 invalid: refused with a known fault)
    slot i%20==0  accepted (port authority), then cleared (customs), then loaded
    slot i%20==10 accepted, then held (customs, with a reason), then released
    slot i%20==5  amended by its submitter;  slot i%40==7  cancelled by its submitter
    every --governance-every blocks: a governance transaction signed by every
                  validator organisation, adding a shipper organisation (which
                  then submits too) or changing the validators' voting power

Each follow-up lands one block after the previous step. Submitters rotate
over the shippers and forwarders; each key's nonces count up (a nonce only
makes two transactions differ), and every transaction expires
``EXPIRES_AFTER`` blocks above the height it is made for. Where genesis gives
organisations encryption keys (``network init`` does), each document's
sensitive fields are sealed to its readers, those genesis makes (no one
delegates in this chain, and the shippers governance adds have no key), for
version 1 (a submission) or 2 (its amendment), as a member's client does.

Block ``h`` has the time genesis time + ``h`` * ``--interval-ms``. The
declarations' dates follow the time of the last block (the generator's base
time), so each departure is still to come, by the network's lead time and
more, in every block of the chain: the same seed and network give the same
chain. Voyages load at the ports genesis gives the deciding port authority
(HAROPA's when it lists none), so its decisions are at its own ports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.dgl_builtin import builtin_list
from contracts.membership import AppGenesis
from contracts.sealed import genesis_sealing_keys
from ledger.block import Block
from ledger.crypto import SigningKey, Verifier
from ledger.encoding import sha256
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from ledger.kv import LevelDBKV
from ledger.tx import Envelope, Transaction
from ledger.votes import Certificate, Vote, VoteType
from node.chain import Chain
from node.chainfile import ChainFileWriter
from node.client.sealing import seal, sensitive_paths
from node.config import StoreConfig
from node.devnet.traffic import TrafficGenerator
from node.genesis_file import genesis_from_json
from node.network import (
    DEFAULT_MEMBERS,
    DEFAULT_VALIDATORS,
    corridor,
    init_network,
    network_roles,
)
from node.pipeline import Found, document_outcomes

ROOT = Path(__file__).resolve().parents[1]

Signed = tuple[list[Transaction], list[Found]]

EXPIRES_AFTER = 1000
GOVERNANCE_DELAY_MARGIN = 3
ADDED_ORG_WARMUP = 6


@dataclass(frozen=True, slots=True)
class Spec:
    """One transaction to make: what, about which slot, signed by whom, with which nonce."""

    kind: str
    block: int
    slot: int
    org: str
    nonce: int
    height: int
    extra: int = 0
    owner: str = ""
    """For a decision: the organisation the declaration belongs to (its submitter)."""


@dataclass(frozen=True, slots=True)
class Network:
    """What the generator needs from a network directory."""

    directory: Path
    genesis: Genesis
    validators: tuple[str, ...]
    submitters: tuple[str, ...]
    port: str
    customs: str


def load_network(directory: Path) -> Network:
    """Genesis and organisations of a network written by ``network init``."""
    genesis = genesis_from_json((directory / "genesis.json").read_text(encoding="utf-8"))
    app = AppGenesis.from_value(genesis.app)
    by_role: dict[str, list[str]] = {}
    for org in app.orgs:
        by_role.setdefault(org.role.value, []).append(org.name)
    validators = tuple(v.org for v in genesis.validators)
    submitters = tuple(by_role.get("shipper", []) + by_role.get("forwarder", []))
    if not submitters or not by_role.get("port_authority") or not by_role.get("customs"):
        raise SystemExit("the network needs shippers or forwarders, a port authority and customs")
    return Network(
        directory,
        genesis,
        validators,
        submitters,
        by_role["port_authority"][0],
        by_role["customs"][0],
    )


def added_org(k: int) -> str:
    """Name of the ``k``-th shipper organisation added by governance."""
    return f"shipper-g{k:04d}"


def added_key(seed: int, k: int) -> SigningKey:
    """The member key of ``added_org(k)`` (derived, so every worker knows it)."""
    return SigningKey.from_seed(sha256(f"make-chain-{seed}-org-{k}".encode()))


class Planner:
    """Decides, block by block, which transactions the chain holds (cheap: no documents)."""

    def __init__(self, net: Network, per_block: int, governance_every: int) -> None:
        self.net = net
        self.per_block = per_block
        self.governance_every = governance_every
        self.nonces: dict[str, int] = {}
        self.added: list[int] = []  # block in which each added organisation was proposed

    def _nonce(self, org: str) -> int:
        self.nonces[org] = self.nonces.get(org, 0) + 1
        return self.nonces[org]

    def submitter(self, block: int, slot: int) -> str:
        """Who submits slot ``slot`` of block ``block``."""
        active = sum(1 for b in self.added if b + ADDED_ORG_WARMUP <= block)
        pool = self.net.submitters + tuple(added_org(k) for k in range(active))
        return pool[(block * 7 + slot) % len(pool)]

    def block(self, b: int) -> list[Spec]:
        """The transactions of block ``b`` (height ``b + 1``), in order."""
        height = b + 1
        s = self.per_block
        wanted: list[tuple[str, int, int, str, str]] = []
        for i in range(s):
            kind = "invalid" if i % 100 == 99 else "submit"
            wanted.append((kind, b, i, self.submitter(b, i), ""))
        for back, steps in (
            (1, {0: "accepted", 10: "accepted", 5: "amend"}),
            (2, {0: "cleared", 10: "held"}),
            (3, {0: "loaded", 10: "released"}),
        ):
            src = b - back
            if src < 0:
                continue
            for i in range(s):
                step = steps.get(i % 20)
                if step is None and back == 1 and i % 40 == 7:
                    step = "cancel"
                if step is None:
                    continue
                if step in ("amend", "cancel"):
                    org = self.submitter(src, i)
                elif step in ("accepted", "loaded"):
                    org = self.net.port
                else:
                    org = self.net.customs
                wanted.append((step, src, i, org, self.submitter(src, i)))
        if self.governance_every and b % self.governance_every == self.governance_every - 1:
            k = b // self.governance_every
            if k % 2 == 0:
                wanted.append(("org.add", b, len(self.added), self.net.customs, ""))
                self.added.append(b)
            else:
                wanted.append(("validators.set", b, k, self.net.customs, ""))
        return [
            Spec(kind, src, slot, org, self._nonce(org), height, owner=owner)
            for kind, src, slot, org, owner in wanted
        ]


# -- worker processes: documents and signatures ------------------------------------------


_WORKER: dict[str, Any] = {}


def _init_worker(directory: str, seed: int, base_time_ms: int) -> None:
    net = load_network(Path(directory))
    app = AppGenesis.from_value(net.genesis.app)
    # Voyages load where the port authority that decides in this chain decides.
    ports = [p.locode for p in app.ports if p.authority == net.port]
    keys = {name: load_signing_key(Path(directory) / "keys" / f"{name}.pem") for name in _orgs(net)}
    node_keys = {
        name: load_signing_key(Path(directory) / name / "node-key.pem") for name in net.validators
    }
    dgl = builtin_list()
    _WORKER.update(
        dgl=dgl,
        net=net,
        keys=keys,
        orgs=app.orgs,
        node_keys=node_keys,
        seed=seed,
        gen=TrafficGenerator(
            dgl,
            seed,
            base_time_ms=base_time_ms,
            lead_time_hours=app.lead_time_hours,
            **({"loading_ports": ports} if ports else {}),
        ),
    )


def _orgs(net: Network) -> list[str]:
    app = AppGenesis.from_value(net.genesis.app)
    return [org.name for org in app.orgs]


def _key(org: str) -> SigningKey:
    keys: dict[str, SigningKey] = _WORKER["keys"]
    if org not in keys:
        keys[org] = added_key(_WORKER["seed"], int(org.rsplit("g", 1)[1]))
    return keys[org]


def decl_id(block: int, slot: int) -> str:
    """The declaration id of a slot."""
    return f"DG-{block:07d}-{slot:05d}"


def _document(spec: Spec, *, invalid: bool = False) -> dict[str, Any]:
    gen: TrafficGenerator = _WORKER["gen"]
    gen.rng.seed(_WORKER["seed"] * 1_000_003 + spec.block * 65_536 + spec.slot + spec.extra)
    shipper = spec.org.split("-")[-1]
    # Each declaration (and its amendment) gets containers of its own: a refusal for
    # goods that share a container with another declaration's is not one this chain means.
    first = ((spec.block * 65_536 + spec.slot) * 2 + spec.extra) * 4
    doc = (
        gen.invalid(shipper, first_unit=first)[0]
        if invalid
        else gen.declaration(shipper, first_unit=first)
    )
    doc["declarationId"] = decl_id(spec.block, spec.slot)
    return doc


def _sealed(doc: dict[str, Any], owner: str, version: int) -> dict[str, Any]:
    """``doc`` with its sensitive fields sealed to ``owner``'s readers, where any has a key."""
    readers = genesis_sealing_keys(_WORKER["orgs"], owner)
    if not readers or not sensitive_paths(doc):
        return doc
    return seal(doc, owner=owner, version=version, recipients=readers)


def _body(spec: Spec) -> tuple[str, dict[str, Any]]:
    net: Network = _WORKER["net"]
    kind = spec.kind
    did = decl_id(spec.block, spec.slot)
    if kind == "submit":
        return "declaration.submit", {"declaration": _sealed(_document(spec), spec.org, 1)}
    if kind == "invalid":
        doc = _sealed(_document(spec, invalid=True), spec.org, 1)
        return "declaration.submit", {"declaration": doc}
    if kind == "amend":
        doc = _document(Spec(kind, spec.block, spec.slot, spec.org, 0, 0, 1))
        body = {"id": did, "declaration": _sealed(doc, spec.org, 2), "reason": "corrected weights"}
        return "declaration.amend", body
    if kind == "cancel":
        return "declaration.cancel", {"id": did, "reason": "booking withdrawn"}
    if kind == "org.add":
        pub = added_key(_WORKER["seed"], spec.slot).public.raw
        params: dict[str, Any] = {"name": added_org(spec.slot), "role": "shipper", "keys": [pub]}
        return "governance", {
            "action": "org.add",
            "effective_height": spec.height + GOVERNANCE_DELAY_MARGIN,
            "params": params,
        }
    if kind == "validators.set":
        node_keys: dict[str, SigningKey] = _WORKER["node_keys"]
        heavy = spec.slot % len(net.validators)
        validators = [
            {"key": node_keys[name].public.raw, "power": 20 if j == heavy else 10, "org": name}
            for j, name in enumerate(net.validators)
        ]
        return "governance", {
            "action": "validators.set",
            "effective_height": spec.height + GOVERNANCE_DELAY_MARGIN,
            "params": {"validators": validators},
        }
    reason = "random inspection" if kind == "held" else ""
    return "declaration.decide", {
        "id": did,
        "owner": spec.owner,
        "decision": kind,
        "reason": reason,
    }


def sign_block(specs: list[Spec]) -> tuple[list[Transaction], list[Found]]:
    """The signed transactions of one block and their documents' outcomes (runs in a worker).

    They travel back pickled: built by :meth:`Transaction.create` here, they
    need no second decoding and checking in the main process. The documents are
    checked here as the audit's workers check them (:mod:`node.pipeline`), and
    offered to the chain's memo before the block executes.
    """
    net: Network = _WORKER["net"]
    out = []
    for spec in specs:
        tx_type, body = _body(spec)
        signer = _key(spec.org)
        keys = [signer]
        if tx_type == "governance":
            keys += [_key(name) for name in net.validators if name != spec.org]
        expires = spec.height + EXPIRES_AFTER
        env = Envelope(net.genesis.chain, tx_type, signer.public.key_id, spec.nonce, body, expires)
        out.append(Transaction.create(env, keys))
    return out, document_outcomes(out, _WORKER["dgl"])


# -- main process: execute and commit ------------------------------------------------------


@dataclass(slots=True)
class Made:
    """What was built."""

    blocks: int = 0
    transactions: int = 0
    declarations: int = 0
    seconds: float = 0.0
    waiting: float = 0.0
    executing: float = 0.0
    committing: float = 0.0


def certify(block: Block, chain: str, keys: list[SigningKey]) -> Certificate:
    """Precommits of every validator for ``block``."""
    votes = [Vote.sign(k, chain, VoteType.PRECOMMIT, block.height, 0, block.hash) for k in keys]
    return Certificate.from_votes(votes)


def make_chain(
    net: Network,
    data_dir: Path,
    declarations: int,
    *,
    per_block: int = 1000,
    governance_every: int = 50,
    seed: int = 1,
    workers: int = 2,
    interval_ms: int = 1,
    export: Path | None = None,
    progress: bool = False,
    prune_keep: int = 0,
) -> Made:
    """Build the chain into ``data_dir`` (an empty node data directory).

    ``prune_keep``: as the node setting ``[store] prune_keep`` (0: every state kept).
    """
    genesis = net.genesis
    dgl = builtin_list()
    kv = LevelDBKV(data_dir / "chain", **StoreConfig().store_options())
    made = Made()
    started = time.perf_counter()
    try:
        chain = Chain(kv, genesis, {dgl.digest(): dgl}, Verifier(workers=1), prune_keep=prune_keep)
        if chain.height != 0:
            raise SystemExit(f"{data_dir} already holds a chain (height {chain.height})")
        node_keys = {
            name: load_signing_key(net.directory / name / "node-key.pem") for name in net.validators
        }
        order = [node_keys[v.org] for v in genesis.validators]
        planner = Planner(net, per_block, governance_every)
        count = -(-declarations // per_block)
        out = export.open("wb") if export else None
        writer = ChainFileWriter(out, genesis) if out else None
        last_cert: Certificate | None = None
        with ProcessPoolExecutor(
            max_workers=workers,
            initializer=_init_worker,
            initargs=(str(net.directory), seed, genesis.time + count * interval_ms),
        ) as pool:
            window: deque[tuple[list[Spec], Future[Signed]]] = deque()
            plans = _plans(planner, count, declarations, per_block)
            for specs in plans:
                window.append((specs, pool.submit(sign_block, specs)))
                if len(window) < 2 * workers + 1:
                    continue
                last_cert = _commit(
                    chain, window.popleft(), genesis, order, last_cert, writer, made, interval_ms
                )
                if progress and made.blocks % 20 == 0:
                    _report(made, started)
            while window:
                last_cert = _commit(
                    chain, window.popleft(), genesis, order, last_cert, writer, made, interval_ms
                )
        if out is not None:
            out.close()
    finally:
        kv.close()
    made.seconds = time.perf_counter() - started
    return made


def _plans(planner: Planner, count: int, declarations: int, per_block: int) -> Iterator[list[Spec]]:
    for b in range(count):
        specs = planner.block(b)
        if b == count - 1 and declarations % per_block:
            # A partial last block: its first slots, and the follow-ups of earlier blocks.
            keep = declarations % per_block
            specs = [
                s
                for s in specs
                if s.block != b or s.slot < keep or s.kind in ("org.add", "validators.set")
            ]
        yield specs


def _commit(
    chain: Chain,
    item: tuple[list[Spec], Future[Signed]],
    genesis: Genesis,
    order: list[SigningKey],
    last_cert: Certificate | None,
    writer: ChainFileWriter | None,
    made: Made,
    interval_ms: int,
) -> Certificate:
    specs, future = item
    t0 = time.perf_counter()
    txs, found = future.result()
    digest = chain.genesis.app["dgl"]
    keys = [tx_id + digest for tx_id, _ in found]
    for key, (_, outcome) in zip(keys, found, strict=True):
        chain.memo.offer(key, outcome)
    t1 = time.perf_counter()
    height = chain.height + 1
    proposer = order[height % len(order)].public.key_id
    block = chain.build_block(
        txs, time=genesis.time + height * interval_ms, proposer=proposer, last_commit=last_cert
    )
    t3 = time.perf_counter()
    cert = certify(block, genesis.chain, order)
    chain.commit_block(block, cert)
    chain.memo.discard(keys)
    if writer is not None:
        writer.add(block.encode(), cert.encode())
    t4 = time.perf_counter()
    made.waiting += t1 - t0
    made.executing += t3 - t1
    made.committing += t4 - t3
    made.blocks += 1
    made.transactions += len(txs)
    made.declarations += sum(1 for s in specs if s.kind in ("submit", "invalid"))
    return cert


def _report(made: Made, started: float) -> None:
    spent = time.perf_counter() - started
    print(
        f"  {made.blocks} blocks, {made.declarations:,} declarations, "
        f"{made.transactions:,} txs, {made.declarations / spent:,.0f} decl/s",
        file=sys.stderr,
        flush=True,
    )


def dir_size(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--network", required=True, type=Path, help="network directory")
    p.add_argument("--init", action="store_true", help="write a new network there first")
    p.add_argument("--declarations", type=int, required=True)
    p.add_argument("--nodes", help="nodes whose data directory gets the chain (default: all)")
    p.add_argument("--block-declarations", type=int, default=1000)
    p.add_argument("--governance-every", type=int, default=50, help="blocks (0: never)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    p.add_argument("--interval-ms", type=int, default=1, help="block time step")
    p.add_argument("--export", type=Path, help="also write the chain as a chain file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--progress", action="store_true")
    p.add_argument(
        "--prune-keep",
        type=int,
        default=0,
        help="keep the state of the last N blocks only, as [store] prune_keep (0: all)",
    )
    args = p.parse_args(argv)
    if args.declarations < 1 or not 1 <= args.block_declarations <= 5000:
        p.error("--declarations >= 1 and --block-declarations 1..5000")
    if args.init:
        blocks = -(-args.declarations // args.block_declarations)
        init_network(
            args.network,
            validators=list(DEFAULT_VALIDATORS),
            members=list(DEFAULT_MEMBERS),
            genesis_time=time.time_ns() // 1_000_000 - (blocks + 10) * args.interval_ms,
            ports=corridor(network_roles(DEFAULT_VALIDATORS, DEFAULT_MEMBERS)),
        )
    net = load_network(args.network)
    nodes = args.nodes.split(",") if args.nodes else list(net.validators)
    first = args.network / nodes[0] / "data"
    first.mkdir(parents=True, exist_ok=True)
    made = make_chain(
        net,
        first,
        args.declarations,
        per_block=args.block_declarations,
        governance_every=args.governance_every,
        seed=args.seed,
        workers=args.workers,
        interval_ms=args.interval_ms,
        export=args.export,
        progress=args.progress,
        prune_keep=args.prune_keep,
    )
    for name in nodes[1:]:
        target = args.network / name / "data" / "chain"
        if target.exists():
            raise SystemExit(f"{target} exists")
        # A full copy: stores sharing table files by hard links crash each other
        # (SIGBUS) once one of them rewrites a file name the other maps.
        shutil.copytree(first / "chain", target)
    summary = {
        "declarations": made.declarations,
        "transactions": made.transactions,
        "blocks": made.blocks,
        "seconds": round(made.seconds, 2),
        "declarations_per_s": round(made.declarations / made.seconds, 1),
        "transactions_per_s": round(made.transactions / made.seconds, 1),
        "store_bytes": dir_size(first / "chain"),
        "seconds_waiting_for_signatures": round(made.waiting, 2),
        "seconds_executing": round(made.executing, 2),
        "seconds_committing": round(made.committing, 2),
        "nodes": nodes,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k:>20}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
