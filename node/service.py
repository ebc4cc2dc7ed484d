"""One node: the chain, the mempool, the consensus driver, peers and block sync.

Everything runs on one asyncio event loop (the HTTP server's), so the chain,
the mempool and the consensus machine are only ever touched by one thread.
The one exception is reading: the API builds its answers in
:attr:`NodeService.readers` threads, each from a
:class:`~node.chain.ChainSnapshot` taken on the loop.
The consensus machine is driven by :meth:`NodeService._dispatch`, which
carries out its actions in order: ``PersistSigned`` is fsynced before any
later action of the same batch is carried out, so a signature is on disk
before it can reach a peer.

No empty blocks while idle: after a commit (and at start) the next height is
entered only once a transaction is pending, a governance action waits for
its height, or a peer's consensus message for that height arrives; a
pending transaction starts it within ``block_delay_ms``, a pending
governance action alone within ``idle_block_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import named_list
from contracts.engine import dgl_in_force
from contracts.errors import ContractError
from contracts.ports import lead_time_hours, ports_served
from ledger.block import Block
from ledger.crypto import SigningKey, Verifier
from ledger.errors import LedgerError, StoreError
from ledger.evidence import Evidence
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from ledger.kv import LevelDBKV
from ledger.tx import Envelope, Transaction
from ledger.votes import Certificate, Proposal, Vote
from node.auth import RequestVerifier
from node.backpressure import Backpressure
from node.chain import Chain, ChainSnapshot
from node.config import NodeConfig
from node.consensus.errors import SignStateError
from node.consensus.events import (
    Action,
    BlockValidated,
    BroadcastProposal,
    BroadcastVote,
    Commit,
    Event,
    NewHeight,
    PersistSigned,
    ProposalReady,
    ProposalReceived,
    RecordEvidence,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    Start,
    TimeoutFired,
    VoteReceived,
)
from node.consensus.machine import ConsensusMachine
from node.consensus.params import TimeoutConfig
from node.consensus.privval import PrivValidator
from node.errors import NodeHalted, Rejected, StartupError
from node.genesis_file import load_genesis
from node.mempool import Mempool, MempoolLimits
from node.metrics import Metrics, MetricsSample
from node.p2p.frames import MAX_TXS_PER_FRAME, PeerMessage
from node.p2p.sync import BlockSync, blocks_frame
from node.p2p.tls import PeerTls
from node.p2p.transport import Faults, NodeKeys, Transport
from node.pipeline import Prefetch
from node.ratelimit import RateLimiter
from node.request_mark import RequestMark
from node.sign_state import SignStateFile

log = logging.getLogger("dgledger.node")
T = TypeVar("T")

MAX_EARLY_MESSAGES = 10_000
EVIDENCE_TX_LIFETIME = 100
"""Blocks an evidence transaction of this node stays valid for."""
BUILD_SHARE = 0.3
"""Share of the propose timeout a proposer may spend building its block."""
MIN_BLOCK_BUDGET = 100
"""Transactions a proposer may always propose, and the fewest whose build time is measured."""
FILES_FOR_CONNECTIONS = 256
"""Open files a node keeps for sockets and its own files, beside the store's tables."""
READ_THREADS = 2
"""Threads that build read answers.

Two: one read's store waits (LevelDB releases the GIL) overlap another's
work, and the event loop, which runs consensus, competes with only two
threads for the GIL. Four let fewer transactions commit under heavy reads,
one served fewer list pages (``docs/benchmarks.md``).
"""


@dataclass(frozen=True, slots=True)
class Admitted:
    """A submitted transaction the node took: pending in its mempool, or committed already."""

    tx_id: bytes
    committed: bool


def now_ms() -> int:
    """Wall-clock milliseconds (the node's, never the ledger's)."""
    return time.time_ns() // 1_000_000


