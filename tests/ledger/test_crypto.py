"""Signing bytes, key objects and the batch verifier."""

from __future__ import annotations

import dataclasses
import hashlib
import threading

import pytest

from ledger.crypto import Domain, PublicKey, SigningKey, Verifier, check_signature, sign_bytes
from ledger.encoding import encode
from ledger.errors import SchemaError, SignatureError
from tests.ledger.ed25519_reference import SPECCHECK

SEED = bytes(range(32))
KEY = SigningKey.from_seed(SEED)
MSG = b"dangerous goods: UN1203, class 3"
SIG = KEY.sign_raw(MSG)
A = KEY.public.raw

# --- sign_bytes, Domain, PublicKey, SigningKey ----------------------------------------------


def test_domain_values() -> None:
    assert [d.value for d in Domain] == [
        "tx",
        "proposal",
        "vote",
        "checkpoint",
        "request",
        "peer",
        "evidence",
    ]


def test_sign_bytes_layout() -> None:
    h = hashlib.sha256(b"object").digest()
    data = sign_bytes(Domain.VOTE, "port-1", h)
    assert data == encode(["dgledger/v1", "vote", "port-1", h])
    # MessagePack by hand: fixarray(4), fixstr(11), fixstr(4), fixstr(6), bin8(32).
    assert data == (b"\x94\xabdgledger/v1\xa4vote\xa6port-1\xc4\x20" + h)


def test_sign_bytes_separates_domains_and_chains() -> None:
    h = bytes(32)
    messages = {sign_bytes(d, c, h) for d in Domain for c in ("a", "b")}
    assert len(messages) == 2 * len(Domain)
    signature = KEY.sign(Domain.TX, "a", h)
    KEY.public.verify(Domain.TX, "a", h, signature)
    for domain, chain in [(Domain.VOTE, "a"), (Domain.TX, "b")]:
        with pytest.raises(SignatureError):
            KEY.public.verify(domain, chain, h, signature)
    assert signature == KEY.sign_raw(sign_bytes(Domain.TX, "a", h))


@pytest.mark.parametrize(
    ("domain", "chain", "h"),
    [
        ("tx", "c", bytes(32)),
        (Domain.TX, "", bytes(32)),
        (Domain.TX, "x" * 65, bytes(32)),
        (Domain.TX, b"c", bytes(32)),
        (Domain.TX, "c", bytes(31)),
        (Domain.TX, "c", bytes(33)),
        (Domain.TX, "c", bytearray(32)),
        (Domain.TX, "\ud800", bytes(32)),
    ],
)
def test_sign_bytes_refuses_bad_arguments(domain: object, chain: object, h: object) -> None:
    with pytest.raises(SchemaError):
        sign_bytes(domain, chain, h)  # type: ignore[arg-type]


def test_sign_bytes_longest_chain_id() -> None:
    chain = "z" * 64
    assert sign_bytes(Domain.TX, chain, bytes(32)) == encode(
        ["dgledger/v1", "tx", chain, bytes(32)]
    )


def test_public_key_object() -> None:
    pub = KEY.public
    assert pub.key_id == hashlib.sha256(pub.raw).hexdigest()[:40]
    assert len(pub.key_id) == 40
    assert PublicKey.from_hex(pub.hex()) == pub
    assert hash(PublicKey(pub.raw)) == hash(pub)
    assert PublicKey(pub.raw) != SigningKey.from_seed(bytes(32)).public
    with pytest.raises(dataclasses.FrozenInstanceError):
        pub.raw = bytes(32)  # type: ignore[misc]
    for bad in (
        pub.hex().upper(),
        pub.hex()[:-2],
        pub.hex() + "00",
        " " + pub.hex()[1:],
        "zz" * 32,
    ):
        with pytest.raises(SchemaError):
            PublicKey.from_hex(bad)
    for raw in (pub.raw[:31], pub.raw + b"\0", bytearray(pub.raw)):
        with pytest.raises(SchemaError):
            PublicKey(raw)  # type: ignore[arg-type]


def test_signing_key_object() -> None:
    for seed in (bytes(31), bytes(33), bytearray(32)):
        with pytest.raises(SchemaError):
            SigningKey.from_seed(seed)  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        SigningKey.from_seed(SEED).sign_raw("text")  # type: ignore[arg-type]
    assert SigningKey.from_seed(SEED).public == KEY.public
    a, b = SigningKey.generate(), SigningKey.generate()
    assert a.public != b.public
    check_signature(a.public.raw, MSG, a.sign_raw(MSG))


