"""State proofs: hashing rules of the state tree and the pure verifier.

This module is everything a client needs to check "key K has value V" or
"key K is absent" against the ``state_root`` of a block header it trusts.
It reads no store; :mod:`ledger.smt` builds the tree and the proofs.

Hashing (``H`` is SHA-256, ``||`` concatenation, all hashes 32 bytes)::

    key_hash   = H(key)                    the path: 256 bits, most significant bit first
    value_hash = H(value)                  values are non-empty byte strings
    EMPTY      = 32 zero bytes             the hash of a subtree with no leaf
    leaf       = H(0x00 || key_hash || value_hash)
    internal   = H(0x01 || left || right)

The tree over a set of pairs ``(key_hash, value_hash)`` with distinct key
hashes is defined for the subtree at depth ``d`` (the pairs whose key hashes
share one ``d``-bit prefix; depth 0 is the root, holding every pair):

* no pair: ``EMPTY``;
* exactly one pair: that pair's ``leaf`` hash, whatever ``d`` is (a leaf sits
  at the shallowest depth where it is alone, not at depth 256);
* two or more: ``internal`` of the subtrees at depth ``d + 1`` whose key hashes
  have bit ``d`` equal to 0 (``left``) and 1 (``right``). One side may be
  ``EMPTY`` when every pair has the same bit ``d``.

Bit ``i`` of a key hash is ``(key_hash[i // 8] >> (7 - i % 8)) & 1``. The
state root is the hash at depth 0; the empty state has root ``EMPTY``.

A proof for key hash ``k`` follows the path of ``k`` from the root down to
the first node that is not ``internal``. On the wire it is the canonical
encoding (:mod:`ledger.encoding`, MessagePack with sorted string keys and
hashes as binary) of the map::

    {"leaf": null | {"key_hash": 32 bytes, "value_hash": 32 bytes},
     "siblings": [s_0, ..., s_{n-1}]}       n <= 256, each 32 bytes

``s_i`` is the hash of the child at depth ``i + 1`` that is *not* on the path
(the child whose bit ``i`` differs from bit ``i`` of ``k``). ``leaf`` is the
node at depth ``n`` on the path: ``null`` for an empty subtree, else the pair
of the leaf found there. The verifier for ``(root, key, value, proof)``,
where ``value`` is ``null`` to claim that the key is absent:

1. ``k = H(key)``; ``n = len(siblings)``. If ``n > 0``, ``s_{n-1}`` must not
   be ``EMPTY``: the node at depth ``n - 1`` is internal, so its subtree holds
   two or more leaves, while the node at depth ``n`` holds at most one; the
   sibling therefore holds at least one.
2. Claimed value ``V``: ``leaf`` is present, ``leaf.key_hash == k`` and
   ``leaf.value_hash == H(V)``. Claimed absence: either ``leaf`` is null, or
   ``leaf.key_hash != k`` and the first ``n`` bits of ``leaf.key_hash`` equal
   the first ``n`` bits of ``k`` (another key's leaf occupies ``k``'s path).
3. ``h = EMPTY`` if ``leaf`` is null, else ``H(0x00 || leaf.key_hash ||
   leaf.value_hash)``; for ``i = n - 1`` down to ``0``: ``h = H(0x01 || s_i ||
   h)`` if bit ``i`` of ``k`` is 1, else ``H(0x01 || h || s_i)``.
4. ``h == root``.

Any failed check rejects the proof. Leaves and internal nodes hash inputs of
the same length with different first bytes, and ``EMPTY`` is no node's hash,
so for a given root and key only the honest proof verifies (short of a
SHA-256 collision): a proof with any byte changed does not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import ProofError, SchemaError
from ledger.schema import as_map, get_hash

HASH_SIZE: Final = 32
MAX_DEPTH: Final = 256
EMPTY_ROOT: Final = bytes(HASH_SIZE)
"""The hash of an empty subtree, and the root of the empty state."""

LEAF_TAG: Final = b"\x00"
INTERNAL_TAG: Final = b"\x01"

_PROOF_KEYS: Final = frozenset({"siblings", "leaf"})
_LEAF_KEYS: Final = frozenset({"key_hash", "value_hash"})


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    """Hash of the leaf holding ``key_hash`` with ``value_hash``."""
    return hashlib.sha256(LEAF_TAG + key_hash + value_hash).digest()


def internal_hash(left: bytes, right: bytes) -> bytes:
    """Hash of the internal node over ``left`` and ``right``."""
    return hashlib.sha256(INTERNAL_TAG + left + right).digest()


def bit(key_hash: bytes, index: int) -> int:
    """Bit ``index`` of ``key_hash``, most significant bit of byte 0 first."""
    return (key_hash[index >> 3] >> (7 - (index & 7))) & 1


def common_prefix_bits(a: bytes, b: bytes) -> int:
    """Number of leading bits ``a`` and ``b`` (same length) have in common."""
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return len(a) * 8 - x.bit_length()


def _check_hash(value: object, what: str) -> bytes:
    if type(value) is not bytes or len(value) != HASH_SIZE:
        raise SchemaError(f"must be {HASH_SIZE} bytes", field=what)
    return value


@dataclass(frozen=True, slots=True)
class StateLeaf:
    """A leaf met at the end of a proof's path: a key hash and its value hash."""

    key_hash: bytes
    value_hash: bytes

    def __post_init__(self) -> None:
        _check_hash(self.key_hash, "key_hash")
        _check_hash(self.value_hash, "value_hash")

    @property
    def hash(self) -> bytes:
        """The leaf hash."""
        return leaf_hash(self.key_hash, self.value_hash)

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {"key_hash": self.key_hash, "value_hash": self.value_hash}

    @classmethod
    def from_value(cls, value: Any) -> StateLeaf:
        """Validate and build from a decoded map."""
        m = as_map(value, "leaf", _LEAF_KEYS)
        return cls(key_hash=get_hash(m, "key_hash"), value_hash=get_hash(m, "value_hash"))


