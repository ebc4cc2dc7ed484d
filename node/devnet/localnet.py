"""A local network of node processes on loopback, for the demo, benchmarks and tests.

:class:`LocalNetwork` writes a network with ``network init`` (short consensus
timeouts; ports found free in :data:`PORT_RANGE`, an HTTP port per node and
a peer port per validator) and runs each node as its
own process in its own process group, started exactly as an operator would::

    python -m node.cli node start --config DIR/<org>/node.toml [--unsafe-test-admin]

Nodes serve their client API over TLS with the certificates ``network
init`` made (``https://`` URLs); :attr:`LocalNetwork.ca` is the authority's
certificate and :attr:`LocalNetwork.tls` a client context trusting it, which
its own HTTP client uses and callers hand to theirs (``Client(..., ca=net.ca)``).

It can wait for nodes to answer, kill one with SIGKILL (its whole process
group), restart it, cut it off through the test-only fault hook, and watch
heights and tips. Every wait polls a condition against a deadline and fails
naming what it waited for (with the tail of the node's log when a process
died). Every process it started is stopped by :meth:`LocalNetwork.close`,
also when the caller fails: it is a context manager, and an ``atexit`` hook
covers scripts that end abruptly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import httpx

from contracts.lifecycle import Role
from contracts.membership import Identity, Port
from node.api_tls import CA_CERT
from node.client.tls import trust
from node.devnet.errors import NetworkError, NetworkTimeout
from node.network import DEFAULT_VALIDATORS, corridor, init_network, network_roles, ports_needed

REPO: Final = Path(__file__).resolve().parents[2]
PORT_RANGE: Final = (7500, 7700)
"""Where local networks look for free ports (apart from a configured network's 7100)."""
FAST_CONSENSUS: Final = {
    "propose_ms": 600,
    "prevote_ms": 300,
    "precommit_ms": 300,
    "round_increment_ms": 200,
    "commit_ms": 0,
    "block_delay_ms": 20,
}
"""Consensus timeouts for networks on one machine: short, so that a lost round costs little."""
MEMBERS: Final = (
    "shipper-acme:shipper",
    "shipper-beta:shipper",
    "shipper-gamma:shipper",
    "auditor:auditor",
)

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns a true value, and return it; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise NetworkTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        # The polling interval of a deadline wait, not a sleep standing in for a condition.
        time.sleep(interval)


def find_base_port(count: int, low: int = PORT_RANGE[0], high: int = PORT_RANGE[1]) -> int:
    """The first of ``count`` consecutive ports in ``[low, high)`` that are free now.

    The search starts at a random place so that concurrent runs rarely race
    for the same ports; a port taken between this check and the node's bind
    shows up as a node that does not become ready.
    """
    bases = list(range(low, high - count + 1))
    offset = random.randrange(len(bases))
    for base in bases[offset:] + bases[:offset]:
        if all(_port_free(p) for p in range(base, base + count)):
            return base
    raise NetworkError(f"no {count} consecutive free ports in [{low}, {high})")


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass(slots=True)
class NodeProcess:
    """One node: its files, its URL and, while it runs, its process."""

    name: str
    config: Path
    url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    peer_address: str | None = None
    """``HOST:PORT`` of its peer listener (validators; None for an observer)."""

    @property
    def data_dir(self) -> Path:
        """The node's data directory (LevelDB under ``chain``)."""
        return self.config.parent / "data"

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the node's log, for failure messages."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class LocalNetwork:
    """Node processes on loopback under one directory: validators, then observers."""

    def __init__(
        self,
        directory: Path,
        *,
        validators: Sequence[str] = DEFAULT_VALIDATORS,
        members: Sequence[str] = MEMBERS,
        consensus: dict[str, int] | None = None,
        chain: str = "dgledger-local",
        observers: Sequence[str] = (),
        test_admin: bool = True,
        log_level: str = "info",
        port_range: tuple[int, int] = PORT_RANGE,
        identities: Mapping[str, Identity] | None = None,
        ports: Sequence[Port] | None = None,
        lead_time_hours: int = 0,
    ) -> None:
        """``ports`` default to HAROPA's three, the network's port authority's if it has one."""
        self.directory = directory
        if ports is None:
            roles = network_roles(validators, members)
            authorities = [name for name, role in roles.items() if role is Role.PORT_AUTHORITY]
            ports = corridor(roles) if len(authorities) == 1 else ()
        self.test_admin = test_admin
        self.log_level = log_level
        base = find_base_port(ports_needed(len(validators), len(observers)), *port_range)
        files = init_network(
            directory,
            validators=list(validators),
            members=list(members),
            base_port=base,
            chain=chain,
            genesis_time=time.time_ns() // 1_000_000,
            consensus=dict(FAST_CONSENSUS if consensus is None else consensus),
            observers=list(observers),
            identities=identities,
            ports=ports,
            lead_time_hours=lead_time_hours,
        )
        self.nodes = {
            f.name: NodeProcess(
                f.name, f.config, f.url, directory / f"{f.name}.log", peer_address=f.peer_address
            )
            for f in files
        }
        self._trust()
        atexit.register(self.close)

    def _trust(self) -> None:
        self.ca = self.directory / CA_CERT
        """The authority that signed the nodes' API certificates (clients trust it)."""
        self.tls: ssl.SSLContext = trust(self.ca)
        """A TLS client context trusting :attr:`ca`: for any HTTP client talking to the nodes."""
        self.http = httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0), verify=self.tls)

    @classmethod
    def reopen(cls, directory: Path, *, test_admin: bool = True) -> Self:
        """A network over ``directory`` as an earlier run wrote it (nothing is started)."""
        net = cls.__new__(cls)
        net.directory = directory
        net.test_admin = test_admin
        net.log_level = "info"
        net.nodes = {}
        for config in sorted(directory.glob("*/node.toml")):
            settings = tomllib.loads(config.read_text(encoding="utf-8"))
            node = settings["node"]
            name = node["name"]
            plain = settings.get("api", {}).get("plain_http", False)
            url = f"{'http' if plain else 'https'}://{node['listen']}"
            log = directory / f"{name}.log"
            peer = node.get("peer_listen")
            net.nodes[name] = NodeProcess(name, config, url, log, peer_address=peer)
        net._trust()
        atexit.register(net.close)
        return net

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def names(self) -> list[str]:
        """Every node's name, in network order."""
        return list(self.nodes)

    def others(self, *names: str) -> list[str]:
        """Every node but ``names``."""
        return [n for n in self.nodes if n not in names]

    @property
    def genesis_path(self) -> Path:
        """The network's genesis file."""
        return self.directory / "genesis.json"

    def key_path(self, org: str) -> Path:
        """The member key file of ``org``."""
        return self.directory / "keys" / f"{org}.pem"

    def url(self, name: str) -> str:
        """Base URL of node ``name``."""
        return self.nodes[name].url

    # ---------------------------------------------------------- start and stop

    def start(self, *names: str, wait: bool = True, timeout: float = 60.0) -> None:
        """Start the named nodes (all when none are named) that are not running.

        With ``wait``, return once each answers ``/healthz``.
        """
        names = names or tuple(self.nodes)
        for name in names:
            node = self.nodes[name]
            if node.alive():
                continue
            cmd = [sys.executable, "-m", "node.cli", "node", "start", "--config", str(node.config)]
            cmd += ["--log-level", self.log_level]
            if self.test_admin:
                cmd.append("--unsafe-test-admin")
            with node.log.open("ab") as log:
                node.proc = subprocess.Popen(
                    cmd,
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    start_new_session=True,
                )
        if wait:
            self.wait_ready(*names, timeout=timeout)

    def healthy(self, name: str) -> bool:
        """Whether node ``name`` runs and answers ``/healthz``."""
        node = self.nodes[name]
        if not node.alive():
            return False
        try:
            return self.http.get(f"{node.url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, *names: str, timeout: float = 60.0) -> None:
        """Wait until every named node (all by default) answers ``/healthz``."""
        pending = set(names or self.nodes)

        def ready() -> bool:
            for name in sorted(pending):
                node = self.nodes[name]
                if not node.alive():
                    code = None if node.proc is None else node.proc.returncode
                    raise NetworkError(
                        f"{name} is not running (exit status {code}):\n{node.log_tail()}"
                    )
                if self.healthy(name):
                    pending.discard(name)
            return not pending

        wait_for(ready, timeout, f"nodes {sorted(pending)} to answer /healthz", interval=0.1)

    def kill(self, *names: str) -> None:
        """``kill -9`` the named nodes' process groups and reap them."""
        for name in names:
            self._signal(name, signal.SIGKILL)
            proc = self.nodes[name].proc
            if proc is not None:
                proc.wait(timeout=30)

    def stop(self, *names: str, timeout: float = 15.0) -> None:
        """Stop the named nodes (all by default) gracefully, killing any that linger."""
        targets = [n for n in (names or tuple(self.nodes)) if self.nodes[n].alive()]
        for name in targets:
            self._signal(name, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in targets:
            proc = self.nodes[name].proc
            assert proc is not None
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(name, signal.SIGKILL)
                proc.wait(timeout=30)

    def _signal(self, name: str, sig: signal.Signals) -> None:
        proc = self.nodes[name].proc
        if proc is None or proc.poll() is not None:
            return
        # The leader is not reaped yet (poll() above), so its group id is still ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def close(self) -> None:
        """Stop every node still running and release the HTTP client (idempotent)."""
        try:
            self.stop(timeout=5.0)
        finally:
            self.http.close()
            atexit.unregister(self.close)

    # ------------------------------------------------------------ observation

    def status(self, name: str) -> dict[str, Any] | None:
        """``/v1/status`` of a node, or None when it does not answer."""
        try:
            response = self.http.get(f"{self.url(name)}/v1/status", timeout=2.0)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        value: dict[str, Any] = response.json()
        return value

    def height(self, name: str) -> int:
        """Committed height of a running node."""
        status = self.status(name)
        if status is None:
            raise NetworkError(f"{name} does not answer /v1/status:\n{self.nodes[name].log_tail()}")
        return int(status["height"])

    def heights(self, names: Iterable[str]) -> dict[str, int]:
        """Committed heights of the named running nodes."""
        return {n: self.height(n) for n in names}

    def wait_height(self, names: Iterable[str], height: int, timeout: float = 60.0) -> None:
        """Wait until every named node has committed ``height``."""
        names = list(names)

        def reached() -> bool:
            return all((s := self.status(n)) is not None and s["height"] >= height for n in names)

        wait_for(reached, timeout, f"{names} to reach height {height}", interval=0.1)

    def wait_converged(self, *names: str, timeout: float = 60.0) -> tuple[int, str]:
        """Wait until the nodes agree on height, tip and state root with empty mempools."""
        targets = list(names or self.nodes)

        def agreed() -> tuple[int, str] | None:
            statuses = [self.status(n) for n in targets]
            if any(s is None for s in statuses):
                return None
            views = {(s["height"], s["tip"], s["state_root"]) for s in statuses if s is not None}
            if len(views) != 1 or any(s["mempool"]["txs"] for s in statuses if s is not None):
                return None
            height, tip, _ = views.pop()
            return height, tip

        return wait_for(agreed, timeout, f"{targets} to agree on one tip", interval=0.1)

    # ------------------------------------------------------------------ faults

    def set_faults(self, name: str, isolate: Iterable[str]) -> None:
        """Make ``name`` drop traffic with the named peers (``"*"``: everyone); test-only."""
        response = self.http.post(
            f"{self.url(name)}/test/v1/faults", json={"isolate": sorted(isolate)}
        )
        if response.status_code != 200:
            raise NetworkError(f"{name} refused the fault: {response.status_code} {response.text}")

    def partition(self, name: str) -> None:
        """Cut ``name`` off from every other node, both ways."""
        self.set_faults(name, ["*"])
        for other in self.others(name):
            if self.nodes[other].alive():
                self.set_faults(other, [name])

    def heal(self) -> None:
        """Clear the faults of every running node."""
        for name, node in self.nodes.items():
            if node.alive():
                self.set_faults(name, [])
