"""A real network on loopback under load.

:class:`Cluster` is a :class:`node.devnet.localnet.LocalNetwork` (validator
processes, kills, faults, waits with deadlines) whose shippers sign
declarations with nonces of their own (a counter per key: a nonce only
makes transactions differ) and expiries counted from the latest height a
commit answer named. Every organisation of a network from ``network init``
has an encryption key, so each declaration's sensitive fields are sealed to
its readers (those of genesis: no delegation is made under load), as a
member's client seals them.

:class:`Load` runs shipper clients in threads: each signs its own
declarations with its member key, submits with
``?wait=commit``, and records the transactions a node acknowledged as
committed; :func:`node.devnet.checks.check_chains` then checks the chains
the network made against them.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

import httpx

from contracts.membership import AppGenesis
from contracts.sealed import genesis_sealing_keys
from ledger.crypto import SigningKey
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from ledger.tx import Envelope, Transaction
from node.client.client import DEFAULT_EXPIRES_AFTER
from node.client.sealing import seal
from node.devnet.errors import NetworkError
from node.devnet.localnet import FAST_CONSENSUS, PORT_RANGE, LocalNetwork, wait_for
from node.devnet.samples import valid_declaration
from node.devnet.traffic import UNITS, unique_container
from node.genesis_file import load_genesis
from node.network import DEFAULT_VALIDATORS, ENC_KEY_SUFFIX

SHIPPERS: Final = ("shipper-1", "shipper-2", "shipper-3")
LOAD_MEMBERS: Final = (*(f"{s}:shipper" for s in SHIPPERS), "auditor:auditor")
CONTENT_MSGPACK: Final = {"content-type": "application/msgpack"}


# ------------------------------------------------------------------ transactions


def declaration_tx(
    key: SigningKey,
    chain: str,
    nonce: int,
    declaration_id: str,
    expires: int,
    *,
    sealed_for: tuple[str, Mapping[str, bytes]] | None = None,
) -> Transaction:
    """A signed ``declaration.submit`` of a fresh declaration.

    With ``sealed_for`` (owner, readers), its sensitive fields are sealed to
    those readers, bound to the owner and version 1.
    """
    document = valid_declaration(declaration_id)
    # A container of its own, as real traffic has: the sample's one container would
    # put every declaration of the load in one unit, judged against all the others.
    ordinal = int.from_bytes(hashlib.sha256(declaration_id.encode()).digest()[:8], "big")
    document["containers"][0]["equipmentReference"] = unique_container(ordinal % UNITS)
    if sealed_for is not None and sealed_for[1]:
        owner, readers = sealed_for
        document = seal(document, owner=owner, version=1, recipients=readers)
    body = {"declaration": document}
    envelope = Envelope(chain, "declaration.submit", key.public.key_id, nonce, body, expires)
    return Transaction.create(envelope, [key])


# ----------------------------------------------------------------------- network


class Cluster(LocalNetwork):
    """Validator processes on loopback whose shippers submit declarations."""

    def __init__(
        self,
        directory: Path,
        *,
        validators: Sequence[str] = DEFAULT_VALIDATORS,
        members: Sequence[str] = LOAD_MEMBERS,
        consensus: Mapping[str, int] = FAST_CONSENSUS,
        port_range: tuple[int, int] = PORT_RANGE,
        chain: str = "dgledger-test",
        log_level: str = "info",
    ) -> None:
        super().__init__(
            directory,
            validators=validators,
            members=members,
            consensus=dict(consensus),
            chain=chain,
            log_level=log_level,
            port_range=port_range,
        )
        self.genesis: Genesis = load_genesis(self.genesis_path)
        self.keys = {
            p.stem: load_signing_key(p)
            for p in sorted((directory / "keys").glob("*.pem"))
            if not p.name.endswith(ENC_KEY_SUFFIX)  # encryption keys sign nothing
        }
        self._nonces: dict[str, int] = {}
        self._height = 0
        self._nonce_lock = threading.Lock()
        orgs = AppGenesis.from_value(self.genesis.app).orgs
        self.readers = {org: genesis_sealing_keys(orgs, org) for org in self.keys}
        """Whom each member's declarations are sealed to: the readers genesis makes."""

    def observe_heights(self, names: Iterable[str], seconds: float) -> list[dict[str, int]]:
        """Sample the named nodes' heights for a fixed window (to show that nothing moves)."""
        names = list(names)
        samples = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            samples.append(self.heights(names))
            time.sleep(0.1)
        return samples

    # ------------------------------------------------------------ transactions

    def saw_height(self, height: int) -> None:
        """Note a height a node named as committed: expiries count from the latest."""
        with self._nonce_lock:
            self._height = max(self._height, height)

    def declaration_tx(self, org: str) -> Transaction:
        """A fresh declaration signed with ``org``'s member key."""
        with self._nonce_lock:
            nonce = self._nonces[org] = self._nonces.get(org, 0) + 1
            expires = self._height + DEFAULT_EXPIRES_AFTER
        return declaration_tx(
            self.keys[org],
            self.genesis.chain,
            nonce,
            f"{org}-{nonce}",
            expires,
            sealed_for=(org, self.readers[org]),
        )

    def submit(
        self, name: str, tx: Transaction, *, wait: bool = True, timeout: float = 60.0
    ) -> httpx.Response:
        """POST ``tx`` to a node, waiting for its commit when ``wait``."""
        query = "?wait=commit" if wait else ""
        return self.http.post(
            f"{self.url(name)}/v1/transactions{query}",
            content=tx.wire,
            headers=CONTENT_MSGPACK,
            timeout=httpx.Timeout(timeout, connect=2.0),
        )


