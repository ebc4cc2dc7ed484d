"""RFC 9162 Merkle math: published vectors, the RFC's recursive definitions, tampering."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof_length,
    inclusion_proof_length,
    leaf_hash,
    node_hash,
    root_of,
    split_point,
    verify_consistency,
    verify_inclusion,
)
from tests.ledger.merkle_reference import (
    Tree,
    consistency_accepted,
    consistency_intervals,
    inclusion_accepted,
    inclusion_intervals,
    largest_power_below,
    mth,
)


def _h(hexes: str) -> list[bytes]:
    return [bytes.fromhex(x) for x in hexes.split()]


# Known answers from github.com/transparency-dev/merkle (the Certificate
# Transparency reference vectors also used by certificate-transparency-go):
# leaves, subtree hashes and roots from testonly/constants.go (LeafInputs,
# NodeHashes, RootHashes); proofs from proof/verify_test.go and
# testonly/reference_test.go (that file numbers inclusion leaves from 1;
# indexes below are 0-based).
LEAVES = [
    bytes.fromhex(x)
    for x in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
NODES = [
    _h(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d "
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7 "
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7 "
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7 "
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b "
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658 "
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f "
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"
    ),
    _h(
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125 "
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e "
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a "
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
    ),
    _h(
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7 "
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
    ),
    _h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
ROOTS = [
    bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    *_h(
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d "
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125 "
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77 "
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7 "
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4 "
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef "
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c "
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    ),
]
N = NODES
INCLUSION_VECTORS = [  # (index, size, proof)
    (0, 1, []),
    (0, 2, [N[0][1]]),
    (1, 2, [N[0][0]]),
    (2, 3, [N[1][0]]),
    (1, 5, [N[0][0], N[1][1], N[0][4]]),
    (2, 5, [N[0][3], N[1][0], N[0][4]]),
    (0, 8, [N[0][1], N[1][1], N[2][1]]),
    (5, 8, [N[0][4], N[1][3], N[2][0]]),
]
CONSISTENCY_VECTORS = [  # (old_size, new_size, proof)
    (1, 1, []),
    (1, 8, [N[0][1], N[1][1], N[2][1]]),
    (6, 8, [N[1][2], N[1][3], N[2][0]]),
    (2, 5, [N[1][1], N[0][4]]),
    (6, 7, [N[1][2], N[0][6], N[2][0]]),
]
OTHER = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _flip(value: bytes, byte: int, bit: int) -> bytes:
    out = bytearray(value)
    out[byte] ^= 1 << bit
    return bytes(out)


def _rejects_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return True
    return False


def _rejects_consistency(old: int, new: int, r1: bytes, r2: bytes, proof: list[bytes]) -> bool:
    try:
        verify_consistency(old, new, r1, r2, proof)
    except ProofError:
        return True
    return False


# --- hashing and tree heads ---------------------------------------------------


def test_hashes_match_the_published_tree() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT == ROOTS[0]
    assert [leaf_hash(x) for x in LEAVES] == NODES[0]
    for level in range(1, 4):
        below = NODES[level - 1]
        pairs = [node_hash(below[i], below[i + 1]) for i in range(0, len(below), 2)]
        assert pairs == NODES[level]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert root_of([leaf_hash(x) for x in LEAVES[:size]]) == ROOTS[size]
    assert mth(LEAVES[:size]) == ROOTS[size]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_root_of_is_the_recursive_definition(leaves: list[bytes]) -> None:
    assert root_of([leaf_hash(x) for x in leaves]) == mth(leaves)


def test_split_point() -> None:
    for n in range(2, 1100):
        assert split_point(n) == largest_power_below(n)


def test_proof_lengths_match_the_definitions() -> None:
    for size in range(1, 131):
        for index in range(size):
            assert inclusion_proof_length(index, size) == len(inclusion_intervals(index, size))
        for old in range(1, size):
            assert consistency_proof_length(old, size) == len(consistency_intervals(old, size))


# --- published proofs -----------------------------------------------------------


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_vectors(index: int, size: int, proof: list[bytes]) -> None:
    tree = Tree(LEAVES)
    assert tree.inclusion_path(index, size) == proof
    leaf, root = NODES[0][index], ROOTS[size]
    verify_inclusion(leaf, index, size, proof, root)
    # The probes of transparency-dev's corruptInclusionProof, all of which must fail.
    probes = [
        (leaf, index - 1, size, proof, root),
        (leaf, index + 1, size, proof, root),
        (leaf, index ^ 2, size, proof, root),
        (leaf, index, size * 2, proof, root),
        (leaf, index, size // 2, proof, root),
        (OTHER, index, size, proof, root),
        (leaf, index, size, proof, EMPTY_ROOT),
        (leaf, index, size, proof, OTHER),
        (leaf, index, size, [*proof, root], root),
        (leaf, index, size, [root, *proof], root),
        (leaf, index, size, [*proof, b""], root),
    ]
    if proof:
        probes.append((leaf, index, size, proof[:-1], root))
    if len(proof) > 1:
        probes.append((leaf, index, size, [proof[0], OTHER, *proof[1:]], root))
    for probe in probes:
        assert _rejects_inclusion(*probe), probe
    # Every single bit of every hash.
    for i, p in enumerate(proof):
        for byte in range(32):
            for bit in range(8):
                altered = [*proof[:i], _flip(p, byte, bit), *proof[i + 1 :]]
                assert _rejects_inclusion(leaf, index, size, altered, root)
    for byte in range(32):
        for bit in range(8):
            assert _rejects_inclusion(_flip(leaf, byte, bit), index, size, proof, root)
            assert _rejects_inclusion(leaf, index, size, proof, _flip(root, byte, bit))


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY_VECTORS)
def test_consistency_vectors(old: int, new: int, proof: list[bytes]) -> None:
    tree = Tree(LEAVES)
    assert tree.consistency_path(old, new) == proof
    r1, r2 = ROOTS[old], ROOTS[new]
    verify_consistency(old, new, r1, r2, proof)
    if not proof:
        return
    # The probes of transparency-dev's corruptConsistencyProof, all of which must fail.
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, OTHER, r2, proof),
        (old, new, r1, OTHER, proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for probe in probes:
        assert _rejects_consistency(*probe), probe
    for i, p in enumerate(proof):
        for byte in range(32):
            for bit in range(8):
                altered = [*proof[:i], _flip(p, byte, bit), *proof[i + 1 :]]
                assert _rejects_consistency(old, new, r1, r2, altered)
    for byte in range(32):
        for bit in range(8):
            assert _rejects_consistency(old, new, _flip(r1, byte, bit), r2, proof)
            assert _rejects_consistency(old, new, r1, _flip(r2, byte, bit), proof)


def test_consistency_edge_cases() -> None:
    # Adapted from transparency-dev's TestVerifyConsistency; our rule also
    # requires the old root of an empty tree to be the empty root.
    r1, r2 = ROOTS[1], ROOTS[2]
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 1, EMPTY_ROOT, r1, [])
    verify_consistency(1, 1, r1, r1, [])
    bad = [
        (0, 0, EMPTY_ROOT, r2, [], "new_root"),
        (0, 1, r1, r2, [], "old_root"),
        (1, 1, r1, r2, [], "new_root"),
        (1, 0, r1, r2, [], "old_size"),
        (2, 1, r2, r1, [], "old_size"),
        (1, 2, r1, r2, [], "proof"),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT], "proof"),
        (0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT], "proof"),
        (1, 1, r1, r1, [EMPTY_ROOT], "proof"),
        (-1, 1, r1, r1, [], "old_size"),
        (1, 2, r1[:31], r2, [NODES[0][1]], "old_root"),
        (1, 2, r1, r2 + b"\x00", [NODES[0][1]], "new_root"),
        (1, 2, r1, r2, [NODES[0][1][:31]], "proof[0]"),
    ]
    for old, new, a, b, proof, field in bad:
        with pytest.raises(ProofError) as info:
            verify_consistency(old, new, a, b, proof)
        assert info.value.field == field, (old, new, info.value)
    verify_consistency(1, 2, r1, r2, [NODES[0][1]])


def test_inclusion_edge_cases() -> None:
    leaf = leaf_hash(b"data")
    verify_inclusion(leaf, 0, 1, [], leaf)
    bad: list[tuple[object, object, object, Sequence[object], object, str]] = [
        (leaf, 0, 0, [], EMPTY_ROOT, "size"),
        (leaf, 1, 0, [], EMPTY_ROOT, "size"),
        (leaf, 1, 1, [], leaf, "index"),
        (leaf, 2, 1, [], leaf, "index"),
        (leaf, -1, 1, [], leaf, "index"),
        (leaf, True, 2, [OTHER], leaf, "index"),
        (leaf, 0, 1.0, [], leaf, "size"),
        (b"", 0, 1, [], leaf, "leaf_hash"),
        (leaf, 0, 1, [], b"", "root"),
        ("ab" * 16, 0, 1, [], leaf, "leaf_hash"),
        (leaf, 0, 1, [], OTHER, "root"),
        (leaf, 0, 1, [OTHER], leaf, "proof"),
        (leaf, 0, 2, [], leaf, "proof"),
        (leaf, 0, 2, [b"x" * 31], leaf, "proof[0]"),
        (leaf, 0, 2, [OTHER], leaf, "root"),
    ]
    for a, index, size, proof, root, field in bad:
        with pytest.raises(ProofError) as info:
            verify_inclusion(a, index, size, proof, root)  # type: ignore[arg-type]
        assert info.value.field == field, (index, size, info.value)
        assert str(info.value).startswith(f"{field}: ")


def test_error_messages_say_what_is_wrong() -> None:
    with pytest.raises(ProofError, match=r"proof: 2 hashes, expected 3"):
        verify_inclusion(NODES[0][0], 0, 8, NODES[0][:2], ROOTS[8])
    with pytest.raises(ProofError, match=r"index 8 is not below the tree size 8"):
        verify_inclusion(NODES[0][0], 8, 8, [], ROOTS[8])
    with pytest.raises(ProofError, match=r"does not lead to the old root"):
        verify_consistency(6, 8, ROOTS[5], ROOTS[8], CONSISTENCY_VECTORS[2][2])


# --- properties over random trees ------------------------------------------------

distinct_leaves = st.integers(min_value=1, max_value=300).flatmap(
    lambda n: st.lists(st.binary(max_size=6), min_size=n, max_size=n).map(
        # Distinct leaves, so a subtree hash never equals its sibling's and a
        # swapped pair cannot verify by accident.
        lambda xs: [i.to_bytes(2, "big") + x for i, x in enumerate(xs)]
    )
)


def _size_alterations(size: int) -> set[int]:
    return {size - 1, size + 1, size * 2, size // 2} | {
        size ^ (1 << b) for b in range(size.bit_length() + 1)
    }


@settings(max_examples=40, deadline=None)
@given(distinct_leaves, st.data())
def test_inclusion_proofs_verify_and_tampering_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(leaves)
    size = data.draw(st.integers(min_value=1, max_value=len(leaves)), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    leaf, root = tree.hash(index, index + 1), tree.root(size)
    proof = tree.inclusion_path(index, size)
    verify_inclusion(leaf, index, size, proof, root)
    # Any other leaf index of the same tree: a different path, never accepted.
    for other in range(size + 2):
        if other != index:
            assert _rejects_inclusion(leaf, other, size, proof, root)
    # Another size may share the path's shape (the size is bound to the root
    # by the signed header, not by the proof): accepted exactly when the RFC's
    # definition says so.
    for other in _size_alterations(size):
        if other >= 0:
            expected = inclusion_accepted(leaf, index, other, proof, root)
            assert _rejects_inclusion(leaf, index, other, proof, root) != expected
            if len(inclusion_intervals(index, other) if index < other else ()) != len(proof):
                assert not expected
    # Every byte of every hash, one bit each (which bit varies with the position).
    for i, p in enumerate(proof):
        for byte in range(32):
            altered = [*proof[:i], _flip(p, byte, (i + byte) % 8), *proof[i + 1 :]]
            assert _rejects_inclusion(leaf, index, size, altered, root)
    for byte in range(32):
        assert _rejects_inclusion(_flip(leaf, byte, byte % 8), index, size, proof, root)
        assert _rejects_inclusion(leaf, index, size, proof, _flip(root, byte, (byte + 3) % 8))
    assert _rejects_inclusion(leaf, index, size, [*proof, root], root)
    if proof:
        assert _rejects_inclusion(leaf, index, size, proof[:-1], root)
        assert _rejects_inclusion(leaf, index, size, proof[::-1], root) or len(proof) == 1


@settings(max_examples=40, deadline=None)
@given(distinct_leaves, st.data())
def test_consistency_proofs_verify_and_tampering_fails(
    leaves: list[bytes], data: st.DataObject
) -> None:
    tree = Tree(leaves)
    new = data.draw(st.integers(min_value=0, max_value=len(leaves)), label="new")
    old = data.draw(st.integers(min_value=0, max_value=new), label="old")
    r1, r2 = tree.root(old), tree.root(new)
    proof = tree.consistency_path(old, new)
    verify_consistency(old, new, r1, r2, proof)
    assert consistency_accepted(old, new, r1, r2, proof)
    # As for inclusion, another pair of sizes may share the proof's shape.
    for other_old in _size_alterations(old):
        if other_old >= 0:
            expected = consistency_accepted(other_old, new, r1, r2, proof)
            assert _rejects_consistency(other_old, new, r1, r2, proof) != expected
    for other_new in _size_alterations(new):
        if other_new >= 0:
            expected = consistency_accepted(old, other_new, r1, r2, proof)
            assert _rejects_consistency(old, other_new, r1, r2, proof) != expected
    for i, p in enumerate(proof):
        for byte in range(32):
            altered = [*proof[:i], _flip(p, byte, (i + byte) % 8), *proof[i + 1 :]]
            assert _rejects_consistency(old, new, r1, r2, altered)
    for byte in range(32):
        assert _rejects_consistency(old, new, _flip(r1, byte, byte % 8), r2, proof)
        if old > 0:  # from the empty tree every tree is an extension
            assert _rejects_consistency(old, new, r1, _flip(r2, byte, (byte + 5) % 8), proof)
    assert _rejects_consistency(old, new, r1, r2, [*proof, r2])
    if proof:
        assert _rejects_consistency(old, new, r1, r2, proof[:-1])
        assert _rejects_consistency(old, new, r1, r2, [proof[0], *proof])


def test_verifiers_agree_with_the_definitions_for_every_small_claim() -> None:
    # Every honest proof of a 12-leaf tree, checked under every pair of sizes
    # up to 14: accepted exactly when the RFC's definitions say it must be.
    tree = Tree([bytes([i]) for i in range(14)])
    accepted_elsewhere = 0
    for size in range(1, 13):
        root = tree.root(size)
        for index in range(size):
            leaf, proof = tree.hash(index, index + 1), tree.inclusion_path(index, size)
            for other in range(15):
                expected = inclusion_accepted(leaf, index, other, proof, root)
                assert _rejects_inclusion(leaf, index, other, proof, root) != expected
                accepted_elsewhere += expected and other != size
        for old in range(size + 1):
            r1, proof = tree.root(old), tree.consistency_path(old, size)
            for other_old in range(15):
                for other_new in range(15):
                    expected = consistency_accepted(other_old, other_new, r1, root, proof)
                    rejected = _rejects_consistency(other_old, other_new, r1, root, proof)
                    assert rejected != expected, (old, size, other_old, other_new)
    # The shared-shape cases exist (so the oracle is not trivially "same sizes").
    assert accepted_elsewhere > 0