@dataclass(frozen=True, slots=True)
class StateProof:
    """Siblings from the root down a key's path, and the leaf (if any) where it ends."""

    siblings: tuple[bytes, ...]
    leaf: StateLeaf | None

    def __post_init__(self) -> None:
        if type(self.siblings) is not tuple:
            raise SchemaError("must be a tuple", field="siblings")
        if len(self.siblings) > MAX_DEPTH:
            raise SchemaError(f"at most {MAX_DEPTH} siblings", field="siblings")
        for i, sibling in enumerate(self.siblings):
            _check_hash(sibling, f"siblings[{i}]")
        if self.leaf is not None and type(self.leaf) is not StateLeaf:
            raise SchemaError("must be a StateLeaf or None", field="leaf")

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "siblings": list(self.siblings),
            "leaf": None if self.leaf is None else self.leaf.to_value(),
        }

    @classmethod
    def from_value(cls, value: Any) -> StateProof:
        """Validate and build from a decoded map."""
        m = as_map(value, "state_proof", _PROOF_KEYS)
        siblings = m["siblings"]
        if type(siblings) is not list:
            raise SchemaError("must be a list", field="siblings")
        if len(siblings) > MAX_DEPTH:
            raise SchemaError(f"at most {MAX_DEPTH} siblings", field="siblings")
        leaf = m["leaf"]
        return cls(
            siblings=tuple(_check_hash(s, f"siblings[{i}]") for i, s in enumerate(siblings)),
            leaf=None if leaf is None else StateLeaf.from_value(leaf),
        )


def verify_state_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows ``key`` maps to ``value`` under ``root``.

    ``value=None`` claims that ``key`` is absent.
    """
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise ProofError(f"root must be {HASH_SIZE} bytes", field="root")
    if type(key) is not bytes:
        raise ProofError("key must be bytes", field="key")
    if value is not None and type(value) is not bytes:
        raise ProofError("value must be bytes or None", field="value")
    if type(proof) is not StateProof:
        raise ProofError("not a StateProof", field="proof")
    key_hash = hashlib.sha256(key).digest()
    siblings = proof.siblings
    depth = len(siblings)
    if depth and siblings[-1] == EMPTY_ROOT:
        raise ProofError("the last sibling of a path is never empty", field="siblings")
    leaf = proof.leaf
    if value is not None:
        if leaf is None:
            raise ProofError("the path ends in an empty subtree: the key is absent", field="leaf")
        if leaf.key_hash != key_hash:
            raise ProofError("the path ends in another key's leaf: the key is absent", field="leaf")
        if leaf.value_hash != hashlib.sha256(value).digest():
            raise ProofError("the key holds a different value", field="leaf")
    elif leaf is not None:
        if leaf.key_hash == key_hash:
            raise ProofError(
                "the path ends in the key's own leaf: the key is present", field="leaf"
            )
        if common_prefix_bits(leaf.key_hash, key_hash) < depth:
            raise ProofError("the leaf found does not lie on the key's path", field="leaf")
    node = EMPTY_ROOT if leaf is None else leaf.hash
    for i in range(depth - 1, -1, -1):
        if bit(key_hash, i):
            node = internal_hash(siblings[i], node)
        else:
            node = internal_hash(node, siblings[i])
    if node != root:
        raise ProofError("the proof does not lead to the root", field="root")
