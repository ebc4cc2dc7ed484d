"""Ed25519 keys and signatures under one verification rule.

Every node and every auditor must reach the same verdict on every signature,
and Ed25519 libraries disagree on edge cases (non-canonical encodings,
small-order points, scalars out of range, cofactored or cofactorless
equations: Chalkias, Garillot, Nikolaenko, "Taming the many EdDSAs", 2020).
So the rule is stated here and enforced by explicit checks in this module,
not left to whichever libsodium version is installed.

The rule, for public key ``A`` (bytes), message ``M`` and signature ``sig``:

1. ``A`` is exactly 32 bytes; ``sig`` is exactly 64 bytes, ``R || S`` with
   ``R`` the first 32 bytes and ``S`` the last 32 (little-endian).
2. ``S < L`` where ``L = 2**252 + 27742317777372353535851937790883648493``
   (the group order); any other ``S`` is a non-canonical scalar.
3. ``A`` and ``R`` are canonical point encodings as RFC 8032 (5.1.3) decodes
   them: the low 255 bits ``y`` are below ``p = 2**255 - 19``, and the sign
   bit is not set when ``x = 0`` (that is, when ``y`` is 1 or ``p - 1``).
4. ``A`` and ``R`` are not among the 8 points of small order (order dividing
   8), compared as canonical encodings after step 3.
5. ``A`` decodes to a point on the curve (RFC 8032 decoding succeeds).
6. The cofactorless equation ``[S]B = R + [k]A`` holds, with
   ``k = SHA-512(R || A || M) mod L`` (reduced before it multiplies ``A``,
   which only a key with a torsion component could notice), checked as
   libsodium checks it: compute ``[S]B - [k]A`` and compare its canonical
   encoding with the bytes ``R``. An ``R`` off the curve never matches.

Steps 1-5 run in Python before libsodium is called (step 5 once per
distinct key, cached), so the verdict does not depend on what a libsodium
version happens to pre-check: its own checks (which vary between versions)
look only at these same properties, so only the equation is left to it.

Mixed-order keys (a prime-order point plus a non-zero torsion component,
not of small order) are not rejected: that would need a full scalar
multiplication ``[L]A`` per key. Write ``A = A' + T_A`` and ``R = R' + T_R``
(prime-order part plus torsion). The cofactorless equation holds only when
the signer's equation holds for the prime-order parts *and*
``T_R + [k]T_A = O`` exactly, which depends on ``k`` and so on the message.
The verdict is still a pure function of the bytes, the same on every node:
speccheck vector 3 is accepted, vector 4 (which only cofactored verifiers
accept) is rejected. Keys made by :class:`SigningKey` never have a torsion
component.

Every ledger signature covers :func:`sign_bytes`: a version tag, a
:class:`Domain`, the chain id and a 32-byte object hash, so a signature
cannot be replayed on another network or as another kind of message.
Signing uses ``cryptography`` (deterministic RFC 8032 signatures: the same
bytes libsodium makes); verification uses PyNaCl (libsodium), which is
faster and releases the GIL, so :class:`Verifier` spreads batches over
threads.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.encoding import encode
from ledger.errors import SchemaError, SignatureError

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
SEED_SIZE: Final = 32
HASH_SIZE: Final = 32
MAX_CHAIN_ID_LEN: Final = 64
SIGN_TAG: Final = "dgledger/v1"

# Curve25519 field prime, Edwards d, and the prime order of the base point.
P: Final = 2**255 - 19
D: Final = -121665 * pow(121666, -1, P) % P
L: Final = 2**252 + 27742317777372353535851937790883648493

_Y_MASK: Final = (1 << 255) - 1
_SIGN_BIT: Final = 1 << 255


def _non_canonical_encodings() -> frozenset[bytes]:
    """Every 32-byte string RFC 8032 decoding refuses for its encoding alone."""
    found = set()
    for y in range(P, 1 << 255):  # y >= p: the 19 values p .. 2**255 - 1, either sign
        found.add(y.to_bytes(32, "little"))
        found.add((y | _SIGN_BIT).to_bytes(32, "little"))
    for y in (1, P - 1):  # x = 0 with the sign bit set
        found.add((y | _SIGN_BIT).to_bytes(32, "little"))
    return frozenset(found)


_NON_CANONICAL: Final = _non_canonical_encodings()

# The canonical encodings of the 8 points of order dividing 8 (the torsion
# subgroup, cyclic of order 8). The identity is (0, 1) and (0, -1) has order 2.
# Order 4: 2P = (0, -1) forces y = 0, x = ±sqrt(-1). Order 8: 2P = (±sqrt(-1), 0)
# forces x**2 = -y**2, and with the curve equation d*y**4 + 2*y**2 - 1 = 0; of
# its two roots y**2 only one is a square, giving y = ±y8 and x = ±sqrt(-y8**2).
# The tests rebuild this set from that arithmetic and check [8]P = O for each.
_SMALL_ORDER: Final = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # order 1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    )
)


class Domain(StrEnum):
    """What a signature is for; part of every signed message."""

    TX = "tx"
    PROPOSAL = "proposal"
    VOTE = "vote"
    CHECKPOINT = "checkpoint"
    REQUEST = "request"
    PEER = "peer"
    EVIDENCE = "evidence"


def sign_bytes(domain: Domain, chain_id: str, object_hash: bytes) -> bytes:
    """The exact bytes a ledger signature covers."""
    if not isinstance(domain, Domain):
        raise SchemaError(f"not a signature domain: {domain!r}", field="domain")
    if type(chain_id) is not str or not 0 < len(chain_id) <= MAX_CHAIN_ID_LEN:
        raise SchemaError(f"must be a string of 1 to {MAX_CHAIN_ID_LEN} characters", field="chain")
    if type(object_hash) is not bytes or len(object_hash) != HASH_SIZE:
        raise SchemaError(f"must be {HASH_SIZE} bytes", field="object_hash")
    try:
        chain_id.encode("utf-8")
    except UnicodeEncodeError as e:  # lone surrogates have no UTF-8 form
        raise SchemaError("must be valid Unicode text", field="chain") from e
    return encode([SIGN_TAG, domain.value, chain_id, object_hash])


def _on_curve(y: int) -> bool:
    """Whether some x puts (x, y) on the curve: -x^2 + y^2 = 1 + d x^2 y^2."""
    yy = y * y % P
    u = (yy - 1) % P
    # d*y^2 + 1 is never 0: -1/d is not a square mod p.
    x2 = u * pow((D * yy + 1) % P, -1, P) % P
    # Euler's criterion: x2 has a square root iff it is 0 or x2^((p-1)/2) = 1.
    return x2 == 0 or pow(x2, (P - 1) // 2, P) == 1


def _point_problem(encoding: bytes) -> str | None:
    """Why a 32-byte point encoding breaks rules 3-4, or None."""
    if encoding in _NON_CANONICAL:
        return "non-canonical point encoding"
    if encoding in _SMALL_ORDER:
        return "point of small order"
    return None


@lru_cache(maxsize=1 << 14)
def _public_key_problem(raw: bytes) -> str | None:
    """Why a 32-byte public key breaks rules 3-5, or None (cached: keys are few)."""
    problem = _point_problem(raw)
    if problem is not None:
        return f"public key: {problem}"
    if not _on_curve(int.from_bytes(raw, "little") & _Y_MASK):
        return "public key: not a point on the curve"
    return None


def _problem(public: bytes, message: bytes, signature: bytes) -> str | None:
    """Why ``signature`` fails the rule for ``public`` and ``message``, or None."""
    if type(public) is not bytes or type(message) is not bytes or type(signature) is not bytes:
        return "public key, message and signature must be bytes"
    if len(public) != PUBLIC_KEY_SIZE:
        return f"public key must be {PUBLIC_KEY_SIZE} bytes, not {len(public)}"
    if len(signature) != SIGNATURE_SIZE:
        return f"signature must be {SIGNATURE_SIZE} bytes, not {len(signature)}"
    if int.from_bytes(signature[32:], "little") >= L:
        return "signature scalar S is not below the group order"
    problem = _public_key_problem(public)
    if problem is not None:
        return problem
    problem = _point_problem(signature[:32])
    if problem is not None:
        return f"signature R: {problem}"
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
    except nacl.exceptions.BadSignatureError:
        return "signature does not verify"
    return None


def check_signature(public_raw: bytes, message: bytes, signature: bytes) -> None:
    """Apply the verification rule to raw bytes; raise :class:`SignatureError` if it fails."""
    problem = _problem(public_raw, message, signature)
    if problem is not None:
        raise SignatureError(problem)


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key that passes rules 1 and 3-5."""

    raw: bytes
    _key_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if type(self.raw) is not bytes or len(self.raw) != PUBLIC_KEY_SIZE:
            raise SchemaError(f"must be {PUBLIC_KEY_SIZE} bytes", field="public_key")
        problem = _public_key_problem(self.raw)
        if problem is not None:
            raise SignatureError(problem, field="public_key")
        object.__setattr__(self, "_key_id", hashlib.sha256(self.raw).hexdigest()[:40])

    @property
    def key_id(self) -> str:
        """First 40 hex characters (160 bits) of SHA-256 of the key."""
        return self._key_id

    def verify(self, domain: Domain, chain_id: str, object_hash: bytes, signature: bytes) -> None:
        """Check a ledger signature by this key; raise :class:`SignatureError` if bad."""
        check_signature(self.raw, sign_bytes(domain, chain_id, object_hash), signature)

    def hex(self) -> str:
        """The key as 64 lowercase hex characters."""
        return self.raw.hex()

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        """Parse exactly 64 lowercase hex characters (the form :meth:`hex` writes)."""
        if (
            type(text) is not str
            or len(text) != 2 * PUBLIC_KEY_SIZE
            or text.strip("0123456789abcdef")
        ):
            raise SchemaError("must be 64 lowercase hex characters", field="public_key")
        return cls(bytes.fromhex(text))


