"""Block sync: a node that is behind fetches blocks with certificates and verifies them.

Blocks come from any peer, in batches, over ``GET /peer/v1/blocks`` (a
request signed with the node key). Each block is checked exactly as a
proposal is (links, the previous block's certificate, signatures, log and
state roots) and committed only with a certificate that verifies against
the validator set in force, so a lying peer can delay a node but never make
it accept a block the validators did not decide. A batch is sized in
bytes, not only in blocks: the count asked for follows the size of the
blocks seen so far, so a chain of big blocks is fetched in answers of a few
megabytes instead of one answer over the response limit (or one answer
held whole in both nodes' memory). Applying a block runs on the event
loop, so the loop is given back between blocks: a node catching up on a
long chain still answers its API and its peers, a block's time at most
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Final, Protocol

import httpx

from ledger.block import Block
from ledger.crypto import SigningKey
from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.votes import Certificate
from node.auth import sign_request
from node.config import Peer
from node.metrics import Metrics
from node.p2p.transport import Faults

log = logging.getLogger("dgledger.sync")

BATCH: Final = 200
MAX_RESPONSE: Final = 256 * 1024 * 1024
TARGET_RESPONSE: Final = 8 * 1024 * 1024
FIRST_COUNT: Final = 4


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


class BlockSync:
    """Fetches and applies blocks while the node is behind its peers."""

    def __init__(
        self,
        node: SyncTarget,
        peers: tuple[Peer, ...],
        *,
        key: SigningKey,
        chain: str,
        clock: Callable[[], int],
        faults: Faults,
        metrics: Metrics,
        follow: bool,
    ) -> None:
        self.node = node
        self.peers = peers
        self.key = key
        self.chain = chain
        self.clock = clock
        self.faults = faults
        self.metrics = metrics
        self.follow = follow
        """Look for new blocks every few seconds even unasked (observers, which take no votes)."""
        self.target = 0
        self.preferred: str | None = None
        self._wake = asyncio.Event()
        self.client: httpx.AsyncClient | None = None

    def peer_ahead(self, peer_key: str | None, height: int) -> None:
        """A peer reports ``height``; sync if it is beyond ours."""
        self.target = max(self.target, height)
        if height > self.node.height:
            self._wake.set()

    async def run(self) -> None:
        """Sync whenever woken, or every few seconds to be safe."""
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0))
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=3.0)
                self._wake.clear()
                if self.target > self.node.height or self.follow:
                    await self.catch_up()
        finally:
            await self.client.aclose()

    async def _fetch(self, peer: Peer, start: int, count: int) -> list[Any]:
        assert self.client is not None
        path = f"/peer/v1/blocks?from={start}&count={count}"
        headers = sign_request(self.key, self.chain, "GET", path, b"", self.clock(), node=peer.name)
        response = await self.client.get(peer.url + path, headers=headers)
        if response.status_code == 401:
            # A peer that does not take our signature: its name or chain is not
            # the one configured here. Say so; catch-up goes on with other peers.
            log.warning("peer %s refused a block request: %s", peer.name, response.text[:200])
        if response.status_code != 200:
            return []
        content = response.content
        if len(content) > MAX_RESPONSE:
            return []
        items = decode(content, max_size=MAX_RESPONSE, max_depth=4)
        if type(items) is not list:
            raise LedgerError("blocks response must be a list")
        return items

    async def catch_up(self) -> None:
        """Fetch and apply blocks from peers until none has more."""
        progressed = False
        count = FIRST_COUNT
        for peer in self.peers:
            if self.faults.blocks(peer.name):
                continue
            while True:
                start = self.node.height + 1
                try:
                    items = await self._fetch(peer, start, count)
                except (httpx.HTTPError, LedgerError) as e:
                    log.debug("sync from %s failed: %s", peer.name, e)
                    break
                if not items:
                    break
                applied = await self._apply(items, start, peer.name)
                progressed = progressed or applied > 0
                if applied < len(items) or len(items) < count:
                    break
                count = next_count(_size(items), len(items))
        if progressed:
            self.node.on_synced()

    async def _apply(self, items: list[Any], start: int, peer: str) -> int:
        applied = 0
        for i, item in enumerate(items):
            if i:
                await asyncio.sleep(0)
            height = start + i
            if height != self.node.height + 1:
                break
            try:
                if type(item) is not list or len(item) != 2:
                    raise LedgerError("each entry is [block, certificate]")
                block = Block.decode(item[0])
                certificate = Certificate.decode(item[1])
                if block.height != height:
                    raise LedgerError(f"peer sent block {block.height} for {height}")
                self.node.commit_block(block, certificate)
            except LedgerError as e:
                self.metrics.reject("sync_invalid_block")
                log.warning("block %d from %s refused: %s", height, peer, e)
                break
            applied += 1
            self.metrics.blocks_synced += 1
        return applied


def _size(items: list[Any]) -> int:
    return sum(
        len(part) for item in items if type(item) is list for part in item if type(part) is bytes
    )