def load_lists(config: NodeConfig, genesis: Genesis) -> dict[bytes, DangerousGoodsList]:
    """The Dangerous Goods Lists named by the configuration, by digest.

    ``dgl`` must be the list genesis pins; ``dgl_extra`` are lists a ``dgl.set``
    governance action may bring into force later.
    """
    lists = {}
    for i, name in enumerate((config.dgl, *config.dgl_extra)):
        try:
            dgl = named_list(name)
        except ContractError as e:
            raise StartupError(f"Dangerous Goods List {name}: {e.message}") from e
        lists[dgl.digest()] = dgl
        if i == 0 and dgl.digest() != genesis.app["dgl"]:
            raise StartupError(
                f"the Dangerous Goods List {config.dgl!r} has digest {dgl.digest().hex()},"
                f" genesis pins {genesis.app['dgl'].hex()}: refusing to start"
            )
    return lists


def check_open_files(open_files: int, limit: int) -> None:
    """Refuse a store that could not open its tables beside the node's connections.

    ``limit`` is the process's soft limit of open files (``ulimit -n``). Past
    it, LevelDB would fail a read long after start, and the node with it.
    """
    if limit != resource.RLIM_INFINITY and open_files + FILES_FOR_CONNECTIONS > limit:
        raise StartupError(
            f"[store] open_files = {open_files} and {FILES_FOR_CONNECTIONS} files for"
            f" connections exceed this process's limit of {limit} open files: raise"
            " the limit (ulimit -n) or lower open_files"
        )


def load_node_key(config: NodeConfig) -> SigningKey:
    """The node's key, decrypted with the password from the named environment variable."""
    password = None
    if config.key_password_env:
        value = os.environ.get(config.key_password_env)
        if value is None:
            raise StartupError(f"environment variable {config.key_password_env} is not set")
        password = value.encode()
    try:
        return load_signing_key(config.key, password)
    except LedgerError as e:
        raise StartupError(f"node key {config.key}: {e}") from e


def stop_process(reason: str) -> None:
    """Log why the node stops, then stop it as SIGTERM would (stores close cleanly)."""
    log.critical("node stopping: %s", reason)
    os.kill(os.getpid(), signal.SIGTERM)


