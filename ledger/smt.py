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

    N <node hash>            a node at depth below 16: its hash preimage then
                             ``<version:8>``. The preimage is
                             0x00 || key_hash || value_hash for a leaf,
                             0x01 || left || right for an internal node (65
                             bytes either way, so SHA-256 of its first 65
                             bytes is the record's hash)
    P <bucket:2> <node hash> the same record for a node at depth 16 or more,
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
    S <version:8> <record key>   a node or value record that version's update
                                 took out of the tree (only while
                                 ``Mstate_stale`` is set; see pruning)

Why two node prefixes: keys are hashes, so the nodes one path visits are
spread over the whole store, and on a store of gigabytes each node read
below the cached upper levels would open another LevelDB table. Under
``P`` the nodes of a subtree at depth 16 sit together in key order, so a
path's deep nodes are a few neighbouring records (2026-11-23, 25 million
keys, 1.3 GB: 8 reads within one bucket took 48 - 98 us each, 8 random
reads 315 - 360 us each). The position of an internal node is fixed by
its content (its leaves share exactly its path prefix); a leaf moves when
its neighbours come and go, so a leaf is written again under the other
prefix when it crosses depth 16.

``N``, ``P`` and ``V`` records are named by their content (a value by the
leaf that holds it, so two keys with one value have a record each), and a
record is only ever rewritten with the same bytes but a later version, so
every root ever written stays readable and provable until it is pruned: a
block's header root is enough to answer "what was K at height h".
``EMPTY_ROOT`` (32 zero bytes) has no record.

**Pruning.** While ``Mstate_stale`` is in the store, each update records under
``S`` every record it took out of the tree: each internal node it replaced,
each leaf that left its key (a leaf that moves to another depth keeps its
record when its key is unchanged), and the value of each leaf that was
replaced or deleted. A record can come back later with the same name (a
key set back to an earlier value, a subtree that regains its earlier
leaves); it is then written again, with the later version.
:func:`prune` with ``keep_from`` = F takes every ``S`` entry of a version
v <= F and deletes its record if the record's version is below v: written
before v and not since, it is in no root of version v or later. Roots of
versions F and later stay whole; earlier ones lose records and are refused
when opened (:class:`~ledger.errors.CorruptStore`). Versions must not fall
from one update to the next; two updates with one version are safe (the
record is then kept).

An update applies a whole batch in one recursive pass over the sorted key
hashes: every internal node on the touched paths is read once and hashed
once per batch, so the new root depends only on the old root and the batch,
never on the order of the mapping. Deleting an absent key changes nothing.
A batch with a bad key or value is refused before anything is staged; a
:class:`~ledger.errors.CorruptStore` raised during the pass leaves partial
writes in the overlay, which the caller must then discard.

