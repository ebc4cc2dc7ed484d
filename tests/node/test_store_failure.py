"""A disk that fails under a node (full, or a lost device) stops the node cleanly.

One validator (customs) runs in this process behind ``TestClient``, on its
real LevelDB store. Its store's writes or reads, or the saving of its sign
state, are then made to fail as the operating system reports it. The node
must neither count a block as committed that is not on disk, nor take its
own broken store for a bad block, nor send a message it signed but could
not record: it stops, saying why, and a restart finds the store as it was.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from ledger.block import Block
from ledger.errors import StoreError
from ledger.keyfile import load_signing_key
from ledger.votes import Certificate, Vote, VoteType
from node.api.app import create_app
from node.client.client import Client
from node.config import NodeConfig, load_config
from node.consensus.errors import SignStateError
from node.consensus.events import RequestProposal, TimeoutFired
from node.consensus.params import TimeoutKind
from node.errors import NodeHalted
from node.service import NodeService
from tests.node.reads_support import customs_and_a_shipper
from tests.samples import sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CHAIN = "dg-store-failure"
DISK_FULL = "write failed: IO error: /data/chain/000042.log: No space left on device"
BAD_READ = "read failed: IO error: /data/chain/000017.ldb: Input/output error"


@pytest.fixture
def config(tmp_path: Path) -> NodeConfig:
    return load_config(customs_and_a_shipper(tmp_path / "net", CHAIN))


@pytest.fixture
def running(config: NodeConfig, tmp_path: Path) -> Iterator[tuple[NodeService, Client]]:
    """The node with one committed declaration, and a shipper's client."""
    service = NodeService(config)
    with TestClient(create_app(service)) as http:
        key = load_signing_key(tmp_path / "net" / "keys" / "shipper-acme.pem")
        shipper = Client("http://testserver", CHAIN, key, http=http)
        assert shipper.declare(sample(decl_id="FIRST"))["status"] == "committed"
        yield service, shipper


def _decided(service: NodeService, shipper: Client, decl_id: str) -> tuple[Block, Certificate]:
    """The next block, holding one declaration, with the node's own precommit."""
    tx = shipper.build("declaration.submit", {"declaration": sample(decl_id=decl_id)})
    last = service.chain.store.certificate(service.chain.height)
    block = service.chain.build_block(
        [tx], time=service.clock(), proposer=service.key.public.key_id, last_commit=last
    )
    vote = Vote.sign(service.key, CHAIN, VoteType.PRECOMMIT, block.height, 0, block.hash)
    return block, Certificate.from_votes([vote])


def _fail(service: NodeService, method: str, message: str) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError(message)

    setattr(service.kv, method, broken)


def test_a_block_the_store_cannot_write_stops_the_node_and_is_not_counted(
    config: NodeConfig, tmp_path: Path
) -> None:
    service = NodeService(config)
    reasons: list[str] = []
    with TestClient(create_app(service)) as http:
        key = load_signing_key(tmp_path / "net" / "keys" / "shipper-acme.pem")
        shipper = Client("http://testserver", CHAIN, key, http=http)
        assert shipper.declare(sample(decl_id="FIRST"))["status"] == "committed"
        height, root = service.chain.height, service.chain.state_root
        block, certificate = _decided(service, shipper, "SECOND")
        service.on_fatal = reasons.append
        _fail(service, "write", DISK_FULL)

        with pytest.raises(NodeHalted):
            service.commit_block(block, certificate)
        assert len(reasons) == 1
        assert f"block {block.height}" in reasons[0] and "No space left" in reasons[0], reasons
        assert (service.chain.height, service.chain.state_root) == (height, root)
        # Decided by consensus: the failure stops the node, and nothing escapes into the loop.
        assert service._commit(block, certificate) is None
        assert len(reasons) == 2
        assert service.chain.height == height
        # Until the process is gone, its health check says it has stopped.
        health = http.get("/healthz")
        assert (health.status_code, health.json()["error"]["code"]) == (503, "node.halted")
        del service.kv.write

    # Restarted on the same store, the node has what it had, and the block still commits.
    restarted = NodeService(config)
    try:
        assert (restarted.chain.height, restarted.chain.state_root) == (height, root)
        restarted.commit_block(block, certificate)
        assert restarted.chain.height == height + 1
    finally:
        restarted.kv.close()


def test_a_store_that_cannot_be_read_is_not_taken_for_a_bad_proposal(
    running: tuple[NodeService, Client],
) -> None:
    service, shipper = running
    block, _ = _decided(service, shipper, "THIRD")
    service.chain._executions.clear()
    service.chain.cache._young.clear()
    service.chain.cache._old.clear()
    reasons: list[str] = []
    service.on_fatal = reasons.append
    _fail(service, "get", BAD_READ)

    assert not service._valid(block)
    assert len(reasons) == 1 and "Input/output error" in reasons[0], reasons
    assert service.metrics.rejected_messages.get("invalid_block", 0) == 0
    del service.kv.get


def test_a_store_that_cannot_be_read_stops_a_proposer_building_its_block(
    running: tuple[NodeService, Client],
) -> None:
    service, _ = running
    reasons: list[str] = []
    service.on_fatal = reasons.append
    _fail(service, "get", BAD_READ)

    with pytest.raises(NodeHalted):
        service._propose(RequestProposal(service.chain.height + 1, 0))
    assert len(reasons) == 1 and "build the proposal" in reasons[0], reasons
    assert service.halted
    del service.kv.get


def test_a_sign_state_that_cannot_be_saved_stops_the_validator_before_it_sends(
    config: NodeConfig, tmp_path: Path
) -> None:
    service = NodeService(config)
    halted = threading.Event()
    reasons: list[str] = []
    kinds: list[str] = []

    def fatal(reason: str) -> None:
        reasons.append(reason)
        halted.set()

    def cannot_save(state: Any) -> None:
        raise SignStateError(f"cannot save sign state to {config.data_dir}: [Errno 28] No space")

    broadcast = service.transport.broadcast

    def recorded(kind: str, body: Any) -> None:
        kinds.append(kind)
        broadcast(kind, body)

    with TestClient(create_app(service)) as http:
        key = load_signing_key(tmp_path / "net" / "keys" / "shipper-acme.pem")
        shipper = Client("http://testserver", CHAIN, key, http=http)
        assert shipper.declare(sample(decl_id="FIRST"))["status"] == "committed"
        height = service.chain.height
        service.on_fatal = fatal
        service.sign_file.save = cannot_save  # type: ignore[method-assign]
        service.transport.broadcast = recorded  # type: ignore[method-assign]

        shipper.declare(sample(decl_id="SECOND"), wait=False)
        assert halted.wait(30), "the node went on without saving what it signed"
        assert len(reasons) == 1 and "cannot sign at height" in reasons[0], reasons
        assert "No space" in reasons[0]
        # The proposal the machine signed is never sent, not even by its rebroadcast.
        machine = service.machine
        service._dispatch(TimeoutFired(TimeoutKind.REBROADCAST, machine.height, machine.round))
        assert not {"proposal", "vote"} & set(kinds), kinds
        assert service.chain.height == height
