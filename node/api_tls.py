"""TLS of the client API: a local certificate authority for test networks, and the server side.

Clients reach a node's HTTP API over TLS. The node presents an ordinary
X.509 server certificate signed by an authority its clients trust, named in
``node.toml`` (``[api] tls_cert``, ``tls_key``). In production that is the
organisation's own PKI (or a reverse proxy terminating TLS, with ``[api]
plain_http = true``); ``dgledger network init`` makes a local authority for
test networks:

* ``tls/ca.pem``: the authority's certificate, what clients trust
  (``dgledger --ca``, ``$DGLEDGER_CA``, ``Client(..., ca=...)``);
* ``tls/ca-key.pem``: its private key (mode 0600), which stays with the
  operator who ran ``network init`` and is needed only to issue more;
* ``<org>/api-cert.pem``, ``<org>/api-key.pem`` (0600): each node's server
  certificate, for the host the network was made on plus ``localhost``,
  ``127.0.0.1`` and ``::1`` as subject alternative names, and its key.

Keys are ECDSA P-256, which every TLS client takes (the peers' Ed25519
certificates of :mod:`node.p2p.tls` are for peers only). The authority is
valid for ten years, a server certificate for two, both from an hour before
they were made (a client clock a little behind still accepts them). The
server takes TLS 1.2 and 1.3 with Python's default ciphers. A handshake
costs a connection, not a request: the project's clients keep their
connections (HTTP keep-alive, ``KEEP_ALIVE_S`` on the node's side).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.config import ApiConfig
from node.errors import StartupError

CA_CERT: Final = Path("tls") / "ca.pem"
"""Where ``network init`` writes the authority's certificate, under the network directory."""
CA_KEY: Final = Path("tls") / "ca-key.pem"
SERVER_CERT: Final = "api-cert.pem"
SERVER_KEY: Final = "api-key.pem"
LOCAL_NAMES: Final = ("localhost", "127.0.0.1", "::1")
"""Names every test network's server certificates carry besides the network's host."""
CA_DAYS: Final = 3650
SERVER_DAYS: Final = 730
BACKDATE: Final = datetime.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Authority:
    """A certificate authority: its certificate and private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str, now: datetime.datetime) -> Authority:
        """A new authority named ``name`` (the network's chain id, say)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} client API authority"),
            ]
        )
        usage = _key_usage(cert_sign=True)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def issue(
        self, name: str, hosts: Iterable[str], now: datetime.datetime
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A server certificate for ``hosts`` (DNS names or IP addresses) and its new key."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation(self.cert)),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        issuer_key = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_key), False
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert, key


def _organisation(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else "dgledger"


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def cert_pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Write a private key as unencrypted PKCS#8 PEM, mode 0600 from its creation."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def write_public(path: Path, data: bytes) -> None:
    """Write a certificate (readable by all: it is public)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def api_context(api: ApiConfig) -> ssl.SSLContext | None:
    """The API's TLS context as ``[api]`` says; None for plain HTTP, when it says so."""
    if api.plain_http:
        return None
    if api.tls_cert is None or api.tls_key is None:
        raise StartupError("[api] gives no tls_cert and tls_key, and not plain_http = true")
    password = None
    if api.tls_key_password_env:
        value = os.environ.get(api.tls_key_password_env)
        if not value:
            raise StartupError(
                f"[api] tls_key_password_env: environment variable"
                f" {api.tls_key_password_env} is empty or not set"
            )
        password = value.encode()
    return server_context(api.tls_cert, api.tls_key, password)


def server_context(cert: Path, key: Path, password: bytes | None = None) -> ssl.SSLContext:
    """The API's TLS server context from a certificate (chain) file and its key file."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # Without a password, an encrypted key fails here rather than OpenSSL asking a terminal.
        context.load_cert_chain(cert, key, password=password if password else _no_password)
    except FileNotFoundError as e:
        raise StartupError(f"[api] TLS file {e.filename} does not exist") from e
    except ssl.SSLError as e:
        raise StartupError(
            f"[api] tls_cert {cert} and tls_key {key}: not a certificate and its key ({e.reason})"
        ) from e
    except OSError as e:
        raise StartupError(f"[api] cannot read {e.filename or cert}: {e.strerror}") from e
    return context


def _no_password() -> bytes:
    return b""
