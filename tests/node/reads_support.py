"""Nodes for the read-API, client, CLI and receipt tests.

:class:`LocalNode` runs one validator in this process behind Starlette's
``TestClient`` (fast: no sockets, no processes); its network also has the
port authority, shippers and an auditor as members, so every lifecycle step
can be taken. :class:`LiveNetwork` runs four validators as real processes on
loopback ports in 7400-7499, as an operator would start them, and stops
them whatever happens. Every wait is on a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
from starlette.exceptions import StarletteDeprecationWarning

from ledger.crypto import SigningKey
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from node.api import create_app
from node.client import Client
from node.config import load_config
from node.genesis_file import load_genesis
from node.network import init_network
from node.service import NodeService

# Starlette warns once, on import, that it would rather drive httpx2; the
# client under test is httpx, which TestClient still is.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

REPO: Final = Path(__file__).resolve().parents[2]
SAMPLES: Final = REPO.parent / "shared" / "reference" / "declarations"
PORTS: Final = (7400, 7500)
MEMBERS: Final = (
    "port-authority:port_authority",
    "shipper-acme:shipper",
    "shipper-beta:shipper",
    "auditor:auditor",
)
FAST_CONSENSUS: Final = {
    "propose_ms": 600,
    "prevote_ms": 300,
    "precommit_ms": 300,
    "round_increment_ms": 200,
    "block_delay_ms": 20,
}
T = TypeVar("T")


def sample(
    name: str = "valid-gasoline-methanol.json", decl_id: str | None = None
) -> dict[str, Any]:
    """A reference declaration, optionally under another id."""
    doc: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    if decl_id is not None:
        doc = copy.deepcopy(doc)
        doc["declarationId"] = decl_id
    return doc


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 20.0) -> T:
    """Poll ``check`` until it returns a value, or fail after ``timeout`` naming ``what``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        # Polling interval of a deadline wait, not a sleep standing in for a condition.
        time.sleep(delay)
        delay = min(0.2, delay * 2)


class LocalNode:
    """One validator (customs) in this process, behind ``TestClient``."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        nodes = init_network(
            directory,
            validators=["customs"],
            members=list(MEMBERS),
            base_port=7499,
            chain="dg-reads",
            genesis_time=time.time_ns() // 1_000_000 - 60_000,
        )
        self.genesis: Genesis = load_genesis(directory / "genesis.json")
        self.service = NodeService(load_config(nodes[0].config))
        self.app = create_app(self.service)
        self.http = TestClient(self.app)
        self.http.__enter__()

    def key(self, org: str) -> SigningKey:
        """The member key of ``org``."""
        return load_signing_key(self.dir / "keys" / f"{org}.pem")

    def client(self, org: str | None) -> Client:
        """A client signing as ``org`` (unsigned when ``None``)."""
        key = None if org is None else self.key(org)
        return Client("http://testserver", self.genesis.chain, key, http=self.http)

    def close(self) -> None:
        """Stop the node (closes its store)."""
        self.http.__exit__(None, None, None)


def _free_base(count: int) -> int:
    for base in range(PORTS[0], PORTS[1] - count, count):
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise AssertionError(f"no {count} consecutive free ports in {PORTS}")


class LiveNetwork:
    """Four validators as real processes on loopback."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        base = _free_base(4)
        self.nodes = init_network(
            directory,
            validators=["customs", "port-authority", "forwarder-a", "forwarder-b"],
            members=["shipper-acme:shipper", "shipper-beta:shipper", "auditor:auditor"],
            base_port=base,
            chain="dg-live",
            genesis_time=time.time_ns() // 1_000_000 - 60_000,
            consensus=FAST_CONSENSUS,
        )
        self.genesis_path = directory / "genesis.json"
        self.genesis = load_genesis(self.genesis_path)
        self.urls = [n.url for n in self.nodes]
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            for n in self.nodes:
                log = (directory / f"{n.name}.log").open("wb")
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "node.cli", "node", "start", "--config",
                         str(n.config), "--log-level", "warning"],
                        cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
                log.close()
            for url in self.urls:
                wait_for(f"{url} to connect to its peers", lambda u=url: self._connected(u))
        except BaseException:
            self.close()
            raise

    def _connected(self, url: str) -> bool:
        for p in self.procs:
            if p.poll() is not None:
                raise AssertionError(f"a node exited with {p.returncode}; see {self.dir}/*.log")
        try:
            status = httpx.get(f"{url}/v1/status", timeout=2).json()
        except httpx.HTTPError:
            return False
        return bool(status["peers"]["connected"] == 3)

    def key_path(self, org: str) -> Path:
        """Where the member key of ``org`` is."""
        return self.dir / "keys" / f"{org}.pem"

    def client(self, org: str, node: int = 0) -> Client:
        """A client of node ``node`` signing as ``org``."""
        return Client(self.urls[node], self.genesis.chain, load_signing_key(self.key_path(org)))

    def height(self, node: int) -> int:
        """The committed height of node ``node``."""
        return int(httpx.get(f"{self.urls[node]}/v1/status", timeout=5).json()["height"])

    def close(self) -> None:
        """Stop every node: SIGTERM, then SIGKILL after a deadline."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


@contextlib.contextmanager
def local_node(directory: Path) -> Iterator[LocalNode]:
    """A :class:`LocalNode` stopped on exit."""
    node = LocalNode(directory)
    try:
        yield node
    finally:
        node.close()