# -------------------------------------------------------------------------- load


class LoadClient(threading.Thread):
    """One shipper submitting declarations one at a time, each with ``?wait=commit``."""

    def __init__(self, cluster: Cluster, org: str, load: Load) -> None:
        super().__init__(name=f"load-{org}", daemon=True)
        self.cluster = cluster
        self.org = org
        self.load = load
        self.outcomes: Counter[str] = Counter()

    def run(self) -> None:
        timeout = httpx.Timeout(self.load.request_timeout, connect=1.0)
        # One client for the run: its connections (and TLS sessions) are kept and reused.
        with httpx.Client(timeout=timeout, verify=self.cluster.tls) as client:
            turn = random.randrange(64)
            while not self.load.stopping.is_set():
                targets = self.load.targets()
                if not targets:
                    self.load.stopping.wait(0.05)
                    continue
                turn += 1
                url = self.cluster.url(targets[turn % len(targets)])
                tx = self.cluster.declaration_tx(self.org)
                try:
                    response = client.post(
                        f"{url}/v1/transactions?wait=commit",
                        content=tx.wire,
                        headers=CONTENT_MSGPACK,
                    )
                except httpx.HTTPError as e:
                    self.outcomes[type(e).__name__] += 1
                    # A node that is down refuses at once: do not spin on it.
                    self.load.stopping.wait(0.05)
                    continue
                if response.status_code == 200:
                    receipt = response.json()
                    self.outcomes[str(receipt["status"])] += 1
                    self.load.acknowledge(tx.id, int(receipt["height"]))
                    self.cluster.saw_height(int(receipt["height"]))
                else:
                    self.outcomes[f"http_{response.status_code}"] += 1
                    self.load.stopping.wait(0.05)


class Load:
    """Shipper clients in threads; records every transaction acknowledged as committed."""

    def __init__(
        self,
        cluster: Cluster,
        orgs: Sequence[str] = SHIPPERS,
        *,
        targets: Sequence[str] | None = None,
        request_timeout: float = 90.0,
    ) -> None:
        self.cluster = cluster
        self.request_timeout = request_timeout
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._targets = list(targets or cluster.names)
        self._acked: dict[bytes, int] = {}
        self.clients = [LoadClient(cluster, org, self) for org in orgs]

    def targets(self) -> list[str]:
        """The nodes clients submit to now."""
        with self._lock:
            return list(self._targets)

    def set_targets(self, names: Sequence[str]) -> None:
        """Submit to these nodes from now on."""
        with self._lock:
            self._targets = list(names)

    def acknowledge(self, tx_id: bytes, height: int) -> None:
        """Record a transaction a node acknowledged as committed at ``height``."""
        with self._lock:
            self._acked[tx_id] = height

    @property
    def acked(self) -> dict[bytes, int]:
        """Every acknowledged transaction id with its height (a copy)."""
        with self._lock:
            return dict(self._acked)

    def count(self) -> int:
        """How many transactions were acknowledged so far."""
        with self._lock:
            return len(self._acked)

    def outcomes(self) -> Counter[str]:
        """Answers received, by receipt status, HTTP status or exception name."""
        total: Counter[str] = Counter()
        for client in self.clients:
            total.update(client.outcomes)
        return total

    def start(self) -> Load:
        """Start every client."""
        for client in self.clients:
            client.start()
        return self

    def wait_more(self, count: int, timeout: float = 60.0) -> int:
        """Wait until ``count`` more transactions are acknowledged; return the new total."""
        goal = self.count() + count

        def enough() -> int:
            self._check_clients()
            n = self.count()
            return n if n >= goal else 0

        return wait_for(enough, timeout, f"{goal} acknowledged transactions ({self.count()})")

    def run_for(self, seconds: float) -> None:
        """Keep the load on for ``seconds`` (the load's duration, not a wait for a condition)."""
        end = time.monotonic() + seconds
        while not self.stopping.wait(min(0.2, max(0.0, end - time.monotonic()))):
            self._check_clients()
            if time.monotonic() >= end:
                return

    def _check_clients(self) -> None:
        dead = [c.name for c in self.clients if not c.is_alive()]
        if dead and not self.stopping.is_set():
            raise NetworkError(f"load clients {dead} died")

    def stop(self) -> None:
        """Stop the clients and wait for their requests in flight."""
        self.stopping.set()
        for client in self.clients:
            client.join(timeout=self.request_timeout + 10)
        alive = [c.name for c in self.clients if c.is_alive()]
        if alive:
            raise NetworkError(f"load clients {alive} did not stop")

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
        else:
            # Failing already: let the clients go with the cluster, report the first error.
            self.stopping.set()
