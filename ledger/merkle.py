"""RFC 9162 Merkle tree math: hashes, tree heads and proof verification.

The transaction log and every block's ``txs_root`` are Merkle Tree Hashes as
RFC 9162 (Certificate Transparency v2), section 2.1, defines them over
SHA-256, so any RFC 9162 (or RFC 6962) implementation checks our proofs:

* ``leaf_hash(d) = SHA-256(0x00 || d)``;
* ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
* the root of the empty tree is ``SHA-256("")`` (:data:`EMPTY_ROOT`);
* a tree of ``n > 1`` leaves splits at ``k``, the largest power of two
  smaller than ``n``: ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))``.

:func:`verify_inclusion` and :func:`verify_consistency` follow the
verification algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2, with the
expected proof length checked first so that a failure says what is wrong.
They return ``None`` or raise :class:`~ledger.errors.ProofError`.

A proof binds a leaf (or an old root) to a root *for the stated size*; the
size itself is bound to the root by whoever signs the pair (here, the block
header's ``log_size`` and ``log_root``). Two sizes whose proofs have the same
shape, for instance index 0 in trees of 3 and of 4 leaves, accept the same
proof, as in every RFC 9162 verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from ledger.errors import ProofError

HASH_SIZE: Final = 32
LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return _sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly smaller than ``size`` (``size >= 2``)."""
    return 1 << ((size - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (RFC 9162 2.1.1) of a list of leaf hashes."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # Pairing left to right level by level and carrying an unpaired last node
    # up unchanged builds exactly the tree of the recursive definition, in
    # O(n) hashing and without recursion.
    level = list(leaf_hashes)
    sha = _sha256
    while len(level) > 1:
        paired = [
            sha(NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) & 1:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size``."""
    # Below the level where the paths to ``index`` and to the last leaf part,
    # every level contributes a sibling; above it, only levels where the path
    # turns right (a set bit of the remaining index) do.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """Number of hashes in the consistency proof between sizes ``0 < old < new``."""
    # The proof is the inclusion path, in the new tree, of the last perfect
    # subtree of the old tree, preceded by that subtree's hash unless it is the
    # whole old tree (old_size a power of two).
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    length = inclusion_proof_length(index, ((new_size - 1) >> level) + 1)
    return length if index == 0 else length + 1


def _check_hash(value: object, name: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        size = f"{len(value)} bytes" if isinstance(value, bytes) else type(value).__name__
        raise ProofError(f"expected a {HASH_SIZE}-byte hash, got {size}", field=name)
    return value


def _check_count(value: object, name: str) -> int:
    if type(value) is not int or value < 0:
        raise ProofError(f"expected a non-negative integer, got {value!r}", field=name)
    return value


def _check_proof(proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(f"{len(proof)} hashes, expected {expected}", field="proof")
    for i, h in enumerate(proof):
        _check_hash(h, f"proof[{i}]")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``."""
    _check_hash(leaf_hash, "leaf_hash")
    _check_hash(root, "root")
    _check_count(index, "index")
    _check_count(size, "size")
    if size == 0:
        raise ProofError("the empty tree has no leaves", field="size")
    if index >= size:
        raise ProofError(f"index {index} is not below the tree size {size}", field="index")
    _check_proof(proof, inclusion_proof_length(index, size))
    # RFC 9162 2.1.3.2: fn walks up from the leaf, sn from the last leaf. With
    # the length checked above, its own length checks (sn) cannot fail; they
    # stay as the RFC writes them.
    fn = index
    sn = size - 1
    r = leaf_hash
    sha = _sha256
    for p in proof:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root", field="proof")
        if fn & 1 or fn == sn:
            r = sha(NODE_PREFIX + p + r).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            r = sha(NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root", field="proof")
    if r != root:
        raise ProofError("proof does not lead to the root", field="root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``."""
    _check_count(old_size, "old_size")
    _check_count(new_size, "new_size")
    _check_hash(old_root, "old_root")
    _check_hash(new_root, "new_root")
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is above the new size {new_size}", field="old_size")
    if old_size in (0, new_size):
        # Nothing to prove: the proof is empty and the roots are what the
        # sizes alone determine.
        _check_proof(proof, 0)
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("not the root of the empty tree", field="old_root")
        if old_size == new_size and old_root != new_root:
            raise ProofError("roots differ for the same size", field="new_root")
        return
    _check_proof(proof, consistency_proof_length(old_size, new_size))
    # RFC 9162 2.1.4.2 (its sn checks, as above, are implied by the length).
    path = list(proof)
    if (old_size & (old_size - 1)) == 0:
        path.insert(0, old_root)
    fn = old_size - 1
    sn = new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    sha = _sha256
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root", field="proof")
        if fn & 1 or fn == sn:
            fr = sha(NODE_PREFIX + c + fr).digest()
            sr = sha(NODE_PREFIX + c + sr).digest()
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = sha(NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root", field="proof")
    if fr != old_root:
        raise ProofError("proof does not lead to the old root", field="old_root")
    if sr != new_root:
        raise ProofError("proof does not lead to the new root", field="new_root")
