"""Peer traffic: one persistent TLS connection to each peer, the listener, fault injection.

Connections. A node dials each configured peer (``[[peers]]``) once and
keeps the connection: mutual TLS 1.3 with certificates bound to node keys
(:mod:`node.p2p.tls`), the dialled side trusting only the key configured
for that peer. The dialler sends its gossip on it and asks it for blocks;
the acceptor sends back only the ``hello`` that admits the dialler and the
answers to its block requests. So every pair of validators holds two
connections, one each way, and neither side has to settle which of two
simultaneous dials survives. A connection that ends is dialled again at
once, then after a delay that doubles up to :data:`RECONNECT_MAX_S`: a peer
that is down costs the attempts and nothing else (messages for it are
dropped as they are sent, not queued).

Admission. The listener (``peer_listen``) completes a handshake only with a
certificate built from a key it trusts: every validator set it has known,
and its configured ``[[observers]]``. Right after the handshake, and again
at the first frame after every :data:`RECHECK_S`, :class:`NodeKeys` checks
the key against the membership in force: a validator of the current or the
previous set, or a configured observer whose key and organisation are still
active. Anything else is refused and counted in ``/metrics``
(``dgledger_rejected_messages_total``) by reason: ``unknown_certificate``,
``tls_failed``, ``not_a_node``, ``too_many_handshakes``; a frame over the
size limit closes the connection (``frame_too_large``); a frame that is not
a message is dropped (``malformed``, ``unknown_kind``, ``unexpected_kind``).

Sending. Each peer has a bounded queue (:data:`MAX_QUEUE` messages; past
it, messages are dropped and counted in :attr:`PeerLink.dropped`), drained every
:data:`BATCH_WINDOW_S`: the transactions gathered meanwhile travel as one
``txs`` frame, with no seal (each is signed by its author), and votes,
proposals, evidence and statuses as their own frames, all in one write.

:class:`Faults` is the test-only fault injection: traffic with named peers
is dropped both ways (frames not sent, frames received dropped, block
requests answered with no blocks). Only a node started with the
``--unsafe-test-admin`` command-line flag exposes it; no configuration file
can enable it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.crypto import PublicKey
from ledger.validators import ValidatorSet
from node.config import Observer, Peer
from node.metrics import Metrics
from node.p2p.connection import TlsStream
from node.p2p.errors import PeerError, PeerMessageError, PeerRefused, PeerUnavailable
from node.p2p.frames import (
    GOSSIP,
    BlockRequest,
    PeerMessage,
    blocks_answer,
    frame,
    parse,
    txs_frames,
)
from node.p2p.tls import PeerTls, Trusting

log = logging.getLogger("dgledger.transport")

MAX_QUEUE: Final = 50_000
MAX_WRITE_BYTES: Final = 8 * 1024 * 1024
BATCH_WINDOW_S: Final = 0.003
CONNECT_TIMEOUT_S: Final = 2.0
HELLO_TIMEOUT_S: Final = 5.0
REQUEST_TIMEOUT_S: Final = 30.0
DRAIN_TIMEOUT_S: Final = 30.0
"""A peer that takes nothing for this long is treated as gone (its connection is dialled anew)."""
IDLE_TIMEOUT_S: Final = 60.0
"""An admitted dialler says its status every second; one silent this long is gone."""
RECONNECT_MIN_S: Final = 0.05
RECONNECT_MAX_S: Final = 2.0
RECHECK_S: Final = 5.0
STOP_TIMEOUT_S: Final = 2.0
REFUSAL_LOG_S: Final = 60.0
MAX_REFUSALS_SAID: Final = 1024
MAX_HANDSHAKES: Final = 64
"""Connections still in their handshake; more are closed unread (a flood costs no crypto)."""


@dataclass(slots=True)
class Faults:
    """Peers whose traffic is dropped, both ways (test-only)."""

    isolated: set[str] = field(default_factory=set)

    def blocks(self, peer: str) -> bool:
        """True when traffic with ``peer`` is dropped."""
        return "*" in self.isolated or peer in self.isolated


class NodeKeys:
    """Which keys may hold a connection to this node, and the names they go by."""

    def __init__(
        self,
        validator_sets: Callable[[], Iterable[ValidatorSet]],
        observers: tuple[Observer, ...],
        *,
        active: Callable[[str], bool],
        peers: tuple[Peer, ...] = (),
    ) -> None:
        self.validator_sets = validator_sets
        """The validator sets in force: the current one and the one before it."""
        self.observers = {o.key.key_id: o for o in observers}
        self.active = active
        """Whether a key is still an active key of an active member (governance may revoke it)."""
        self._names = {p.key.key_id: p.name for p in peers}
        self._names.update((o.key.key_id, o.name) for o in observers)

    def trusted(self) -> list[PublicKey]:
        """Keys whose certificates the listener takes in a handshake."""
        keys = {v.key_id: v.public for vs in self.validator_sets() for v in vs}
        keys.update((o.key.key_id, o.key) for o in self.observers.values())
        return list(keys.values())

    def refusal(self, key: PublicKey) -> PeerRefused | None:
        """Why ``key`` may not hold a connection now, or None."""
        key_id = key.key_id
        if any(key_id in validators for validators in self.validator_sets()):
            return None
        if key_id in self.observers and self.active(key_id):
            return None
        return PeerRefused("not_a_node", f"{key_id[:16]} is not a validator or observer node")

    def name(self, key_id: str) -> str:
        """The configured name of a key, else its validator's organisation, else the key id."""
        name = self._names.get(key_id)
        if name is not None:
            return name
        for validators in self.validator_sets():
            validator = validators.get(key_id)
            if validator is not None:
                return validator.org
        return key_id


