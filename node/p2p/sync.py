"""Block sync: a node that is behind fetches blocks with certificates and verifies them.

Blocks come from any peer, in batches, over the peer connection this node
dialled (``get_blocks``, answered by ``blocks``: :mod:`node.p2p.frames`).
Each block is checked exactly as a
proposal is (links, the previous block's certificate, signatures, log and
state roots) and committed only with a certificate that verifies against
the validator set in force, so a lying peer can delay a node but never make
it accept a block the validators did not decide. A batch is sized in
bytes, not only in blocks: the count asked for follows the size of the
blocks seen so far, so a chain of big blocks is fetched in answers of a few
megabytes instead of one answer over the frame limit (or one answer
held whole in both nodes' memory); the answering side stops adding blocks
before the frame limit whatever the count. Applying a block runs on the event
loop, so the loop is given back between blocks: a node catching up on a
long chain still answers its API and its peers, a block's time at most
behind. While the node is at least :data:`PREFETCH_BEHIND` blocks behind, the
signatures and documents of the next blocks of a batch are checked in worker
processes while one executes (:class:`node.pipeline.Prefetch`, the audit's).
A catch-up that takes longer than
:data:`node.progress.LOG_EVERY` logs its progress that often (height, the
height it is heading for, block rate, time left), and where it ended.

The answering side, :func:`peer_blocks`, also serves ``GET /peer/v1/blocks``
(the HTTP route ``dgledger audit --node`` reads a node's chain through).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, Protocol

from ledger.block import Block
from ledger.errors import LedgerError
from ledger.votes import Certificate
from node.metrics import Metrics
from node.p2p.errors import PeerError
from node.p2p.frames import MAX_FRAME, BlockRequest, frame
from node.p2p.transport import Transport
from node.pipeline import Prefetch
from node.progress import LOG_EVERY, describe

log = logging.getLogger("dgledger.sync")

BATCH: Final = 200
TARGET_RESPONSE: Final = 8 * 1024 * 1024
FIRST_COUNT: Final = 4
ANSWER_LIMIT: Final = MAX_FRAME - 1024 * 1024
"""Blocks' bytes in one answer at most (room left for the frame around them)."""
PREFETCH_BEHIND: Final = 8
"""Blocks behind from which a catch-up starts its worker processes (starting them
takes a fraction of a second: not worth it for a block or two)."""


