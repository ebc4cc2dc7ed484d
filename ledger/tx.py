"""Transactions: a canonical envelope and the signatures over it.

Wire form (canonical MessagePack)::

    {"env": <bytes: canonical encoding of the envelope>,
     "sigs": [[<public key, 32 bytes>, <signature, 64 bytes>], ...]}

    envelope = {"chain": str, "type": str, "signer": key id, "nonce": int,
                "body": map, "expires": height}

The envelope travels as its own canonical bytes, apart from the signatures,
so the transaction id is simply ``SHA-256(env)``: independent of who signed
and how many did. Each signature covers ``sign_bytes(TX, chain, id)``.
Signatures are sorted by public key with no key twice; the envelope's
``signer`` must be the key id of one of them. Governance transactions carry
several signatures; the contracts decide whose are needed.

:meth:`Transaction.decode` reads the wire form and the envelope as msgspec
Structs (``_WireForm``, ``_EnvelopeForm``), so their field checks run in C
as the bytes are decoded and proven canonical, each byte once. When the
forms decline, the same checks run field by field on the decoded value
(``_from_value``) and word the refusal; the public keys, the order of the
signatures and the signer are checked by the same code on either path.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from ledger.crypto import Domain, PublicKey, SigningKey, Verifier, sign_bytes
from ledger.encoding import INT_MAX, decode, encode, fast_decode_as, sha256
from ledger.errors import LedgerError, SchemaError, SignatureError
from ledger.schema import as_map, get_bytes, get_int, get_list, get_str

MAX_TX_SIZE: Final = 256 * 1024
MAX_SIGNATURES: Final = 64
_ENV_KEYS: Final = frozenset({"chain", "type", "signer", "nonce", "body", "expires"})
_WIRE_KEYS: Final = frozenset({"env", "sigs"})


# -- typed forms: the same checks as _from_value, made in C --------------------

_Positive = Annotated[int, msgspec.Meta(ge=1, le=INT_MAX)]


class _EnvelopeForm(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The envelope as :func:`_check_envelope` accepts it, fields in canonical order."""

    body: dict[str, Any]
    chain: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    expires: _Positive
    nonce: _Positive
    signer: Annotated[str, msgspec.Meta(min_length=40, max_length=40)]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class _WireForm(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The wire form as :meth:`Transaction._from_value` accepts it, before the key checks."""

    env: bytes
    sigs: Annotated[
        list[
            # The public key's checks are PublicKey's, on either path (_signature).
            tuple[bytes, Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]]
        ],
        msgspec.Meta(max_length=MAX_SIGNATURES),
    ]


_ENVELOPE_FORM: Final = msgspec.msgpack.Decoder(_EnvelopeForm)
_WIRE_FORM: Final = msgspec.msgpack.Decoder(_WireForm)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a transaction says, before anyone signs it."""

    chain: str
    type: str
    signer: str
    nonce: int
    body: Mapping[str, Any]
    expires: int

    def __post_init__(self) -> None:
        if type(self.body) is not dict:
            raise SchemaError("must be a map", field="body")
        _check_envelope(self.to_value())

    @classmethod
    def _from_form(cls, form: _EnvelopeForm) -> Envelope:
        """The envelope of a form, whose type checks what ``__post_init__`` checks."""
        envelope = object.__new__(cls)
        setattr_ = object.__setattr__  # frozen: how dataclasses' own __init__ sets fields
        setattr_(envelope, "chain", form.chain)
        setattr_(envelope, "type", form.type)
        setattr_(envelope, "signer", form.signer)
        setattr_(envelope, "nonce", form.nonce)
        setattr_(envelope, "body", form.body)
        setattr_(envelope, "expires", form.expires)
        return envelope

    def to_value(self) -> dict[str, Any]:
        """The envelope as a plain map."""
        return {
            "chain": self.chain,
            "type": self.type,
            "signer": self.signer,
            "nonce": self.nonce,
            "body": dict(self.body),
            "expires": self.expires,
        }

    def encode(self) -> bytes:
        """Canonical bytes of the envelope."""
        return encode(self.to_value())


def _check_envelope(m: Mapping[str, Any]) -> None:
    as_map(m, "env", _ENV_KEYS)
    get_str(m, "chain", max_len=64)
    get_str(m, "type", max_len=64)
    get_str(m, "signer", min_len=40, max_len=40)
    get_int(m, "nonce", lo=1)
    get_int(m, "expires", lo=1)
    if type(m["body"]) is not dict:
        raise SchemaError("must be a map", field="body")


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature over a transaction id, with the key that made it."""

    public: PublicKey
    signature: bytes


# Signers are few and keys immutable: one checked key object per key.
_public_key: Final = functools.lru_cache(maxsize=1 << 14)(PublicKey)


def _signature(i: int, pub: bytes, sig: bytes) -> Signature:
    """The ``i``-th signature of a wire form, its public key checked."""
    try:
        return Signature(_public_key(pub), sig)
    except LedgerError as e:
        raise SchemaError(f"bad public key: {e.message}", field=f"sigs[{i}]") from e


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction; build with :meth:`create` or :meth:`decode`."""

    envelope: Envelope
    env_bytes: bytes
    signatures: tuple[Signature, ...]
    id: bytes
    wire: bytes

    @property
    def chain(self) -> str:
        """Chain id the transaction is bound to."""
        return self.envelope.chain

    @property
    def type(self) -> str:
        """Transaction type, e.g. ``declaration.submit``."""
        return self.envelope.type

    @property
    def signer(self) -> str:
        """Key id of the submitting key."""
        return self.envelope.signer

    @property
    def nonce(self) -> int:
        """Per-signer sequence number."""
        return self.envelope.nonce

    @property
    def body(self) -> Mapping[str, Any]:
        """Type-specific content."""
        return self.envelope.body

    @property
    def expires(self) -> int:
        """Last block height at which the transaction may be included."""
        return self.envelope.expires

    @property
    def signer_keys(self) -> tuple[str, ...]:
        """Key ids of every signature, in wire order."""
        return tuple(s.public.key_id for s in self.signatures)

    @classmethod
    def create(cls, envelope: Envelope, keys: Sequence[SigningKey]) -> Transaction:
        """Sign ``envelope`` with every key in ``keys``."""
        env_bytes = envelope.encode()
        tx_id = sha256(env_bytes)
        sigs = sorted(
            (Signature(k.public, k.sign(Domain.TX, envelope.chain, tx_id)) for k in keys),
            key=lambda s: s.public.raw,
        )
        return cls._assemble(envelope, env_bytes, tuple(sigs))

    @classmethod
    def from_parts(cls, env_bytes: bytes, signatures: Mapping[bytes, bytes]) -> Transaction:
        """Envelope bytes and signatures by raw public key, checked as :meth:`decode` checks.

        For signatures gathered apart (several parties signing one governance
        action); signatures are checked by :meth:`verify`.
        """
        sigs = [[pub, sig] for pub, sig in sorted(signatures.items())]
        return cls._from_value({"env": env_bytes, "sigs": sigs}, None)

    def cosign(self, key: SigningKey) -> Transaction:
        """This transaction with ``key``'s signature added."""
        if key.public.raw in {s.public.raw for s in self.signatures}:
            raise SchemaError(f"key {key.public.key_id} has signed already", field="sigs")
        added = Signature(key.public, key.sign(Domain.TX, self.chain, self.id))
        sigs = sorted((*self.signatures, added), key=lambda s: s.public.raw)
        return self._assemble(self.envelope, self.env_bytes, tuple(sigs))

    @classmethod
    def _assemble(
        cls,
        envelope: Envelope,
        env_bytes: bytes,
        sigs: tuple[Signature, ...],
        wire: bytes | None = None,
    ) -> Transaction:
        if not sigs:
            raise SchemaError("a transaction needs at least one signature", field="sigs")
        if len(sigs) > MAX_SIGNATURES:
            raise SchemaError(f"at most {MAX_SIGNATURES} signatures", field="sigs")
        raws = [s.public.raw for s in sigs]
        if any(a >= b for a, b in itertools.pairwise(raws)):
            raise SchemaError("signatures must be sorted by key with no key twice", field="sigs")
        if envelope.signer not in {s.public.key_id for s in sigs}:
            raise SchemaError("the signer's key has not signed", field="signer")
        if wire is None:
            wire = encode({"env": env_bytes, "sigs": [[s.public.raw, s.signature] for s in sigs]})
        if len(wire) > MAX_TX_SIZE:
            raise SchemaError(f"transaction over {MAX_TX_SIZE} bytes", field="env")
        return cls(envelope, env_bytes, sigs, sha256(env_bytes), wire)

    @classmethod
    def decode(cls, data: bytes) -> Transaction:
        """Decode and validate the wire form (signatures are checked by :meth:`verify`)."""
        tx = cls._decode_typed(data)
        if tx is not None:
            return tx
        value = decode(data, max_size=MAX_TX_SIZE)
        # ``data`` decoded, so it is the canonical encoding of ``value``: the
        # wire bytes as they are, with no need to encode them again.
        return cls._from_value(value, bytes(data))

    @classmethod
    def _decode_typed(cls, data: bytes) -> Transaction | None:
        """The transaction through the typed forms, or None when they decline.

        Once the forms have accepted the bytes, every check ``_from_value``
        makes before the public keys has passed, so what remains runs the
        same code and raises the same errors.
        """
        wire = fast_decode_as(_WIRE_FORM, data, max_size=MAX_TX_SIZE)
        if wire is None:
            return None
        form = fast_decode_as(
            _ENVELOPE_FORM, wire.env, max_size=MAX_TX_SIZE, loose=lambda f: f.body
        )
        if form is None:
            return None
        envelope = Envelope._from_form(form)
        sigs = tuple(_signature(i, pub, sig) for i, (pub, sig) in enumerate(wire.sigs))
        return cls._assemble(envelope, wire.env, sigs, data)

    @classmethod
    def from_value(cls, value: Any) -> Transaction:
        """Build from an already decoded wire value."""
        return cls._from_value(value, None)

    @classmethod
    def _from_value(cls, value: Any, wire: bytes | None) -> Transaction:
        m = as_map(value, "tx", _WIRE_KEYS)
        env_bytes = get_bytes(m, "env", max_len=MAX_TX_SIZE)
        env_value = decode(env_bytes, max_size=MAX_TX_SIZE)
        _check_envelope(as_map(env_value, "env"))
        envelope = Envelope(**env_value)
        sigs = []
        for i, item in enumerate(get_list(m, "sigs", max_len=MAX_SIGNATURES)):
            if type(item) is not list or len(item) != 2:
                raise SchemaError("must be [public key, signature]", field=f"sigs[{i}]")
            pub, sig = item
            if type(pub) is not bytes or type(sig) is not bytes or len(sig) != 64:
                raise SchemaError("must be [32 bytes, 64 bytes]", field=f"sigs[{i}]")
            sigs.append(_signature(i, pub, sig))
        return cls._assemble(envelope, env_bytes, tuple(sigs), wire)

    def signed_message(self) -> bytes:
        """The exact bytes every signature of this transaction covers."""
        return sign_bytes(Domain.TX, self.chain, self.id)

    def verify_items(self) -> list[tuple[bytes, bytes, bytes]]:
        """(public key, message, signature) triples, for batch verification."""
        message = self.signed_message()
        return [(s.public.raw, message, s.signature) for s in self.signatures]

    def verify(self, verifier: Verifier) -> None:
        """Check every signature; raise :class:`SignatureError` naming the first bad one."""
        results = verifier.verify_many(self.verify_items())
        for i, ok in enumerate(results):
            if not ok:
                raise SignatureError("signature does not verify", field=f"sigs[{i}]")
