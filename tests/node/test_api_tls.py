"""The client API over TLS: configuration, the files network init writes, real handshakes.

Configuration and certificates are checked on their own; trust is checked
against a real node process on loopback (a one-validator network): a client
with the network's authority reads, one without it, one trusting another
network's authority, and one asking for a name the certificate does not
carry are refused in the handshake, and a node says plain HTTP only when its
configuration says so.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from node.api_tls import CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, Authority, server_context
from node.cli.main import main
from node.client.client import Client
from node.client.errors import ClientError
from node.client.tls import tls_failure, trust
from node.config import load_config
from node.devnet.localnet import REPO, LocalNetwork
from node.errors import ConfigError, NetworkInitError, StartupError
from node.network import init_network

NOW: Final = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)

BASE: Final = """\
[node]
name = "customs"
data_dir = "data"
genesis = "genesis.json"
key = "node-key.pem"
listen = "127.0.0.1:7100"
"""


def config(tmp_path: Path, api: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(BASE + api, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


# ------------------------------------------------------------- configuration


def test_tls_files_are_resolved_against_the_configuration(tmp_path: Path) -> None:
    api = load_config(config(tmp_path, '[api]\ntls_cert = "c.pem"\ntls_key = "/k.pem"\n')).api
    assert (api.tls_cert, api.tls_key, api.plain_http) == (
        tmp_path / "c.pem",
        Path("/k.pem"),
        False,
    )


def test_plain_http_is_taken_only_when_said(tmp_path: Path) -> None:
    assert load_config(config(tmp_path, "[api]\nplain_http = true\n")).api.plain_http
    for api in ("", "[api]\nrate_per_key = 5\n", "[api]\nplain_http = false\n"):
        message = refusal(config(tmp_path, api))
        assert "[api] tls_cert and tls_key missing" in message
        assert "plain_http = true" in message


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ('tls_cert = "c.pem"', "[api] tls_key missing"),
        ('tls_key = "k.pem"', "[api] tls_cert missing"),
        ('tls_cert = "c.pem"\ntls_key = ""', "[api] tls_key must be a non-empty string"),
        ('tls_cert = 5\ntls_key = "k.pem"', "[api] tls_cert must be a non-empty string"),
        ('plain_http = "yes"', "[api] plain_http must be true or false"),
        ('plain_http = true\ntls_cert = "c.pem"', "plain_http = true with TLS settings"),
        ('plain_http = true\ntls_key_password_env = "P"', "plain_http = true with TLS"),
        ('tls_cert = "c.pem"\ntls_key = "k.pem"\ntls = 1', "[api] unknown key 'tls'"),
    ],
)
def test_a_tls_setting_that_cannot_be_used_is_named(
    tmp_path: Path, api: str, expected: str
) -> None:
    assert expected in refusal(config(tmp_path, f"[api]\n{api}\n"))


# --------------------------------------------------------- network init


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls") / "net"
    init_network(
        directory,
        validators=["customs", "port-authority"],
        members=["auditor:auditor"],
        observers=["auditor"],
        genesis_time=1_790_000_000_000,
        issued_at=NOW,
    )
    return directory


def test_network_init_writes_an_authority_and_a_server_certificate_per_node(
    network: Path,
) -> None:
    ca = x509.load_pem_x509_certificate((network / CA_CERT).read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.not_valid_before_utc <= NOW < ca.not_valid_after_utc
    for name in ("customs", "port-authority", "auditor"):
        cert = x509.load_pem_x509_certificate((network / name / SERVER_CERT).read_bytes())
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(names.get_values_for_type(x509.DNSName)) == {"localhost"}
        assert set(names.get_values_for_type(x509.IPAddress)) == {
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        }
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        key = serialization.load_pem_private_key((network / name / SERVER_KEY).read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert key.public_key() == cert.public_key()
        api = load_config(network / name / "node.toml").api
        assert (api.tls_cert, api.tls_key) == (
            network / name / SERVER_CERT,
            network / name / SERVER_KEY,
        )
        # The server takes its own files.
        assert server_context(network / name / SERVER_CERT, network / name / SERVER_KEY)


def test_private_keys_are_for_their_owner_alone(network: Path) -> None:
    private = [network / CA_KEY] + [network / n / SERVER_KEY for n in ("customs", "auditor")]
    for path in private:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (network / CA_CERT).stat().st_mode & 0o777 == 0o644


def test_network_init_refuses_to_overwrite_an_authority(tmp_path: Path) -> None:
    (tmp_path / "tls").mkdir()
    (tmp_path / CA_KEY).write_text("an operator's authority key")
    with pytest.raises(NetworkInitError, match=r"ca-key\.pem exists"):
        init_network(tmp_path, validators=["customs"], members=[], genesis_time=1)
    assert (tmp_path / CA_KEY).read_text() == "an operator's authority key"


def test_a_certificate_and_a_key_that_do_not_belong_together_stop_the_start(
    network: Path,
) -> None:
    cert = network / "customs" / SERVER_CERT
    with pytest.raises(StartupError, match="not a certificate and its key"):
        server_context(cert, network / "port-authority" / SERVER_KEY)
    with pytest.raises(StartupError, match="does not exist"):
        server_context(network / "nope.pem", network / "customs" / SERVER_KEY)


def test_an_encrypted_server_key_needs_its_password(tmp_path: Path) -> None:
    authority = Authority.create("dg-test", NOW)
    cert, key = authority.issue("customs", ["127.0.0.1"], NOW)
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    assert server_context(tmp_path / "cert.pem", tmp_path / "key.pem", b"s3cret")
    # No password: refused at once, not asked for on a terminal.
    with pytest.raises(StartupError):
        server_context(tmp_path / "cert.pem", tmp_path / "key.pem")


def test_a_ca_file_that_is_not_one_is_a_client_error(tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    for path in (tmp_path / "junk.pem", tmp_path / "missing.pem"):
        with pytest.raises(ClientError) as info:
            trust(path)
        assert info.value.code == "client.bad_ca"


# --------------------------------------------------------- real handshakes


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNetwork]:
    directory = tmp_path_factory.mktemp("tls-live") / "net"
    with LocalNetwork(directory, validators=["customs"], members=["auditor:auditor"]) as net:
        net.start()
        yield net


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another network's authority: a client trusting it trusts nothing of this one."""
    directory = tmp_path_factory.mktemp("other") / "net"
    init_network(directory, validators=["customs"], members=[], genesis_time=1, chain="other")
    return directory / CA_CERT