class SigningKey:
    """An Ed25519 private key; signs ledger messages. Never shows its secret."""

    __slots__ = ("_private", "_public")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        if not isinstance(private, Ed25519PrivateKey):
            raise SchemaError("not an Ed25519 private key", field="private_key")
        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._public = PublicKey(raw)

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key for a 32-byte RFC 8032 seed."""
        if type(seed) is not bytes or len(seed) != SEED_SIZE:
            raise SchemaError(f"must be {SEED_SIZE} bytes", field="seed")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh random key: the one place randomness enters (node and CLI code only)."""
        return cls.from_seed(secrets.token_bytes(SEED_SIZE))

    @property
    def public(self) -> PublicKey:
        """The matching public key."""
        return self._public

    def private_key(self) -> Ed25519PrivateKey:
        """The underlying ``cryptography`` key, for writing key files only."""
        return self._private

    def sign(self, domain: Domain, chain_id: str, object_hash: bytes) -> bytes:
        """Sign ``sign_bytes(domain, chain_id, object_hash)``."""
        return self._private.sign(sign_bytes(domain, chain_id, object_hash))

    def sign_raw(self, message: bytes) -> bytes:
        """Sign arbitrary bytes (64-byte RFC 8032 signature)."""
        if type(message) is not bytes:
            raise SchemaError("must be bytes", field="message")
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self._public.key_id!r})"


