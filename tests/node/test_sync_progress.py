"""A long catch-up logs how far it is, how fast and how long still, then where it ended."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import pytest

from node.metrics import Metrics
from node.p2p import sync


@dataclass
class _Decoded:
    height: int

    @classmethod
    def decode(cls, data: bytes) -> _Decoded:
        return cls(int(data))


@dataclass
class _Node:
    height: int = 0
    synced: int = 0

    def commit_block(self, block: Any, certificate: Any) -> None:
        assert block.height == self.height + 1
        self.height += 1

    def on_synced(self) -> None:
        self.synced += 1

    def list_in_force(self) -> bytes:
        return b""


@dataclass
class _Faults:
    def blocks(self, peer: str) -> bool:
        return False


@dataclass
class _Transport:
    tip: int
    links: list[str] = field(default_factory=lambda: ["peer-1"])
    faults: _Faults = field(default_factory=_Faults)

    async def request_blocks(self, peer: str, start: int, count: int) -> list[list[bytes]]:
        return [[b"%d" % h, b"0"] for h in range(start, min(self.tip, start + count - 1) + 1)]


def test_a_catch_up_logs_its_progress_and_where_it_ended(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sync, "Block", _Decoded)
    monkeypatch.setattr(sync, "Certificate", _Decoded)
    monkeypatch.setattr(sync, "LOG_EVERY", 0.0)  # every batch
    node = _Node()
    block_sync = sync.BlockSync(
        node,
        _Transport(tip=1_000),  # type: ignore[arg-type]
        metrics=Metrics(),
        follow=False,
    )
    block_sync.peer_ahead("peer-1", 1_000)
    with caplog.at_level(logging.INFO, logger="dgledger.sync"):
        asyncio.run(block_sync.catch_up())
    assert node.height == 1_000 and node.synced == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "dgledger.sync"]
    assert len(lines) >= 2
    assert all(line.startswith("catch-up: block ") for line in lines)
    assert " of 1,000 (" in lines[0] and "blocks/s" in lines[0]
    assert lines[-1].startswith("catch-up: block 1,000 of 1,000 (100%)")


def test_a_short_catch_up_logs_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sync, "Block", _Decoded)
    monkeypatch.setattr(sync, "Certificate", _Decoded)
    node = _Node()
    block_sync = sync.BlockSync(node, _Transport(tip=5), metrics=Metrics(), follow=False)  # type: ignore[arg-type]
    block_sync.peer_ahead("peer-1", 5)
    with caplog.at_level(logging.INFO, logger="dgledger.sync"):
        asyncio.run(block_sync.catch_up())
    assert node.height == 5
    assert not [r for r in caplog.records if r.name == "dgledger.sync"]
