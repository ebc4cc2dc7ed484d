"""RFC 9162 Merkle tree definitions written straight from the RFC, for cross-checking.

Slow and recursive on purpose: nothing here shares code with
:mod:`ledger.merkle` or :mod:`ledger.merkle_log` except the two hash
functions. Proof elements are first computed as leaf intervals ``(start,
end)``: the RFC's ``MTH(D[start:end])`` for the subtree they name. That
lets the oracles below decide whether a (possibly altered) proof must be
accepted: a proof is valid for ``(index, size)`` exactly when substituting
its hashes for the intervals the RFC's definition names rebuilds the root.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from ledger.merkle import EMPTY_ROOT, leaf_hash, node_hash

Interval = tuple[int, int]


def largest_power_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n > 1``)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 2.1.1, over leaf data."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = largest_power_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


@cache
def inclusion_intervals(index: int, size: int, lo: int = 0) -> tuple[Interval, ...]:
    """PATH(m, D[n]) of RFC 9162 2.1.3.1, as the intervals whose MTH it lists."""
    if size == 1:
        return ()
    k = largest_power_below(size)
    if index < k:
        return (*inclusion_intervals(index, k, lo), (lo + k, lo + size))
    return (*inclusion_intervals(index - k, size - k, lo + k), (lo, lo + k))


@cache
def _subproof(m: int, n: int, whole: bool, lo: int) -> tuple[Interval, ...]:
    if m == n:
        return () if whole else ((lo, lo + m),)
    k = largest_power_below(n)
    if m <= k:
        return (*_subproof(m, k, whole, lo), (lo + k, lo + n))
    return (*_subproof(m - k, n - k, False, lo + k), (lo, lo + k))


def consistency_intervals(old_size: int, new_size: int) -> tuple[Interval, ...]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1 for ``0 < m <= n``, as intervals."""
    return _subproof(old_size, new_size, True, 0)


class Tree:
    """A list of leaves with memoised subtree hashes."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._memo: dict[Interval, bytes] = {}

    def hash(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi]) by the recursive definition."""
        if (lo, hi) not in self._memo:
            if hi - lo == 0:
                value = EMPTY_ROOT
            elif hi - lo == 1:
                value = leaf_hash(self.leaves[lo])
            else:
                k = largest_power_below(hi - lo)
                value = node_hash(self.hash(lo, lo + k), self.hash(lo + k, hi))
            self._memo[(lo, hi)] = value
        return self._memo[(lo, hi)]

    def root(self, size: int) -> bytes:
        """MTH of the first ``size`` leaves."""
        return self.hash(0, size)

    def inclusion_path(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[size])."""
        return [self.hash(a, b) for a, b in inclusion_intervals(index, size)]

    def consistency_path(self, old_size: int, new_size: int) -> list[bytes]:
        """PROOF(old_size, D[new_size]); empty when old_size is 0."""
        if old_size == 0:
            return []
        return [self.hash(a, b) for a, b in consistency_intervals(old_size, new_size)]


def _rebuild(lo: int, hi: int, known: Mapping[Interval, bytes]) -> bytes | None:
    """MTH(D[lo:hi]) from the known subtree hashes only, or None if they do not cover it."""
    if (lo, hi) in known:
        return known[(lo, hi)]
    if hi - lo < 2:
        return None
    k = largest_power_below(hi - lo)
    left = _rebuild(lo, lo + k, known)
    right = _rebuild(lo + k, hi, known)
    if left is None or right is None:
        return None
    return node_hash(left, right)


def inclusion_accepted(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether an RFC 9162 verifier must accept this inclusion claim."""
    if not 0 <= index < size or len(root) != 32 or len(leaf) != 32:
        return False
    intervals = inclusion_intervals(index, size)
    if len(proof) != len(intervals) or any(len(p) != 32 for p in proof):
        return False
    known = dict(zip(intervals, proof, strict=True))
    known[(index, index + 1)] = leaf
    return _rebuild(0, size, known) == root


def consistency_accepted(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether an RFC 9162 verifier (with our rules for empty and equal sizes) must accept."""
    if not 0 <= old_size <= new_size or len(old_root) != 32 or len(new_root) != 32:
        return False
    if any(len(p) != 32 for p in proof):
        return False
    if old_size == 0 and old_root != EMPTY_ROOT:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    intervals = consistency_intervals(old_size, new_size)
    if len(proof) != len(intervals):
        return False
    known = dict(zip(intervals, proof, strict=True))
    if bin(old_size).count("1") == 1:  # a perfect tree: its root heads the proof
        known[(0, old_size)] = old_root
    return _rebuild(0, old_size, known) == old_root and _rebuild(0, new_size, known) == new_root
