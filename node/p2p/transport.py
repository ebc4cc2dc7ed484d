"""Outgoing peer traffic: one batching sender per peer over HTTP, and fault injection.

Each peer has a bounded queue; a task drains it into batches (at most a few
milliseconds of messages, and never more messages than a receiver takes in
one batch) and POSTs them to the peer's ``/peer/v1/messages``. A peer that
is down costs one failed request per batch and its messages are dropped:
consensus re-sends what matters on its rebroadcast timer, and a node that
missed blocks catches up by block sync.

:class:`Faults` is the test-only fault injection: messages to or from named
peers are dropped. Only a node started with the ``--unsafe-test-admin``
command-line flag exposes it; no configuration file can enable it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx

from node.config import Peer
from node.p2p.messages import MAX_BATCH_ITEMS, seal_batch

log = logging.getLogger("dgledger.transport")

MAX_QUEUE = 50_000
MAX_BATCH_BYTES = 8 * 1024 * 1024
BATCH_WINDOW_S = 0.003


@dataclass(slots=True)
class Faults:
    """Peers whose traffic is dropped, both ways (test-only)."""

    isolated: set[str] = field(default_factory=set)

    def blocks(self, peer: str) -> bool:
        """True when traffic with ``peer`` is dropped."""
        return "*" in self.isolated or peer in self.isolated


class PeerSender:
    """Batches and sends sealed messages to one peer."""

    def __init__(self, peer: Peer, client: httpx.AsyncClient, faults: Faults) -> None:
        self.peer = peer
        self.client = client
        self.faults = faults
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUE)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.connected = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sending task."""
        self._task = asyncio.create_task(self._run(), name=f"send-{self.peer.name}")

    async def stop(self) -> None:
        """Stop the sending task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def send(self, sealed: bytes) -> None:
        """Queue one sealed message; dropped when the queue is full."""
        try:
            self.queue.put_nowait(sealed)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            batch = [first]
            size = len(first)
            await asyncio.sleep(BATCH_WINDOW_S)
            # A batch over the receiver's item limit would be refused whole: after an
            # outage the queue holds tens of thousands of small votes and statuses.
            while (
                not self.queue.empty() and size < MAX_BATCH_BYTES and len(batch) < MAX_BATCH_ITEMS
            ):
                item = self.queue.get_nowait()
                batch.append(item)
                size += len(item)
            if self.faults.blocks(self.peer.name):
                self.dropped += len(batch)
                continue
            try:
                response = await self.client.post(
                    f"{self.peer.url}/peer/v1/messages",
                    content=seal_batch(batch),
                    headers={"content-type": "application/msgpack"},
                )
                self.connected = response.status_code < 500
                if response.status_code >= 400:
                    self.failed += 1
                    log.debug("peer %s answered %s", self.peer.name, response.status_code)
                else:
                    self.sent += len(batch)
            except httpx.HTTPError as e:
                self.connected = False
                self.failed += 1
                log.debug("peer %s unreachable: %s", self.peer.name, type(e).__name__)


class Transport:
    """Senders to every configured peer."""

    def __init__(self, peers: tuple[Peer, ...], faults: Faults) -> None:
        self.faults = faults
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(5.0, connect=1.0),
            limits=httpx.Limits(max_connections=4 * max(1, len(peers))),
        )
        self.senders = {p.name: PeerSender(p, self.client, faults) for p in peers}

    def start(self) -> None:
        """Start every sender."""
        for sender in self.senders.values():
            sender.start()

    async def stop(self) -> None:
        """Stop every sender and close connections."""
        for sender in self.senders.values():
            await sender.stop()
        await self.client.aclose()

    def broadcast(self, sealed: bytes) -> None:
        """Queue ``sealed`` for every peer."""
        for sender in self.senders.values():
            sender.send(sealed)

    def connected(self) -> int:
        """Peers that answered the last request."""
        return sum(1 for s in self.senders.values() if s.connected)