def test_signing_key_repr_shows_no_secret() -> None:
    private_hex = SEED.hex()
    for text in (repr(KEY), str(KEY), f"{KEY}"):
        assert private_hex not in text
        assert SEED.hex()[:16] not in text
        assert KEY.public.key_id in text
    assert not hasattr(KEY, "__dict__")


# --- Verifier --------------------------------------------------------------------------------


def mixed_items() -> list[tuple[bytes, bytes, bytes]]:
    keys = [SigningKey.from_seed(hashlib.sha256(b"%d" % i).digest()) for i in range(4)]
    items = []
    for i in range(120):
        key = keys[i % 4]
        message = b"item %d" % i
        signature = key.sign_raw(message)
        match i % 6:
            case 0:
                signature = signature[:63] + bytes([signature[63] ^ 0x80])
            case 1:
                message += b"!"
        items.append((key.public.raw, message, signature))
    for msg, pub, sig, _ in SPECCHECK:
        items.append((bytes.fromhex(pub), bytes.fromhex(msg), bytes.fromhex(sig)))
    items += [items[2], items[2], (A[:31], MSG, SIG), (A, MSG, SIG[:63])]
    return items


def expected_verdicts(items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
    verdicts = []
    for item in items:
        try:
            check_signature(*item)
        except SignatureError:
            verdicts.append(False)
        else:
            verdicts.append(True)
    return verdicts


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_verifier_matches_check_signature(workers: int) -> None:
    items = mixed_items()
    expected = expected_verdicts(items)
    assert True in expected and False in expected
    with Verifier(workers=workers, min_parallel=8) as verifier:
        assert verifier.verify_many(items) == expected
        assert verifier.verify_many(items) == expected  # second time, partly from the cache
        assert [verifier.verify_one(*item) for item in items] == expected
        assert verifier.verify_many([]) == []


def test_verifier_caches_successes_only_and_stays_bounded() -> None:
    verifier = Verifier(workers=1, cache_size=3)
    good = [(A, b"%d" % i, KEY.sign_raw(b"%d" % i)) for i in range(5)]
    bad = (A, MSG, SIG[:32] + bytes(32))
    assert verifier.verify_many([bad, good[0]]) == [False, True]
    assert verifier.cached == 1
    assert verifier.verify_many(good) == [True] * 5
    assert verifier.cached == 3
    assert Verifier(workers=1, cache_size=0).verify_many(good) == [True] * 5


def test_verifier_cache_cannot_be_hit_by_a_shifted_concatenation() -> None:
    verifier = Verifier(workers=1)
    assert verifier.verify_one(A, MSG, SIG)
    # Same bytes pub || msg || sig, cut differently: must fail as check_signature does.
    assert not verifier.verify_one(A + MSG[:1], MSG[1:], SIG)
    assert not verifier.verify_one(A, MSG + SIG[:1], SIG[1:])
    assert not verifier.verify_one(A, MSG[:-1], MSG[-1:] + SIG[:-1])


def test_verifier_uses_its_pool_only_for_large_batches() -> None:
    def pool_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("verify")}

    before = pool_threads()
    items = [(A, b"%d" % i, KEY.sign_raw(b"%d" % i)) for i in range(40)]
    verifier = Verifier(workers=2, min_parallel=32, cache_size=0)
    assert verifier.verify_many(items[:31]) == [True] * 31
    assert not pool_threads() - before
    assert verifier.verify_many(items) == [True] * 40
    started = pool_threads() - before
    assert started
    verifier.close()
    assert not any(t.is_alive() for t in started)
    assert verifier.verify_many(items) == [True] * 40  # usable after close
    verifier.close()


def test_verifier_is_thread_safe() -> None:
    items = mixed_items()
    expected = expected_verdicts(items)
    verifier = Verifier(workers=2, min_parallel=16, cache_size=50)
    results: list[list[bool]] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(3):
            got = verifier.verify_many(items)
            with lock:
                results.append(got)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    verifier.close()
    assert len(results) == 12
    assert all(r == expected for r in results)


def test_verifier_close_while_batches_run() -> None:
    items = mixed_items()
    expected = expected_verdicts(items)
    verifier = Verifier(workers=2, min_parallel=16, cache_size=0)
    results: list[list[bool]] = []
    done = threading.Event()

    def run() -> None:
        try:
            for _ in range(4):
                results.append(verifier.verify_many(items))
        finally:
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    while not done.is_set():
        verifier.close()
    worker.join()
    verifier.close()
    assert results == [expected] * 4


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"cache_size": -1}, {"min_parallel": 0}])
def test_verifier_refuses_bad_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(SchemaError):
        Verifier(**kwargs)
