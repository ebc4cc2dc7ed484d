"""Nodes for the read-API, client, CLI and receipt tests.

:class:`LocalNode` runs one validator in this process behind Starlette's
``TestClient`` (fast: no sockets, no processes); its network also has the
port authority, shippers and an auditor as members, so every lifecycle step
can be taken. Networks of real processes are :class:`node.devnet.localnet.LocalNetwork`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from starlette.exceptions import StarletteDeprecationWarning

from contracts.sealed import sealing_keys
from ledger.crypto import SigningKey
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from ledger.validators import Validator, ValidatorSet
from node.api.app import create_app
from node.auth import sign_request
from node.client.client import Client
from node.client.sealing import seal, sensitive_paths
from node.config import StoreConfig, load_config
from node.genesis_file import load_genesis
from node.network import init_network
from node.service import NodeService
from tests.samples import MEMBERS, member, sample

# Starlette warns once, on import, that it would rather drive httpx2; the
# client under test is httpx, which TestClient still is.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "REPO",
    "LocalNode",
    "TestClient",
    "customs_and_a_shipper",
    "local_node",
    "request_time",
]

REPO: Final = Path(__file__).resolve().parents[2]


_last_ms = [0]


def request_time() -> int:
    """Milliseconds for a signed request: now, and later than every earlier one."""
    _last_ms[0] = max(time.time_ns() // 1_000_000, _last_ms[0] + 1)
    return _last_ms[0]


def customs_and_a_shipper(directory: Path, chain: str) -> Path:
    """A network of one validator (customs) and one shipper; the validator's ``node.toml``."""
    init_network(
        directory,
        validators=["customs"],
        members=[member("shipper-acme")],
        chain=chain,
        genesis_time=time.time_ns() // 1_000_000 - 60_000,
    )
    return directory / "customs" / "node.toml"


class LocalNode:
    """One validator (customs) in this process, behind ``TestClient``.

    With ``observers`` (member organisations), each has a node key and may
    connect to the validator's peer listener, which then listens on a port of
    the loopback interface the system picks (``service.transport.address``).
    ``members`` (``name:role``) are the organisations beside customs.
    """

    def __init__(
        self,
        directory: Path,
        *,
        observers: tuple[str, ...] = (),
        chain: str = "dg-reads",
        members: tuple[str, ...] = MEMBERS,
        store: StoreConfig | None = None,
    ) -> None:
        self.dir = directory
        nodes = init_network(
            directory,
            validators=["customs"],
            members=list(members),
            base_port=7499,
            chain=chain,
            genesis_time=time.time_ns() // 1_000_000 - 60_000,
            observers=list(observers),
        )
        self.genesis: Genesis = load_genesis(directory / "genesis.json")
        config = load_config(nodes[0].config)
        if config.peer_listen is not None:
            config = dataclasses.replace(config, peer_listen=("127.0.0.1", 0))
        if store is not None:
            config = dataclasses.replace(config, store=store)
        self.service = NodeService(config)
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

    def get(self, who: str | SigningKey, target: str) -> Any:
        """A GET of ``target`` signed with ``who``'s member key (or with ``who``, a key)."""
        key = self.key(who) if isinstance(who, str) else who
        headers = sign_request(
            key, self.genesis.chain, "GET", target, b"", request_time(), node="customs"
        )
        return self.http.get(target, headers=headers)

    def sealed(
        self, org: str, document: dict[str, Any], *, owner: str | None = None, version: int = 1
    ) -> dict[str, Any]:
        """``document`` as ``org``'s client sends it: sealed to the owner's readers now.

        The readers are read from the node's state, not asked over HTTP, so a
        test of something else spends none of the key's request allowance.
        """
        whose = org if owner is None else owner
        keys = sealing_keys(self.service.chain.view(), whose)
        if not keys or "sealed" in document or not sensitive_paths(document):
            return document
        return seal(document, owner=whose, version=version, recipients=keys)

    def close(self) -> None:
        """Stop the node (closes its store)."""
        self.http.__exit__(None, None, None)


def change_validators(node: LocalNode, prefix: str, declarations: int) -> int:
    """Change ``node``'s validator set by governance while its shipper declares.

    ``shipper-acme`` declares ``<prefix>1``; customs then proposes itself alone,
    at voting power 20, from three blocks on; ``<prefix>2`` to
    ``<prefix><declarations>`` follow. Returns the height the new set takes
    effect at, which the chain has passed.
    """
    shipper = node.client("shipper-acme")
    shipper.declare(sample(decl_id=f"{prefix}1"))
    node_key = load_signing_key(node.dir / "customs" / "node-key.pem")
    new_set = ValidatorSet.create([Validator(node_key.public, 20, "customs")])
    assert new_set.hash != node.genesis.validators.hash
    effective = node.service.chain.height + 3
    node.client("customs").send(
        "governance",
        {
            "action": "validators.set",
            "effective_height": effective,
            "params": {"validators": new_set.to_value()},
        },
    )
    for i in range(2, declarations + 1):
        shipper.declare(sample(decl_id=f"{prefix}{i}"))
    assert node.service.chain.height > effective
    return effective


@contextlib.contextmanager
def local_node(
    directory: Path, *, observers: tuple[str, ...] = (), chain: str = "dg-reads"
) -> Iterator[LocalNode]:
    """A :class:`LocalNode` stopped on exit."""
    node = LocalNode(directory, observers=observers, chain=chain)
    try:
        yield node
    finally:
        node.close()
