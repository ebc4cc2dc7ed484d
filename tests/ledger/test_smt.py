"""The state tree against a dict and a naive root computed straight from the definition."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import smt
from ledger.encoding import decode, encode
from ledger.errors import CorruptStore, LedgerError, ProofError, SchemaError, TooLarge
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay
from ledger.smt import (
    CLUSTER_DEPTH,
    DEEP_NODE_PREFIX,
    EMPTY_ROOT,
    INDEX_ROOT_KEY,
    MAX_KEY_SIZE,
    MAX_VALUE_SIZE,
    NODE_PREFIX,
    VALUE_PREFIX,
    NodeCache,
    StateLeaf,
    StateProof,
    StateTree,
    verify_state_proof,
)

Model = dict[bytes, bytes]


# -- the reference: the definition, written out independently -------------------------


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def bit_of(digest: bytes, i: int) -> int:
    return (digest[i // 8] >> (7 - i % 8)) & 1


def naive_root(model: Mapping[bytes, bytes]) -> bytes:
    """Root of ``model`` by the recursive definition, over the whole key set."""

    def subtree(pairs: list[tuple[bytes, bytes]], depth: int) -> bytes:
        if not pairs:
            return bytes(32)
        if len(pairs) == 1:
            return h(b"\x00" + pairs[0][0] + pairs[0][1])
        left = [p for p in pairs if bit_of(p[0], depth) == 0]
        right = [p for p in pairs if bit_of(p[0], depth) == 1]
        return h(b"\x01" + subtree(left, depth + 1) + subtree(right, depth + 1))

    return subtree([(h(k), h(v)) for k, v in model.items()], 0)


def page_parts(
    record: bytes,
) -> tuple[bytes, list[tuple[int, bytes, bytes]], list[tuple[int, bytes]]]:
    """A page record read from the layout in ``ledger.smt``'s docstring alone.

    Returns the hash of the page's node, recomputed from its slots by the
    tree's definition (and checked against every inner hash the record
    keeps), its leaves as (slot, key hash, value hash) and its internal
    slots as (slot, hash).
    """
    word = int.from_bytes(record[:4], "big")
    slots = [(word >> (30 - 2 * s)) & 3 for s in range(16)]
    assert 3 not in slots
    kinds = [0] * 16 + slots
    for i in range(15, 0, -1):
        pair = (kinds[2 * i], kinds[2 * i + 1])
        kinds[i] = 0 if pair == (0, 0) else 1 if sorted(pair) == [0, 1] else 2
    kept = {}
    at = 4
    for i in range(2, 32):
        if kinds[i] == 2:
            kept[i] = record[at : at + 32]
            at += 32
    hashes = [bytes(32)] * 32
    leaves, inner = [], []
    for s, kind in enumerate(slots):
        if kind == 1:
            leaves.append((s, record[at : at + 32], record[at + 32 : at + 64]))
            hashes[16 + s] = h(b"\x00" + record[at : at + 64])
            at += 64
        elif kind == 2:
            inner.append((s, kept[16 + s]))
            hashes[16 + s] = kept[16 + s]
    assert at == len(record) - 8, "a version of 8 bytes ends the record"
    for i in range(15, 0, -1):
        left, right = hashes[2 * i], hashes[2 * i + 1]
        if kinds[i] == 2:
            hashes[i] = h(b"\x01" + left + right)
        else:
            hashes[i] = right if left == bytes(32) else left
        assert kept.get(i, hashes[i]) == hashes[i]
    return hashes[1], leaves, inner


# -- strategies -------------------------------------------------------------------------

# A small key universe so that batches overwrite and delete keys that exist.
UNIVERSE = [b"", *(b"k%d" % i for i in range(40))]
ABSENT = [b"absent-%d" % i for i in range(8)]
keys = st.sampled_from(UNIVERSE)
state_values = st.binary(min_size=1, max_size=6)
changes = st.dictionaries(keys, st.none() | state_values, max_size=25)
histories = st.lists(changes, min_size=1, max_size=8)


def apply_model(model: Model, batch: Mapping[bytes, bytes | None]) -> None:
    for key, value in batch.items():
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value


def fresh_tree(kv: KVStore | None = None) -> tuple[StateTree, Overlay]:
    overlay = Overlay(MemoryKV() if kv is None else kv)
    return StateTree(overlay, EMPTY_ROOT), overlay


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    kv: KVStore = MemoryKV() if request.param == "memory" else LevelDBKV(tmp_path / "db")
    yield kv
    kv.close()


# -- hashing and shape --------------------------------------------------------------------


def test_empty_tree() -> None:
    tree, _ = fresh_tree()
    assert EMPTY_ROOT == bytes(32) == tree.root == naive_root({})
    assert tree.get(b"x") is None
    proof = tree.prove(b"x")
    assert proof == StateProof((), None)
    verify_state_proof(EMPTY_ROOT, b"x", None, proof)
    with pytest.raises(ProofError):
        verify_state_proof(EMPTY_ROOT, b"x", b"v", proof)


def key_with_bits(first: int, second: int) -> bytes:
    """A key whose hash starts with the two given bits."""
    return next(
        b"x%d" % i
        for i in range(1000)
        if (bit_of(h(b"x%d" % i), 0), bit_of(h(b"x%d" % i), 1)) == (first, second)
    )


def test_small_trees_follow_the_definition() -> None:
    k0, k1, k10, k11 = (key_with_bits(*bits) for bits in ((0, 0), (0, 1), (1, 0), (1, 1)))
    leaf = {k: h(b"\x00" + h(k) + h(b"v" + k)) for k in (k0, k1, k10, k11)}
    tree, _ = fresh_tree()
    assert tree.update({k10: b"v" + k10}) == leaf[k10]
    # Two leaves that differ in the first bit hang off the root.
    assert tree.update({k0: b"v" + k0}) == h(b"\x01" + leaf[k0] + leaf[k10])
    # A third key shares the first bit with k0: their subtree splits at depth 1.
    inner = h(b"\x01" + leaf[k0] + leaf[k1])
    assert tree.update({k1: b"v" + k1}) == h(b"\x01" + inner + leaf[k10])
    # Removing k10 leaves both keys on the left: the root keeps an empty right child.
    assert tree.update({k10: None}) == h(b"\x01" + inner + EMPTY_ROOT)
    # Removing k1 leaves k0 alone: its leaf moves up to the root.
    assert tree.update({k1: None, k11: None}) == leaf[k0]


def close_pair(count: int = 4096) -> tuple[bytes, bytes, int]:
    """Two keys whose hashes share a long prefix (a birthday search), and its length."""
    hashed = sorted((h(b"p%d" % i), b"p%d" % i) for i in range(count))
    best = (b"", b"", -1)
    for (ha, ka), (hb, kb) in itertools.pairwise(hashed):
        shared = 256 - (int.from_bytes(ha, "big") ^ int.from_bytes(hb, "big")).bit_length()
        if shared > best[2]:
            best = (ka, kb, shared)
    return best


def test_long_shared_prefix_makes_a_chain_that_collapses_on_delete() -> None:
    a, b, shared = close_pair()
    assert shared >= 16
    tree, _ = fresh_tree()
    tree.update({a: b"1", b: b"2", b"other": b"3"})
    assert tree.root == naive_root({a: b"1", b: b"2", b"other": b"3"})
    proof = tree.prove(a)
    assert len(proof.siblings) == shared + 1
    verify_state_proof(tree.root, a, b"1", proof)
    tree.update({b: None, b"other": None})
    assert tree.root == h(b"\x00" + h(a) + h(b"1"))
    assert tree.prove(a) == StateProof((), StateLeaf(h(a), h(b"1")))


def test_depth_is_logarithmic() -> None:
    tree, _ = fresh_tree()
    tree.update({b"key%d" % i: b"v" for i in range(2000)})
    depths = [len(tree.prove(b"key%d" % i).siblings) for i in range(0, 2000, 7)]
    assert max(depths) < 32
    assert sum(depths) / len(depths) < 15


# -- the tree against the model -----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(histories)
def test_matches_model_after_every_batch(history: list[dict[bytes, bytes | None]]) -> None:
    tree, _ = fresh_tree()
    model: Model = {}
    for batch in history:
        apply_model(model, batch)
        assert tree.update(batch) == naive_root(model)
        for key in UNIVERSE + ABSENT:
            assert tree.get(key) == model.get(key)


@settings(max_examples=40, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_root_independent_of_order_and_batching(
    history: list[dict[bytes, bytes | None]], rnd: Any
) -> None:
    final: Model = {}
    for batch in history:
        apply_model(final, batch)
    # Replay the same operations key by key in shuffled batches of random sizes.
    one_by_one, _ = fresh_tree()
    for batch in history:
        items = list(batch.items())
        rnd.shuffle(items)
        while items:
            size = rnd.randint(1, len(items))
            one_by_one.update(dict(items[:size]))
            items = items[size:]
    # And the final map as one batch, written in two different orders.
    forward, overlay_f = fresh_tree()
    backward, overlay_b = fresh_tree()
    forward.update(final)
    backward.update(dict(reversed(final.items())))
    assert one_by_one.root == forward.root == backward.root == naive_root(final)
    assert overlay_f.pending == overlay_b.pending


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(keys, state_values, min_size=1))
def test_deleting_everything_returns_the_empty_root(model: Model) -> None:
    tree, _ = fresh_tree()
    tree.update(model)
    keys_ = list(model)
    tree.update(dict.fromkeys(keys_[::2]))
    tree.update(dict.fromkeys(keys_[1::2]))
    assert tree.root == EMPTY_ROOT
    assert all(tree.get(k) is None for k in UNIVERSE)


class CountingOverlay(Overlay):
    """Counts puts per key, to show a batch writes each page once."""

    def __init__(self, base: KVStore) -> None:
        super().__init__(base)
        self.puts: dict[bytes, int] = {}

    def put(self, key: bytes, value: bytes) -> None:
        self.puts[key] = self.puts.get(key, 0) + 1
        super().put(key, value)


def test_a_batch_writes_each_page_once() -> None:
    overlay = CountingOverlay(MemoryKV())
    tree = StateTree(overlay, EMPTY_ROOT)
    tree.update({b"key%d" % i: b"a" for i in range(3000)})
    overlay.puts.clear()
    tree.update({b"key%d" % i: b"b" for i in range(0, 3000, 3)})
    node_puts = [n for k, n in overlay.puts.items() if k.startswith(NODE_PREFIX)]
    assert len(node_puts) > 500  # 1,000 of 3,000 leaves changed: most pages above them
    assert max(node_puts) == 1


# -- node records: shallow under N, deep under P and their bucket ---------------------


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(histories)
def test_every_node_is_read_back_from_its_own_record(
    cluster_depth: int, history: list[dict[bytes, bytes | None]]
) -> None:
    # Leaves move up and down as their neighbours come and go, across the
    # cluster depth too; a tree with no cache must find every node of every
    # root in the store, under the key its depth and position give.
    kv = MemoryKV()
    overlay = Overlay(kv)
    tree = StateTree(overlay, EMPTY_ROOT)
    model: Model = {}
    roots = []
    for batch in history:
        tree.update(batch)
        overlay.flush()
        apply_model(model, batch)
        roots.append((tree.root, dict(model)))
        assert tree.root == naive_root(model)
    for root, snapshot in roots:
        cold = StateTree(Overlay(kv), root, cache=NodeCache(0))
        for key in UNIVERSE + ABSENT:
            value, proof = cold.proven(key)
            assert value == snapshot.get(key)
            verify_state_proof(root, key, value, proof)
    prefixes = {key[:1] for key, _ in kv.scan(b"", b"\xff")}
    if cluster_depth == 0 and model:
        assert NODE_PREFIX not in prefixes
    if cluster_depth == CLUSTER_DEPTH:
        assert DEEP_NODE_PREFIX not in prefixes  # 41 keys never reach depth 16


def test_deep_nodes_are_grouped_by_the_bucket_of_their_position() -> None:
    tree, overlay = fresh_tree()
    tree.update({b"key%d" % i: b"v" for i in range(200_000)})
    deep = [k for k in overlay.pending if k[:1] == DEEP_NODE_PREFIX]
    assert deep, "200,000 keys reach depth 16"
    leaves = 0
    for record_key in deep:
        record = overlay.pending[record_key]
        assert record is not None
        name, found, _ = page_parts(record)
        assert record_key[3:] == name
        for _, key_hash, _ in found:  # every leaf below a deep page is in its bucket
            assert key_hash[:2] == record_key[1:3]
            leaves += 1
    assert leaves > 100_000


# -- proofs ----------------------------------------------------------------------------


def altered_copies(data: bytes) -> Iterator[bytes]:
    """``data`` with each byte changed in turn (one bit flipped, then all bits)."""
    for i in range(len(data)):
        for mask in (0x01, 0xFF):
            yield data[:i] + bytes([data[i] ^ mask]) + data[i + 1 :]


def check_altered_proof_fails(
    root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> None:
    data = encode(proof.to_value())
    for altered in altered_copies(data):
        try:
            forged = StateProof.from_value(decode(altered))
        except LedgerError:
            continue
        with pytest.raises(ProofError):
            verify_state_proof(root, key, value, forged)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.data())
def test_proofs_verify_and_nothing_false_does(
    history: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    tree, _ = fresh_tree()
    model: Model = {}
    for batch in history:
        apply_model(model, batch)
        tree.update(batch)
    root = tree.root
    claims = [*sorted({*model.values(), b"other"}), None]
    for key in UNIVERSE + ABSENT:
        proof = tree.prove(key)
        assert StateProof.from_value(decode(encode(proof.to_value()))) == proof
        verify_state_proof(root, key, model.get(key), proof)
        # Soundness: whatever key and value a proof is offered for, it only
        # verifies true statements.
        for other in [*UNIVERSE[:: max(1, len(UNIVERSE) // 6)], *ABSENT[:2], key]:
            for claim in claims:
                if claim == model.get(other) and other == key:
                    continue
                try:
                    verify_state_proof(root, other, claim, proof)
                except ProofError:
                    continue
                assert claim == model.get(other), (other, claim)
        wrong_root = h(root)
        with pytest.raises(ProofError):
            verify_state_proof(wrong_root, key, model.get(key), proof)
    picked = data.draw(st.sampled_from(UNIVERSE + ABSENT))
    check_altered_proof_fails(root, picked, model.get(picked), tree.prove(picked))


def test_non_membership_by_another_leaf_and_by_empty_subtree() -> None:
    tree, _ = fresh_tree()
    tree.update({b"key%d" % i: b"v%d" % i for i in range(50)})
    kinds = set()
    for i in range(200):
        key = b"missing%d" % i
        proof = tree.prove(key)
        verify_state_proof(tree.root, key, None, proof)
        kinds.add(proof.leaf is None)
        with pytest.raises(ProofError):
            verify_state_proof(tree.root, key, b"v", proof)
    assert kinds == {True, False}


def test_old_roots_stay_readable_and_provable(store: KVStore) -> None:
    overlay = Overlay(store)
    tree = StateTree(overlay, EMPTY_ROOT)
    snapshots: list[tuple[bytes, Model]] = []
    model: Model = {}
    for step in range(6):
        batch: dict[bytes, bytes | None] = {
            b"k%d" % i: b"s%d-%d" % (step, i) for i in range(step, 30, 2)
        }
        batch.update(dict.fromkeys(b"k%d" % i for i in range(0, step * 3)))
        apply_model(model, batch)
        tree.update(batch)
        overlay.flush()
        snapshots.append((tree.root, dict(model)))
    assert len({root for root, _ in snapshots}) == len(snapshots)
    for root, snapshot in snapshots:
        for key in UNIVERSE:
            assert tree.get(key, root=root) == snapshot.get(key)
            verify_state_proof(root, key, snapshot.get(key), tree.prove(key, root=root))


# -- persistence and the latest-value index -----------------------------------------------


def test_persisted_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "db"
    model: Model = {b"k%d" % i: b"v%d" % i for i in range(200)}
    kv = LevelDBKV(path)
    overlay = Overlay(kv)
    tree = StateTree(overlay, EMPTY_ROOT)
    first = tree.update(model)
    overlay.flush()
    second = tree.update({b"k1": None, b"k2": b"new"})
    overlay.flush()
    kv.close()
    kv = LevelDBKV(path, create=False)
    try:
        overlay = Overlay(kv)
        assert overlay.get(INDEX_ROOT_KEY) == second
        reopened = StateTree(overlay, second)
        assert reopened.get(b"k1") is None
        assert reopened.get(b"k2") == b"new"
        assert reopened.get(b"k3") == b"v3"
        assert reopened.get(b"k1", root=first) == b"v1"
        verify_state_proof(first, b"k2", b"v2", reopened.prove(b"k2", root=first))
        third = reopened.update({b"k3": None})
        assert third == naive_root(
            {**{k: v for k, v in model.items() if k not in {b"k1", b"k3"}}, b"k2": b"new"}
        )
    finally:
        kv.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories)
def test_index_and_walk_agree_on_both_backends(
    store: KVStore, history: list[dict[bytes, bytes | None]]
) -> None:
    # Hypothesis reuses the fixture's store across examples: start from what is there.
    overlay = Overlay(store)
    start = overlay.get(INDEX_ROOT_KEY) or EMPTY_ROOT
    tree = StateTree(overlay, start)
    model: Model = {k: v for k in UNIVERSE if (v := tree.get(k)) is not None}
    roots = [start]
    for batch in history:
        apply_model(model, batch)
        roots.append(tree.update(batch))
        overlay.flush()
    assert (Overlay(store).get(INDEX_ROOT_KEY) or EMPTY_ROOT) == tree.root == naive_root(model)
    reread = StateTree(Overlay(store), tree.root, cache=NodeCache(0))
    for key in UNIVERSE:
        by_index = reread.get(key)
        _, node = reread._walk(h(key), tree.root)
        by_walk = None if node is None or node[1] != h(key) else reread._value(node[1], node[2])
        assert by_index == by_walk == model.get(key)


def test_index_follows_only_the_indexed_root() -> None:
    tree, overlay = fresh_tree()
    r1 = tree.update({b"a": b"1", b"b": b"2"})
    r2 = tree.update({b"a": b"changed"})
    # A second branch from r1 (a block executed and then not committed, say).
    fork = StateTree(overlay, r1)
    r3 = fork.update({b"b": None, b"c": b"3"})
    assert overlay.get(INDEX_ROOT_KEY) == r2
    assert StateTree(overlay, r2).get(b"a") == b"changed"
    assert [fork.get(k) for k in (b"a", b"b", b"c")] == [b"1", None, b"3"]
    assert [tree.get(k, root=r3) for k in (b"a", b"b", b"c")] == [b"1", None, b"3"]
    assert tree.get(b"c") is None


def test_discarded_overlay_leaves_the_store_as_it_was(store: KVStore) -> None:
    overlay = Overlay(store)
    tree = StateTree(overlay, EMPTY_ROOT)
    r1 = tree.update({b"a": b"1"})
    overlay.flush()
    pending = Overlay(store)
    r2 = StateTree(pending, r1).update({b"a": b"2", b"b": b"3"})
    pending.discard()
    assert Overlay(store).get(INDEX_ROOT_KEY) == r1
    assert StateTree(Overlay(store), r1).get(b"a") == b"1"
    with pytest.raises(CorruptStore):
        StateTree(Overlay(store), r2)


def test_shared_cache_gives_the_same_answers() -> None:
    cache = NodeCache(64)
    overlay = Overlay(MemoryKV())
    cached = StateTree(overlay, EMPTY_ROOT, cache=cache)
    plain, _ = fresh_tree()
    for step in range(5):
        batch = {b"k%d" % i: b"%d" % step for i in range(step, 300, step + 1)}
        assert cached.update(batch) == plain.update(batch)
        assert 0 < len(cache) <= 64 + 2 * 300 * 4
    for key in UNIVERSE:
        assert cached.prove(key) == plain.prove(key)


# -- refused input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "error"),
    [
        ({b"k" * (MAX_KEY_SIZE + 1): b"v"}, TooLarge),
        ({b"k": b"v" * (MAX_VALUE_SIZE + 1)}, TooLarge),
        ({b"k": b""}, SchemaError),
        ({"k": b"v"}, SchemaError),
        ({b"k": "v"}, SchemaError),
        ({b"k": bytearray(b"v")}, SchemaError),
    ],
)
def test_bad_batches_are_refused_whole(batch: dict[Any, Any], error: type[LedgerError]) -> None:
    tree, overlay = fresh_tree()
    root = tree.update({b"a": b"1"})
    before = dict(overlay.pending)
    with pytest.raises(error):
        tree.update({b"ok": b"fine", **batch})
    assert tree.root == root
    assert overlay.pending == before


def test_limits_are_inclusive() -> None:
    tree, _ = fresh_tree()
    key, value = b"k" * MAX_KEY_SIZE, b"v" * MAX_VALUE_SIZE
    tree.update({key: value})
    assert tree.get(key) == value
    with pytest.raises(TooLarge):
        tree.get(key + b"k")


def test_bad_roots_and_missing_records() -> None:
    tree, overlay = fresh_tree()
    with pytest.raises(SchemaError):
        StateTree(overlay, b"short")
    with pytest.raises(SchemaError):
        tree.get(b"a", root=b"\x01" * 31)
    with pytest.raises(CorruptStore):
        StateTree(overlay, b"\x01" * 32)
    model = {b"k%d" % i: b"v%d" % i for i in range(20)}
    root = tree.update(model)
    overlay.delete(VALUE_PREFIX + h(b"\x00" + h(b"k3") + h(b"v3")))
    with pytest.raises(CorruptStore):
        tree.get(b"k3")
    # 20 keys in 16 slots of the root page: some slot holds a page of its own.
    root_record = overlay.get(NODE_PREFIX + root)
    assert root_record is not None
    slot, child = page_parts(root_record)[2][0]
    overlay.delete(NODE_PREFIX + child)
    fresh = StateTree(overlay, root, cache=NodeCache(0))
    for key in UNIVERSE:
        if h(key)[0] >> 4 == slot:
            with pytest.raises(CorruptStore, match="missing"):
                fresh.prove(key)
        else:
            verify_state_proof(root, key, model.get(key), fresh.prove(key))
    overlay.put(NODE_PREFIX + root, b"\x07" * 73)
    with pytest.raises(CorruptStore, match="malformed"):
        StateTree(overlay, root)
    overlay.put(NODE_PREFIX + root, root_record[:-40] + root_record[-8:])
    with pytest.raises(CorruptStore, match="malformed"):
        StateTree(overlay, root)


@given(histories)
def test_proven_is_get_and_prove_in_one_walk(history: list[dict[bytes, bytes | None]]) -> None:
    tree, _ = fresh_tree()
    model: Model = {}
    roots = []
    for batch in history:
        tree.update(batch)
        apply_model(model, batch)
        roots.append((tree.root, dict(model)))
    # The latest root (read through the index by get) and every earlier one (walked).
    for root, snapshot in roots:
        for key in UNIVERSE + ABSENT:
            value, proof = tree.proven(key, root=root)
            assert value == snapshot.get(key) == tree.get(key, root=root)
            assert proof == tree.prove(key, root=root)
            verify_state_proof(root, key, value, proof)


# -- values kept as pieces of another record ------------------------------------------

documents = st.binary(min_size=1, max_size=600)


@settings(max_examples=300, deadline=None)
@given(documents, documents, st.lists(st.tuples(st.integers(0, 600), documents), max_size=4))
def test_a_value_kept_within_another_record_reads_back(
    value: bytes, noise: bytes, edits: list[tuple[int, bytes]]
) -> None:
    # The source holds the value with bytes around it and some of its own
    # inserted: like a transaction's wire and the normalised document it carries.
    source = bytearray(noise + value + noise)
    for at, insert in edits:
        source[at:at] = insert
    kv = MemoryKV()
    kv.write({b"Xsource": bytes(source)})
    overlay = Overlay(kv)
    tree = StateTree(overlay, EMPTY_ROOT)
    tree.update({b"doc": value, b"other": b"x"}, {b"doc": (b"Xsource", bytes(source))})
    overlay.flush()
    cold = StateTree(Overlay(kv), tree.root, cache=NodeCache(0))
    assert cold.get(b"doc") == value
    assert dict(cold.leaves()) == {h(b"doc"): value, h(b"other"): b"x"}
    record = kv.get(VALUE_PREFIX + h(b"\x00" + h(b"doc") + h(value)))
    assert record is not None
    if record[0] == 1:
        assert len(record) <= len(value) + 8  # kept as pieces only where that saves bytes


def kept_within(value: bytes, source: bytes) -> tuple[MemoryKV, bytes, bytes]:
    """A store whose state holds ``value`` under ``doc``, kept within ``source`` (the
    record ``Xsource``) and checked to read back from a cold tree; its root; the value's record."""
    kv = MemoryKV()
    kv.write({b"Xsource": source})
    overlay = Overlay(kv)
    tree = StateTree(overlay, EMPTY_ROOT)
    tree.update({b"doc": value}, {b"doc": (b"Xsource", source)})
    overlay.flush()
    assert StateTree(Overlay(kv), tree.root, cache=NodeCache(0)).get(b"doc") == value
    record = kv.get(VALUE_PREFIX + h(b"\x00" + h(b"doc") + h(value)))
    assert record is not None
    return kv, tree.root, record


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 40), st.integers(1, 30))
def test_a_value_with_fields_inserted_is_kept_as_pieces(
    seed: int, every: int, inserted: int
) -> None:
    # A document is its transaction's with fields filled in: bytes inserted
    # into the value here and there, often close together. The record keeps
    # the inserted bytes and a few bytes a piece, and reads back whole.
    rnd = random.Random(seed)
    source = rnd.randbytes(3000)
    parts, at, added = [], 0, 0
    while at < 2800:
        step = rnd.randint(every, every + 60)
        parts.append(source[at : at + step])
        insert = rnd.randbytes(rnd.randint(1, inserted))
        parts.append(insert)
        added += len(insert)
        at += step
    value = b"".join(parts)
    _, _, record = kept_within(value, source)
    pieces = len(parts) // 2
    if record[0] == 1 and every >= 16:
        # Each piece: 9 bytes of span and 5 of literal header around what was inserted.
        assert len(record) <= added + 14 * pieces + 2 * 16 * pieces + 64