A :class:`NodeCache` shared by the trees over one store keeps decoded nodes
between batches (without one, every block reads its paths back from the
store). Nodes are immutable and named by their hash, so a cached node is
never stale; a root is always read from the store when a tree is opened, so
a root whose records were discarded is refused even if its nodes are cached.
"""

from __future__ import annotations

import hashlib
import struct
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
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
    "verify_state_proof",
]

MAX_KEY_SIZE: Final = 1024
MAX_VALUE_SIZE: Final = 1 << 20
DEFAULT_CACHE_ENTRIES: Final = 1 << 16

NODE_PREFIX: Final = b"N"
DEEP_NODE_PREFIX: Final = b"P"
CLUSTER_DEPTH: Final = 16
"""Nodes at this depth or deeper are stored under ``P`` and their 16-bit bucket."""
VALUE_PREFIX: Final = b"V"
INDEX_PREFIX: Final = b"K"
INDEX_ROOT_KEY: Final = b"Mstate_index"
STALE_PREFIX: Final = b"S"
STALE_LOG_KEY: Final = b"Mstate_stale"
"""Present (any value): updates record what they take out of the tree, for :func:`prune`."""
VERSION_SIZE: Final = 8
MAX_VERSION: Final = (1 << 64) - 1

_PREIMAGE_SIZE: Final = 1 + 2 * HASH_SIZE
_RECORD_SIZE: Final = _PREIMAGE_SIZE + VERSION_SIZE
_INLINE: Final = b"\x00"
_WITHIN: Final = b"\x01"
_KEY_LENGTH: Final = struct.Struct(">H")
_LITERAL: Final = struct.Struct(">BI")
_SPAN: Final = struct.Struct(">BII")
_SCAN: Final = 16
"""How many times its source's length the search for one value's pieces may read."""
_PROBE: Final = 64
"""Bytes of a value looked for in its source at a time (:func:`_pieces`). On the
documents of a 500-declaration chain (3,203 bytes each, 2026-12-07): 32 left 441
bytes of record in 53 us a document, 64 left 659 in 32 us, 128 left 778 in 23 us."""
_LEAF_BYTE: Final = LEAF_TAG[0]
_INTERNAL_BYTE: Final = INTERNAL_TAG[0]

# A decoded node: (is_leaf, key_hash, value_hash) or (is_leaf, left, right).
Node = tuple[bool, bytes, bytes]


class NodeCache:
    """Decoded nodes by hash, shared by the trees over one store; about ``max_entries`` nodes.

    Two generations: new entries go to the young one; when it holds half of
    ``max_entries`` the old one is dropped and the young one takes its place.
    A hit in the old generation copies the node into the young one, so nodes
    in use survive. ``max_entries=0`` caches nothing. Threads may share one:
    a race can only lose an entry, which costs a read from the store.
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        if type(max_entries) is not int or max_entries < 0:
            raise SchemaError("must be a non-negative integer", field="max_entries")
        self.max_entries = max_entries
        self._young: dict[bytes, Node] = {}
        self._old: dict[bytes, Node] = {}

    def __len__(self) -> int:
        return len(self._young) + len(self._old)

    def get(self, node_hash: bytes) -> Node | None:
        """The cached node, or None."""
        node = self._young.get(node_hash)
        if node is None:
            node = self._old.get(node_hash)
            if node is not None:
                self._young[node_hash] = node
        return node

    def add(self, node_hash: bytes, node: Node) -> None:
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

    def _read(self, node_hash: bytes, depth: int, path: int) -> Node:
        """The node ``node_hash`` at ``depth`` on ``path``, read from the store; it must exist."""
        record = self._overlay.get(node_key(node_hash, depth, path))
        if record is None:
            raise CorruptStore(f"state node {node_hash.hex()} is missing")
        if len(record) != _RECORD_SIZE or record[0] not in (_LEAF_BYTE, _INTERNAL_BYTE):
            raise CorruptStore(f"state node {node_hash.hex()} is malformed")
        return (record[0] == _LEAF_BYTE, record[1:33], record[33:_PREIMAGE_SIZE])

    def _node(self, node_hash: bytes, depth: int, path: int) -> Node:
        """The node ``node_hash`` at ``depth`` on ``path``, from the cache or the store."""
        node = self._cache.get(node_hash)
        if node is None:
            node = self._read(node_hash, depth, path)
            self._cache.add(node_hash, node)
        return node

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
        """Siblings down the path of ``key_hash`` and the node where it ends (None: empty)."""
        siblings: list[bytes] = []
        node_hash = root
        path = int.from_bytes(key_hash, "big")
        shift = 255
        while node_hash != EMPTY_ROOT:
            node = self._node(node_hash, 255 - shift, path)
            if node[0]:
                return siblings, node
            if shift < 0:
                raise CorruptStore(f"state path of {key_hash.hex()} is deeper than 256")
            if (path >> shift) & 1:
                siblings.append(node[1])
                node_hash = node[2]
            else:
                siblings.append(node[2])
                node_hash = node[1]
            shift -= 1
        return siblings, None

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
        # (node hash, depth, path so far as the top bits of a 256-bit int), right child
        # pushed first so that leaves come in key-hash order.
        stack = [(root, 0, 0)]
        while stack:
            node_hash, depth, path = stack.pop()
            # Read past the cache, not into it: one pass over everything would push out
            # the upper levels that every block's paths use.
            node = self._cache.get(node_hash) or self._read(node_hash, depth, path)
            is_leaf, first, second = node
            if is_leaf:
                yield first, self._value(first, second)
                continue
            if depth >= 256:
                raise CorruptStore(f"state node {node_hash.hex()} is deeper than 256")
            if second != EMPTY_ROOT:
                stack.append((second, depth + 1, path | (1 << (255 - depth))))
            if first != EMPTY_ROOT:
                stack.append((first, depth + 1, path))

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

    Greedy: each run of :data:`_PROBE` bytes not yet covered is looked for in
    ``source``, after the last piece found (a document keeps the order of the
    transaction that carries it); a run found is grown both ways as far as
    the bytes agree. The search reads at most :data:`_SCAN` times the
    source's length, whatever the value: a transaction made so that nothing
    matches costs each node a few scans of it, not one per probe.
    """
    size = len(value)
    out = []
    literal_from = i = 0
    copied = 0
    after = 0
    budget = _SCAN * len(source)
    while i + _PROBE <= size and budget > 0:
        offset = source.find(value[i : i + _PROBE], after)
        if offset < 0:
            budget -= len(source) - after
            i += _PROBE
            continue
        budget -= offset - after + _PROBE
        back = _common_before(value, i, source, offset, min(i - literal_from, offset - after))
        start, offset = i - back, offset - back
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


def _first(item: tuple[bytes, bytes | None, bytes]) -> bytes:
    return item[0]


def _apply_batch(
    tree: StateTree,
    key_hashes: list[bytes],
    value_hashes: list[bytes | None],
    leaf_hashes: list[bytes],
    gone: list[bytes] | None,
) -> bytes:
    """The root after applying the sorted batch to ``tree``: one recursive pass.

    Written as closures over local names, with the cache's dictionaries used
    directly, because this is the hot path of block execution: every touched
    node costs a lookup, a hash and a put. Every function takes the depth of
    the node it reads or makes and a path through it (``path``: any key path
    below it), which together give the node's store key.

    ``gone``, when not None, receives the store keys of the records the pass
    takes out of the tree: internal nodes replaced, leaves gone from their
    key, and the values of leaves gone from the tree.
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
    empty = EMPTY_ROOT
    leaf_tag = LEAF_TAG
    internal_tag = INTERNAL_TAG
    version = tree._version.to_bytes(VERSION_SIZE, "big")
    key = node_key
    cluster = CLUSTER_DEPTH
    shallow = NODE_PREFIX
    # Leaves made or moved in this pass, with their records. A leaf's depth is
    # known only once it has a parent (a lone leaf moves up), so its record is
    # written then, by ``internal``, or at the end if it is the root.
    placed: dict[bytes, bytes] = {}
    tracking = gone is not None
    replaced: list[bytes] = [] if gone is None else gone
    # With ``gone``: existing leaves the pass took up, by hash, with their key
    # before it, and the key each placed leaf was written under.
    taken: dict[bytes, bytes] = {}
    written: dict[bytes, bytes] = {}

    def load(node_hash: bytes, depth: int, path: int) -> Node:
        node = young_get(node_hash)
        if node is None:
            node = old_get(node_hash)
            if node is None:
                node = read(node_hash, depth, path)
            if caching:
                young[node_hash] = node
        return node

    def internal(left: bytes, right: bytes, depth: int, path: int) -> bytes:
        # A new internal node; the placed leaves among its children are written here.
        record = internal_tag + left + right
        node_hash = sha256(record).digest()
        where = shallow + node_hash if depth < cluster else key(node_hash, depth, path)
        put(where, record + version)
        if caching:
            young[node_hash] = (False, left, right)
        # Written out for each child: a helper called here cost 0.6% more
        # instructions per declaration and 1% per decision (bench_instructions.py).
        if left in placed:
            if depth + 1 < cluster:
                where = shallow + left
            else:
                where = key(left, depth + 1, path & ~(1 << (255 - depth)))
            put(where, placed.pop(left))
            if tracking:
                written[left] = where
        if right in placed:
            if depth + 1 < cluster:
                where = shallow + right
            else:
                where = key(right, depth + 1, path | (1 << (255 - depth)))
            put(where, placed.pop(right))
            if tracking:
                written[right] = where
        return node_hash

    def take_leaf(node_hash: bytes, a: bytes, b: bytes, depth: int, path: int) -> None:
        # An existing leaf leaves its place: placed again unless the pass replaces it.
        placed[node_hash] = leaf_tag + a + b + version
        if tracking and node_hash not in taken:
            taken[node_hash] = key(node_hash, depth, path)

    def join(left: bytes, right: bytes, depth: int, path: int) -> bytes:
        # A lone leaf moves up to where it is alone; anything else is an internal node.
        if right == empty:
            if left == empty or left in placed:
                return left
            child = path & ~(1 << (255 - depth))
            node = load(left, depth + 1, child)
            if node[0]:
                take_leaf(left, node[1], node[2], depth + 1, child)
                return left
        elif left == empty:
            if right in placed:
                return right
            child = path | (1 << (255 - depth))
            node = load(right, depth + 1, child)
            if node[0]:
                take_leaf(right, node[1], node[2], depth + 1, child)
                return right
        return internal(left, right, depth, path)

    def leaf(index: int) -> bytes:
        value_hash = value_hashes[index]
        if value_hash is None:
            return empty
        key_hash = key_hashes[index]
        node_hash = leaf_hashes[index]
        placed[node_hash] = leaf_tag + key_hash + value_hash + version
        if caching:
            young[node_hash] = (True, key_hash, value_hash)
        return node_hash

    def build(depth: int, lo: int, hi: int, extra_path: int, extra: bytes) -> bytes:
        # A new subtree over items lo:hi plus, unless ``extra`` is empty, the
        # existing leaf ``extra`` (already placed) whose path is ``extra_path``.
        if extra == empty:
            if hi - lo <= 1:
                return empty if hi == lo else leaf(lo)
            first = paths[lo]
        else:
            if hi == lo:
                return extra
            first = extra_path
        shift = 255 - depth
        split = ((first >> shift) | 1) << shift
        mid = bisect_left(paths, split, lo, hi)
        if extra == empty or extra_path >= split:
            left = build(depth + 1, lo, mid, 0, empty)
            right = build(depth + 1, mid, hi, extra_path, extra)
        else:
            left = build(depth + 1, lo, mid, extra_path, extra)
            right = build(depth + 1, mid, hi, 0, empty)
        return join(left, right, depth, first)

    def apply_one(node_hash: bytes, depth: int, index: int) -> bytes:
        # ``apply`` for a single item, most of every path: a loop down and back up.
        path = paths[index]
        trail: list[tuple[int, bytes, bytes]] = []
        current = node_hash
        while current != empty:
            node_is_leaf, a, b = young_get(current) or load(current, depth, path)
            if node_is_leaf:
                if a == key_hashes[index]:
                    if leaf_hashes[index] == current:
                        return node_hash  # the same value: nothing to place
                    new = leaf(index)
                    if tracking:
                        taken.setdefault(current, key(current, depth, path))
                elif value_hashes[index] is None:
                    return node_hash
                else:
                    take_leaf(current, a, b, depth, path)
                    new = build(depth, index, index + 1, int.from_bytes(a, "big"), current)
                break
            shift = 255 - depth
            if shift < 0:
                raise CorruptStore(f"state node {current.hex()} is deeper than 256")
            if (path >> shift) & 1:
                trail.append((1, a, current))
                current = b
            else:
                trail.append((0, b, current))
                current = a
            depth += 1
        else:
            new = leaf(index)
        if new == current:
            return node_hash
        for went_right, sibling, old in reversed(trail):
            depth -= 1
            if tracking:
                replaced.append(key(old, depth, path))
            left, right = (sibling, new) if went_right else (new, sibling)
            if empty in (left, right):
                new = join(left, right, depth, path)
            else:
                new = internal(left, right, depth, path)
        return new

    def apply(node_hash: bytes, depth: int, lo: int, hi: int) -> bytes:
        # The subtree ``node_hash`` at ``depth`` with items lo:hi (at least one) applied.
        if node_hash == empty:
            return build(depth, lo, hi, 0, empty)
        if hi - lo == 1:
            return apply_one(node_hash, depth, lo)
        path = paths[lo]
        node_is_leaf, a, b = young_get(node_hash) or load(node_hash, depth, path)
        if node_is_leaf:
            leaf_path = int.from_bytes(a, "big")
            at = bisect_left(paths, leaf_path, lo, hi)
            if at < hi and paths[at] == leaf_path:
                if tracking:
                    taken.setdefault(node_hash, key(node_hash, depth, leaf_path))
                return build(depth, lo, hi, 0, empty)
            take_leaf(node_hash, a, b, depth, leaf_path)
            return build(depth, lo, hi, leaf_path, node_hash)
        shift = 255 - depth
        if shift < 0:
            raise CorruptStore(f"state node {node_hash.hex()} is deeper than 256")
        mid = bisect_left(paths, ((path >> shift) | 1) << shift, lo, hi)
        left = apply(a, depth + 1, lo, mid) if mid > lo else a
        right = apply(b, depth + 1, mid, hi) if hi > mid else b
        if left == a and right == b:
            return node_hash
        if tracking:
            replaced.append(key(node_hash, depth, path))
        if empty not in (left, right):
            return internal(left, right, depth, path)
        return join(left, right, depth, path)

    try:
        root = apply(tree.root, 0, 0, len(paths))
        record = placed.pop(root, None)
        if record is not None:
            put(key(root, 0, 0), record)
            if tracking:
                written[root] = key(root, 0, 0)
        for node_hash, before in taken.items():
            if node_hash in placed:
                continue  # never written: still where it was, under unchanged parents
            after = written.get(node_hash)
            if after is None:
                replaced.append(before)
                replaced.append(VALUE_PREFIX + node_hash)
            elif after != before:
                replaced.append(before)
        return root
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
