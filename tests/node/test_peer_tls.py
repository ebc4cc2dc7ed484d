"""Peer certificates, frames and admission rules, without sockets.

A node's certificate is a function of its public key and the network, the
same bytes on every node (a fixed vector pins them: changing them splits a
network running two versions); OpenSSL here completes a TLS 1.3 handshake
with them, run over memory BIOs; frames parse to a kind and a body or fail
with a counted reason, whatever the bytes.
"""

from __future__ import annotations

import ssl
from typing import Any, Final

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import SigningKey
from ledger.encoding import encode, sha256
from ledger.validators import Validator, ValidatorSet
from node.config import Observer, Peer
from node.p2p.errors import PeerMessageError, PeerRefused
from node.p2p.frames import (
    KINDS,
    MAX_TXS_BYTES,
    MAX_TXS_PER_FRAME,
    BlockRequest,
    frame,
    length,
    parse,
    txs_frames,
)
from node.p2p.tls import NOT_AFTER, NOT_BEFORE, PeerTls, certificate, issuer_key, peer_key
from node.p2p.transport import NodeKeys
from tests.strategies import values

CHAIN: Final = "dg-vector"
GENESIS: Final = sha256(b"dg-vector genesis")
KEY: Final = SigningKey.from_seed(bytes(range(32)))
OTHER: Final = SigningKey.from_seed(b"other".ljust(32, b"\x00"))
VECTOR: Final = "b84f788673fba0a6a5229f4e54462506f3690a601eab2801cee19fdeefd1d9b1"
"""SHA-256 of the DER certificate of ``KEY`` on ``CHAIN`` with genesis hash ``GENESIS``."""


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# ---------------------------------------------------------- certificates


def test_a_certificate_is_a_function_of_public_data() -> None:
    cert = certificate(KEY.public, CHAIN, GENESIS)
    assert sha256(der(cert)).hex() == VECTOR
    assert der(certificate(KEY.public, CHAIN, GENESIS)) == der(cert)
    for other in (
        certificate(OTHER.public, CHAIN, GENESIS),
        certificate(KEY.public, "dg-elsewhere", GENESIS),
        certificate(KEY.public, CHAIN, sha256(b"another genesis")),
    ):
        assert der(other) != der(cert)


def test_a_certificate_carries_the_node_key_and_can_issue_nothing() -> None:
    cert = certificate(KEY.public, CHAIN, GENESIS)
    public = cert.public_key()
    assert isinstance(public, Ed25519PublicKey)
    assert public.public_bytes_raw() == KEY.public.raw
    assert peer_key(der(cert)) == KEY.public
    names = {a.oid: a.value for a in cert.subject}
    assert names[x509.NameOID.COMMON_NAME] == KEY.public.key_id
    assert names[x509.NameOID.ORGANIZATION_NAME] == CHAIN
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (NOT_BEFORE, NOT_AFTER)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    # Signed by the network's public issuer key, which vouches for nothing.
    cert.verify_directly_issued_by(
        x509.CertificateBuilder()
        .subject_name(cert.issuer)
        .issuer_name(cert.issuer)
        .public_key(issuer_key(GENESIS).public_key())
        .serial_number(1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .sign(issuer_key(GENESIS), None)
    )


def test_no_certificate_or_another_key_type_is_refused() -> None:
    with pytest.raises(PeerRefused) as info:
        peer_key(None)
    assert info.value.reason == "tls_failed"
    with pytest.raises(PeerRefused) as info:
        peer_key(b"\x30\x03garbage")
    assert info.value.reason == "unknown_certificate"


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> tuple[bytes | None, str | None]:
    """A handshake over memory BIOs: the client certificate the server saw, and the version."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_side=False)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, side in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return s.getpeercert(binary_form=True), s.version()
    raise AssertionError("the handshake did not finish")


def test_openssl_here_does_tls_1_3_with_these_certificates() -> None:
    """Both sides present an Ed25519 certificate; each trusts exactly the other's key."""
    server = PeerTls(KEY, CHAIN, GENESIS).server_context([OTHER.public])
    client = PeerTls(OTHER, CHAIN, GENESIS).client_context(KEY.public)
    seen, version = _handshake(client.context, server.context)
    assert version == "TLSv1.3", ssl.OPENSSL_VERSION
    assert peer_key(seen) == OTHER.public


@pytest.mark.parametrize(
    ("client_key", "client_chain", "trusted"),
    [
        (OTHER, CHAIN, KEY),  # the server trusts only its own key, not the client's
        (OTHER, "dg-elsewhere", OTHER),  # the client's certificate is another network's
    ],
)
def test_a_certificate_the_server_did_not_build_fails_the_handshake(
    client_key: SigningKey, client_chain: str, trusted: SigningKey
) -> None:
    server = PeerTls(KEY, CHAIN, GENESIS).server_context([trusted.public])
    client = PeerTls(client_key, client_chain, GENESIS).client_context(KEY.public)
    client.context.load_verify_locations(cadata=PeerTls(KEY, CHAIN, GENESIS).pem(KEY.public))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client.context, server.context)