def test_a_value_whose_source_changed_is_refused() -> None:
    value = bytes(range(256)) * 4
    source = b"head" + value + b"tail"
    kv, root, record = kept_within(value, source)
    assert record[0] == 1 and len(record) < 100
    for damaged in (b"head" + value[:-1] + b"!tail", b"short", None):
        kv.write({b"Xsource": damaged})
        with pytest.raises(CorruptStore, match="not where its record says"):
            StateTree(Overlay(kv), root, cache=NodeCache(0)).get(b"doc")
    # A value its source does not hold is kept whole.
    overlay = Overlay(kv)
    StateTree(overlay, root).update({b"new": b"v" * 300}, {b"new": (b"Xsource", source)})
    kept = overlay.pending[VALUE_PREFIX + h(b"\x00" + h(b"new") + h(b"v" * 300))]
    assert kept is not None and kept[0] == 0


class CountingBytes(bytes):
    """Bytes that count how much of themselves each ``find`` reads."""

    scanned = 0

    def find(self, sub: Any, start: Any = 0, *rest: Any) -> int:
        found = bytes.find(self, sub, start, *rest)
        CountingBytes.scanned += len(self) - start if found < 0 else found - start + len(sub)
        return found


def test_the_search_for_pieces_reads_a_bounded_part_of_a_hostile_source() -> None:
    # A transaction made so that its document shares nothing with it, at the
    # largest size: each node's search must not read it once per 64-byte probe.
    rng = random.Random(5)
    source = CountingBytes(rng.randbytes(256 * 1024))
    CountingBytes.scanned = 0
    assert smt._pieces(rng.randbytes(250 * 1024), source) is None
    assert 0 < CountingBytes.scanned <= 16 * len(source)
    # And a document that is all there is found whole, in one read.
    CountingBytes.scanned = 0
    inner = bytes(source[1000:201000])
    pieces = smt._pieces(inner, source)
    assert pieces is not None and len(pieces) < 20
    assert CountingBytes.scanned <= 1000 + 64