@pytest.mark.slow
def test_a_client_trusting_the_networks_authority_reads(net: LocalNetwork) -> None:
    assert net.url("customs").startswith("https://127.0.0.1:")
    with Client.connect(net.url("customs"), ca=net.ca) as client:
        assert client.status()["node"] == "customs"


@pytest.mark.slow
def test_a_client_that_does_not_trust_the_authority_is_refused(
    net: LocalNetwork, stranger: Path
) -> None:
    for ca in (None, stranger):  # the system's trust store, another network's authority
        with pytest.raises(ClientError) as info:
            Client.connect(net.url("customs"), ca=ca)
        assert info.value.code == "client.untrusted", info.value
        assert "unable to get local issuer certificate" in info.value.message


@pytest.mark.slow
def test_a_name_the_certificate_does_not_carry_is_refused(net: LocalNetwork) -> None:
    # The client means node.example.org (SNI and the name checked), and reaches this node.
    with httpx.Client(verify=net.tls) as http, pytest.raises(httpx.ConnectError) as info:
        http.get(f"{net.url('customs')}/healthz", extensions={"sni_hostname": "node.example.org"})
    failure = tls_failure(info.value, net.url("customs"))
    assert failure is not None and failure.code == "client.untrusted"
    assert "Hostname mismatch" in failure.message or "hostname" in failure.message.lower()
    # By its names in the certificate it is reached.
    port = net.url("customs").rsplit(":", 1)[1]
    with Client.connect(f"https://localhost:{port}", ca=net.ca) as client:
        assert client.status()["node"] == "customs"


@pytest.mark.slow
def test_plain_http_to_a_tls_node_gets_nothing(net: LocalNetwork) -> None:
    plain = net.url("customs").replace("https://", "http://")
    with pytest.raises(ClientError) as info:
        Client.connect(plain)
    assert info.value.code in ("client.unreachable", "client.bad_response"), info.value


@pytest.mark.slow
def test_the_command_line_finds_the_networks_authority_or_says_what_to_give(
    net: LocalNetwork, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A key from the network's keys/ directory brings the network's authority along.
    status = main(["status", "--node", net.url("customs"), "--ca", str(net.ca)])
    assert status == 0, capsys.readouterr().err
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if k != "DGLEDGER_CA"}
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "status", "--node", net.url("customs")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "client.untrusted" in lines[0] and "--ca" in lines[0], run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "node.cli", "status", "--node", net.url("customs")],
        cwd=REPO,
        env={**env, "DGLEDGER_CA": str(net.ca)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr


@pytest.mark.slow
def test_a_node_said_to_serve_plain_http_does_so(tmp_path: Path) -> None:
    """For a reverse proxy terminating TLS in front of it: ``plain_http = true``, said so."""
    with LocalNetwork(tmp_path / "net", validators=["customs"], members=[]) as made:
        config = made.nodes["customs"].config
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        f'tls_cert = "{SERVER_CERT}"\ntls_key = "{SERVER_KEY}"\n', "plain_http = true\n"
    )
    config.write_text(text, encoding="utf-8")
    with LocalNetwork.reopen(tmp_path / "net") as net:
        assert net.url("customs").startswith("http://")
        net.start()
        with Client.connect(net.url("customs")) as client:
            assert client.status()["node"] == "customs"
        assert "plain HTTP" in net.nodes["customs"].log.read_text(encoding="utf-8")


def test_ssl_is_what_the_client_checks_with() -> None:
    context = trust(None)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