Item = tuple[bytes, bytes, bytes]


def _verify_chunk(items: Sequence[Item]) -> list[bool]:
    """Rule verdicts for a run of items (runs in a worker thread)."""
    return [_problem(pub, msg, sig) is None for pub, msg, sig in items]


class Verifier:
    """Batch verification under the rule, with a cache of successes and a thread pool.

    Results are always those of :func:`check_signature`. Only successes are
    cached (a failure is cheap to find again and must never be remembered as a
    success). Safe to share between threads; :meth:`close` may be called at
    any time.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        cache_size: int = 100_000,
        min_parallel: int = 64,
    ) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if workers < 1 or cache_size < 0 or min_parallel < 1:
            raise SchemaError("workers and min_parallel must be >= 1, cache_size >= 0")
        self.workers = workers
        self.cache_size = cache_size
        self.min_parallel = min_parallel
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.verified = 0
        """Signatures checked under the rule so far (answers from the cache not counted)."""

    @staticmethod
    def cache_key(item: Item) -> bytes | None:
        """SHA-256 of pub || msg || sig, or None when the item cannot verify.

        The fixed sizes of a key and a signature make the concatenation
        unambiguous; items of other sizes or types are never looked up.
        """
        pub, msg, sig = item
        if (
            type(pub) is not bytes
            or type(msg) is not bytes
            or type(sig) is not bytes
            or len(pub) != PUBLIC_KEY_SIZE
            or len(sig) != SIGNATURE_SIZE
        ):
            return None
        return hashlib.sha256(pub + msg + sig).digest()

    def _hits(self, keys: Sequence[bytes | None]) -> list[bool]:
        """Which keys the cache holds (marking them recently used)."""
        if not self.cache_size:
            return [False] * len(keys)
        hits = []
        with self._lock:
            for key in keys:
                if key is not None and key in self._cache:
                    self._cache.move_to_end(key)
                    hits.append(True)
                else:
                    hits.append(False)
        return hits

    def _remember(self, keys: Sequence[bytes]) -> None:
        if not self.cache_size or not keys:
            return
        with self._lock:
            for key in keys:
                self._cache[key] = None
                self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def vouch(self, keys: Iterable[bytes]) -> None:
        """Remember triples, by :meth:`cache_key`, that passed the rule elsewhere.

        Only for verdicts this same program reached (a worker process that
        ran :meth:`verify_many` on triples it was handed, as
        :mod:`node.pipeline` does): what is vouched for is never verified again.
        """
        self._remember([key for key in keys if type(key) is bytes and len(key) == 32])

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="verify")
            return self._pool

    @property
    def cached(self) -> int:
        """How many verified triples the cache holds now."""
        with self._lock:
            return len(self._cache)

    def verify_one(self, pub: bytes, message: bytes, sig: bytes) -> bool:
        """Whether one signature passes the rule."""
        return self.verify_many([(pub, message, sig)])[0]

    def verify_many(self, items: Sequence[Item]) -> list[bool]:
        """Verdicts for (public key, message, signature) triples, in order."""
        results = [False] * len(items)
        keys = [self.cache_key(item) for item in items]
        todo = []
        for i, hit in enumerate(self._hits(keys)):
            if hit:
                results[i] = True
            else:
                todo.append(i)
        pending = [items[i] for i in todo]
        with self._lock:
            self.verified += len(pending)
        if len(pending) >= self.min_parallel and self.workers > 1:
            # A few chunks per worker amortise the hand-off and still balance the load.
            size = max(16, math.ceil(len(pending) / (self.workers * 4)))
            chunks = [pending[j : j + size] for j in range(0, len(pending), size)]
            try:
                parts = list(self._executor().map(_verify_chunk, chunks))
            except RuntimeError:  # pool shut down under us (close() or interpreter exit)
                parts = [_verify_chunk(pending)]
            verdicts = [v for part in parts for v in part]
        else:
            verdicts = _verify_chunk(pending)
        good = []
        for i, ok in zip(todo, verdicts, strict=True):
            results[i] = ok
            key = keys[i]
            if ok and key is not None:
                good.append(key)
        self._remember(good)
        return results

    def close(self) -> None:
        """Stop the worker threads; a later large batch starts a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
