"""The pure verifier and the proof's decoder, against crafted and hostile input."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError, SchemaError
from ledger.smt_proof import EMPTY_ROOT, StateLeaf, StateProof, verify_state_proof
from tests.strategies import values as canonical_values


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# -- the verifier against crafted, malformed proofs -------------------------------------


def key_with_first_bit(value: int) -> bytes:
    return next(b"x%d" % i for i in range(100) if h(b"x%d" % i)[0] >> 7 == value)


def test_verifier_rejects_a_leaf_off_the_path() -> None:
    key = key_with_first_bit(0)
    stranger = key_with_first_bit(1)
    sibling = h(b"anything")
    leaf = StateLeaf(h(stranger), h(b"v"))
    # The hashes lead to this root, but the leaf's key hash starts with the other bit.
    root = h(b"\x01" + leaf.hash + sibling)
    with pytest.raises(ProofError, match="path"):
        verify_state_proof(root, key, None, StateProof((sibling,), leaf))


def test_verifier_rejects_an_empty_last_sibling() -> None:
    key = key_with_first_bit(0)
    leaf = StateLeaf(h(key), h(b"v"))
    root = h(b"\x01" + leaf.hash + EMPTY_ROOT)
    with pytest.raises(ProofError, match="empty"):
        verify_state_proof(root, key, b"v", StateProof((EMPTY_ROOT,), leaf))


def test_verifier_refuses_wrong_types() -> None:
    proof = StateProof((), None)
    cases: list[tuple[Any, Any, Any, Any]] = [
        (b"short", b"k", None, proof),
        ("x" * 32, b"k", None, proof),
        (EMPTY_ROOT, "k", None, proof),
        (EMPTY_ROOT, b"k", "v", proof),
        (EMPTY_ROOT, b"k", None, proof.to_value()),
    ]
    for root, key, value, bad in cases:
        with pytest.raises(ProofError):
            verify_state_proof(root, key, value, bad)


def test_constructor_validates() -> None:
    with pytest.raises(SchemaError):
        StateProof([bytes(32)], None)  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        StateProof((bytes(31),), None)
    with pytest.raises(SchemaError):
        StateProof((bytes(32),) * 257, None)
    with pytest.raises(SchemaError):
        StateProof((), {"key_hash": bytes(32), "value_hash": bytes(32)})  # type: ignore[arg-type]
    with pytest.raises(SchemaError):
        StateLeaf(bytes(32), b"")


hostile_hash = st.one_of(st.binary(min_size=30, max_size=34), canonical_values)
hostile_leaf = st.one_of(
    canonical_values,
    st.fixed_dictionaries({"key_hash": hostile_hash, "value_hash": hostile_hash}),
    st.dictionaries(st.sampled_from(["key_hash", "value_hash", "x"]), hostile_hash),
)
hostile_proofs = st.one_of(
    canonical_values,
    st.fixed_dictionaries(
        {
            "siblings": st.one_of(st.lists(hostile_hash, max_size=4), canonical_values),
            "leaf": hostile_leaf,
        }
    ),
    st.dictionaries(st.sampled_from(["siblings", "leaf", "extra"]), canonical_values),
)


@settings(max_examples=300, deadline=None)
@given(hostile_proofs)
def test_from_value_raises_only_ledger_errors(value: Any) -> None:
    try:
        proof = StateProof.from_value(value)
    except (SchemaError, ProofError):
        return
    assert proof.to_value() == value
    with pytest.raises(ProofError):
        verify_state_proof(h(b"some root"), b"k", None, proof)


def test_from_value_refuses_too_many_siblings() -> None:
    with pytest.raises(SchemaError):
        StateProof.from_value({"siblings": [bytes(32)] * 257, "leaf": None})
    assert (
        len(StateProof.from_value({"siblings": [b"\x01" * 32] * 256, "leaf": None}).siblings) == 256
    )
