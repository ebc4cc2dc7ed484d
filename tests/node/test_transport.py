"""Peer transports talking over real TLS 1.3 on loopback: batches, refusals, faults, outages.

Each test runs transports in one event loop, each with its own listener on
a port the system picks, node keys from fixed seeds, and a membership it can
change (:class:`NodeKeys` over a list of validator sets). What a transport
hands to its node is recorded; blocks are answered from made-up bytes.
Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final

import pytest

from ledger.crypto import PublicKey, SigningKey
from ledger.encoding import sha256
from ledger.validators import Validator, ValidatorSet
from node.config import Observer, Peer
from node.devnet.localnet import find_base_port
from node.metrics import Metrics
from node.p2p.errors import PeerUnavailable
from node.p2p.frames import MAX_TXS_PER_FRAME, BlockRequest, PeerMessage, frame
from node.p2p.tls import PeerTls
from node.p2p.transport import MAX_QUEUE, Faults, NodeKeys, Transport

CHAIN: Final = "dg-transport"
GENESIS: Final = sha256(b"dg-transport genesis")
DEADLINE_S: Final = 10.0
KEYS: Final = {n: SigningKey.from_seed(n.encode().ljust(32, b"\x00")) for n in "abcs"}
"""Validators a, b and c, and s, a stranger."""


async def until(what: str, check: Callable[[], bool]) -> None:
    """Yield to the transports until ``check`` holds, failing after a deadline."""
    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


class Node:
    """A transport, what it delivered, and the validator sets it admits by."""

    def __init__(
        self,
        name: str,
        peers: dict[str, tuple[int, PublicKey]] | None = None,
        *,
        listen: int | None = 0,
        validators: str = "abc",
        observers: tuple[Observer, ...] = (),
    ) -> None:
        self.name = name
        self.sets = [_validators(validators)]
        self.delivered: list[PeerMessage] = []
        self.metrics = Metrics()
        self.faults = Faults()
        config = tuple(
            Peer(other, "127.0.0.1", port, key) for other, (port, key) in (peers or {}).items()
        )
        self.transport = Transport(
            PeerTls(KEYS[name], CHAIN, GENESIS),
            config,
            listen=None if listen is None else ("127.0.0.1", listen),
            nodes=NodeKeys(lambda: self.sets, observers, active=lambda k: True, peers=config),
            deliver=self.delivered.extend,
            answer_blocks=self.answer,
            faults=self.faults,
            metrics=self.metrics,
        )

    @property
    def port(self) -> int:
        address = self.transport.address
        assert address is not None
        return address[1]

    def at(self) -> tuple[int, PublicKey]:
        """Where and how a peer reaches this node."""
        return self.port, KEYS[self.name].public

    async def answer(self, request: BlockRequest) -> bytes:
        blocks = [[b"block %d" % h, b"cert"] for h in range(request.start, request.start + 2)]
        return frame("blocks", {"id": request.id, "blocks": blocks})

    def kinds(self) -> list[str]:
        return [m.kind for m in self.delivered]

    def txs(self) -> list[bytes]:
        return [wire for m in self.delivered if m.kind == "txs" for wire in m.body]

    def rejected(self) -> dict[str, int]:
        return dict(self.metrics.rejected_messages)


def _validators(names: str) -> ValidatorSet:
    return ValidatorSet.create([Validator(KEYS[n].public, 10, n) for n in names])


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 60))


class Net(contextlib.AsyncExitStack):
    """Transports started in a test, all stopped at its end."""

    async def start(self, node: Node) -> Node:
        await node.transport.start()
        self.push_async_callback(node.transport.stop)
        return node

    async def pair(self) -> tuple[Node, Node]:
        """``a`` dialling ``b``, connected."""
        b = await self.start(Node("b"))
        a = await self.start(Node("a", {"b": b.at()}, listen=None))
        await until("a to connect to b", lambda: a.transport.connected() == 1)
        return a, b


# --------------------------------------------------------------- sending


def test_queued_messages_go_out_together_and_transactions_unsealed() -> None:
    async def body() -> None:
        async with Net() as net:
            a, b = await net.pair()
            for i in range(3):
                a.transport.gossip_tx(b"tx %d" % i)
            a.transport.broadcast("status", {"height": 7})
            await until("four messages", lambda: len(b.txs()) == 3 and "status" in b.kinds())
            # One window: the three transactions in one frame, as their bytes, then the status.
            assert [(m.sender, m.kind, m.body) for m in b.delivered] == [
                (KEYS["a"].public.key_id, "txs", [b"tx 0", b"tx 1", b"tx 2"]),
                (KEYS["a"].public.key_id, "status", {"height": 7}),
            ]
            link = a.transport.links["b"]
            assert (link.sent, link.dropped, link.queued) == (4, 0, 0)
            assert a.transport.links["b"].stream is not None
            assert a.transport.links["b"].stream.version == "TLSv1.3"

    run(body)


def test_a_backlog_is_cut_into_frames_the_receiver_takes() -> None:
    async def body() -> None:
        async with Net() as net:
            a, b = await net.pair()
            total = MAX_TXS_PER_FRAME + 50
            for i in range(total):
                a.transport.gossip_tx(i.to_bytes(4, "big"))
            await until("the backlog", lambda: len(b.txs()) == total)
            sizes = [len(m.body) for m in b.delivered]
            assert len(sizes) >= 2 and max(sizes) <= MAX_TXS_PER_FRAME
            assert b.txs() == [i.to_bytes(4, "big") for i in range(total)]
            assert b.rejected() == {}

    run(body)


def test_broadcast_reaches_every_peer_and_connected_counts_them() -> None:
    async def body() -> None:
        async with Net() as net:
            b, c = await net.start(Node("b")), await net.start(Node("c"))
            a = await net.start(Node("a", {"b": b.at(), "c": c.at()}, listen=None))
            await until("both connections", lambda: a.transport.connected() == 2)
            a.transport.broadcast("vote", {"v": 1})
            await until("the vote at b and c", lambda: b.kinds() == c.kinds() == ["vote"])

    run(body)


def test_a_full_queue_drops_and_counts() -> None:
    async def body() -> None:
        async with Net() as net:
            a, _b = await net.pair()
            link = a.transport.links["b"]
            # Nothing drains the queue until this loop yields.
            for _ in range(MAX_QUEUE + 3):
                link.send(b"x")
            assert (link.queued, link.dropped) == (MAX_QUEUE, 3)

    run(body)


def test_a_peer_that_is_down_costs_only_the_redials() -> None:
    """Messages for it are dropped as they are sent; once it listens, the link comes up."""

    async def body() -> None:
        port = find_base_port(1)
        async with Net() as net:
            a = await net.start(Node("a", {"b": (port, KEYS["b"].public)}, listen=None))
            link = a.transport.links["b"]
            await until("a few failed dials", lambda: link.failed >= 3)
            a.transport.broadcast("status", {"height": 1})
            a.transport.gossip_tx(b"tx")
            assert (link.dropped, link.queued, a.transport.connected()) == (2, 0, 0)
            b = await net.start(Node("b", listen=port))
            await until("the link", lambda: a.transport.connected() == 1)
            a.transport.broadcast("status", {"height": 2})
            await until("the status", lambda: b.kinds() == ["status"])
            assert b.delivered[0].body == {"height": 2}
            # Down again: the connection ends, the link dials on.
            await b.transport.stop()
            await until("the link to drop", lambda: a.transport.connected() == 0)

    run(body)


# ------------------------------------------------------------ block sync


def test_block_requests_travel_on_the_connection() -> None:
    async def body() -> None:
        async with Net() as net:
            a, _b = await net.pair()
            entries = await a.transport.request_blocks("b", 5, 2)
            assert entries == [[b"block 5", b"cert"], [b"block 6", b"cert"]]
            with pytest.raises(PeerUnavailable):
                await a.transport.request_blocks("nobody", 1, 1)

    run(body)


# -------------------------------------------------------------- refusals


def test_a_stranger_is_refused_at_the_handshake_and_counted() -> None:
    async def body() -> None:
        async with Net() as net:
            b = await net.start(Node("b"))
            s = await net.start(Node("s", {"b": b.at()}, listen=None))
            await until("a refusal", lambda: b.rejected().get("unknown_certificate", 0) >= 1)
            assert s.transport.connected() == 0
            assert b.delivered == []

    run(body)


def test_a_dialler_refuses_a_listener_that_presents_another_key() -> None:
    """``a`` is told ``b``'s address with ``c``'s key: ``b``'s certificate is not let in."""

    async def body() -> None:
        async with Net() as net:
            b = await net.start(Node("b"))
            a = await net.start(Node("a", {"b": (b.port, KEYS["c"].public)}, listen=None))
            await until("a refusal", lambda: a.rejected().get("unknown_certificate", 0) >= 1)
            assert a.transport.connected() == 0

    run(body)


