"""A deterministic, seeded multi-node simulator running the real consensus machine.

Virtual time is an integer number of milliseconds; events wait in one heap
ordered by (time, sequence number), so runs are reproducible: every random
choice (scenario, delays, losses, duplicates, Byzantine splits) comes from
the one ``random.Random(seed)`` the simulation is built with.

The network delivers each message after a random delay, so messages are
reordered; before the global stabilisation time (GST) it also loses and
duplicates them and may be partitioned; from GST on every message arrives
within ``delta`` ms. A node is its :class:`ConsensusMachine` plus durable
parts (committed chain and pool, and the last signed record): a crash throws
the machine away, timers included, and a restart builds a new one from the
durable parts. A node that sees a peer at a higher height fetches the
missing blocks with their certificates (block sync) and verifies them.

Nodes behave honestly unless given a Byzantine :class:`Behaviour`
(``tests/node/sim_byzantine.py``). :meth:`Simulation.violations` checks the
invariants: agreement, certificates, liveness after GST, evidence.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.block import Block
from ledger.crypto import SigningKey, Verifier
from ledger.evidence import Evidence
from ledger.votes import Certificate, Proposal, Vote
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
from node.consensus.params import Limits, TimeoutConfig
from node.consensus.privval import PrivValidator, SignedState, SignState
from tests.node.sim_app import CHAIN, SimChain, transactions, validator_keys, validator_set

TRACE_LEN: Final = 40
STATUS_PERIOD: Final = 1000
SYNC_BACKOFF: Final = 300
SYNC_BATCH: Final = 8
APP_LATENCY: Final = 2

SIM_TIMEOUTS: Final = TimeoutConfig(
    propose=400,
    propose_delta=150,
    prevote=200,
    prevote_delta=100,
    precommit=200,
    precommit_delta=100,
    commit=600,
    rebroadcast=700,
)


@dataclass
class NetConfig:
    """How the network misbehaves, and until when."""

    gst: int = 0
    loss: float = 0.0
    duplicate: float = 0.0
    pre_gst_delay: int = 50
    delta: int = 30
    partition: tuple[frozenset[int], ...] = ()
    """Groups that cannot talk to each other until GST (empty: no partition)."""


@dataclass
class Scenario:
    """Everything a run needs besides the random generator."""

    seed: int
    n: int
    kind: str
    net: NetConfig
    byzantine: dict[int, str] = field(default_factory=dict)
    crashes: list[tuple[int, int, int]] = field(default_factory=list)
    """(node, crash time, restart time)"""
    submissions: list[tuple[int, int, int]] = field(default_factory=list)
    """(time, node, index into the transaction pool)"""
    liveness_bound: int = 10_000

    def describe(self) -> str:
        """One line for failure messages."""
        net = self.net
        return (
            f"seed={self.seed} n={self.n} kind={self.kind} byzantine={self.byzantine}"
            f" gst={net.gst} loss={net.loss:.2f} dup={net.duplicate:.2f}"
            f" partition={[sorted(g) for g in net.partition]} crashes={self.crashes}"
            f" submissions={self.submissions}"
        )


class Behaviour:
    """How a node sends, builds and listens; honest by default, overridden by Byzantine ones."""

    name = "honest"
    runs_machine = True

    def broadcast_proposal(self, node: SimNode, action: BroadcastProposal) -> None:
        """Send a proposal with its block to every peer."""
        node.sim.broadcast(node.index, ("proposal", action.proposal, action.block))

    def broadcast_vote(self, node: SimNode, action: BroadcastVote) -> None:
        """Send a vote to every peer."""
        node.sim.broadcast(node.index, ("vote", action.vote))

    def build_block(self, node: SimNode, height: int, round_: int) -> Block:
        """The block to propose."""
        return node.chain.build(node.key_id, node.sim.now)

    def tick(self, node: SimNode) -> None:
        """Called every status period while the node is up."""


HONEST: Final = Behaviour()


class SimNode:
    """One simulated validator: a machine that can crash, and what survives a crash."""

    def __init__(self, sim: Simulation, index: int, key: SigningKey, behaviour: Behaviour) -> None:
        self.sim = sim
        self.index = index
        self.key = key
        self.key_id = key.public.key_id
        self.behaviour = behaviour
        self.chain = SimChain(sim.validators, sim.verifier)
        self.sign_state: SignedState | None = None
        self.persisted: set[bytes] = set()  # signatures made durable (survives crashes)
        self.machine: ConsensusMachine | None = None
        self.incarnation = 0
        self.up = False
        self.trace: deque[tuple[int, str, Any, list[Action]]] = deque(maxlen=TRACE_LEN)
        self.evidence: list[Evidence] = []
        self.commit_time: dict[bytes, int] = {}
        self.last_sync = -SYNC_BACKOFF
        self.scratch: dict[object, object] = {}  # a Byzantine behaviour's own memory

    @property
    def correct(self) -> bool:
        """Whether this node follows the protocol (crashes allowed)."""
        return self.behaviour is HONEST

    def boot(self) -> None:
        """Start, or restart after a crash, from the durable parts."""
        self.incarnation += 1
        self.up = True
        self.sim.at(self.sim.now + STATUS_PERIOD, "tick", self.index, self.incarnation, None)
        if not self.behaviour.runs_machine:
            return
        signer = PrivValidator(self.key, SignState(CHAIN, self.sign_state))
        self.machine = ConsensusMachine(
            chain=CHAIN,
            verifier=self.sim.verifier,
            signer=signer,
            timeouts=SIM_TIMEOUTS,
            limits=self.sim.limits,
        )
        self.feed(Start(self.chain.height + 1, self.sim.validators))

    def crash(self) -> None:
        """Lose the machine and its timers; keep chain, pool and sign state."""
        self.trace.append((self.sim.now, "crash", None, []))
        self.up = False
        self.machine = None
        self.incarnation += 1

    def feed(self, event: Event) -> None:
        """Hand one event to the machine and carry out its actions in order."""
        machine = self.machine
        if machine is None:
            return
        actions = machine.handle(event)
        self.trace.append((self.sim.now, "event", event, actions))
        for action in actions:
            self.execute(action)

    def execute(self, action: Action) -> None:
        """Carry out one action as a node driver would."""
        sim = self.sim
        if isinstance(action, BroadcastVote):
            if action.vote.validator == self.key_id:
                self._check_persisted(action.vote.signature)
            self.behaviour.broadcast_vote(self, action)
        elif isinstance(action, BroadcastProposal):
            self._check_persisted(action.proposal.signature)
            self.behaviour.broadcast_proposal(self, action)
        elif isinstance(action, ScheduleTimeout):
            event = TimeoutFired(action.kind, action.height, action.round)
            sim.at(sim.now + action.duration, "machine", self.index, self.incarnation, event)
        elif isinstance(action, PersistSigned):
            self.sign_state = action.state
            self.persisted.add(action.what.signature)
        elif isinstance(action, RequestProposal):
            block = self.behaviour.build_block(self, action.height, action.round)
            ready = ProposalReady(action.height, action.round, block)
            sim.at(sim.now + APP_LATENCY, "machine", self.index, self.incarnation, ready)
        elif isinstance(action, RequestValidation):
            valid = self.chain.validate(action.block)
            verdict = BlockValidated(action.height, action.block_hash, valid)
            sim.at(sim.now + APP_LATENCY, "machine", self.index, self.incarnation, verdict)
        elif isinstance(action, Commit):
            self.commit(action.block, action.certificate)
        elif isinstance(action, RecordEvidence):
            self.evidence.append(action.evidence)

    def _check_persisted(self, signature: bytes) -> None:
        if self.correct and signature not in self.persisted:
            self.sim.violation(f"node {self.index} sent a signed message before persisting it")

    def commit(self, block: Block, certificate: Certificate) -> None:
        """Write a decided (or synced) block and tell the machine the next height."""
        block_hash = block.hash
        if block.height <= self.chain.height:
            if self.chain.hashes[block.height - 1] != block_hash:
                self.sim.violation(f"node {self.index} decided two blocks at {block.height}")
            return
        try:
            self.chain.commit(block, block_hash, certificate)
        except Exception as e:
            self.sim.violation(f"node {self.index} height {block.height}: {e!r}")
            return
        for tx in block.txs:
            self.commit_time[tx.id] = self.sim.now
        if self.correct:
            self.sim.on_correct_commit(block)
        event = NewHeight(block.height + 1, self.sim.validators)
        self.sim.at(self.sim.now + APP_LATENCY, "machine", self.index, self.incarnation, event)

    def deliver(self, src: int, message: tuple[Any, ...]) -> None:
        """A message from the network."""
        if not self.up or not self.behaviour.runs_machine:
            return
        kind = message[0]
        if kind == "vote":
            vote: Vote = message[1]
            self._notice_height(src, vote.height)
            self.feed(VoteReceived(vote))
        elif kind == "proposal":
            proposal: Proposal = message[1]
            self._notice_height(src, proposal.height)
            self.feed(ProposalReceived(proposal, message[2]))
        elif kind == "tx":
            self.chain.add_pending(message[1])
        elif kind == "status":
            if message[1] > self.chain.height:
                self._request_sync(src)
        elif kind == "sync_request":
            start = message[1]
            pairs = list(zip(self.chain.blocks, self.chain.certificates, strict=True))
            batch = pairs[start - 1 : start - 1 + SYNC_BATCH]
            if batch:
                self.sim.send(self.index, src, ("sync_response", batch))
        elif kind == "sync_response":
            for block, certificate in message[1]:
                if block.height == self.chain.height + 1:
                    if not self.chain.validate(block):
                        self.sim.violation(
                            f"node {self.index}: synced block {block.height} invalid"
                        )
                        return
                    self.commit(block, certificate)

    def _notice_height(self, src: int, height: int) -> None:
        # A peer voting above the height after ours has committed ours: fetch it.
        if height > self.chain.height + 1:
            self._request_sync(src)

    def _request_sync(self, src: int) -> None:
        if self.sim.now - self.last_sync >= SYNC_BACKOFF:
            self.last_sync = self.sim.now
            self.sim.send(self.index, src, ("sync_request", self.chain.height + 1))

    def tick(self) -> None:
        """Periodic status and transaction gossip."""
        sim = self.sim
        sim.broadcast(self.index, ("status", self.chain.height))
        for tx in self.chain.pending.values():
            sim.broadcast(self.index, ("tx", tx))
        self.behaviour.tick(self)
        sim.at(sim.now + STATUS_PERIOD, "tick", self.index, self.incarnation, None)


class Simulation:
    """Nodes, network and clock of one seeded run."""

    def __init__(
        self,
        scenario: Scenario,
        rng: random.Random,
        verifier: Verifier,
        behaviours: dict[str, Behaviour],
        limits: Limits | None = None,
    ) -> None:
        self.scenario = scenario
        self.rng = rng
        self.verifier = verifier
        self.limits = limits or Limits()
        self.validators = validator_set(scenario.n)
        self.now = 0
        self._queue: list[tuple[int, int, str, int, int, Any]] = []
        self._seq = 0
        self._violations: list[str] = []
        keys = validator_keys(scenario.n)
        self.nodes = [
            SimNode(self, i, keys[i], behaviours[scenario.byzantine[i]])
            if i in scenario.byzantine
            else SimNode(self, i, keys[i], HONEST)
            for i in range(scenario.n)
        ]
        self.byzantine_ids = {self.nodes[i].key_id for i in scenario.byzantine}
        correct = [nd for nd in self.nodes if nd.correct]
        pool = transactions()
        self._submitted = {pool[i].id for _, _, i in scenario.submissions}
        self._outstanding = len(self._submitted) * len(correct)
        self.delivered = 0

    # ------------------------------------------------------------ scheduling

    def at(self, time: int, kind: str, node: int, incarnation: int, payload: Any) -> None:
        """Queue an event for ``node`` at virtual ``time``."""
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, kind, node, incarnation, payload))

    def violation(self, text: str) -> None:
        """Record a broken invariant (reported at the end with the traces)."""
        self._violations.append(f"t={self.now} {text}")

    def on_correct_commit(self, block: Block) -> None:
        """Count down the (node, submitted tx) pairs still to commit."""
        for tx in block.txs:
            if tx.id in self._submitted:
                self._outstanding -= 1

    # --------------------------------------------------------------- network

    def send(self, src: int, dst: int, message: tuple[Any, ...]) -> None:
        """Put one message on the wire from ``src`` to ``dst``."""
        net = self.scenario.net
        rng = self.rng
        if self.now < net.gst:
            if net.partition and not any(src in g and dst in g for g in net.partition):
                return
            if rng.random() < net.loss:
                return
            delay = rng.randint(1, net.pre_gst_delay)
        else:
            delay = rng.randint(1, net.delta)
        self.at(self.now + delay, "deliver", dst, src, message)
        if net.duplicate and rng.random() < net.duplicate:
            later = rng.randint(1, max(net.delta, net.pre_gst_delay if self.now < net.gst else 1))
            self.at(self.now + delay + later, "deliver", dst, src, message)

    def broadcast(self, src: int, message: tuple[Any, ...]) -> None:
        """Send ``message`` to every other node."""
        for dst in range(len(self.nodes)):
            if dst != src:
                self.send(src, dst, message)

    # ------------------------------------------------------------------- run

    def run(self) -> None:
        """Run until every submitted transaction is committed everywhere, or the deadline."""
        sc = self.scenario
        pool = transactions()
        for node in self.nodes:
            self.at(0, "boot", node.index, 0, None)
        for i, t_crash, t_restart in sc.crashes:
            self.at(t_crash, "crash", i, 0, None)
            self.at(t_restart, "boot", i, 0, None)
        for t, i, tx_index in sc.submissions:
            self.at(t, "submit", i, 0, pool[tx_index])
        settle = max(
            [sc.net.gst] + [t for _, _, t in sc.crashes] + [t for t, _, _ in sc.submissions]
        )
        deadline = settle + sc.liveness_bound + 1000
        queue = self._queue
        nodes = self.nodes
        while queue:
            time, _, kind, index, tag, payload = heapq.heappop(queue)
            if time > deadline:
                break
            if self._outstanding <= 0 and time > settle:
                break
            self.now = time
            node = nodes[index]
            if kind == "deliver":
                self.delivered += 1
                node.deliver(tag, payload)
            elif kind == "machine":
                if tag == node.incarnation and node.up:
                    node.feed(payload)
            elif kind == "tick":
                if tag == node.incarnation and node.up:
                    node.tick()
            elif kind == "submit":
                if node.up and node.chain.add_pending(payload):
                    self.broadcast(index, ("tx", payload))
                elif not node.up:
                    node.chain.add_pending(payload)  # queued by the node's API, kept on disk
            elif kind == "crash":
                node.crash()
            elif kind == "boot":
                node.boot()

    # ------------------------------------------------------------ invariants

    def violations(self) -> list[str]:
        """Every broken invariant of the run (empty when all hold)."""
        out = list(self._violations)
        sc = self.scenario
        correct = [nd for nd in self.nodes if nd.correct]
        top = max(nd.chain.height for nd in correct)
        for h in range(1, top + 1):
            hashes = {nd.chain.hashes[h - 1] for nd in correct if nd.chain.height >= h}
            if len(hashes) > 1:
                out.append(f"agreement: correct nodes committed {len(hashes)} blocks at height {h}")
        for nd in correct:
            for block_hash, block, cert in zip(
                nd.chain.hashes, nd.chain.blocks, nd.chain.certificates, strict=True
            ):
                try:
                    cert.verify(
                        CHAIN,
                        self.validators,
                        self.verifier,
                        height=block.height,
                        block_hash=block_hash,
                    )
                except Exception as e:
                    out.append(f"certificate of node {nd.index} height {block.height}: {e}")
        pool = transactions()
        for t, i, tx_index in sc.submissions:
            tx = pool[tx_index]
            due = max(t, sc.net.gst, *(r for _, _, r in sc.crashes)) + sc.liveness_bound
            for nd in correct:
                at = nd.commit_time.get(tx.id)
                if at is None or at > due:
                    out.append(
                        f"liveness: tx {tx_index} submitted to node {i} at {t} committed by node"
                        f" {nd.index} at {at}, due by {due}"
                    )
        for nd in correct:
            for ev in nd.evidence:
                if ev.offender not in self.byzantine_ids:
                    out.append(f"node {nd.index} produced evidence against correct {ev.offender}")
                try:
                    ev.verify(CHAIN, self.validators, self.verifier)
                except Exception as e:
                    out.append(f"node {nd.index} produced invalid evidence: {e}")
        return out

    def report(self, problems: list[str]) -> str:
        """The failure message: scenario, problems, and the last events of every node."""
        lines = [f"consensus simulation failed: {self.scenario.describe()}", *problems]
        for nd in self.nodes:
            m = nd.machine
            state = (
                "down"
                if m is None
                else f"h={m.height} r={m.round} step={m.step.name} locked={m.locked_round}"
                f" rejected={m.rejected}"
            )
            lines.append(
                f"--- node {nd.index} [{nd.behaviour.name}] key={nd.key_id[:8]}"
                f" committed={nd.chain.height} {state}"
            )
            for time, what, event, actions in nd.trace:
                if what != "event":
                    lines.append(f"  t={time} {what}")
                    continue
                done = ", ".join(describe(a) for a in actions)
                lines.append(f"  t={time} {describe(event)} -> [{done}]")
        return "\n".join(lines)


def _h(value: bytes | None) -> str:
    return "nil" if value is None else value.hex()[:8]


def describe(item: object) -> str:
    """A short readable form of an event or action for traces."""
    if isinstance(item, VoteReceived | BroadcastVote):
        v = item.vote
        return (
            f"{type(item).__name__}({v.type.value} h{v.height} r{v.round} {_h(v.block_hash)}"
            f" by {v.validator[:6]})"
        )
    if isinstance(item, ProposalReceived | BroadcastProposal):
        p = item.proposal
        return f"{type(item).__name__}(h{p.height} r{p.round} {_h(p.block_hash)} pol={p.pol_round})"
    if isinstance(item, PersistSigned):
        return f"PersistSigned(h{item.height} r{item.round} {item.step.name})"
    if isinstance(item, Commit):
        return f"Commit(h{item.block.height} {_h(item.block.hash)} r{item.certificate.round})"
    if isinstance(item, RequestValidation):
        return f"RequestValidation(h{item.height} {_h(item.block_hash)})"
    if isinstance(item, BlockValidated):
        return f"BlockValidated(h{item.height} {_h(item.block_hash)} {item.valid})"
    if isinstance(item, ProposalReady):
        return f"ProposalReady(h{item.height} r{item.round} {_h(item.block.hash)})"
    if isinstance(item, RecordEvidence):
        ev = item.evidence
        return f"RecordEvidence({ev.kind.value} by {ev.offender[:6]} h{ev.height} r{ev.round})"
    if isinstance(item, TimeoutFired | ScheduleTimeout):
        after = f" +{item.duration}ms" if isinstance(item, ScheduleTimeout) else ""
        return f"{type(item).__name__}({item.kind.value} h{item.height} r{item.round}{after})"
    if isinstance(item, RequestProposal):
        return f"RequestProposal(h{item.height} r{item.round})"
    if isinstance(item, Start | NewHeight):
        return f"{type(item).__name__}(h{item.height})"
    return repr(item)