Deliver = Callable[[list[PeerMessage]], None]
AnswerBlocks = Callable[[BlockRequest], Awaitable[bytes]]
"""The ``blocks`` frame answering a request (built off the event loop, from one snapshot)."""


class PeerLink:
    """The connection this node dials to one peer: its queue, sender and block requests."""

    def __init__(self, peer: Peer, context: Trusting, transport: Transport) -> None:
        self.peer = peer
        self.context = context
        self.transport = transport
        self.stream: TlsStream | None = None
        self.frames: deque[bytes] = deque()
        self.txs: list[bytes] = []
        self.queued = 0
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._pending: dict[int, asyncio.Future[list[Any]]] = {}
        self._ids = itertools.count()
        self._refused_by_peer = False

    @property
    def connected(self) -> bool:
        """Whether the connection is up and the peer admitted this node."""
        return self.stream is not None

    def send(self, data: bytes) -> None:
        """Queue one frame; dropped when not connected or the queue is full."""
        if self._room():
            self.frames.append(data)
            self._queued()

    def add_tx(self, wire: bytes) -> None:
        """Queue one transaction for the next ``txs`` frame."""
        if self._room():
            self.txs.append(wire)
            self._queued()

    def _room(self) -> bool:
        if self.stream is None or self.queued >= MAX_QUEUE:
            self.dropped += 1
            return False
        return True

    def _queued(self) -> None:
        self.queued += 1
        self._wake.set()

    async def request(self, start: int, count: int) -> list[Any]:
        """The entries of the peer's answer to ``get_blocks`` (PeerUnavailable if none comes)."""
        stream = self.stream
        if stream is None or self.transport.faults.blocks(self.peer.name):
            raise PeerUnavailable(f"no connection to {self.peer.name}")
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        request = BlockRequest(next(self._ids), start, count)
        self._pending[request.id] = future
        try:
            stream.write(frame("get_blocks", request.body()))
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                return await future
        except TimeoutError as e:
            raise PeerUnavailable(f"{self.peer.name} did not answer in time") from e
        finally:
            self._pending.pop(request.id, None)

    def answered(self, body: Any) -> None:
        """A ``blocks`` frame: settle the request it answers."""
        request_id, entries = blocks_answer(body)
        future = self._pending.get(request_id)
        if future is not None and not future.done():
            future.set_result(entries)

    async def run(self) -> None:
        """Dial, serve, dial again: until cancelled."""
        delay = RECONNECT_MIN_S
        while True:
            try:
                stream = await self._dial()
            except PeerError as e:
                self.failed += 1
                log.debug("peer %s: %s", self.peer.name, e.message)
                await asyncio.sleep(delay)
                delay = min(2 * delay, RECONNECT_MAX_S)
                continue
            delay = RECONNECT_MIN_S
            log.info(
                "connected to peer %s at %s (%s)", self.peer.name, self.peer.address, stream.version
            )
            try:
                await self._serve(stream)
            finally:
                self._disconnected(stream)
            log.info("connection to peer %s ended", self.peer.name)

    async def _dial(self) -> TlsStream:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(self.peer.host, self.peer.port)
        except (OSError, TimeoutError) as e:
            raise PeerUnavailable(f"cannot connect: {type(e).__name__}") from e
        stream = TlsStream(reader, writer, self.context.context, server_side=False)
        try:
            key = await stream.handshake()
            if key != self.peer.key:  # the context trusts no other key: a broken invariant
                raise AssertionError(f"{self.peer.name} passed the handshake with another key")
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                kind, _ = parse(await stream.read_frame())
            if kind != "hello":
                raise PeerMessageError("unexpected_kind", f"{kind} before hello")
        except PeerRefused as e:
            stream.close()
            if e.reason == "unknown_certificate":
                # The peer presented another certificate than the configured key's.
                self.transport.metrics.reject(e.reason)
            raise
        except (PeerError, TimeoutError) as e:
            stream.close()
            if not self._refused_by_peer:
                log.warning("peer %s did not admit this node: %s", self.peer.name, e)
                self._refused_by_peer = True
            raise PeerRefused("tls_failed", "not admitted") from e
        self._refused_by_peer = False
        return stream

    async def _serve(self, stream: TlsStream) -> None:
        self.stream = stream
        tasks = {
            asyncio.create_task(self.transport.handle_frames(stream, self.peer.key, link=self)),
            asyncio.create_task(self._send(stream)),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        for task in done:
            error = None if task.cancelled() else task.exception()
            if error is not None and not isinstance(error, PeerError | TimeoutError):
                raise error  # a bug, not the peer: the link stops and says why

    def _disconnected(self, stream: TlsStream) -> None:
        self.stream = None
        stream.close()
        self.dropped += self.queued
        self.frames.clear()
        self.txs.clear()
        self.queued = 0
        for future in self._pending.values():
            if not future.done():
                future.set_exception(PeerUnavailable(f"connection to {self.peer.name} ended"))

    async def _send(self, stream: TlsStream) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(BATCH_WINDOW_S)
            self._wake.clear()
            data, count = self._take()
            if self.transport.faults.blocks(self.peer.name):
                self.dropped += count
                continue
            stream.write(data)
            try:
                async with asyncio.timeout(DRAIN_TIMEOUT_S):
                    await stream.drain()
            except TimeoutError as e:
                raise PeerUnavailable(f"{self.peer.name} takes nothing") from e
            self.sent += count

    def _take(self) -> tuple[bytes, int]:
        """What to write now: the transactions' frames first, then the other frames in order."""
        parts = txs_frames(self.txs)
        count = len(self.txs)
        self.txs = []
        size = sum(len(p) for p in parts)
        while self.frames and size < MAX_WRITE_BYTES:
            part = self.frames.popleft()
            parts.append(part)
            size += len(part)
            count += 1
        self.queued -= count
        if self.queued:
            self._wake.set()  # the rest goes in the next write
        return b"".join(parts), count


class Transport:
    """Connections to every configured peer, and the listener for theirs."""

    def __init__(
        self,
        tls: PeerTls,
        peers: tuple[Peer, ...],
        *,
        listen: tuple[str, int] | None,
        nodes: NodeKeys,
        deliver: Deliver,
        answer_blocks: AnswerBlocks,
        faults: Faults,
        metrics: Metrics,
    ) -> None:
        self.tls = tls
        self.listen = listen
        self.nodes = nodes
        self.deliver = deliver
        self.answer_blocks = answer_blocks
        self.faults = faults
        self.metrics = metrics
        self.links = {p.name: PeerLink(p, tls.client_context(p.key), self) for p in peers}
        self.server_context = tls.server_context(nodes.trusted()) if listen else None
        self.server: asyncio.Server | None = None
        self._accepted: dict[str, TlsStream] = {}
        """Admitted incoming connections, by key id: one per node."""
        self._incoming: dict[asyncio.Task[Any], TlsStream] = {}
        """Every incoming connection's task (start_server's) and stream, admitted or not yet."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handshakes = 0
        self._refusals_said: dict[tuple[str, str], float] = {}

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the listener is bound (the port the system chose, for port 0)."""
        if self.server is None:
            return None
        host, port = self.server.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        """Listen (if configured) and start dialling every peer."""
        if self.listen is not None:
            self.server = await asyncio.start_server(self._accept, *self.listen)
        for link in self.links.values():
            task = asyncio.create_task(link.run(), name=f"peer-{link.peer.name}")
            self._tasks.add(task)
            task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Close every connection and the listener."""
        if self.server is not None:
            self.server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Incoming connections end as a closed peer ends them: start_server's own
        # bookkeeping takes a cancelled handler task for a failure, and says so.
        for stream in list(self._incoming.values()):
            stream.close()
        if self._incoming:
            _, late = await asyncio.wait(list(self._incoming), timeout=STOP_TIMEOUT_S)
            for task in late:
                task.cancel()
        if self.server is not None:
            await self.server.wait_closed()

    def broadcast(self, kind: str, body: Any) -> None:
        """Send one message to every peer (encoded once)."""
        data = frame(kind, body)
        for link in self.links.values():
            link.send(data)

    def gossip_tx(self, wire: bytes) -> None:
        """Send a transaction to every peer, in the next ``txs`` frame of each."""
        for link in self.links.values():
            link.add_tx(wire)

    def connected(self) -> int:
        """Configured peers this node holds an admitted connection to."""
        return sum(1 for link in self.links.values() if link.connected)

    async def request_blocks(self, peer: str, start: int, count: int) -> list[Any]:
        """Ask ``peer`` for blocks ``start``.. (at most ``count``) with their certificates."""
        link = self.links.get(peer)
        if link is None:
            raise PeerUnavailable(f"{peer} is not a configured peer")
        return await link.request(start, count)

    # -------------------------------------------------------------- incoming

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("peer task %s failed", task.get_name(), exc_info=error)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._handshakes >= MAX_HANDSHAKES:
            self.metrics.reject("too_many_handshakes")
            writer.close()
            return
        assert self.server_context is not None
        # A validator governance added since the last handshake: trust its certificate.
        self.tls.trust(self.server_context, self.nodes.trusted())
        stream = TlsStream(reader, writer, self.server_context.context, server_side=True)
        # start_server runs this as a task of its own: stop() ends it by closing the stream.
        task = asyncio.current_task()
        assert task is not None
        self._incoming[task] = stream
        try:
            await self._serve_incoming(stream, writer)
        finally:
            del self._incoming[task]

    async def _serve_incoming(self, stream: TlsStream, writer: asyncio.StreamWriter) -> None:
        self._handshakes += 1
        try:
            key = await stream.handshake()
            refused = self.nodes.refusal(key)
            if refused is not None:
                raise refused
        except PeerRefused as e:
            self.metrics.reject(e.reason)
            self._log_refusal(writer, e)
            stream.close()
            return
        finally:
            self._handshakes -= 1
        previous = self._accepted.pop(key.key_id, None)
        if previous is not None:
            previous.close()  # the peer dialled again: its old connection is dead to it
        self._accepted[key.key_id] = stream
        try:
            stream.write(frame("hello", {}))
            await self.handle_frames(stream, key, link=None)
        except (PeerError, TimeoutError) as e:
            log.debug("peer connection from %s ended: %s", key.key_id[:16], e)
        finally:
            if self._accepted.get(key.key_id) is stream:
                del self._accepted[key.key_id]
            stream.close()

    async def handle_frames(
        self, stream: TlsStream, key: PublicKey, *, link: PeerLink | None
    ) -> None:
        """Read and handle frames until the connection ends (``link``: the one this node dialled).

        Returns nothing: it raises :class:`PeerError` (or TimeoutError) when the
        connection ends, is refused, or sends a frame over the size limit.
        """
        name = self.nodes.name(key.key_id)
        accepted = link is None
        recheck = time.monotonic() + RECHECK_S
        while True:
            try:
                if accepted:
                    async with asyncio.timeout(IDLE_TIMEOUT_S):
                        payload = await stream.read_frame()
                else:
                    payload = await stream.read_frame()
                kind, body = parse(payload)
            except PeerMessageError as e:
                self.metrics.reject(e.reason)
                if e.reason == "frame_too_large":
                    raise
                continue
            if accepted and time.monotonic() >= recheck:
                refused = self.nodes.refusal(key)
                if refused is not None:
                    self.metrics.reject(refused.reason)
                    raise refused
                recheck = time.monotonic() + RECHECK_S
            if self.faults.blocks(name):
                self.metrics.reject("fault_injected")
                if accepted and kind == "get_blocks":
                    await self._answer(stream, body, empty=True)
                continue
            try:
                if accepted and kind in GOSSIP:
                    self.deliver([PeerMessage(key.key_id, kind, body)])
                elif accepted and kind == "get_blocks":
                    await self._answer(stream, body)
                elif link is not None and kind == "blocks":
                    link.answered(body)
                else:
                    raise PeerMessageError("unexpected_kind", f"{kind} on this connection")
            except PeerMessageError as e:
                self.metrics.reject(e.reason)

    def _log_refusal(self, writer: asyncio.StreamWriter, refused: PeerRefused) -> None:
        """Say why a connection was refused, once a minute per address and reason (all counted)."""
        host = _remote(writer).rpartition(":")[0]
        now = time.monotonic()
        if now < self._refusals_said.get((host, refused.reason), 0.0):
            return
        if len(self._refusals_said) > MAX_REFUSALS_SAID:
            self._refusals_said.clear()
        self._refusals_said[(host, refused.reason)] = now + REFUSAL_LOG_S
        log.warning("refused a peer connection from %s: %s", host, refused.message)

    async def _answer(self, stream: TlsStream, body: Any, *, empty: bool = False) -> None:
        request = BlockRequest.from_body(body)
        if empty:
            data = frame("blocks", {"id": request.id, "blocks": []})
        else:
            data = await self.answer_blocks(request)
        stream.write(data)
        await stream.drain()


def _remote(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "?"
