"""The Ed25519 rule: every edge-case class, checked against independent arithmetic."""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import (
    _NON_CANONICAL,
    _SMALL_ORDER,
    PublicKey,
    SigningKey,
    Verifier,
    check_signature,
)
from ledger.errors import SignatureError
from tests.ledger.ed25519_reference import (
    BASE,
    IDENTITY,
    RFC8032,
    SPECCHECK,
    L,
    P,
    add,
    challenge,
    decode_point,
    encode_point,
    mul,
    order,
    order_8_point,
    reference_accepts,
)


def rejected(public: bytes, message: bytes, signature: bytes) -> str:
    with pytest.raises(SignatureError) as info:
        check_signature(public, message, signature)
    return info.value.message


SEED = bytes(range(32))
KEY = SigningKey.from_seed(SEED)
MSG = b"dangerous goods: UN1203, class 3"
SIG = KEY.sign_raw(MSG)
A = KEY.public.raw

# --- The blocklists are what the math says --------------------------------------------------


def test_small_order_blocklist_is_the_torsion_subgroup() -> None:
    t8 = order_8_point()
    assert order(t8) == 8
    torsion = {encode_point(mul(k, t8)) for k in range(8)}
    assert torsion == _SMALL_ORDER
    orders = []
    for enc in _SMALL_ORDER:
        point = decode_point(enc)
        assert point is not None, "blocklisted values are canonical encodings"
        assert encode_point(point) == enc
        assert mul(8, point) == IDENTITY
        orders.append(order(point))
    assert sorted(orders) == [1, 2, 4, 4, 8, 8, 8, 8]


def test_non_canonical_set_is_exactly_what_rfc8032_refuses_by_encoding() -> None:
    assert len(_NON_CANONICAL) == 40  # 19 values of y >= p, two signs; two x = 0 with sign
    for enc in _NON_CANONICAL:
        assert decode_point(enc) is None
    # Around every boundary, membership matches the RFC's two encoding rules.
    for low in [*range(0, 4), *range(P - 4, P + 1), *range(P, 1 << 255)]:
        for sign in (0, 1):
            enc = (low | sign << 255).to_bytes(32, "little")
            y_too_big = low >= P
            x_zero_signed = sign == 1 and low in (1, P - 1)
            assert (enc in _NON_CANONICAL) == (y_too_big or x_zero_signed)


# --- Every edge-case class, with concrete vectors -------------------------------------------


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    key = SigningKey.from_seed(bytes.fromhex(seed))
    assert key.public.hex() == public
    assert key.sign_raw(bytes.fromhex(message)).hex() == signature
    check_signature(bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature))
    assert reference_accepts(
        bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    )


def test_signatures_are_the_bytes_libsodium_makes() -> None:
    for i in range(8):
        seed = hashlib.sha256(b"seed %d" % i).digest()
        message = b"m" * i
        theirs = nacl.signing.SigningKey(seed).sign(message).signature
        assert SigningKey.from_seed(seed).sign_raw(message) == theirs


@pytest.mark.parametrize(
    ("public", "signature"),
    [(A[:31], SIG), (A + b"\0", SIG), (b"", SIG), (A, SIG[:63]), (A, SIG + b"\0"), (A, b"")],
)
def test_wrong_lengths(public: bytes, signature: bytes) -> None:
    assert "bytes" in rejected(public, MSG, signature)


def test_non_bytes_inputs() -> None:
    for args in [(bytearray(A), MSG, SIG), (A, bytearray(MSG), SIG), (A, MSG, memoryview(SIG))]:
        assert "must be bytes" in rejected(*args)  # type: ignore[arg-type]


def test_scalar_must_be_below_group_order() -> None:
    s = int.from_bytes(SIG[32:], "little")
    malleated = SIG[:32] + (s + L).to_bytes(32, "little")
    # The equation alone accepts S + L ([L]B = O); only the scalar rule refuses it.
    assert mul(s + L, BASE) == mul(s, BASE)
    assert "scalar" in rejected(A, MSG, malleated)
    for big in (L, L + 1, 2**253, 2**256 - 1):
        assert "scalar" in rejected(A, MSG, SIG[:32] + big.to_bytes(32, "little"))
    # L - 1 passes the scalar rule and fails later, on the equation.
    assert rejected(A, MSG, SIG[:32] + (L - 1).to_bytes(32, "little")) == (
        "signature does not verify"
    )


@pytest.mark.parametrize("enc", sorted(_NON_CANONICAL))
def test_non_canonical_points_refused_as_key_and_as_r(enc: bytes) -> None:
    assert "public key: non-canonical" in rejected(enc, MSG, SIG)
    assert "signature R: non-canonical" in rejected(A, MSG, enc + SIG[32:])
    with pytest.raises(SignatureError):
        PublicKey(enc)


def test_x_zero_with_sign_bit_is_non_canonical() -> None:
    identity_signed = (1 | 1 << 255).to_bytes(32, "little")
    minus_one_signed = (P - 1 | 1 << 255).to_bytes(32, "little")
    for enc in (identity_signed, minus_one_signed):
        assert decode_point(enc) is None
        assert "non-canonical" in rejected(enc, MSG, SIG)
        assert "non-canonical" in rejected(A, MSG, enc + SIG[32:])


def test_non_canonical_encodings_of_small_order_points() -> None:
    # y = p + 1 is the identity's y again; y = p is the order-4 points' y = 0.
    for y in (P, P + 1):
        enc = y.to_bytes(32, "little")
        assert "non-canonical" in rejected(enc, MSG, SIG)
        assert "non-canonical" in rejected(A, MSG, enc + SIG[32:])


