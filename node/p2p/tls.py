"""Peer identities: TLS 1.3 certificates bound to node keys, built from public data alone.

A node's TLS identity is its Ed25519 node key (genesis names validators'
keys; organisations register observers' node keys as member keys). Its
certificate is an X.509 v3 certificate whose subject public key *is* that
node key, and every field of it is a function of public data:

* subject ``CN=<key id>, O=<chain id>``; issuer ``CN=dgledger peers, O=<chain id>``;
* serial number from SHA-256 of the genesis hash and the key; valid from
  2000-01-01 to 9999-12-31 23:59:59 UTC (RFC 5280 4.1.2.5: no expiry to
  manage, and no clock skew ever refuses a peer);
* ``basicConstraints CA:FALSE`` and ``keyUsage digitalSignature`` (critical:
  the certificate can issue nothing), ``extendedKeyUsage serverAuth, clientAuth``;
* signed by an *issuer key derived from the genesis hash*: SHA-256 of a tag
  and the hash, as an Ed25519 seed.

Why not self-signed, as first planned: a self-signed certificate is signed
with the node's private key, so no other node could rebuild it from the
genesis key; each certificate would have to be shipped to every peer, and
again whenever governance adds a validator. The issuer key here is public
(anyone with the genesis file can derive it) and its signature carries no
trust at all: it only makes each node's certificate a function of public
data. Ed25519 signatures are deterministic (RFC 8032), so every node builds
byte-identical certificates for every node key, and a node presents exactly
the certificate its peers build for it. What authenticates a peer is the
handshake: in TLS 1.3 each side signs the handshake transcript with the
private key of its certificate (CertificateVerify), which only the holder
of the node key can do.

Trust: the trust store of a context holds exactly the certificates this
node built from the keys it will talk to (``VERIFY_X509_PARTIAL_CHAIN``
makes each of them an anchor by itself; the issuer is never trusted).
``CERT_REQUIRED`` on both sides, TLS 1.3 only, no session tickets. A
certificate that is not byte for byte one of them (another key, another
network's, one made up) fails the handshake. Hostnames are not checked:
peers are named by key, and a dialled connection trusts only the key
configured for that peer. The acceptor's trust store holds the keys of
every validator set it has known and of its configured observers, and
grows when governance adds a validator (OpenSSL cannot drop an anchor), so
after the handshake the acceptor checks the key against the membership in
force (:class:`node.p2p.transport.NodeKeys`): a validator removed from the
set completes the handshake and is refused right after it.

Checked here: OpenSSL 3.0 (``ssl.OPENSSL_VERSION``) negotiates TLS 1.3 with
Ed25519 certificates on both sides (``tests/node/test_peer_tls.py``).
"""

from __future__ import annotations

import datetime
import os
import secrets
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ledger.crypto import PublicKey, SigningKey
from ledger.encoding import sha256
from ledger.errors import LedgerError
from node.p2p.errors import PeerRefused

ISSUER_TAG: Final = b"dgledger peer certificate issuer v1"
SERIAL_TAG: Final = b"dgledger peer certificate serial v1"
NOT_BEFORE: Final = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
NOT_AFTER: Final = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


def issuer_key(genesis_hash: bytes) -> Ed25519PrivateKey:
    """The public issuer key of a network's peer certificates (it vouches for nothing)."""
    return Ed25519PrivateKey.from_private_bytes(sha256(ISSUER_TAG + genesis_hash))


def certificate(key: PublicKey, chain: str, genesis_hash: bytes) -> x509.Certificate:
    """The peer certificate of node key ``key`` on this network: the same on every node."""
    public = Ed25519PublicKey.from_public_bytes(key.raw)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, chain),
            x509.NameAttribute(NameOID.COMMON_NAME, key.key_id),
        ]
    )
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, chain),
            x509.NameAttribute(NameOID.COMMON_NAME, "dgledger peers"),
        ]
    )
    serial = int.from_bytes(sha256(SERIAL_TAG + genesis_hash + key.raw)[:16], "big") >> 1
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    purposes = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(serial or 1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
        .sign(issuer_key(genesis_hash), None)
    )


def peer_key(der: bytes | None) -> PublicKey:
    """The node key in a peer's certificate (DER, as the handshake left it)."""
    if der is None:
        raise PeerRefused("tls_failed", "the peer presented no certificate")
    try:
        public = x509.load_der_x509_certificate(der).public_key()
        if not isinstance(public, Ed25519PublicKey):
            raise PeerRefused("unknown_certificate", "the peer's key is not Ed25519")
        return PublicKey(public.public_bytes_raw())
    except (ValueError, LedgerError) as e:
        raise PeerRefused("unknown_certificate", f"the peer's certificate: {e}") from e


@dataclass(slots=True)
class Trusting:
    """An SSL context and the node keys whose certificates its trust store holds."""

    context: ssl.SSLContext
    keys: set[str] = field(default_factory=set)


class PeerTls:
    """This node's TLS contexts: its own certificate, and the peers' it trusts."""

    def __init__(self, key: SigningKey, chain: str, genesis_hash: bytes) -> None:
        self.key = key
        self.chain = chain
        self.genesis_hash = genesis_hash
        self._pem: dict[str, str] = {}

    def pem(self, key: PublicKey) -> str:
        """The PEM certificate of ``key`` (built once)."""
        pem = self._pem.get(key.key_id)
        if pem is None:
            cert = certificate(key, self.chain, self.genesis_hash)
            pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
            self._pem[key.key_id] = pem
        return pem

    def server_context(self, trusted: Iterable[PublicKey]) -> Trusting:
        """The context that accepts connections from ``trusted`` keys (more may be added)."""
        return self._context(server=True, trusted=trusted)

    def client_context(self, peer: PublicKey) -> Trusting:
        """The context that dials the node of key ``peer``, and no other."""
        return self._context(server=False, trusted=[peer])

    def trust(self, trusting: Trusting, keys: Iterable[PublicKey]) -> None:
        """Add the certificates of ``keys`` to a context's trust store (once each)."""
        new = {k.key_id: k for k in keys if k.key_id not in trusting.keys}
        if new:
            pems = "".join(self.pem(k) for k in new.values())
            trusting.context.load_verify_locations(cadata=pems)
            trusting.keys.update(new)

    def _context(self, *, server: bool, trusted: Iterable[PublicKey]) -> Trusting:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.maximum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        if server:
            context.num_tickets = 0  # connections are long-lived: nothing to resume
        self._load_identity(context)
        trusting = Trusting(context)
        self.trust(trusting, trusted)
        return trusting

    def _load_identity(self, context: ssl.SSLContext) -> None:
        """Load this node's certificate and key (Python's ssl reads them only from a file).

        The file lives for the call, in a private temporary directory, and holds
        the key encrypted under a one-time password kept in memory.
        """
        password = secrets.token_bytes(32)
        key_pem = self.key.private_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        with tempfile.TemporaryDirectory(prefix="dgledger-tls-") as directory:
            path = Path(directory) / "identity.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(self.pem(self.key.public).encode("ascii") + key_pem)
            context.load_cert_chain(path, password=password)
