"""The authenticated state: a sparse Merkle tree over SHA-256(key), kept in the store.

The tree's shape and hashes, the proof format and the verifier are defined
in :mod:`ledger.smt_proof` (which an auditor can reimplement from its
docstring alone). This module keeps the tree in a :class:`~ledger.kv.KVStore`
through an :class:`~ledger.kv.Overlay` and updates it in batches.

Keys are byte strings of at most :data:`MAX_KEY_SIZE` bytes (the empty key is
allowed); values are non-empty byte strings of at most :data:`MAX_VALUE_SIZE`
bytes. Absence is the only "no value": there is no empty value to confuse
with it.

Store layout (hashes are 32 bytes; ``<version:8>`` is the version, a block
height, of the update that wrote the record, big-endian)::

    N <node hash>            a page (below) whose node is at a depth below 16
    P <bucket:2> <node hash> a page whose node is at depth 16 or more,
                             ``bucket`` being the first 16 bits of its position
    V <leaf hash>   the value of that leaf, then ``<version:8>``: either
                    0x00 || the value's bytes, or 0x01 || key length:2 ||
                    the key of another record of the store (a transaction's
                    wire) || pieces, the value being the pieces joined:
                    0x00 || length:4 || bytes given here, or 0x01 ||
                    offset:4 || length:4 for bytes of that record, so that
                    what a declaration's document shares with its
                    transaction is kept once
    K <key hash>    value hash of the key at the indexed root (see below)
    Mstate_index    the root the ``K`` index describes
    S <version:8> <record key>   a page or value record that version's update
                                 took out of the tree (only while
                                 ``Mstate_stale`` is set; see pruning)

**Pages.** The tree is stored four levels at a time. The page of an internal
node at a depth ``d`` that is a multiple of 4 holds that node's subtree down
to depth ``d + 4``: its 16 *slots* are the subtrees at depth ``d + 4`` whose
paths extend the node's by the 4-bit numbers 0 - 15 (most significant bit
first). A slot is empty, a leaf (the one pair of its subtree; the tree's
rule lifts it to the shallowest depth where it is alone, so the nodes
between a slot and the page's node follow from the slots alone), or an
internal node, which has a page of its own, named by its hash. The page's
own name is its node's hash, as the binary tree defines it; the root page is
named by the state root, even when the state is a single leaf. A page
record is::

    slot kinds:4     2 bits a slot, slot 0 first (most significant): 0 empty,
                     1 leaf, 2 internal node (3 never)
    inner hashes     the hash of each internal node below the page's node,
                     in heap order (the page's node is 1, the children of
                     node i are 2i and 2i + 1, so the slots are 16 - 31):
                     first nodes 2 - 15 whose subtree holds two or more
                     leaves or an internal slot, then the internal slots,
                     which name the pages below
    leaves           key_hash || value_hash of each leaf slot, in slot order
    <version:8>

A lookup at 10 million keys (depth about 24) reads 6 pages, the first 3 of
which (4,369 pages) any bounded cache keeps; proofs are those of the binary
tree (:mod:`ledger.smt_proof`), taken from the pages' nodes.

Why two page prefixes: keys are hashes, so the pages one path visits are
spread over the whole store, and on a store of gigabytes each read below
the cached upper levels would open another LevelDB table. Under ``P`` the
pages of a subtree at depth 16 sit together in key order, so a path's deep
pages are neighbouring records (2026-11-23, 25 million keys, 1.3 GB: 8
reads within one bucket took 48 - 98 us each, 8 random reads 315 - 360 us
each). The position of an internal node is fixed by its content (its leaves
share exactly its path prefix); a leaf moves between pages as its
neighbours come and go, and needs no record of its own.

Page and value records are named by their content (a value by the
leaf that holds it, so two keys with one value have a record each), and a
record is only ever rewritten with the same bytes but a later version, so
every root ever written stays readable and provable until it is pruned: a
block's header root is enough to answer "what was K at height h".
``EMPTY_ROOT`` (32 zero bytes) has no record.

**Pruning.** While ``Mstate_stale`` is in the store, each update records under
``S`` every record it took out of the tree: each page it replaced and the
value of each leaf that was replaced or deleted. A record can come back
later with the same name (a key set back to an earlier value, a subtree that
regains its earlier leaves); it is then written again, with the later
version.
:func:`prune` with ``keep_from`` = F takes every ``S`` entry of a version
v <= F and deletes its record if the record's version is below v: written
before v and not since, it is in no root of version v or later. Roots of
versions F and later stay whole; earlier ones lose records and are refused
when opened (:class:`~ledger.errors.CorruptStore`). Versions must not fall
from one update to the next; two updates with one version are safe (the
record is then kept).

An update applies a whole batch in one recursive pass over the sorted key
hashes: every page on the touched paths is read once and written once per
batch, and in it only the nodes above a changed slot are hashed again, so
the new root depends only on the old root and the batch, never on the
order of the mapping. Deleting an absent key changes nothing.
A batch with a bad key or value is refused before anything is staged; a
:class:`~ledger.errors.CorruptStore` raised during the pass leaves partial
writes in the overlay, which the caller must then discard.

A :class:`NodeCache` shared by the trees over one store keeps decoded pages
between batches (without one, every block reads its paths back from the
store). Pages are immutable and named by their hash, so a cached page is
never stale; a root is always read from the store when a tree is opened, so
a root whose records were discarded is refused even if its pages are cached.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter
from typing import Final

from ledger.errors import CorruptStore, SchemaError, TooLarge
from ledger.kv import KVStore, Overlay, prefix_end
from ledger.smt_proof import (
    EMPTY_ROOT,
    HASH_SIZE,
    INTERNAL_TAG,
    LEAF_TAG,
    StateLeaf,
    StateProof,
    verify_state_proof,
)

__all__ = [
    "CLUSTER_DEPTH",
    "DEEP_NODE_PREFIX",
    "DEFAULT_CACHE_ENTRIES",
    "EMPTY_ROOT",
    "INDEX_PREFIX",
    "INDEX_ROOT_KEY",
    "MAX_KEY_SIZE",
    "MAX_VALUE_SIZE",
    "MAX_VERSION",
    "NODE_PREFIX",
    "STALE_LOG_KEY",
    "STALE_PREFIX",
    "VALUE_PREFIX",
    "NodeCache",
    "Pruned",
    "StateLeaf",
    "StateProof",
    "StateTree",
    "leaf_hash",
    "prune",
    "record_version",
    "records_written",
    "verify_state_proof",
]

MAX_KEY_SIZE: Final = 1024
MAX_VALUE_SIZE: Final = 1 << 20
DEFAULT_CACHE_ENTRIES: Final = 1 << 12

NODE_PREFIX: Final = b"N"
DEEP_NODE_PREFIX: Final = b"P"
CLUSTER_DEPTH: Final = 16
"""Pages at this depth or deeper are stored under ``P`` and their 16-bit bucket."""
PAGE_DEPTH: Final = 4
"""Levels of the binary tree one page record holds."""
VALUE_PREFIX: Final = b"V"
INDEX_PREFIX: Final = b"K"
INDEX_ROOT_KEY: Final = b"Mstate_index"
STALE_PREFIX: Final = b"S"
STALE_LOG_KEY: Final = b"Mstate_stale"
"""Present (any value): updates record what they take out of the tree, for :func:`prune`."""
VERSION_SIZE: Final = 8
_RECORD_PREFIXES: Final = (NODE_PREFIX, DEEP_NODE_PREFIX, VALUE_PREFIX)
MAX_VERSION: Final = (1 << 64) - 1

_INLINE: Final = b"\x00"
_WITHIN: Final = b"\x01"
_KEY_LENGTH: Final = struct.Struct(">H")
_LITERAL: Final = struct.Struct(">BI")
_SPAN: Final = struct.Struct(">BII")
_SCAN: Final = 16
"""How many times its source's length the search for one value's pieces may read."""
_PROBE: Final = 32
"""Bytes of a value looked for in its source at a time (:func:`_pieces`)."""
_SYNC: Final = 16
_WINDOW: Final = 512
"""Where a piece ends, the next :data:`_SYNC` bytes of the source are looked for
in the next :data:`_WINDOW` bytes of the value: a document is its transaction's
with fields inserted. On 400 documents of a 40,000-declaration chain (3,210
bytes each, 2026-12-08), records of pieces and time a document: probes of 64
alone 651 bytes in 30 us; with the resync 608 in 33 us; probes of 32 alone
1,033 bytes (the search's bound is reached) and with the resync 421 in 40 us.
The exact diff (difflib) leaves 362 bytes of a document unmatched."""

# A decoded page's parts by heap position: 1 is the page's own node (at the
# page's depth), 2i and 2i + 1 the children of i, 16 + s slot s (depth + 4).
_EMPTY: Final = 0
_LEAF: Final = 1
_INNER: Final = 2
_SLOTS: Final = 16
_PAGE_HEAD: Final = 4
_PAIR_SIZE: Final = 2 * HASH_SIZE

# A slot's content while updating: (kind, hash, pair), the pair being a
# leaf's key_hash || value_hash (empty for anything else).
Content = tuple[int, bytes, bytes]
_NOTHING: Final[Content] = (_EMPTY, EMPTY_ROOT, b"")
# A decoded leaf, as the walk reports it: (is_leaf, key_hash, value_hash).
Node = tuple[bool, bytes, bytes]
_KIND_OF_SUM: Final = b"\x00\x01" + b"\x02" * 254
"""A node's kind from the sum of its children's: empty + empty is empty, empty +
leaf a lone leaf, anything more an internal node."""


def _head_kinds(byte: int) -> tuple[int, ...]:
    slots = (byte >> 6, (byte >> 4) & 3, (byte >> 2) & 3, byte & 3)
    pairs = (_KIND_OF_SUM[slots[0] + slots[1]], _KIND_OF_SUM[slots[2] + slots[3]])
    return (*slots, *pairs, _KIND_OF_SUM[pairs[0] + pairs[1]])


_HEAD_KINDS: Final = tuple(_head_kinds(byte) for byte in range(256))
"""For a byte of a page's head (four slots): the slots' kinds, those of the two
nodes above them and of the node above those."""
_IS_INNER: Final = bytes(int(b == _INNER) for b in range(256))
_IS_LEAF: Final = bytes(int(b == _LEAF) for b in range(256))
_ABOVE_SLOTS: Final = range(_SLOTS - 1, 0, -1)
_POSITIONS: Final = range(2 * _SLOTS)
_SLOT_NUMBERS: Final = range(_SLOTS)
_NO_PAIRS: Final = (b"",) * _SLOTS
_first: Final = itemgetter(0)


class Page:
    """A decoded page: the nodes of one four-level subtree, by heap position.

    ``kinds[i]`` is 0 (empty), 1 (a lone leaf) or 2 (an internal node) and
    ``hashes[i]`` its hash (``EMPTY_ROOT``, the leaf's hash, the node's hash)
    for positions 1 - 31 (index 0 unused); a slot ``s`` (position ``16 + s``)
    that is a leaf has its key_hash || value_hash in ``pairs[s]``, one that is
    an internal node is the page below. Pages are never changed once made.
    """

    __slots__ = ("hashes", "kinds", "pairs")

    def __init__(self, kinds: bytes, hashes: list[bytes], pairs: list[bytes]) -> None:
        self.kinds = kinds
        self.hashes = hashes
        self.pairs = pairs


def _lone_slot(kinds: bytes | bytearray, position: int) -> int:
    """The slot of the lone leaf at ``position`` (a position of kind 1)."""
    while position < _SLOTS:
        position = 2 * position if kinds[2 * position] else 2 * position + 1
    return position - _SLOTS


def _decode_page(record: bytes, page_hash: bytes) -> Page | None:
    """The page ``page_hash`` from its record, or None if the record is malformed."""
    size = len(record) - VERSION_SIZE
    if size < _PAGE_HEAD:
        return None
    kinds = _kinds(record)
    if 3 in kinds or not kinds[1]:
        return None
    inner = kinds.translate(_IS_INNER)
    inner[1] = 0  # the page's own node: its hash is the page's name
    at = _PAGE_HEAD + HASH_SIZE * inner.count(1)
    leaves = kinds.translate(_IS_LEAF)
    if at + _PAIR_SIZE * leaves.count(1, _SLOTS) != size:
        return None
    hashes = [EMPTY_ROOT] * (2 * _SLOTS)
    for i, start in zip(compress(_POSITIONS, inner), range(_PAGE_HEAD, at, HASH_SIZE), strict=True):
        hashes[i] = record[start : start + HASH_SIZE]
    pairs = [b""] * _SLOTS
    sha256 = hashlib.sha256
    for s in compress(_SLOT_NUMBERS, leaves[_SLOTS:]):
        pair = pairs[s] = record[at : at + _PAIR_SIZE]
        hashes[_SLOTS + s] = sha256(LEAF_TAG + pair).digest()
        at += _PAIR_SIZE
    for i in compress(_ABOVE_SLOTS, leaves[_SLOTS - 1 : 0 : -1]):
        hashes[i] = hashes[2 * i] if kinds[2 * i] else hashes[2 * i + 1]
    if kinds[1] == _INNER:
        hashes[1] = page_hash
    elif hashes[1] != page_hash:
        return None
    return Page(bytes(kinds), hashes, pairs)


def _kinds(head: bytes) -> bytearray:
    """The kinds of a page's 31 positions (index 0 unused) from its record's first 4 bytes."""
    a, b, c, d = (_HEAD_KINDS[byte] for byte in head[:_PAGE_HEAD])
    kind_of = _KIND_OF_SUM
    left = kind_of[a[6] + b[6]]
    right = kind_of[c[6] + d[6]]
    return bytearray(
        (
            *(0, kind_of[left + right], left, right, a[6], b[6], c[6], d[6]),
            *a[4:6],
            *b[4:6],
            *c[4:6],
            *d[4:6],
            *a[:4],
            *b[:4],
            *c[:4],
            *d[:4],
        )
    )


def _encode_page(kinds: bytearray, hashes: list[bytes], pairs: list[bytes]) -> bytes:
    """The record of a page (without its version); see the module's docstring."""
    k = kinds
    head = bytes(
        (
            k[16] << 6 | k[17] << 4 | k[18] << 2 | k[19],
            k[20] << 6 | k[21] << 4 | k[22] << 2 | k[23],
            k[24] << 6 | k[25] << 4 | k[26] << 2 | k[27],
            k[28] << 6 | k[29] << 4 | k[30] << 2 | k[31],
        )
    )
    # Index 0 is never an internal node; position 1's hash is the page's name.
    inner = k.translate(_IS_INNER)
    inner[1] = 0
    return b"".join(
        (head, *compress(hashes, inner), *compress(pairs, k[_SLOTS:].translate(_IS_LEAF)))
    )


class NodeCache:
    """Decoded pages by hash, shared by the trees over one store; about ``max_entries`` pages.

    Two generations: new entries go to the young one; when it holds half of
    ``max_entries`` the old one is dropped and the young one takes its place.
    A hit in the old generation copies the page into the young one, so pages
    in use survive. ``max_entries=0`` caches nothing. Threads may share one:
    a race can only lose an entry, which costs a read from the store.
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if type(max_entries) is not int or max_entries < 0:
            raise SchemaError("must be a non-negative integer", field="max_entries")
        self.max_entries = max_entries
        self._young: dict[bytes, Page] = {}
        self._old: dict[bytes, Page] = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, node_hash: bytes) -> Page | None:
        """The cached node, or None."""
        node = self._young.get(node_hash)
        if node is None:
            node = self._old.get(node_hash)
            if node is not None:
                self._young[node_hash] = node
        return node

    def add(self, node_hash: bytes, node: Page) -> None:
        """Remember ``node``."""
        if self.max_entries:
            self._young[node_hash] = node
            self.trim()

    def trim(self) -> None:
        """Drop the old generation once the young one is full."""
        if len(self._young) * 2 >= self.max_entries and self._young:
            self._old = self._young
            self._young = {}


def node_key(node_hash: bytes, depth: int, path: int) -> bytes:
    """Store key of the node ``node_hash`` at ``depth`` on the path ``path`` (256-bit int)."""
    if depth < CLUSTER_DEPTH:
        return NODE_PREFIX + node_hash
    bucket = path >> 240
    if depth < 16:
        # The position has fewer than 16 bits (only with a cluster depth
        # below 16, as the tests set): the bits past it are zero.
        bucket &= 0xFFFF ^ ((1 << (16 - depth)) - 1)
    return DEEP_NODE_PREFIX + bucket.to_bytes(2, "big") + node_hash


def leaf_hash(key_hash: bytes, value_hash: bytes) -> bytes:
    """The hash of the leaf of ``key_hash`` holding ``value_hash`` (its value's record name)."""
    return hashlib.sha256(LEAF_TAG + key_hash + value_hash).digest()


def records_written(pending: Mapping[bytes, bytes | None]) -> list[bytes]:
    """The page and value record keys an overlay's pending writes put (for :func:`prune`)."""
    return [k for k, v in pending.items() if v is not None and k[:1] in _RECORD_PREFIXES]


def record_version(record: bytes) -> int:
    """The version of the update that last wrote a node or value record."""
    return int.from_bytes(record[-VERSION_SIZE:], "big")


def _check_key(key: object) -> bytes:
    if type(key) is not bytes:
        raise SchemaError(f"state key must be bytes, not {type(key).__name__}", field="key")
    if len(key) > MAX_KEY_SIZE:
        raise TooLarge(f"state key of {len(key)} bytes is over {MAX_KEY_SIZE}", field="key")
    return key


def _check_value(value: object) -> bytes:
    if type(value) is not bytes:
        raise SchemaError(f"state value must be bytes, not {type(value).__name__}", field="value")
    if not value:
        raise SchemaError("state value must not be empty (delete with None)", field="value")
    if len(value) > MAX_VALUE_SIZE:
        raise TooLarge(f"state value of {len(value)} bytes is over {MAX_VALUE_SIZE}", field="value")
    return value


def _check_root(root: object) -> bytes:
    if type(root) is not bytes or len(root) != HASH_SIZE:
        raise SchemaError(f"state root must be {HASH_SIZE} bytes", field="root")
    return root


class StateTree:
    """The state tree at one root, read from and written to ``overlay``.

    ``cache`` should be one :class:`NodeCache` shared by every tree over the
    same store (without it each tree keeps a small one of its own).
    ``version`` (a block height) is written into every record the tree's
    updates write; it must not fall from one update of a store to the next.
    """

    def __init__(
        self,
        overlay: Overlay,
        root: bytes,
        *,
        cache: NodeCache | None = None,
        version: int = 0,
    ) -> None:
        self._overlay = overlay
        self._cache = NodeCache() if cache is None else cache
        if type(version) is not int or not 0 <= version <= MAX_VERSION:
            raise SchemaError("must be an integer from 0 to 2**64 - 1", field="version")
        self._version = version
        self._root = _check_root(root)
        # Read the root from the store, not the cache: a root whose records were
        # never written (its overlay discarded) must fail here, not after a restart.
        if root != EMPTY_ROOT:
            self._read(root, 0, 0)

    @property
    def root(self) -> bytes:
        """The current root hash."""
        return self._root

    @property
    def overlay(self) -> Overlay:
        """The store the tree reads its nodes from and stages its writes in."""
        return self._overlay

    # -- reading -----------------------------------------------------------

    def _read(self, page_hash: bytes, depth: int, path: int) -> Page:
        """The page ``page_hash`` at ``depth`` on ``path``, read from the store; it must exist."""
        record = self._overlay.get(node_key(page_hash, depth, path))
        if record is None:
            raise CorruptStore(f"state node {page_hash.hex()} is missing")
        page = _decode_page(record, page_hash)
        if page is None:
            raise CorruptStore(f"state node {page_hash.hex()} is malformed")
        return page

    def _node(self, page_hash: bytes, depth: int, path: int) -> Page:
        """The page ``page_hash`` at ``depth`` on ``path``, from the cache or the store."""
        page = self._cache.get(page_hash)
        if page is None:
            page = self._read(page_hash, depth, path)
            self._cache.add(page_hash, page)
        return page

    def _value(self, key_hash: bytes, value_hash: bytes) -> bytes:
        record = self._overlay.get(VALUE_PREFIX + leaf_hash(key_hash, value_hash))
        if record is None or len(record) <= VERSION_SIZE + 1:
            raise CorruptStore(f"state value {value_hash.hex()} is missing")
        if record[0] == _INLINE[0]:
            return record[1:-VERSION_SIZE]
        value = None
        if record[0] == _WITHIN[0]:
            value = self._joined(record)
        # A value kept in pieces is checked against its hash: a source record
        # rewritten in place, or a wrong piece, is never served as the state.
        if value is None or hashlib.sha256(value).digest() != value_hash:
            raise CorruptStore(f"state value {value_hash.hex()} is not where its record says")
        return value

    def _joined(self, record: bytes) -> bytes | None:
        """The value a record of pieces describes, or None if it is malformed."""
        end = len(record) - VERSION_SIZE
        try:
            (size,) = _KEY_LENGTH.unpack_from(record, 1)
            at = 1 + _KEY_LENGTH.size + size
            source = self._overlay.get(record[1 + _KEY_LENGTH.size : at])
            if source is None or at > end:
                return None
            parts = []
            while at < end:
                if record[at] == 0:
                    _, length = _LITERAL.unpack_from(record, at)
                    at += _LITERAL.size + length
                    parts.append(record[at - length : at])
                else:
                    _, offset, length = _SPAN.unpack_from(record, at)
                    at += _SPAN.size
                    if offset + length > len(source):
                        return None
                    parts.append(source[offset : offset + length])
        except struct.error:
            return None
        return b"".join(parts) if at == end else None

    def _walk(self, key_hash: bytes, root: bytes) -> tuple[list[bytes], Node | None]:
        """Siblings down the path of ``key_hash`` and the leaf where it ends (None: empty)."""
        siblings: list[bytes] = []
        if root == EMPTY_ROOT:
            return siblings, None
        path = int.from_bytes(key_hash, "big")
        page_hash = root
        depth = 0
        while True:
            page = self._node(page_hash, depth, path)
            kinds = page.kinds
            hashes = page.hashes
            position = 1
            shift = 255 - depth
            while True:
                kind = kinds[position]
                if kind == _EMPTY:
                    return siblings, None
                if kind == _LEAF:
                    s = _lone_slot(kinds, position)
                    pair = page.pairs[s]
                    return siblings, (True, pair[:HASH_SIZE], pair[HASH_SIZE:])
                if position >= _SLOTS:
                    break
                bit = (path >> shift) & 1
                siblings.append(hashes[2 * position + 1 - bit])
                position = 2 * position + bit
                shift -= 1
            page_hash = hashes[position]
            depth += PAGE_DEPTH
            if depth > 256 - PAGE_DEPTH:
                raise CorruptStore(f"state path of {key_hash.hex()} is deeper than 256")

    def _indexed_root(self) -> bytes:
        # No record yet: no ``K`` entry was ever written, which is the empty state's index.
        return self._overlay.get(INDEX_ROOT_KEY) or EMPTY_ROOT

    def get(self, key: bytes, *, root: bytes | None = None) -> bytes | None:
        """The value of ``key`` at ``root`` (default: the current root), or None."""
        key_hash = hashlib.sha256(_check_key(key)).digest()
        root = self._root if root is None else _check_root(root)
        if root == EMPTY_ROOT:
            return None
        if self._indexed_root() == root:
            value_hash = self._overlay.get(INDEX_PREFIX + key_hash)
            return None if value_hash is None else self._value(key_hash, value_hash)
        _, node = self._walk(key_hash, root)
        if node is None or node[1] != key_hash:
            return None
        return self._value(key_hash, node[2])

    def prove(self, key: bytes, *, root: bytes | None = None) -> StateProof:
        """A proof of the value or absence of ``key`` at ``root`` (default: the current root)."""
        return self._prove(key, root)[1]

    def proven(self, key: bytes, *, root: bytes | None = None) -> tuple[bytes | None, StateProof]:
        """The value of ``key`` at ``root`` (None: absent) and its proof, from one walk."""
        key_hash, proof = self._prove(key, root)
        leaf = proof.leaf
        if leaf is None or leaf.key_hash != key_hash:
            return None, proof
        return self._value(key_hash, leaf.value_hash), proof

    def leaves(self, *, root: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key hash, value)`` at ``root`` (default: the current root), by key hash.

        The keys themselves are not in the tree: a caller that knows what a
        key must be recomputes its hash and compares.
        """
        root = self._root if root is None else _check_root(root)
        if root == EMPTY_ROOT:
            return
        # Pages to open as (hash, depth, a path below), and leaves found, as
        # (key hash, value hash), in reverse key-hash order so that pop() takes
        # the smallest first.
        stack: list[tuple[bytes, int, int] | tuple[bytes, bytes]] = [(root, 0, 0)]
        while stack:
            item = stack.pop()
            if len(item) == 2:
                yield item[0], self._value(item[0], item[1])
                continue
            page_hash, depth, path = item
            if depth > 256 - PAGE_DEPTH:
                raise CorruptStore(f"state node {page_hash.hex()} is deeper than 256")
            # Read past the cache, not into it: one pass over everything would push out
            # the upper levels that every block's paths use.
            page = self._cache.get(page_hash) or self._read(page_hash, depth, path)
            kinds = page.kinds
            for s in range(_SLOTS - 1, -1, -1):
                kind = kinds[_SLOTS + s]
                if kind == _LEAF:
                    pair = page.pairs[s]
                    stack.append((pair[:HASH_SIZE], pair[HASH_SIZE:]))
                elif kind == _INNER:
                    below = path | (s << (256 - PAGE_DEPTH - depth))
                    stack.append((page.hashes[_SLOTS + s], depth + PAGE_DEPTH, below))

    def _prove(self, key: bytes, root: bytes | None) -> tuple[bytes, StateProof]:
        key_hash = hashlib.sha256(_check_key(key)).digest()
        root = self._root if root is None else _check_root(root)
        siblings, node = self._walk(key_hash, root)
        leaf = None if node is None else StateLeaf(node[1], node[2])
        return key_hash, StateProof(tuple(siblings), leaf)

    # -- writing -----------------------------------------------------------

    def update(
        self,
        changes: Mapping[bytes, bytes | None],
        within: Mapping[bytes, tuple[bytes, bytes]] | None = None,
    ) -> bytes:
        """Apply puts (bytes) and deletes (None) at once; return and adopt the new root.

        ``within`` maps keys of ``changes`` to a record of the store, as its
        key and its bytes, that holds the new value: where the bytes contain
        it, the value record points there instead of keeping a copy. The
        record must be in the store (or the overlay) whenever the value is
        read, and never rewritten with other bytes.
        """
        if not isinstance(changes, Mapping):
            raise SchemaError("changes must be a mapping", field="changes")
        sha256 = hashlib.sha256
        staged: list[tuple[bytes, bytes | None, bytes]] = []
        values: list[tuple[bytes, bytes, bytes]] = []
        # Check the whole batch before staging anything: a refused batch leaves no trace.
        for key, value in changes.items():
            key_hash = sha256(_check_key(key)).digest()
            if value is None:
                staged.append((key_hash, None, EMPTY_ROOT))
            else:
                value_hash = sha256(_check_value(value)).digest()
                leaf = sha256(LEAF_TAG + key_hash + value_hash).digest()
                staged.append((key_hash, value_hash, leaf))
                values.append((leaf, key, value))
        if not staged:
            return self._root
        staged.sort(key=_first)
        overlay = self._overlay
        put = overlay.put
        version = self._version.to_bytes(VERSION_SIZE, "big")
        for leaf, key, value in values:
            if within and key in within:
                source_key, source = within[key]
                pieces = _pieces(value, source)
                head = _WITHIN + _KEY_LENGTH.pack(len(source_key)) + source_key
                # Kept in pieces only where that is shorter than the value itself.
                if pieces is not None and len(head) + len(pieces) <= len(value):
                    put(VALUE_PREFIX + leaf, head + pieces + version)
                    continue
            put(VALUE_PREFIX + leaf, _INLINE + value + version)
        old_root = self._root
        gone: list[bytes] | None = [] if overlay.get(STALE_LOG_KEY) is not None else None
        new_root = _apply_batch(
            self,
            [kh for kh, _, _ in staged],
            [vh for _, vh, _ in staged],
            [leaf for _, _, leaf in staged],
            gone,
        )
        if gone:
            stale = STALE_PREFIX + version
            for record_key in gone:
                put(stale + record_key, b"")
        if self._indexed_root() == old_root:
            for path, new_value, _ in staged:
                if new_value is None:
                    overlay.delete(INDEX_PREFIX + path)
                else:
                    put(INDEX_PREFIX + path, new_value)
            put(INDEX_ROOT_KEY, new_root)
        self._root = new_root
        return new_root


def _common(a: bytes, i: int, b: bytes, j: int, most: int) -> int:
    """How many bytes from ``a[i:]`` and ``b[j:]`` are equal (at most ``most``)."""
    n = 0
    step = 64
    while step:
        while n + step <= most and a[i + n : i + n + step] == b[j + n : j + n + step]:
            n += step
        step //= 4
    return n


def _common_before(a: bytes, i: int, b: bytes, j: int, most: int) -> int:
    """How many bytes before ``a[i]`` and ``b[j]`` are equal (at most ``most``)."""
    n = 0
    step = 64
    while step:
        while n + step <= most and a[i - n - step : i - n] == b[j - n - step : j - n]:
            n += step
        step //= 4
    return n


def _pieces(value: bytes, source: bytes) -> bytes | None:
    """``value`` as pieces of ``source`` and literal bytes, or None if none is in ``source``.

    Greedy: where the last piece found ends, the source's next bytes are looked
    for a little ahead in the value (bytes inserted); else each run of
    :data:`_PROBE` bytes not yet covered is looked for in ``source``, after the
    last piece found (a document keeps the order of the transaction that
    carries it). A run found is grown both ways as far as the bytes agree.
    The search reads at most :data:`_SCAN` times the source's length (and the
    value's ahead of it), whatever the value: a transaction made so that nothing
    matches costs each node a few scans of it, not one per probe.
    """
    size = len(value)
    out = []
    literal_from = i = 0
    copied = 0
    after = 0
    budget = _SCAN * len(source)
    while i + _PROBE <= size and budget > 0:
        if after and after + _SYNC <= len(source):
            # Where the source goes on after the last piece, if that is close ahead.
            start = value.find(source[after : after + _SYNC], literal_from, literal_from + _WINDOW)
            if start >= 0:
                budget -= start - literal_from + _SYNC
                offset = after
                length = _SYNC + _common(
                    value,
                    start + _SYNC,
                    source,
                    offset + _SYNC,
                    min(size - start, len(source) - offset) - _SYNC,
                )
            else:
                budget -= _WINDOW
        else:
            start = -1
        if start < 0:
            found = source.find(value[i : i + _PROBE], after)
            if found < 0:
                budget -= len(source) - after
                i += _PROBE
                continue
            budget -= found - after + _PROBE
            back = _common_before(value, i, source, found, min(i - literal_from, found - after))
            start, offset = i - back, found - back
            length = _PROBE + back
            length += _common(
                value,
                start + length,
                source,
                offset + length,
                min(size - start - length, len(source) - offset - length),
            )
        if start > literal_from:
            out.append(_LITERAL.pack(0, start - literal_from) + value[literal_from:start])
        out.append(_SPAN.pack(1, offset, length))
        copied += length
        literal_from = i = start + length
        after = offset + length
    if not copied:
        return None
    if literal_from < size:
        out.append(_LITERAL.pack(0, size - literal_from) + value[literal_from:])
    return b"".join(out)


def _apply_batch(
    tree: StateTree,
    key_hashes: list[bytes],
    value_hashes: list[bytes | None],
    leaf_hashes: list[bytes],
    gone: list[bytes] | None,
) -> bytes:
    """The root after applying the sorted batch to ``tree``: one recursive pass over its pages.

    Written as closures over local names, with the cache's dictionaries used
    directly, because this is the hot path of block execution. Each function
    takes the depth of the slot or page it makes and a path through it (any
    key path below it), which together give a page's store key.

    ``gone``, when not None, receives the store keys of the records the pass
    takes out of the tree: pages replaced, and the values of leaves replaced
    or deleted.
    """
    paths = [int.from_bytes(kh, "big") for kh in key_hashes]
    put = tree._overlay.put
    read = tree._read
    cache = tree._cache
    caching = cache.max_entries > 0
    # The generations are swapped only after the pass (by ``trim``), so these stay valid.
    young = cache._young
    young_get = young.get
    old_get = cache._old.get
    sha256 = hashlib.sha256
    internal_tag = INTERNAL_TAG
    version = tree._version.to_bytes(VERSION_SIZE, "big")
    key = node_key
    cluster = CLUSTER_DEPTH
    shallow = NODE_PREFIX
    tracking = gone is not None
    removed: list[bytes] = [] if gone is None else gone
    empty = EMPTY_ROOT
    empty_hashes = [empty] * (2 * _SLOTS)
    empty_pairs = list(_NO_PAIRS)
    kind_of = _KIND_OF_SUM
    every_position = _ABOVE_SLOTS

    def load(page_hash: bytes, depth: int, path: int) -> Page:
        page = young_get(page_hash)
        if page is None:
            page = old_get(page_hash)
            if page is None:
                page = read(page_hash, depth, path)
            if caching:
                young[page_hash] = page
        return page

    def finish(
        depth: int,
        path: int,
        kinds: bytearray,
        hashes: list[bytes],
        pairs: list[bytes],
        changed: list[int] | None,
        write_leaf: bool = False,
    ) -> Content:
        # The page's nodes above the slots ``changed`` (None: all) hashed
        # again, level by level; the page is written if its own node is
        # internal (or a lone leaf with ``write_leaf``: the root) and returned
        # as its parent's slot.
        level: Iterable[int] = (
            every_position if changed is None else {(_SLOTS + s) >> 1 for s in changed}
        )
        while True:
            for i in level:
                left = 2 * i
                kind = kinds[i] = kind_of[kinds[left] + kinds[left + 1]]
                if kind == _INNER:
                    hashes[i] = sha256(internal_tag + hashes[left] + hashes[left + 1]).digest()
                elif kind == _LEAF:
                    hashes[i] = hashes[left] if kinds[left] else hashes[left + 1]
                else:
                    hashes[i] = empty
            if changed is None or 1 in level:
                break
            level = {i >> 1 for i in level}
        kind = kinds[1]
        if kind == _EMPTY:
            return _NOTHING
        page_hash = hashes[1]
        if kind == _LEAF and not write_leaf:
            return (_LEAF, page_hash, pairs[_lone_slot(kinds, 1)])
        where = shallow + page_hash if depth < cluster else key(page_hash, depth, path)
        put(where, _encode_page(kinds, hashes, pairs) + version)
        if caching:
            young[page_hash] = Page(bytes(kinds), hashes, pairs)
        if kind == _LEAF:
            return (_LEAF, page_hash, pairs[_lone_slot(kinds, 1)])
        return (_INNER, page_hash, b"")

    def make(depth: int, found: list[tuple[int, Content]]) -> Content:
        # A new page over two or more leaves, ``found`` in key order.
        kinds = bytearray(2 * _SLOTS)
        hashes = empty_hashes.copy()
        pairs = empty_pairs.copy()
        shift = 256 - PAGE_DEPTH - depth
        i = 0
        count = len(found)
        while i < count:
            s = (found[i][0] >> shift) & 15
            j = i + 1
            while j < count and (found[j][0] >> shift) & 15 == s:
                j += 1
            content = found[i][1] if j == i + 1 else make(depth + PAGE_DEPTH, found[i:j])
            kinds[_SLOTS + s], hashes[_SLOTS + s], pairs[s] = content
            i = j
        return finish(depth, found[0][0], kinds, hashes, pairs, None)

    def merge(content: Content, depth: int, lo: int, hi: int) -> Content:
        # An empty slot or a leaf at ``depth`` with items lo:hi applied.
        found: list[tuple[int, Content]] = []
        existing = content if content[0] == _LEAF else None
        existing_path = int.from_bytes(content[2][:HASH_SIZE], "big") if existing else -1
        for i in range(lo, hi):
            if paths[i] == existing_path:
                if leaf_hashes[i] == content[1]:
                    continue  # the same value: nothing changes
                if tracking:
                    removed.append(VALUE_PREFIX + content[1])
                existing = None
            value_hash = value_hashes[i]
            if value_hash is not None:
                found.append((paths[i], (_LEAF, leaf_hashes[i], key_hashes[i] + value_hash)))
        if existing is not None:
            if not found:
                return content
            found.append((existing_path, existing))
            found.sort(key=_first)
        if len(found) < 2:
            return found[0][1] if found else _NOTHING
        return make(depth, found)

    def apply(content: Content, depth: int, lo: int, hi: int) -> Content:
        # The slot ``content`` at ``depth`` with items lo:hi (at least one) applied.
        if content[0] != _INNER:
            return merge(content, depth, lo, hi)
        if depth > 256 - PAGE_DEPTH:
            raise CorruptStore(f"state node {content[1].hex()} is deeper than 256")
        path = paths[lo]
        page = young_get(content[1]) or load(content[1], depth, path)
        kinds = bytearray(page.kinds)
        hashes = page.hashes.copy()
        pairs = page.pairs.copy()
        shift = 256 - PAGE_DEPTH - depth
        changed: list[int] = []
        i = lo
        while i < hi:
            top = paths[i] >> shift
            j = i + 1
            if j < hi and paths[j] >> shift == top:
                j = bisect_left(paths, (top + 1) << shift, j, hi)
            s = top & 15
            p = _SLOTS + s
            old = (kinds[p], hashes[p], pairs[s])
            new = apply(old, depth + PAGE_DEPTH, i, j)
            if new[1] != old[1]:
                kinds[p], hashes[p], pairs[s] = new
                changed.append(s)
            i = j
        if not changed:
            return content
        if tracking:
            removed.append(key(content[1], depth, path))
        return finish(depth, path, kinds, hashes, pairs, changed)

    try:
        root = tree.root
        before: Content = _NOTHING if root == EMPTY_ROOT else (_INNER, root, b"")
        after = apply(before, 0, 0, len(paths))
        if after[0] == _LEAF and after[1] != root:
            # A root that is one leaf is still a page, so that it can be opened.
            kinds = bytearray(2 * _SLOTS)
            hashes = empty_hashes.copy()
            pairs = empty_pairs.copy()
            s = after[2][0] >> 4
            kinds[_SLOTS + s], hashes[_SLOTS + s], pairs[s] = after
            finish(0, paths[0], kinds, hashes, pairs, None, True)
        return after[1]
    finally:
        cache.trim()


@dataclass(slots=True)
class Pruned:
    """What one :func:`prune` call did."""

    entries: int = 0
    """``S`` entries read (and deleted)."""
    deleted: int = 0
    """Records deleted."""
    kept: int = 0
    """Records an entry named but written again since, so still in use."""


def prune(
    kv: KVStore,
    keep_from: int,
    *,
    batch: int = 20_000,
    written: Mapping[bytes, int] | None = None,
    written_from: int = MAX_VERSION,
) -> Pruned:
    """Delete the state records no root of version ``keep_from`` or later uses.

    Reads the ``S`` entries of versions up to ``keep_from``; each one's
    record goes if its version is below the entry's, and the entry goes in
    any case. Written in batches of about ``batch`` entries, unsynced: a
    crash in between loses nothing, since a deleted record was in no kept
    root and the entries left are read again by the next call.

    ``written``, if given, is the version of the last write of every record
    written by the updates of versions ``written_from`` and later (a node
    keeps it for the blocks it committed since it started): an entry of
    such a version is then judged from it, without reading the record back.
    """
    if type(keep_from) is not int or not 0 <= keep_from <= MAX_VERSION:
        raise SchemaError("must be an integer from 0 to 2**64 - 1", field="keep_from")
    done = Pruned()
    if keep_from == MAX_VERSION:
        stop = prefix_end(STALE_PREFIX)
    else:
        stop = STALE_PREFIX + (keep_from + 1).to_bytes(VERSION_SIZE, "big")
    start = STALE_PREFIX
    head = len(STALE_PREFIX) + VERSION_SIZE
    while True:
        deletes: dict[bytes, bytes | None] = {}
        last = b""
        for entry, _ in kv.scan(start, stop):
            last = entry
            done.entries += 1
            deletes[entry] = None
            stale = int.from_bytes(entry[len(STALE_PREFIX) : head], "big")
            record_key = entry[head:]
            if record_key in deletes:
                continue
            if written is not None and stale >= written_from:
                version = written.get(record_key, -1)
            else:
                record = kv.get(record_key)
                if record is None:
                    continue
                version = record_version(record)
            if version < stale:
                deletes[record_key] = None
                done.deleted += 1
            else:
                done.kept += 1
            if len(deletes) >= batch:
                break
        if not deletes:
            return done
        kv.write(deletes, sync=False)
        start = last + b"\x00"