@pytest.mark.parametrize("enc", sorted(_SMALL_ORDER))
def test_small_order_points_refused_as_key_and_as_r(enc: bytes) -> None:
    assert "public key: point of small order" in rejected(enc, MSG, SIG)
    assert "signature R: point of small order" in rejected(A, MSG, enc + SIG[32:])
    with pytest.raises(SignatureError):
        PublicKey(enc)


def test_small_order_key_with_a_signature_the_equation_accepts() -> None:
    # A = identity, R = identity, S = 0: [0]B = O + [k]O holds for every message.
    identity = encode_point(IDENTITY)
    forged = identity + bytes(32)
    assert mul(0, BASE) == add(IDENTITY, mul(challenge(identity, identity, MSG), IDENTITY))
    assert "small order" in rejected(identity, MSG, forged)


def test_key_off_the_curve() -> None:
    y = next(y for y in range(2, 100) if decode_point(y.to_bytes(32, "little")) is None)
    enc = y.to_bytes(32, "little")
    assert "not a point on the curve" in rejected(enc, MSG, SIG)
    with pytest.raises(SignatureError):
        PublicKey(enc)


def test_r_off_the_curve_never_matches() -> None:
    y = next(y for y in range(2, 100) if decode_point(y.to_bytes(32, "little")) is None)
    assert rejected(A, MSG, y.to_bytes(32, "little") + SIG[32:]) == "signature does not verify"


def test_mixed_order_key_accepted_only_when_torsion_cancels() -> None:
    # A' = [a]B + T8. A signer who knows a makes R = [r]B, S = r + k*a; the cofactorless
    # equation then needs [k]T8 = O, i.e. k = 0 mod 8 (k already reduced mod L).
    a, r = 0x1234567 * 8 + 5, 0xABCDEF
    t8 = order_8_point()
    mixed = add(mul(a, BASE), t8)
    a_enc, r_enc = encode_point(mixed), encode_point(mul(r, BASE))
    assert mul(L, mixed) != IDENTITY and order(mixed) == 0  # mixed, not small
    key = PublicKey(a_enc)  # accepted as a key: the rule does not test for torsion
    verdicts: dict[bool, tuple[bytes, bytes]] = {}
    for i in range(200):
        message = b"message %d" % i
        k = challenge(r_enc, a_enc, message)
        signature = r_enc + ((r + k * a) % L).to_bytes(32, "little")
        verdicts.setdefault(k % 8 == 0, (message, signature))
        if len(verdicts) == 2:
            break
    good_message, good_signature = verdicts[True]
    bad_message, bad_signature = verdicts[False]
    check_signature(key.raw, good_message, good_signature)
    assert reference_accepts(key.raw, good_message, good_signature)
    assert rejected(key.raw, bad_message, bad_signature) == "signature does not verify"
    assert not reference_accepts(key.raw, bad_message, bad_signature)


@pytest.mark.parametrize(("message", "public", "signature", "reason"), SPECCHECK)
def test_speccheck_vectors(message: str, public: str, signature: str, reason: str | None) -> None:
    m, a, s = bytes.fromhex(message), bytes.fromhex(public), bytes.fromhex(signature)
    if reason is None:
        check_signature(a, m, s)
    else:
        assert reason in rejected(a, m, s)
    assert reference_accepts(a, m, s) == (reason is None)
    assert Verifier(workers=1).verify_one(a, m, s) == (reason is None)


def test_speccheck_only_vector_3_passes() -> None:
    assert [i for i, v in enumerate(SPECCHECK) if v[3] is None] == [3]


# --- Properties: honest signatures verify, and no single bit flip does ------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), message=st.binary(max_size=200), data=st.data())
def test_signatures_verify_and_bit_flips_fail(
    seed: bytes, message: bytes, data: st.DataObject
) -> None:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    key = SigningKey(private)
    signature = private.sign(message)
    check_signature(key.public.raw, message, signature)
    what = data.draw(
        st.sampled_from(["message", "signature", "key"] if message else ["signature", "key"])
    )
    parts = {"message": message, "signature": signature, "key": key.public.raw}
    target = parts[what]
    bit = data.draw(st.integers(0, 8 * len(target) - 1))
    flipped = bytearray(target)
    flipped[bit // 8] ^= 1 << (bit % 8)
    parts[what] = bytes(flipped)
    with pytest.raises(SignatureError):
        check_signature(parts["key"], parts["message"], parts["signature"])


def test_every_single_bit_flip_fails() -> None:
    verifier = Verifier(workers=1)
    items = []
    for bit in range(8 * 64):
        flipped = bytearray(SIG)
        flipped[bit // 8] ^= 1 << (bit % 8)
        items.append((A, MSG, bytes(flipped)))
    for bit in range(8 * 32):
        flipped = bytearray(A)
        flipped[bit // 8] ^= 1 << (bit % 8)
        items.append((bytes(flipped), MSG, SIG))
    for bit in range(8 * len(MSG)):
        flipped = bytearray(MSG)
        flipped[bit // 8] ^= 1 << (bit % 8)
        items.append((A, bytes(flipped), SIG))
    assert not any(verifier.verify_many(items))
    assert verifier.verify_one(A, MSG, SIG)


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(min_size=32, max_size=32))
def test_public_key_accepted_iff_rfc8032_decodes_and_not_small(raw: bytes) -> None:
    point = decode_point(raw)
    expected = point is not None and mul(8, point) != IDENTITY
    try:
        PublicKey(raw)
    except SignatureError:
        assert not expected
    else:
        assert expected
