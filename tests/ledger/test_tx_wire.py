"""Transaction wire bytes: decoding keeps them as they came, and they are canonical."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.crypto import SigningKey
from ledger.encoding import decode, encode, sha256
from ledger.errors import SchemaError
from ledger.tx import Envelope, Transaction

KEYS = sorted(
    (SigningKey.from_seed(sha256(f"wire-{i}".encode())) for i in range(3)),
    key=lambda k: k.public.raw,
)


def test_decoded_wire_is_the_input_and_the_canonical_encoding() -> None:
    body = {"text": "é" * 40, "items": [{"n": i, "raw": bytes([i]) * 33} for i in range(5)]}
    for signers in (KEYS[:1], KEYS):
        env = Envelope("dg-ledger-test", "test.note", signers[0].public.key_id, 9, body, 100)
        tx = Transaction.create(env, signers)
        again = Transaction.decode(tx.wire)
        assert again.wire == tx.wire
        assert again == Transaction.from_value(decode(tx.wire))
        assert again.wire == encode(
            {
                "env": again.env_bytes,
                "sigs": [[s.public.raw, s.signature] for s in again.signatures],
            }
        )
        as_bytearray: Any = bytearray(tx.wire)
        assert Transaction.decode(as_bytearray).wire == tx.wire


def test_signatures_gathered_apart_make_the_transaction_all_sign_at_once() -> None:
    env = Envelope("dg-ledger-test", "governance", KEYS[1].public.key_id, 3, {"n": 1}, 100)
    together = Transaction.create(env, KEYS)
    apart = Transaction.create(env, [KEYS[1]]).cosign(KEYS[2]).cosign(KEYS[0])
    assert apart.wire == together.wire
    parts = {s.public.raw: s.signature for s in apart.signatures}
    assert Transaction.from_parts(apart.env_bytes, parts).wire == together.wire
    with pytest.raises(SchemaError, match="signed already"):
        apart.cosign(KEYS[0])
    # Without the signer's own signature it is no transaction.
    del parts[KEYS[1].public.raw]
    with pytest.raises(SchemaError, match="signer"):
        Transaction.from_parts(apart.env_bytes, parts)
