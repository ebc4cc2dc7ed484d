"""A local network of node processes on loopback, for the demo, benchmarks and tests.

:class:`LocalNetwork` writes a network with ``network init``, starts each
node as its own process (``python -m node.cli node start``), waits for
readiness by polling ``/healthz`` with a deadline, and can kill a node with
SIGKILL, restart it, isolate it through the test-only fault hook, and stop
everything. Every process it started is stopped on :meth:`stop`, also when
the caller fails, since it is a context manager.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from node.network import DEFAULT_VALIDATORS, NodeFiles, init_network

FAST_CONSENSUS = {
    "propose_ms": 800,
    "prevote_ms": 400,
    "precommit_ms": 400,
    "round_increment_ms": 300,
    "commit_ms": 0,
    "block_delay_ms": 20,
}


def free_port_block(count: int) -> int:
    """A base port such that ``count`` consecutive ports are free now."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count >= 65535:
            continue
        ok = True
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports found")


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until true or raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class NodeProcess:
    """One node's files and, while running, its process."""

    files: NodeFiles
    log: Path
    process: subprocess.Popen[bytes] | None = None


class LocalNetwork:
    """Validator processes on loopback under one directory."""

    def __init__(
        self,
        directory: Path,
        *,
        validators: tuple[str, ...] = DEFAULT_VALIDATORS,
        members: tuple[str, ...] = (
            "shipper-acme:shipper",
            "shipper-beta:shipper",
            "shipper-gamma:shipper",
            "auditor:auditor",
        ),
        consensus: dict[str, int] | None = None,
        chain: str = "dgledger-local",
        test_admin: bool = True,
        observers: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.test_admin = test_admin
        base = free_port_block(len(validators) + len(observers))
        files = init_network(
            directory,
            validators=list(validators),
            members=list(members),
            base_port=base,
            chain=chain,
            genesis_time=time.time_ns() // 1_000_000,
            consensus=consensus if consensus is not None else FAST_CONSENSUS,
            observers=list(observers),
        )
        self.nodes = {f.name: NodeProcess(f, directory / f"{f.name}.log") for f in files}
        self.http = httpx.Client(timeout=10.0)

    def __enter__(self) -> LocalNetwork:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def genesis_path(self) -> Path:
        """The network's genesis file."""
        return self.directory / "genesis.json"

    def key_path(self, org: str) -> Path:
        """The member key file of ``org``."""
        return self.directory / "keys" / f"{org}.pem"

    def url(self, name: str) -> str:
        """Base URL of node ``name``."""
        return self.nodes[name].files.url

    def start(self, name: str | None = None, *, wait: bool = True) -> None:
        """Start one node (or all), and wait until it answers."""
        names = [name] if name else list(self.nodes)
        for n in names:
            node = self.nodes[n]
            if node.process is not None and node.process.poll() is None:
                continue
            cmd = [
                sys.executable,
                "-m",
                "node.cli",
                "node",
                "start",
                "--config",
                str(node.files.config),
            ]
            if self.test_admin:
                cmd.append("--unsafe-test-admin")
            with node.log.open("ab") as log:
                node.process = subprocess.Popen(
                    cmd,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=Path(__file__).resolve().parents[1],
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    start_new_session=True,
                )
        if wait:
            for n in names:
                wait_for(lambda n=n: self.healthy(n), 30, f"node {n} to answer")  # type: ignore[misc]

    def healthy(self, name: str) -> bool:
        """True when node ``name`` answers /healthz."""
        node = self.nodes[name]
        if node.process is None or node.process.poll() is not None:
            return False
        try:
            return self.http.get(self.url(name) + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> None:
        """SIGKILL node ``name`` (no shutdown of any kind)."""
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(timeout=10)
        node.process = None

    def status(self, name: str) -> dict[str, Any]:
        """The node's /v1/status answer."""
        response = self.http.get(self.url(name) + "/v1/status", timeout=5.0)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def isolate(self, name: str, peers: list[str]) -> None:
        """Drop traffic between ``name`` and ``peers`` (``["*"]``: everyone), test-only."""
        response = self.http.post(self.url(name) + "/test/v1/faults", json={"isolate": peers})
        response.raise_for_status()

    def stop(self) -> None:
        """Stop every node: SIGTERM, then SIGKILL after a grace period."""
        for node in self.nodes.values():
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for node in self.nodes.values():
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait(timeout=10)
            node.process = None
        self.http.close()
