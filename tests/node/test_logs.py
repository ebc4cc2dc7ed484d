"""Logs are JSON lines and never carry private key material or key passwords.

A node is started, fed transactions, hostile peer frames (over its TLS peer
connections, which load its key into OpenSSL) and signed reads
with every logger at DEBUG, and each record is formatted by the node's own
:class:`JsonFormatter`. The captured text, and the messages of start-up
errors an operator would see, are then searched for every key's PEM body,
its raw seed (hex, base64, ``bytes`` repr) and the key file password.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from ledger.crypto import SigningKey
from ledger.keyfile import load_encryption_key, load_signing_key, save_signing_key
from ledger.votes import Vote, VoteType
from node.auth import sign_request
from node.client.errors import ClientError
from node.config import load_config
from node.errors import StartupError
from node.logs import JsonFormatter
from node.p2p.errors import PeerError
from node.service import NodeService
from tests.node.peer_support import TestPeer
from tests.node.reads_support import LocalNode
from tests.samples import sample

PASSWORD: Final = "correct horse battery staple 7f3a"
PASSWORD_ENV: Final = "DG_TEST_NODE_KEY_PASSWORD"


class Capture(logging.Handler):
    """Every record, formatted as the node formats it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test-node"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    root = logging.getLogger()
    handler = Capture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def secrets_of(pem: Path) -> dict[str, str]:
    """Text forms of a key file's secret that must never be logged, by what they are."""
    if pem.name.endswith(".enc.pem"):  # an organisation's X25519 encryption key
        private: Any = load_encryption_key(pem)
    else:
        private = load_signing_key(pem).private_key()
    seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    body = "".join(line for line in pem.read_text().splitlines() if not line.startswith("-----"))
    forms = {
        "pem": body,
        "seed hex": seed.hex(),
        "seed HEX": seed.hex().upper(),
        "seed base64": base64.b64encode(seed).decode(),
        "seed urlsafe base64": base64.urlsafe_b64encode(seed).decode().rstrip("="),
        "seed repr": repr(seed)[2:-1],
    }
    # Halves too: a secret cut in two by a line break or a truncated message still leaks.
    for name, text in list(forms.items()):
        forms[f"{name} (first half)"] = text[: len(text) // 2]
        forms[f"{name} (second half)"] = text[len(text) // 2 :]
    return forms


def assert_no_secret(text: str, key_files: list[Path], extra: dict[str, str]) -> None:
    leaks = []
    for pem in key_files:
        for name, secret in {**secrets_of(pem), **extra}.items():
            if len(secret) >= 12 and secret in text:
                leaks.append(f"{pem.name}: {name}")
    assert not leaks, f"secret material in logs: {leaks}"


def test_a_running_node_logs_no_secret(tmp_path: Path, captured: Capture) -> None:
    node = LocalNode(tmp_path, observers=("auditor",))
    try:
        chain = node.genesis.chain
        node.client("shipper-acme").declare(sample(decl_id="DG-LOG-1"))
        port = node.client("port-authority")
        port.decide("DG-LOG-1", "accepted", owner="shipper-acme")
        # Refusals and hostile peer traffic take the logging error paths.
        shipper = node.key("shipper-acme")
        with pytest.raises(ClientError, match=r"role\.not_allowed"):
            node.client("shipper-beta").decide("DG-LOG-1", "cleared", owner="shipper-acme")
        stranger = SigningKey.from_seed(b"s" * 32)
        vote = Vote.sign(stranger, chain, VoteType.PREVOTE, node.service.chain.height + 1, 0, None)
        address = node.service.transport.address
        assert address is not None
        observer = load_signing_key(tmp_path / "auditor" / "node-key.pem")
        with TestPeer(address, observer, node.service.key.public, node.genesis) as peer:
            peer.connect()
            for kind, body in (("vote", vote.to_value()), ("proposal", {"x": 1}), ("txs", [b"x"])):
                peer.send(kind, body)
            peer.blocks(1, 1)  # answered after the frames before it were handled
        refused = TestPeer(address, stranger, node.service.key.public, node.genesis)
        with refused, pytest.raises(PeerError):
            refused.connect()
        target = "/v1/declarations/DG-LOG-1"
        now = time.time_ns() // 1_000_000
        node.http.get(
            target, headers=sign_request(shipper, chain, "GET", target, b"", now, node="customs")
        )
        node.http.get(
            target, headers=sign_request(shipper, chain, "GET", target, b"", now, node="customs")
        )
    finally:
        node.close()
    assert len(captured.lines) >= 3, "the node logged nothing: the capture is not working"
    for line in captured.lines:
        entry = json.loads(line)
        assert {"ts", "level", "node", "logger", "msg"} <= set(entry)
    assert any(json.loads(line)["msg"] == "committed block" for line in captured.lines)
    keys = [*(tmp_path / "keys").glob("*.pem"), *tmp_path.glob("*/node-key.pem")]
    assert len(keys) == 12  # five organisations' member and encryption keys, two node keys
    assert_no_secret("\n".join(captured.lines), keys, {})


def test_an_encrypted_key_and_its_password_stay_out_of_logs_and_errors(
    tmp_path: Path, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = LocalNode(tmp_path)
    node.close()
    key_file = tmp_path / "customs" / "node-key.pem"
    key = load_signing_key(key_file)
    plain = tmp_path / "plain-copy.pem"
    save_signing_key(plain, key)
    save_signing_key(key_file, key, PASSWORD.encode(), overwrite=True)
    config_file = tmp_path / "customs" / "node.toml"
    config_file.write_text(
        config_file.read_text().replace("listen", f'key_password_env = "{PASSWORD_ENV}"\nlisten')
    )
    errors = []
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD[::-1])  # the wrong password
    with pytest.raises(StartupError) as info:
        NodeService(load_config(config_file))
    errors.append(str(info.value))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    service = NodeService(load_config(config_file))
    try:
        assert service.key.public == key.public
        errors.append(repr(service.key))
        logging.getLogger("dgledger.node").info("key %s", service.key)
    finally:
        asyncio.run(service.stop())
    text = "\n".join([*captured.lines, *errors])
    assert "wrong password" in text
    assert_no_secret(text, [plain], {"password": PASSWORD, "reversed password": PASSWORD[::-1]})


@pytest.mark.parametrize("form", ["pem", "seed hex", "seed base64", "seed repr"])
def test_the_search_finds_each_form_of_a_leak(tmp_path: Path, form: str) -> None:
    pem = tmp_path / "k.pem"
    save_signing_key(pem, SigningKey.from_seed(b"k" * 32))
    leaked = f'{{"msg": "oops {secrets_of(pem)[form]} here"}}'
    with pytest.raises(AssertionError, match="secret material"):
        assert_no_secret(leaked, [pem], {})
    assert_no_secret('{"msg": "nothing to see"}', [pem], {})
