"""Outgoing gossip: batches a receiver accepts, failures counted, fault injection, full queues.

Each sender talks to an in-memory peer (``httpx.MockTransport``) that opens
every batch with :func:`open_batch`, exactly as a node's peer route does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import httpx

from ledger.crypto import SigningKey, Verifier
from node.config import Peer
from node.p2p.errors import PeerMessageError
from node.p2p.messages import MAX_BATCH_ITEMS, open_batch, seal
from node.p2p.transport import Faults, PeerSender, Transport

CHAIN: Final = "dg-transport"
KEY: Final = SigningKey.from_seed(b"sender".ljust(32, b"\x00"))
PEER: Final = Peer("port-authority", "http://peer.test")
DEADLINE_S: Final = 10.0


class FakePeer:
    """Answers each batch with ``status`` after opening it; records what it accepted."""

    def __init__(self, status: int = 204, fail: bool = False) -> None:
        self.status = status
        self.fail = fail
        self.batches: list[int] = []
        self.accepted = 0
        self.verifier = Verifier(workers=1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.fail:
            raise httpx.ConnectError("connection refused", request=request)
        assert request.url.path == "/peer/v1/messages"
        try:
            good, dropped = open_batch(request.content, CHAIN, self.verifier, lambda k: True)
        except PeerMessageError:
            return httpx.Response(400)  # as the node's peer route answers
        assert dropped == {}
        self.batches.append(len(good))
        self.accepted += len(good)
        return httpx.Response(self.status)


async def until(what: str, check: Callable[[], bool]) -> None:
    """Yield to the sender until ``check`` holds, failing after a deadline."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def run(
    peer: FakePeer, body: Callable[[PeerSender], Awaitable[None]], faults: Faults | None = None
) -> PeerSender:
    async def main() -> PeerSender:
        async with httpx.AsyncClient(transport=httpx.MockTransport(peer.handle)) as client:
            sender = PeerSender(PEER, client, faults or Faults())
            sender.start()
            try:
                await body(sender)
            finally:
                await sender.stop()
            return sender

    try:
        return asyncio.run(main())
    finally:
        peer.verifier.close()


def status(height: int) -> bytes:
    return seal(KEY, CHAIN, "status", {"height": height})


def test_queued_messages_go_out_together() -> None:
    peer = FakePeer()

    async def body(sender: PeerSender) -> None:
        for h in range(3):
            sender.send(status(h))
        await until("three messages", lambda: sender.sent == 3)

    sender = run(peer, body)
    assert peer.batches == [3]
    assert (sender.sent, sender.failed, sender.dropped, sender.connected) == (3, 0, 0, True)


def test_a_backlog_is_cut_into_batches_the_receiver_takes() -> None:
    """After an outage the queue holds more small messages than one batch may carry."""
    peer = FakePeer()
    message = status(1)
    total = MAX_BATCH_ITEMS + 50

    async def body(sender: PeerSender) -> None:
        for _ in range(total):
            sender.send(message)
        await until("the backlog", lambda: sender.sent == total or sender.failed > 0)

    sender = run(peer, body)
    assert sender.failed == 0
    assert max(peer.batches) <= MAX_BATCH_ITEMS
    assert peer.accepted == total


def test_refusals_and_outages_are_counted() -> None:
    refusing = FakePeer(status=400)

    async def one(sender: PeerSender) -> None:
        sender.send(status(1))
        await until("the answer", lambda: sender.failed == 1)

    sender = run(refusing, one)
    # A 4xx is an answer: the peer is up, the batch was refused.
    assert (sender.sent, sender.failed, sender.connected) == (0, 1, True)
    sender = run(FakePeer(status=503), one)
    assert (sender.failed, sender.connected) == (1, False)
    sender = run(FakePeer(fail=True), one)
    assert (sender.failed, sender.connected) == (1, False)


def test_fault_injection_drops_without_sending() -> None:
    peer = FakePeer()

    async def body(sender: PeerSender) -> None:
        sender.send(status(1))
        sender.send(status(2))
        await until("the drop", lambda: sender.dropped == 2)

    sender = run(peer, body, Faults({PEER.name}))
    assert peer.batches == []
    assert sender.sent == 0


def test_a_full_queue_drops_and_counts() -> None:
    async def main() -> PeerSender:
        async with httpx.AsyncClient(transport=httpx.MockTransport(FakePeer().handle)) as client:
            sender = PeerSender(PEER, client, Faults())  # not started: nothing drains the queue
            for _ in range(sender.queue.maxsize + 3):
                sender.send(b"x")
            return sender

    sender = asyncio.run(main())
    assert sender.queue.full()
    assert sender.dropped == 3


def test_broadcast_reaches_every_peer() -> None:
    peers = (Peer("a", "http://a.test"), Peer("b", "http://b.test"))

    async def main() -> list[int]:
        transport = Transport(peers, Faults())
        transport.broadcast(status(1))
        sizes = [s.queue.qsize() for s in transport.senders.values()]
        await transport.stop()
        return sizes

    assert asyncio.run(main()) == [1, 1]