def next_count(block_bytes: int, blocks: int) -> int:
    """How many blocks to ask for next, after ``blocks`` blocks took ``block_bytes``."""
    if blocks <= 0 or block_bytes <= 0:
        return FIRST_COUNT
    return max(1, min(BATCH, TARGET_RESPONSE * blocks // block_bytes))


class SyncTarget(Protocol):
    """What block sync needs of the node: its height, and a way to commit a block."""

    @property
    def height(self) -> int:
        """Height of the last committed block."""
        ...

    def commit_block(self, block: Block, certificate: Certificate) -> None:
        """Verify and commit a block with its certificate; raise LedgerError if it is not valid."""
        ...

    def on_synced(self) -> None:
        """Block sync moved the chain forward."""
        ...

    def list_in_force(self) -> bytes:
        """Digest of the Dangerous Goods List in force at the last committed block."""
        ...


class BlockStore(Protocol):
    """The stored bytes of committed blocks and their certificates."""

    def block_bytes(self, height: int) -> bytes:
        """Canonical bytes of the block at ``height``."""
        ...

    def certificate_bytes(self, height: int) -> bytes | None:
        """Stored bytes of the certificate of the block at ``height``."""
        ...


class BlockSource(Protocol):
    """A committed chain at one moment (a snapshot)."""

    @property
    def height(self) -> int:
        """Height of its last block."""
        ...

    @property
    def store(self) -> BlockStore:
        """Its blocks."""
        ...


def peer_blocks(
    chain: BlockSource, start: int, count: int, max_bytes: int | None = None
) -> list[list[bytes]]:
    """Blocks ``start``.. (at most ``count``, up to the tip) as ``[block, certificate]``.

    With ``max_bytes``, no block is added past that many bytes, but the first
    always is (one block is at most ``MAX_BLOCK_SIZE``, well within a frame).
    """
    items: list[list[bytes]] = []
    size = 0
    for h in range(start, min(chain.height, start + count - 1) + 1):
        cert = chain.store.certificate_bytes(h)
        if cert is None:
            break
        block = chain.store.block_bytes(h)
        size += len(block) + len(cert)
        if items and max_bytes is not None and size > max_bytes:
            break
        items.append([block, cert])
    return items


def blocks_frame(request: BlockRequest, chain: BlockSource) -> bytes:
    """The ``blocks`` frame answering ``request`` from ``chain``."""
    entries = peer_blocks(chain, request.start, request.count, ANSWER_LIMIT)
    return frame("blocks", {"id": request.id, "blocks": entries})


class BlockSync:
    """Fetches and applies blocks while the node is behind its peers."""

    def __init__(
        self,
        node: SyncTarget,
        transport: Transport,
        *,
        metrics: Metrics,
        follow: bool,
        prefetch: Callable[[], Prefetch] | None = None,
    ) -> None:
        self.node = node
        self.transport = transport
        self.metrics = metrics
        self.follow = follow
        """Look for new blocks every few seconds even unasked (observers, which take no votes)."""
        self.prefetch = prefetch
        """Makes the checks ahead of one catch-up (None: none)."""
        self._ahead: Prefetch | None = None
        self._counted = (0, 0)
        """The metrics' counts of work done ahead when this catch-up began."""
        self.target = 0
        self._wake = asyncio.Event()

    def peer_ahead(self, peer_key: str | None, height: int) -> None:
        """A peer reports ``height``; sync if it is beyond ours."""
        self.target = max(self.target, height)
        if height > self.node.height:
            self._wake.set()

    async def run(self) -> None:
        """Sync whenever woken, or every few seconds to be safe."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=3.0)
            self._wake.clear()
            if self.target > self.node.height or self.follow:
                await self.catch_up()

    async def catch_up(self) -> None:
        """Fetch and apply blocks from peers until none has more."""
        far = self.target - self.node.height >= PREFETCH_BEHIND
        if far and self.prefetch is not None:
            self._ahead = self.prefetch()
            self._counted = (self.metrics.sync_signatures_ahead, self.metrics.sync_documents_ahead)
        try:
            await self._catch_up()
        finally:
            if self._ahead is not None:
                self._ahead.close()
                self._ahead = None

    async def _catch_up(self) -> None:
        progressed = False
        count = FIRST_COUNT
        started, first = time.monotonic(), self.node.height
        logged = started
        for peer in self.transport.links:
            if self.transport.faults.blocks(peer):
                continue
            while True:
                start = self.node.height + 1
                try:
                    items = await self.transport.request_blocks(peer, start, count)
                except PeerError as e:
                    log.debug("sync from %s failed: %s", peer, e.message)
                    break
                if not items:
                    break
                applied = await self._apply(items, start, peer)
                progressed = progressed or applied > 0
                now = time.monotonic()
                if now - logged >= LOG_EVERY:
                    logged = now
                    log.info(self._progress(first, now - started))
                if applied < len(items) or len(items) < count:
                    break
                count = next_count(_size(items), len(items))
        if progressed:
            if logged > started:  # the job logged its progress: say where it ended
                log.info(self._progress(first, time.monotonic() - started))
            self.node.on_synced()

    def _progress(self, first: int, elapsed: float) -> str:
        total = self.target if self.target > first else None
        return describe("catch-up", self.node.height, total, None, elapsed, start=first)

    async def _apply(self, items: list[Any], start: int, peer: str) -> int:
        refusal: list[tuple[int, LedgerError]] = []

        def decoded() -> Iterator[tuple[Block, Certificate]]:
            for i, item in enumerate(items):
                try:
                    pair = _decode(item, start + i)
                except LedgerError as e:
                    refusal.append((start + i, e))
                    return
                yield pair

        blocks = decoded()
        if self._ahead is not None:
            blocks = self._ahead.blocks(blocks, self.node.list_in_force)
        applied = 0
        for block, certificate in blocks:
            if applied:
                await asyncio.sleep(0)
            if block.height != self.node.height + 1:
                return applied
            try:
                self.node.commit_block(block, certificate)
            except LedgerError as e:
                refusal.append((block.height, e))
                break
            applied += 1
            self.metrics.blocks_synced += 1
        if self._ahead is not None:
            signatures, documents = self._counted
            self.metrics.sync_signatures_ahead = signatures + self._ahead.counts.signatures
            self.metrics.sync_documents_ahead = documents + self._ahead.counts.documents
        if refusal:
            height, error = refusal[0]
            self.metrics.reject("sync_invalid_block")
            log.warning("block %d from %s refused: %s", height, peer, error)
        return applied


def _decode(item: Any, height: int) -> tuple[Block, Certificate]:
    """The block and certificate of one ``[block, certificate]`` entry for ``height``."""
    if type(item) is not list or len(item) != 2:
        raise LedgerError("each entry is [block, certificate]")
    block = Block.decode(item[0])
    certificate = Certificate.decode(item[1])
    if block.height != height:
        raise LedgerError(f"peer sent block {block.height} for {height}")
    return block, certificate


def _size(items: list[Any]) -> int:
    return sum(
        len(part) for item in items if type(item) is list for part in item if type(part) is bytes
    )
