"""A peer for tests: dials a node's peer listener over real TLS on loopback and sends frames.

:class:`TestPeer` is what another node's transport would be, one frame at a
time and under the test's control: it holds a key (a node's, a member's, a
stranger's), builds its certificate as every node does (or is handed
another one), trusts only the key of the node it dials, and keeps its
connection open between calls on an event loop of its own (the node under
test runs on another, in ``TestClient``'s thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, Final, TypeVar

from ledger.crypto import PublicKey, SigningKey
from ledger.genesis import Genesis
from node.p2p.connection import TlsStream
from node.p2p.errors import PeerError, PeerUnavailable
from node.p2p.frames import BlockRequest, blocks_answer, frame, parse
from node.p2p.tls import PeerTls

T = TypeVar("T")
ANSWER_S: Final = 20.0


class TestPeer(contextlib.AbstractContextManager["TestPeer"]):
    """One connection to a node's peer listener, as the node of ``key``."""

    __test__ = False  # not a test class, whatever its name says

    def __init__(
        self,
        address: tuple[str, int],
        key: SigningKey,
        node_key: PublicKey,
        genesis: Genesis,
        *,
        own_chain: str | None = None,
    ) -> None:
        self.address = address
        # Its own certificate as built for ``own_chain`` (another network's), when given.
        self.tls = PeerTls(key, own_chain or genesis.chain, genesis.hash)
        self.network = PeerTls(key, genesis.chain, genesis.hash)
        self.node_key = node_key
        self.runner = asyncio.Runner()
        self.stream: TlsStream | None = None
        self._ids = iter(range(1, 1 << 30))

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(asyncio.wait_for(work, ANSWER_S))

    def connect(self) -> str:
        """Dial and complete the handshake; the kind of the node's first frame (``hello``).

        Raises :class:`PeerError` when the node refuses: in TLS 1.3 the dialler's
        handshake ends before the acceptor has checked its certificate, so a
        refusal shows as the connection ending instead of a ``hello``.
        """

        async def dial() -> str:
            reader, writer = await asyncio.open_connection(*self.address)
            context = self.tls.client_context(self.node_key).context
            context.load_verify_locations(cadata=self.network.pem(self.node_key))  # the real one
            self.stream = TlsStream(reader, writer, context, server_side=False)
            await self.stream.handshake()
            kind, _ = parse(await self.stream.read_frame())
            return kind

        return self._run(dial())

    def send(self, kind: str, body: Any) -> None:
        """Send one frame."""
        self.send_raw(frame(kind, body))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (a header and a body of the test's making)."""

        async def send() -> None:
            assert self.stream is not None
            self.stream.write(data)
            await self.stream.drain()

        self._run(send())

    def blocks(self, start: int, count: int) -> list[Any]:
        """Ask for blocks and return the answer's entries (the connection must be up)."""
        request = BlockRequest(next(self._ids), start, count)
        self.send("get_blocks", request.body())
        kind, body = self.receive()
        assert kind == "blocks", kind
        request_id, entries = blocks_answer(body)
        assert request_id == request.id
        return entries

    def receive(self) -> tuple[str, Any]:
        """The next frame the node sends."""

        async def receive() -> tuple[str, Any]:
            assert self.stream is not None
            return parse(await self.stream.read_frame())

        return self._run(receive())

    def closed_by_node(self) -> bool:
        """Whether the node ended the connection (reading gets nothing but its end)."""
        try:
            self.receive()
        except PeerUnavailable:
            return True
        except PeerError:
            return False
        return False

    def close(self) -> None:
        """Close the connection and the loop."""
        if self.stream is not None:
            self.stream.close()
        self.runner.close()