class NodeService:
    """A running node."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        clock: Callable[[], int] = now_ms,
        test_admin: bool = False,
    ) -> None:
        self.config = config
        self.clock = clock
        self.test_admin = test_admin
        self.on_fatal: Callable[[str], None] = stop_process
        """Called with the reason when the node cannot go on (it then raises NodeHalted)."""
        self.halted = False
        """Set by a fatal failure: consensus handles no more events while the process stops."""
        self.genesis = load_genesis(config.genesis)
        self.lists = load_lists(config, self.genesis)
        self.key = load_node_key(config)
        self.verifier = Verifier()
        """Checks votes, proposals, evidence, peers' and readers' signatures."""
        self.tx_verifier = Verifier()
        """Checks transactions' signatures: once each, at admission or in the first block."""
        open_files = config.store.open_files
        check_open_files(open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        config.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.kv = LevelDBKV(config.data_dir / "chain", **config.store.store_options())
            self.chain = Chain(
                self.kv,
                self.genesis,
                self.lists,
                self.verifier,
                self.tx_verifier,
                prune_keep=config.store.prune_keep,
            )
        except LedgerError as e:
            raise StartupError(f"store {config.data_dir}: {e}") from e
        limits = config.mempool
        self.mempool = Mempool(
            self.chain.engine,
            self.tx_verifier,
            MempoolLimits(limits.max_txs, limits.max_bytes, limits.max_per_signer),
        )
        # Answers to reads (receipts, proofs, lists, block streams) are built here,
        # each from a snapshot of the chain, off the event loop that runs consensus.
        # LevelDB reads release the GIL, so a few threads overlap the store's waits.
        self.readers = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="read")
        # A read takes its snapshot only once a thread is free for it: reads waiting
        # their turn hold no snapshot (an open one keeps old data from compaction).
        self._read_slots = asyncio.Semaphore(READ_THREADS)
        self.metrics = Metrics()
        self.requests = RequestVerifier(
            self.genesis.chain,
            self.verifier,
            config.name,
            mark=RequestMark(config.data_dir / "request-mark"),
        )
        """Checks signed requests; its mark on disk outlives a crash (:mod:`node.auth`)."""
        self.limiter = RateLimiter(config.api.rate_per_key)
        """Requests and submissions per key: shared by the API's signed reads and :meth:`submit`."""
        self.backpressure = Backpressure()
        """Refuses clients' submissions beyond about a second of measured commits."""
        self.faults = Faults()
        self.transport = Transport(
            PeerTls(self.key, self.genesis.chain, self.genesis.hash),
            config.peers,
            listen=config.peer_listen,
            nodes=NodeKeys(
                lambda: (self.chain.validators, self.chain.previous_validators),
                config.observers,
                active=self.is_known_node,
                peers=config.peers,
            ),
            deliver=self.on_peer_messages,
            answer_blocks=lambda request: self.read(partial(blocks_frame, request)),
            faults=self.faults,
            metrics=self.metrics,
        )
        self.sync = BlockSync(
            self,
            self.transport,
            metrics=self.metrics,
            follow=not config.validator,
            prefetch=lambda: Prefetch(
                self.chain.lists, self.chain.memo, self.tx_verifier, workers=config.sync.workers
            ),
        )
        c = config.consensus
        timeouts = TimeoutConfig(
            propose=c.propose_ms,
            propose_delta=c.round_increment_ms,
            prevote=c.prevote_ms,
            prevote_delta=c.round_increment_ms,
            precommit=c.precommit_ms,
            precommit_delta=c.round_increment_ms,
            commit=c.commit_ms,
        )
        self.sign_file = SignStateFile(config.data_dir / "sign-state", self.genesis.chain)
        signer = PrivValidator(self.key, self.sign_file.load()) if config.validator else None
        self.machine = ConsensusMachine(
            chain=self.genesis.chain, verifier=self.verifier, signer=signer, timeouts=timeouts
        )
        self._machine_started = False
        self._deferred: Start | NewHeight | None = None
        self._early: list[Event] = []
        self._waiters: dict[bytes, list[asyncio.Future[int]]] = {}
        self._commit_started: dict[bytes, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._kick_handle: asyncio.TimerHandle | None = None
        self.evidence: dict[bytes, Any] = {}
        self._build_rate = 1000.0  # transactions built per second, measured as blocks are built

    def peer_name(self, key_id: str) -> str:
        """The organisation name of a validator key (peers are named after it), else the key id."""
        for validators in (self.chain.validators, self.genesis.validators):
            member = validators.get(key_id)
            if member is not None:
                return member.org
        return key_id

    def status(self) -> dict[str, Any]:
        """What /v1/status answers."""
        return {
            "chain": self.genesis.chain,
            "genesis": self.genesis.hash.hex(),
            "node": self.config.name,
            "validator": self.config.validator,
            "height": self.chain.height,
            "tip": self.chain.tip_hash.hex(),
            "tip_time": self.chain.tip_time,
            "state_root": self.chain.state_root.hex(),
            "log_size": self.chain.log_size,
            "consensus": {"height": self.machine.height, "round": self.machine.round},
            "mempool": {"txs": len(self.mempool), "bytes": self.mempool.size_bytes},
            "dgl": self._lists_status(),
            "corridor": self._corridor_status(),
            "peers": {
                "configured": len(self.config.peers),
                "connected": self.transport.connected(),
            },
        }

    def metrics_sample(self) -> MetricsSample:
        """The gauges and counters ``/metrics`` shows, at this instant."""
        rejected = dict(self.metrics.rejected_messages)
        for prefix, counts in (
            ("consensus", self.machine.rejected),
            ("mempool", self.mempool.rejected),
        ):
            for reason, count in counts.items():
                rejected[f"{prefix}_{reason}"] = rejected.get(f"{prefix}_{reason}", 0) + count
        return MetricsSample(
            height=self.chain.height,
            round=self.machine.round,
            mempool_txs=len(self.mempool),
            mempool_bytes=self.mempool.size_bytes,
            peers_connected=self.transport.connected(),
            txs_admitted=self.mempool.admitted,
            tx_signatures_verified=self.tx_verifier.verified,
            documents_validated=self.chain.memo.misses,
            txs_applied=self.chain.executions.count,
            state_from=self.chain.state_from,
            state_records_pruned=self.chain.pruned_records,
            counters=self.metrics,
            rejected=rejected,
        )

    def _corridor_status(self) -> dict[str, Any]:
        """The ports the network serves (name, authority) and the lead time, as now in force."""
        view = self.chain.view()
        return {
            "ports": ports_served(view) or {},
            "lead_time_hours": lead_time_hours(view),
        }

    def _lists_status(self) -> dict[str, Any]:
        """The Dangerous Goods List in force, those scheduled by governance, and which are here."""
        view = self.chain.view()
        scheduled = [
            {
                "digest": item["params"]["dgl"].hex(),
                "height": item["height"],
                "loaded": item["params"]["dgl"] in self.lists,
            }
            for item in view.get("gov/pending", [])
            if item["action"] == "dgl.set"
        ]
        in_force = dgl_in_force(view)
        return {
            "in_force": in_force.hex(),
            "in_force_loaded": in_force in self.lists,
            "scheduled": scheduled,
            "loaded": sorted(d.hex() for d in self.lists),
        }

    def receipt_summary(self, tx_id: bytes) -> dict[str, Any]:
        """Where a committed transaction is and what the rules made of it."""
        location = self.chain.store.tx_location(tx_id)
        if location is None:
            return {"tx_id": tx_id.hex(), "status": "pending"}
        result = self.chain.view().get(f"tx/{tx_id.hex()}") or {}
        return {
            "tx_id": tx_id.hex(),
            "status": "committed" if result.get("ok") else "rejected",
            "height": location.height,
            "index": location.index,
            "log_index": location.log_index,
            "result": _jsonable(result),
        }

    def is_known_node(self, key_id: str) -> bool:
        """A key of the validator set now or just before, or an active key of an active member."""
        return self.standing(key_id) is None

    def standing(self, key_id: str) -> str | None:
        """Why ``key_id`` may not act here (``auth.key_revoked``, ...), or ``None`` if it may.

        A key of the validator set now or just before may; so may an active key
        of an active member organisation. A revoked key is told it is revoked,
        a key of an organisation governance removed that it is inactive, and
        any other that it is not a member.
        """
        validators = (self.chain.validators, self.chain.previous_validators)
        if any(v.get(key_id) is not None for v in validators):
            return None
        view = self.chain.view()
        record = view.get(f"key/{key_id}")
        if record is None:
            return "auth.not_a_member"
        if record["revoked_at"] is not None:
            return "auth.key_revoked"
        org = view.get(f"org/{record['org']}")
        if org is None or not org["active"]:
            return "auth.org_inactive"
        return None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start peers, sync and (for validators) consensus."""
        await self.transport.start()
        self._tasks.append(asyncio.create_task(self._status_loop(), name="status"))
        self._tasks.append(asyncio.create_task(self.sync.run(), name="sync"))
        self._defer(Start(self.chain.height + 1, self.chain.validators))
        if self._work_pending():
            self._open_gate()
        log.info(
            "node started",
            extra={"fields": {"height": self.chain.height, "validator": self.config.validator}},
        )

    async def stop(self) -> None:
        """Stop background tasks and close the store."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            # A task that ended on NodeHalted has said why already (on_fatal).
            with contextlib.suppress(asyncio.CancelledError, NodeHalted):
                await task
        await self.transport.stop()
        self.verifier.close()
        self.tx_verifier.close()
        # Reads still running finish before the store closes under them.
        self.readers.shutdown(wait=True, cancel_futures=True)
        self.kv.close()

    async def _status_loop(self) -> None:
        while True:
            self.transport.broadcast("status", {"height": self.chain.height})
            await asyncio.sleep(1.0)

    # --------------------------------------------------------- transactions

    @property
    def height(self) -> int:
        """Height of the last committed block."""
        return self.chain.height

    def submit(self, tx: Transaction) -> Admitted:
        """Admit a client's transaction, or raise :class:`Rejected` saying why.

        In order: the chain it is for, the node's load (beyond about a second
        of commits pending it refuses at once, see :mod:`node.backpressure`),
        its signatures (so that the rate limit
        is charged to the key that really signed), the signer's rate, whether
        it is committed already (then it is not admitted again, and the
        caller may answer with its receipt), then the mempool's own admission
        (limits and the contracts' pre-check). A transaction already pending
        is admitted once and reported as pending.
        """
        if tx.chain != self.genesis.chain:
            raise Rejected(
                "tx.wrong_chain", f"transaction is for chain {tx.chain}", path="$.env.chain"
            )
        retry = self.backpressure.busy(len(self.mempool), time.monotonic())
        if retry is not None:
            raise Rejected(
                "mempool.busy",
                f"the node is at capacity; retry in {retry} s",
                retry_after=retry,
            )
        self.mempool.check_signatures(tx)
        if not self.limiter.allow(tx.signer):
            raise Rejected("rate_limited", "too many requests for this key; slow down")
        if self.chain.store.tx_location(tx.id) is not None:
            return Admitted(tx.id, committed=True)
        try:
            self._admit(tx, gossip=True)
        except Rejected as e:
            if e.code != "mempool.duplicate":
                raise
        return Admitted(tx.id, committed=False)

    def _admit(self, tx: Transaction, *, gossip: bool) -> None:
        """Admit ``tx`` to the mempool (raises :class:`Rejected`); gossip it if asked."""
        self.mempool.set_context(self.chain.height + 1, self.chain.tip_time + 1)
        self.mempool.add(tx)
        self._commit_started[tx.id] = time.monotonic()
        if gossip:
            self.transport.gossip_tx(tx.wire)
        self._kick()

    async def read(self, work: Callable[[ChainSnapshot], T]) -> T:
        """``work`` on a snapshot of the committed chain, run in a read thread.

        The snapshot is taken once a thread is free for the work, so at most
        :data:`READ_THREADS` are open. Call it on the event loop: the snapshot
        is then taken between commits.
        The answer is built off the loop, so consensus and other requests go
        on meanwhile, and it stays the chain at one height however many
        blocks commit.
        """
        admitted = time.perf_counter()
        built: list[float] = []
        try:
            async with self._read_slots:
                snapshot = self.chain.snapshot()

                def run() -> T:
                    # Only the thread that reads the snapshot closes it: closing it
                    # under a read would free what the read is using. One never run
                    # (the pool shut down first) is released when the store closes.
                    started = time.perf_counter()
                    try:
                        with snapshot:
                            return work(snapshot)
                    finally:
                        built.append(time.perf_counter() - started)

                return await asyncio.get_running_loop().run_in_executor(self.readers, run)
        finally:
            # Answers and refusals (an unknown id) alike, observed on the loop: the
            # metrics are only ever touched by one thread.
            if built:
                self.metrics.read_build.observe(built[0] * 1000)
                self.metrics.read_latency.observe((time.perf_counter() - admitted) * 1000)

    def wait_commit(self, tx_id: bytes) -> asyncio.Future[int]:
        """A future resolved with the height once ``tx_id`` is committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        location = self.chain.store.tx_location(tx_id)
        if location is not None:
            future.set_result(location.height)
        else:
            self._waiters.setdefault(tx_id, []).append(future)
        return future

    # ------------------------------------------------------ peer messages in

    def on_peer_messages(self, messages: list[PeerMessage]) -> None:
        """Handle messages from admitted peer connections (the connection names the sender)."""
        for m in messages:
            try:
                self._on_peer_message(m)
            except (LedgerError, ValueError, TypeError, KeyError) as e:
                self.metrics.reject(f"{m.kind}_invalid")
                log.debug("dropped %s from %s: %s", m.kind, m.sender, e)

    def _on_peer_message(self, m: PeerMessage) -> None:
        if m.kind == "txs":
            if type(m.body) is not list or len(m.body) > MAX_TXS_PER_FRAME:
                raise ValueError("txs body")
            for raw in m.body:
                try:
                    self._admit(Transaction.decode(raw), gossip=False)
                except Exception:
                    self.metrics.reject("tx_refused")
        elif m.kind == "status":
            height = m.body.get("height") if type(m.body) is dict else None
            if type(height) is not int or height < 0:
                raise ValueError("status body is {height: int}")
            if height > self.chain.height:
                self.sync.peer_ahead(m.sender, height)
        elif m.kind == "vote":
            vote = Vote.from_value(m.body)
            self._consensus_message(vote.height, VoteReceived(vote))
        elif m.kind == "proposal":
            if type(m.body) is not dict or set(m.body) != {"proposal", "block"}:
                raise ValueError("proposal body")
            proposal = Proposal.from_value(m.body["proposal"])
            raw = m.body["block"]
            block = Block.decode(raw, known=self.mempool.by_wire) if type(raw) is bytes else None
            if block is None:
                raise ValueError("proposal block")
            self._consensus_message(proposal.height, ProposalReceived(proposal, block))
        elif m.kind == "evidence":
            self._on_evidence_value(m.body)

    def _consensus_message(self, height: int, event: Event) -> None:
        if not self.config.validator:
            return
        if height > self.chain.height + 1:
            self.sync.peer_ahead(None, height - 1)
        if height == self.chain.height + 1:
            # Checked here, before the message may end idling or wait in the
            # early buffer: no one outside the validator set can make a
            # validator start a height (and commit an empty block).
            refused = self._refusal(event)
            if refused is not None:
                self.metrics.reject(f"consensus_{refused}")
                return
        opens = self._deferred is not None and height >= self._deferred.height
        if not self._machine_started:
            if len(self._early) < MAX_EARLY_MESSAGES:
                self._early.append(event)
            if opens and height == self.chain.height + 1:
                self._open_gate()
            return
        if opens and height == self.chain.height + 1:
            self._open_gate()
        self._dispatch(event)

    def _refusal(self, event: Event) -> str | None:
        """Why a vote or proposal for the next height is not from its validator, or None."""
        chain, validators = self.genesis.chain, self.chain.validators
        try:
            if isinstance(event, VoteReceived):
                event.vote.verify(chain, validators, self.verifier)
            elif isinstance(event, ProposalReceived):
                event.proposal.verify(chain, validators, self.verifier)
        except LedgerError as e:
            return {"validator": "unknown_validator", "proposer": "wrong_proposer"}.get(
                getattr(e, "field", None) or "", "bad_signature"
            )
        return None

    def _on_evidence_value(self, value: Any) -> None:
        evidence = Evidence.from_value(value)
        evidence.verify(self.genesis.chain, self.chain.validators, self.verifier)
        self.evidence.setdefault(evidence.hash, evidence)

    def _report_evidence(self, evidence: Evidence) -> None:
        """Gossip evidence this node detected and submit it for the chain, signed by the node key.

        Several nodes may detect one offence: the first ``evidence.submit``
        committed records it, the others are rejected as duplicates.
        """
        if evidence.hash in self.evidence:
            return
        self.evidence[evidence.hash] = evidence
        self.transport.broadcast("evidence", evidence.to_value())
        key_id = self.key.public.key_id
        envelope = Envelope(
            chain=self.genesis.chain,
            type="evidence.submit",
            signer=key_id,
            # The evidence makes the id unique: the node's one report of it.
            nonce=1,
            body={"evidence": evidence.to_value()},
            expires=self.chain.height + EVIDENCE_TX_LIFETIME,
        )
        try:
            self._admit(Transaction.create(envelope, [self.key]), gossip=True)
        except Rejected as e:
            log.warning("evidence %s not submitted: %s", evidence.hash.hex(), e.message)
        else:
            log.warning("evidence of %s by %s submitted", evidence.kind.value, evidence.offender)

    # -------------------------------------------------------- the height gate

    def _defer(self, event: Start | NewHeight) -> None:
        self._deferred = event

    def _kick(self) -> None:
        """Work is pending: open the gate after the block delay (the idle delay for governance).

        A transaction that arrives while the gate waits the longer idle delay
        brings the opening forward to the block delay.
        """
        if self._deferred is None:
            return
        c = self.config.consensus
        delay = (c.block_delay_ms if len(self.mempool) else c.idle_block_ms) / 1000
        loop = asyncio.get_running_loop()
        if self._kick_handle is not None:
            if self._kick_handle.when() <= loop.time() + delay:
                return
            self._kick_handle.cancel()
        self._kick_handle = loop.call_later(delay, self._kicked)

    def _kicked(self) -> None:
        self._kick_handle = None
        if self._work_pending():
            self._open_gate()

    def _work_pending(self) -> bool:
        """Something for a next block: a pending transaction, or a governance action to reach.

        An action takes effect at a later height; on an idle chain no block
        would ever reach it, and a revoked key would keep its access until
        unrelated traffic made blocks. So while one is pending, blocks are made,
        ``idle_block_ms`` apart when nothing else is pending (the governance
        delay stays time for operators to prepare, not a burst of empty blocks).
        """
        return len(self.mempool) > 0 or bool(self.chain.view().get("gov/pending"))

    def _open_gate(self) -> None:
        event, self._deferred = self._deferred, None
        if event is None or not self.config.validator:
            return
        self._machine_started = True
        self._dispatch(event)
        early, self._early = self._early, []
        for message in early:
            self._dispatch(message)

    def list_in_force(self) -> bytes:
        """Digest of the Dangerous Goods List in force at the committed tip (for sync)."""
        return self.chain.list_in_force()

    def on_synced(self) -> None:
        """Block sync moved the chain forward: re-enter consensus at the new height."""
        if not self.config.validator:
            return
        event = NewHeight(self.chain.height + 1, self.chain.validators)
        if self._machine_started and self.machine.height < event.height:
            self._defer(event)
            self._kick()
        elif not self._machine_started:
            self._defer(Start(event.height, event.validators))
            self._kick()

    # ------------------------------------------------------ consensus driver

    def _dispatch(self, event: Event) -> None:
        queue: deque[Event] = deque([event])
        while queue and not self.halted:
            actions = self.machine.handle(queue.popleft())
            for action in actions:
                try:
                    follow = self._carry_out(action)
                except NodeHalted:
                    return  # on_fatal has said why; nothing after it may be sent
                if self.halted:
                    return
                if follow is not None:
                    queue.append(follow)

    def _carry_out(self, action: Action) -> Event | None:
        if isinstance(action, PersistSigned):
            try:
                self.sign_file.save(action.state)
            except SignStateError as e:
                # The machine counts the message as signed; unsaved, it must never be
                # sent (after a restart this validator could sign another in its place).
                raise self._halt(f"cannot sign at height {action.height}: {e}") from e
        elif isinstance(action, BroadcastVote):
            self.transport.broadcast("vote", action.vote.to_value())
        elif isinstance(action, BroadcastProposal):
            body = {"proposal": action.proposal.to_value(), "block": action.block.encode()}
            self.transport.broadcast("proposal", body)
        elif isinstance(action, ScheduleTimeout):
            fired = TimeoutFired(action.kind, action.height, action.round)
            asyncio.get_running_loop().call_later(
                action.duration / 1000, lambda: self._dispatch(fired)
            )
        elif isinstance(action, RequestProposal):
            return self._propose(action)
        elif isinstance(action, RequestValidation):
            return BlockValidated(action.height, action.block_hash, self._valid(action.block))
        elif isinstance(action, Commit):
            return self._commit(action.block, action.certificate)
        elif isinstance(action, RecordEvidence):
            self._report_evidence(action.evidence)
        return None

    def _propose(self, action: RequestProposal) -> ProposalReady | None:
        if action.height != self.chain.height + 1:
            return None
        time_ms = max(self.clock(), self.chain.tip_time + 1)
        # Admission order already passed the rules against the committed state.
        txs = self.mempool.select(self._block_budget(), 16 * 1024 * 1024)
        started = time.perf_counter()
        try:
            last = self.chain.store.certificate(self.chain.height) if self.chain.height else None
            block = self.chain.build_block(
                txs, time=time_ms, proposer=self.key.public.key_id, last_commit=last
            )
        except StoreError as e:
            raise self._store_failed(f"build the proposal for height {action.height}", e) from e
        if len(txs) >= MIN_BLOCK_BUDGET:
            rate = len(txs) / max(time.perf_counter() - started, 1e-3)
            self._build_rate = 0.5 * self._build_rate + 0.5 * rate
        return ProposalReady(action.height, action.round, block)

    def _block_budget(self) -> int:
        """How many transactions to propose: what this node builds in a share of the timeout.

        The other validators wait ``propose_ms`` for the proposal; a block that
        takes longer to build than that only costs a round. The rate is what
        the last builds measured, so a loaded machine proposes smaller blocks.
        """
        c = self.config.consensus
        budget = int(self._build_rate * c.propose_ms * BUILD_SHARE / 1000)
        return max(MIN_BLOCK_BUDGET, min(c.max_block_txs, budget))

    def _valid(self, block: Block) -> bool:
        drift = self.config.consensus.max_clock_drift_ms
        if block.header.time > self.clock() + drift:
            self.metrics.reject("block_time_ahead")
            return False
        try:
            self.chain.validate_block(block)
        except StoreError as e:
            # This node's store failed, not the block: stop rather than vote against it.
            self._store_failed(f"check the proposal at height {block.height}", e)
            return False
        except LedgerError as e:
            log.info("invalid proposal at height %d: %s", block.height, e)
            self.metrics.reject("invalid_block")
            return False
        except ContractError as e:
            # The rules in force need what this node lacks (a Dangerous Goods List a
            # governance action brought into force): it cannot vote for the block.
            log.error("cannot check the proposal at height %d: %s", block.height, e.message)
            self.metrics.reject("dgl_unavailable")
            return False
        return True

    def _halt(self, message: str) -> NodeHalted:
        """Stop taking part in consensus and stop the node; the exception to raise."""
        self.halted = True
        self.on_fatal(message)
        return NodeHalted(message)

    def _store_failed(self, doing: str, error: StoreError) -> NodeHalted:
        """Stop the node over a failure of its own store; the exception to raise."""
        return self._halt(
            f"cannot {doing}: the store failed ({error}); the store holds block"
            f" {self.chain.height}, fix what failed (disk space, the device) and restart"
        )

    def _commit(self, block: Block, certificate: Certificate) -> NewHeight | None:
        if block.height != self.chain.height + 1:
            return None  # block sync got there first
        try:
            self.commit_block(block, certificate)
        except NodeHalted:
            return None  # on_fatal has said why and is stopping the node
        event = NewHeight(self.chain.height + 1, self.chain.validators)
        self._defer(event)
        if self._work_pending():
            self._kick()
        return None

    def commit_block(self, block: Block, certificate: Certificate) -> None:
        """Write a decided or synced block, then settle the mempool and waiters.

        A block this node cannot execute (the list in force is not loaded) stops
        the node: it cannot follow the chain, and serving a past state as if it
        were current would mislead its readers. So does a block its store
        cannot write (a full disk): the batch is atomic, so the store keeps the
        previous block, and a restart resumes from there.
        """
        try:
            written = self.chain.commit_block(block, certificate)
        except ContractError as e:
            message = (
                f"cannot apply block {block.height}: {e.message}; add that list to"
                f" dgl_extra in {self.config.path} and restart"
            )
            raise self._halt(message) from e
        except StoreError as e:
            raise self._store_failed(f"write block {block.height}", e) from e
        ids = {tx.id for tx in block.txs}
        # Re-check the rest at the next block's height and the earliest time it can have.
        self.mempool.set_context(block.height + 1, block.header.time + 1)
        self.mempool.committed(ids, written)
        self.metrics.committed_txs += len(ids)
        self.backpressure.committed(len(ids), time.monotonic())
        now = time.monotonic()
        for tx_id in ids:
            started = self._commit_started.pop(tx_id, None)
            if started is not None:
                latency = (now - started) * 1000
                self.metrics.commit_latency.observe(latency)
            for future in self._waiters.pop(tx_id, []):
                if not future.done():
                    future.set_result(block.height)
        # Transactions the re-check evicted will not commit: forget when they came.
        for tx_id in [t for t in self._commit_started if t not in self.mempool]:
            del self._commit_started[tx_id]
        log.info(
            "committed block",
            extra={"fields": {"height": block.height, "txs": len(block.txs)}},
        )


def _jsonable(value: Any) -> Any:
    """A decoded state value with bytes as hex, for JSON answers."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