def test_a_validator_removed_from_the_set_is_refused_after_the_handshake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its certificate stays trusted (OpenSSL drops no anchor); the membership check refuses it."""
    monkeypatch.setattr("node.p2p.transport.RECHECK_S", 0.0)

    async def body() -> None:
        async with Net() as net:
            a, b = await net.pair()
            b.sets[:] = [_validators("bc")]  # a leaves: not in the set, nor the one before
            a.transport.broadcast("status", {"height": 1})
            await until("the connection to end", lambda: a.transport.connected() == 0)
            await until("a refused redial", lambda: b.rejected().get("not_a_node", 0) >= 2)
            assert "unknown_certificate" not in b.rejected()
            assert a.transport.connected() == 0
            b.sets[:] = [_validators("bc"), _validators("abc")]  # the set just before still counts
            await until("a admitted again", lambda: a.transport.connected() == 1)

    run(body)


def test_an_observer_is_admitted_while_its_key_is_active() -> None:
    async def body() -> None:
        active = {KEYS["s"].public.key_id}
        b = Node("b", observers=(Observer("auditor", KEYS["s"].public),))
        b.transport.nodes.active = lambda key_id: key_id in active
        async with Net() as net:
            await net.start(b)
            s = await net.start(Node("s", {"b": b.at()}, listen=None))
            await until("the observer's connection", lambda: s.transport.connected() == 1)
            assert b.transport.nodes.name(KEYS["s"].public.key_id) == "auditor"
            active.clear()  # its key revoked by governance
            s.transport.links["b"].stream.close()  # type: ignore[union-attr]
            await until("a refusal", lambda: b.rejected().get("not_a_node", 0) >= 1)

    run(body)


# ------------------------------------------------------- fault injection


def test_fault_injection_isolates_both_ways() -> None:
    async def body() -> None:
        async with Net() as net:
            a, b = await net.pair()
            link = a.transport.links["b"]
            a.faults.isolated = {"b"}  # a sends nothing to b, asks it for nothing
            a.transport.broadcast("status", {"height": 1})
            await until("the drop", lambda: link.dropped == 1)
            with pytest.raises(PeerUnavailable):
                await a.transport.request_blocks("b", 1, 1)
            a.faults.isolated = set()
            b.faults.isolated = {"a"}  # b takes nothing from a, answers it with no blocks
            a.transport.broadcast("status", {"height": 2})
            assert await a.transport.request_blocks("b", 1, 1) == []
            # The status waits out its batching window; the request goes at once.
            await until("both dropped", lambda: b.rejected() == {"fault_injected": 2})
            assert b.delivered == []
            b.faults.isolated = set()
            a.transport.broadcast("status", {"height": 3})
            await until("the status after the heal", lambda: b.kinds() == ["status"])
            assert b.delivered[0].body == {"height": 3}

    run(body)


def test_bad_frames_from_a_peer_are_counted_and_the_connection_lives_on() -> None:
    async def body() -> None:
        async with Net() as net:
            a, b = await net.pair()
            stream = a.transport.links["b"].stream
            assert stream is not None
            stream.write(b"\x00\x00\x00\x03\xc1\xff\x00")  # three bytes that are not MessagePack
            stream.write(frame("hello", {}))  # a kind only the listener sends
            a.transport.broadcast("status", {"height": 1})
            await until("the status", lambda: b.kinds() == ["status"])
            assert b.rejected() == {"malformed": 1, "unexpected_kind": 1}

    run(body)
