"""The transaction log: one append-only RFC 9162 Merkle tree over the whole chain.

Every committed transaction is a leaf (``leaf_hash(tx.wire)``), in chain
order. Hashing and proof formats are those of :mod:`ledger.merkle`, so any
RFC 9162 verifier checks the proofs this log produces.

Store layout (one-byte prefix ``L``, fixed-width big-endian integers)::

    L <level:1> <index:8>   hash of the perfect subtree of 2**level leaves
                            starting at leaf index * 2**level (level 0: leaf hashes)
    Lsize                   number of leaves (8 bytes); absent means 0

A perfect subtree is written once, when its last leaf arrives, and never
changes: appending is one leaf write plus, on average, one node write. The
size is kept rather than derived so that opening costs O(log n) point reads
and no search. Every root and proof for a past size is computed from these
records alone: any tree of ``s`` leaves splits into the perfect subtrees of
the set bits of ``s``, all of them stored.

In memory the log holds only its size and its *frontier*: the hashes of the
perfect subtrees that make up the current tree, largest first. :meth:`open`
reads them back in ``popcount(size)`` reads.

The log reads through an :class:`~ledger.kv.Overlay` and writes only with
``overlay.put``; the caller flushes the overlay once per block together with
the block's other records. If the caller discards the overlay instead, the
frontier in memory describes leaves that no longer exist: call
:meth:`reload` (or :meth:`open` a new log) before using the log again.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Final

from ledger.errors import CorruptStore, ProofError
from ledger.kv import Overlay
from ledger.merkle import EMPTY_ROOT, HASH_SIZE, node_hash, split_point

SIZE_KEY: Final = b"Lsize"
_PREFIX: Final = b"L"
_KEY = struct.Struct(">cBQ")
_U64 = struct.Struct(">Q")
_sha256 = hashlib.sha256
_pack_key = _KEY.pack
_pack_size = _U64.pack


def node_key(level: int, index: int) -> bytes:
    """Store key of the perfect subtree at ``level`` and ``index``."""
    return _KEY.pack(_PREFIX, level, index)


class MerkleLog:
    """An append-only RFC 9162 tree persisted in an overlay; O(log n) memory."""

    __slots__ = ("_get", "_put", "_size", "_stack")

    def __init__(self, overlay: Overlay) -> None:
        """An unloaded log over ``overlay``; use :meth:`open`."""
        self._get = overlay.get
        self._put = overlay.put
        self._size = 0
        self._stack: list[bytes] = []  # frontier: perfect subtree hashes, largest first

    @classmethod
    def open(cls, overlay: Overlay) -> MerkleLog:
        """The log as ``overlay`` holds it (committed records plus pending writes)."""
        log = cls(overlay)
        log.reload()
        return log

    def reload(self) -> None:
        """Read the size and frontier again, forgetting appends the overlay no longer holds."""
        raw = self._get(SIZE_KEY)
        size: int
        if raw is None:
            size = 0
        elif len(raw) != _U64.size:
            raise CorruptStore(f"Merkle log size record is {len(raw)} bytes")
        else:
            (size,) = _U64.unpack(raw)
        if self._get(node_key(0, size)) is not None:
            raise CorruptStore(f"Merkle log holds a leaf beyond its size {size}")
        stack: list[bytes] = []
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                stack.append(self._node(level, (size >> level) - 1))
        self._size = size
        self._stack = stack

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def append(self, leaf_data: bytes) -> int:
        """Append a leaf with data ``leaf_data``; return its index."""
        n = self._size
        h = _sha256(b"\x00" + leaf_data).digest()
        put = self._put
        put(_pack_key(b"L", 0, n), h)
        if n & 1:
            stack = self._stack
            level = 0
            i = n
            while i & 1:
                h = _sha256(b"\x01" + stack.pop() + h).digest()
                level += 1
                i >>= 1
                put(_pack_key(b"L", level, i), h)
        self._stack.append(h)
        self._size = n + 1
        put(SIZE_KEY, _pack_size(n + 1))
        return n

    def append_leaf_hash(self, leaf_hash: bytes) -> int:
        """Append a leaf given its leaf hash (already ``leaf_hash(data)``); return its index."""
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ProofError(f"expected a {HASH_SIZE}-byte hash", field="leaf_hash")
        return self._append_hashes((leaf_hash,))

    def append_many(self, leaf_datas: Iterable[bytes]) -> int:
        """Append one leaf per item of ``leaf_datas``; return the index of the first."""
        sha = _sha256
        return self._append_hashes(sha(b"\x00" + d).digest() for d in leaf_datas)

    def _append_hashes(self, leaf_hashes: Iterable[bytes]) -> int:
        first = n = self._size
        put = self._put
        stack = self._stack
        pop = stack.pop
        push = stack.append
        pack = _pack_key
        sha = _sha256
        try:
            for leaf in leaf_hashes:
                h = leaf
                put(pack(b"L", 0, n), h)
                level = 0
                i = n
                while i & 1:
                    h = sha(b"\x01" + pop() + h).digest()
                    level += 1
                    i >>= 1
                    put(pack(b"L", level, i), h)
                push(h)
                n += 1
        finally:
            # An iterable that fails part way (say, on an item that is not
            # bytes) leaves the leaves before it appended, and the log whole.
            if n != first:
                self._size = n
                put(SIZE_KEY, _pack_size(n))
        return first

    def root(self, size: int | None = None) -> bytes:
        """The tree head at ``size`` leaves (default: now); O(log n) reads for a past size."""
        size = self._check_size(size, "size")
        if size == self._size:
            stack = self._stack
            if not stack:
                return EMPTY_ROOT
            h = stack[-1]
            for left in reversed(stack[:-1]):
                h = node_hash(left, h)
            return h
        return self._range_hash(0, size) if size else EMPTY_ROOT

    def leaf_hash_at(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_index(index, self._size)
        return self._node(0, index)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion path of leaf ``index`` in the tree of ``size`` leaves."""
        size = self._check_size(size, "size")
        self._check_index(index, size)
        # Walk down from the root, collecting the sibling of each subtree that
        # holds the leaf; the proof lists them bottom-up.
        proof: list[bytes] = []
        start, n, m = 0, size, index
        while n > 1:
            k = split_point(n)
            if m < k:
                proof.append(self._range_hash(start + k, start + n))
                n = k
            else:
                proof.append(self._range_hash(start, start + k))
                start += k
                m -= k
                n -= k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old_size`` to that of ``new_size``."""
        new_size = self._check_size(new_size, "new_size")
        old_size = self._check_size(old_size, "old_size")
        if old_size > new_size:
            raise ProofError(f"{old_size} is above the new size {new_size}", field="old_size")
        if old_size == 0:
            return []
        # SUBPROOF(m, D[n], b) of RFC 9162 2.1.4.1, unrolled: ``whole`` is b,
        # true while the old tree is still the whole left part of the walk.
        proof: list[bytes] = []
        start, m, n = 0, old_size, new_size
        whole = True
        while m != n:
            k = split_point(n)
            if m <= k:
                proof.append(self._range_hash(start + k, start + n))
                n = k
            else:
                proof.append(self._range_hash(start, start + k))
                start += k
                m -= k
                n -= k
                whole = False
        if not whole:
            proof.append(self._range_hash(start, start + m))
        proof.reverse()
        return proof

    def _check_size(self, size: int | None, name: str) -> int:
        if size is None:
            return self._size
        if type(size) is not int or not 0 <= size <= self._size:
            raise ProofError(f"{size!r} is not a size between 0 and {self._size}", field=name)
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if type(index) is not int or not 0 <= index < size:
            raise ProofError(f"{index!r} is not a leaf index below {size}", field="index")

    def _node(self, level: int, index: int) -> bytes:
        value = self._get(_KEY.pack(_PREFIX, level, index))
        if value is None or len(value) != HASH_SIZE:
            raise CorruptStore(f"Merkle log node at level {level}, index {index} is missing")
        return value

    def _range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end); start is a multiple of a power of two >= end - start."""
        # Such a range is a subtree of every tree that contains it: the
        # perfect subtrees of the set bits of its length, left to right,
        # folded from the right.
        length = end - start
        pieces: list[bytes]
        if end == self._size and length == end & ((1 << length.bit_length()) - 1):
            # A range that ends the log and whose length is the low bits of
            # the size: its subtrees are the last entries of the frontier.
            pieces = self._stack[len(self._stack) - length.bit_count() :]
        else:
            pieces = []
            pos = start
            for level in range(length.bit_length() - 1, -1, -1):
                if length >> level & 1:
                    pieces.append(self._node(level, pos >> level))
                    pos += 1 << level
        h = pieces[-1]
        for left in reversed(pieces[:-1]):
            h = node_hash(left, h)
        return h