# ------------------------------------------------------------- admission


def _set(*keys: SigningKey) -> ValidatorSet:
    return ValidatorSet.create([Validator(k.public, 10, f"org-{i}") for i, k in enumerate(keys)])


def test_node_keys_admit_the_sets_in_force_and_active_observers() -> None:
    sets = [_set(KEY)]
    active = {OTHER.public.key_id}
    stranger = SigningKey.from_seed(b"stranger".ljust(32, b"\x00"))
    nodes = NodeKeys(
        lambda: sets,
        (Observer("auditor", OTHER.public),),
        active=lambda k: k in active,
        peers=(Peer("customs", "h", 1, KEY.public),),
    )
    assert nodes.refusal(KEY.public) is None
    assert nodes.refusal(OTHER.public) is None
    refused = nodes.refusal(stranger.public)
    assert refused is not None and refused.reason == "not_a_node"
    assert {k.key_id for k in nodes.trusted()} == {KEY.public.key_id, OTHER.public.key_id}
    assert (nodes.name(KEY.public.key_id), nodes.name(OTHER.public.key_id)) == (
        "customs",
        "auditor",
    )
    sets[:] = [_set(stranger), _set(KEY)]  # KEY is leaving: still in the set just before
    assert nodes.refusal(KEY.public) is None
    assert nodes.name(stranger.public.key_id) == "org-0"
    sets[:] = [_set(stranger)]
    assert nodes.refusal(KEY.public) is not None
    active.clear()
    assert nodes.refusal(OTHER.public) is not None


# ---------------------------------------------------------------- frames


def test_frames_round_trip_every_kind() -> None:
    for kind in sorted(KINDS):
        data = frame(kind, {"n": 1})
        assert length(data[:4]) == len(data) - 4
        assert parse(data[4:]) == (kind, {"n": 1})


def test_transactions_are_cut_into_frames_within_both_bounds() -> None:
    many = [bytes([i % 256]) for i in range(MAX_TXS_PER_FRAME + 1)]
    assert [len(parse(f[4:])[1]) for f in txs_frames(many)] == [MAX_TXS_PER_FRAME, 1]
    big = [b"x" * (MAX_TXS_BYTES // 2 + 1)] * 3
    assert [len(parse(f[4:])[1]) for f in txs_frames(big)] == [1, 1, 1]
    assert txs_frames([]) == []


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"id": 0, "from": 1, "count": 1}, True),
        ({"id": 5, "from": 9, "count": 1000}, True),
        ({"id": -1, "from": 1, "count": 1}, False),
        ({"id": 1, "from": 0, "count": 1}, False),
        ({"id": 1, "from": 1, "count": 0}, False),
        ({"id": 1, "from": 1, "count": 1001}, False),
        ({"id": 1, "from": True, "count": 1}, False),
        ({"id": 1, "from": 1}, False),
        ([1, 1, 1], False),
    ],
)
def test_block_requests_are_validated(body: Any, valid: bool) -> None:
    if valid:
        assert BlockRequest.from_body(body).body() == body
    else:
        with pytest.raises(PeerMessageError) as info:
            BlockRequest.from_body(body)
        assert info.value.reason == "get_blocks_invalid"


def _check_parse(data: bytes) -> None:
    try:
        kind, _ = parse(data)
    except PeerMessageError as e:
        assert e.reason in {"malformed", "unknown_kind"}
    else:
        assert kind in KINDS


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | values.map(encode))
def test_any_bytes_parse_or_fail_with_a_reason(data: bytes) -> None:
    _check_parse(data)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(KINDS)) | st.text(max_size=10), values)
def test_any_kind_and_body_parse_or_fail_with_a_reason(kind: str, body: Any) -> None:
    _check_parse(encode({"kind": kind, "body": body}))
