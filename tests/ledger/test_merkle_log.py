"""The persisted transaction log against the RFC 9162 definitions, across flushes and reopens."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import CorruptStore, ProofError
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay
from ledger.merkle import EMPTY_ROOT, leaf_hash, verify_consistency, verify_inclusion
from ledger.merkle_log import SIZE_KEY, MerkleLog, node_key
from tests.ledger.merkle_reference import Tree
from tests.ledger.test_merkle import CONSISTENCY_VECTORS, INCLUSION_VECTORS, LEAVES, ROOTS


def _leaves(n: int, tag: bytes = b"") -> list[bytes]:
    return [tag + i.to_bytes(4, "big") for i in range(n)]


def _check_everything(log: MerkleLog, tree: Tree) -> None:
    """Every root, inclusion proof and consistency proof of ``log`` is the RFC's."""
    n = log.size
    for size in range(n + 1):
        root = tree.root(size)
        assert log.root(size) == root
        for index in range(size):
            proof = log.inclusion_proof(index, size)
            assert proof == tree.inclusion_path(index, size)
            verify_inclusion(tree.hash(index, index + 1), index, size, proof, root)
        for old in range(size + 1):
            proof = log.consistency_proof(old, size)
            assert proof == tree.consistency_path(old, size)
            verify_consistency(old, size, tree.root(old), root, proof)


def test_empty_log() -> None:
    log = MerkleLog.open(Overlay(MemoryKV()))
    assert log.size == 0
    assert log.root() == log.root(0) == EMPTY_ROOT
    assert log.consistency_proof(0) == []
    with pytest.raises(ProofError):
        log.inclusion_proof(0)


def test_published_vectors_through_the_log() -> None:
    log = MerkleLog.open(Overlay(MemoryKV()))
    for i, leaf in enumerate(LEAVES):
        assert log.append(leaf) == i
        assert log.root() == ROOTS[i + 1]
    assert [log.root(s) for s in range(9)] == ROOTS
    for index, size, proof in INCLUSION_VECTORS:
        assert log.inclusion_proof(index, size) == proof
    for old, new, proof in CONSISTENCY_VECTORS:
        assert log.consistency_proof(old, new) == proof


def test_every_proof_of_small_logs() -> None:
    overlay = Overlay(MemoryKV())
    log = MerkleLog.open(overlay)
    leaves = _leaves(21)
    for leaf in leaves:
        log.append(leaf)
    _check_everything(log, Tree(leaves))


def test_proofs_at_the_current_size_read_the_frontier() -> None:
    # Ranges that end the log come from the frontier in memory; every other
    # range, and every proof at a past size, from the stored subtrees.
    leaves = _leaves(70)
    tree = Tree(leaves)
    kv = MemoryKV()
    log = MerkleLog.open(Overlay(kv))
    for n, leaf in enumerate(leaves, start=1):
        log.append(leaf)
        root = tree.root(n)
        for index in range(n):
            assert log.inclusion_proof(index) == tree.inclusion_path(index, n)
        for old in range(n + 1):
            proof = log.consistency_proof(old)
            assert proof == tree.consistency_path(old, n)
            verify_consistency(old, n, tree.root(old), root, proof)


def test_store_layout() -> None:
    # One record per perfect subtree, written once, plus the size.
    overlay = Overlay(MemoryKV())
    log = MerkleLog.open(overlay)
    leaves = _leaves(45)
    log.append_many(leaves)
    tree = Tree(leaves)
    expected = {SIZE_KEY: (45).to_bytes(8, "big")}
    for level in range(6):
        width = 1 << level
        for index in range(45 // width):
            key = b"L" + bytes([level]) + index.to_bytes(8, "big")
            assert node_key(level, index) == key
            expected[key] = tree.hash(index * width, (index + 1) * width)
    assert overlay.pending == expected


def test_append_variants_write_the_same_records() -> None:
    leaves = _leaves(37, b"v")
    stores = [Overlay(MemoryKV()) for _ in range(3)]
    one, many, hashed = (MerkleLog.open(o) for o in stores)
    for i, leaf in enumerate(leaves):
        assert one.append(leaf) == i
        assert hashed.append_leaf_hash(leaf_hash(leaf)) == i
    assert many.append_many(leaves[:10]) == 0
    assert many.append_many([]) == 10
    assert many.append_many(iter(leaves[10:])) == 10
    assert stores[0].pending == stores[1].pending == stores[2].pending
    assert one.root() == many.root() == hashed.root() == Tree(leaves).root(37)


@settings(max_examples=30, deadline=None)
@given(
    batches=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=8),
    ways=st.lists(st.sampled_from(["append", "many", "hash"]), min_size=8, max_size=8),
    data=st.data(),
)
def test_log_matches_the_definitions_across_flushes(
    batches: list[int], ways: list[str], data: st.DataObject
) -> None:
    kv = MemoryKV()
    leaves: list[bytes] = []
    for b, (count, way) in enumerate(zip(batches, ways, strict=False)):
        overlay = Overlay(kv)
        log = MerkleLog.open(overlay)
        assert log.size == len(leaves)
        batch = _leaves(count, bytes([b]))
        if way == "append":
            for leaf in batch:
                log.append(leaf)
        elif way == "many":
            log.append_many(batch)
        else:
            for leaf in batch:
                log.append_leaf_hash(leaf_hash(leaf))
        leaves += batch
        tree = Tree(leaves)
        assert log.size == len(leaves)
        assert log.root() == tree.root(len(leaves))
        overlay.flush()
    log = MerkleLog.open(Overlay(kv))
    n = log.size
    assert n == len(leaves)
    for size in range(n + 1):
        assert log.root(size) == tree.root(size)
    for _ in range(12):
        size = data.draw(st.integers(min_value=0, max_value=n), label="size")
        old = data.draw(st.integers(min_value=0, max_value=size), label="old")
        proof = log.consistency_proof(old, size)
        assert proof == tree.consistency_path(old, size)
        verify_consistency(old, size, log.root(old), log.root(size), proof)
        if size:
            index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
            assert log.leaf_hash_at(index) == tree.hash(index, index + 1)
            proof = log.inclusion_proof(index, size)
            assert proof == tree.inclusion_path(index, size)
            verify_inclusion(log.leaf_hash_at(index), index, size, proof, log.root(size))


@pytest.fixture(params=["memory", "leveldb"])
def reopenable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[KVStore]]:
    """A one-slot list holding a store; ``_reopen`` replaces it as a restart would."""
    kv: KVStore = MemoryKV() if request.param == "memory" else LevelDBKV(tmp_path / "db")
    slot = [kv]
    yield slot
    slot[0].close()


def _reopen(slot: list[KVStore]) -> None:
    kv = slot[0]
    if isinstance(kv, LevelDBKV):
        kv.close()
        slot[0] = LevelDBKV(kv.path, create=False)


def test_reopen_gives_the_same_roots_and_proofs(reopenable: list[KVStore]) -> None:
    leaves: list[bytes] = []
    for b, count in enumerate([1, 2, 5, 0, 13, 64, 7, 1]):
        overlay = Overlay(reopenable[0])
        log = MerkleLog.open(overlay)
        batch = _leaves(count, bytes([b]))
        log.append_many(batch)
        leaves += batch
        overlay.flush()
    before = MerkleLog.open(Overlay(reopenable[0]))
    roots = [before.root(s) for s in range(len(leaves) + 1)]
    proofs = [before.inclusion_proof(i, s) for s in (1, 50, 93) for i in range(s)]
    consistency = [before.consistency_proof(o, s) for s in (1, 50, 93) for o in range(s + 1)]
    _reopen(reopenable)
    after = MerkleLog.open(Overlay(reopenable[0]))
    assert after.size == len(leaves) == 93
    assert [after.root(s) for s in range(len(leaves) + 1)] == roots
    assert [after.inclusion_proof(i, s) for s in (1, 50, 93) for i in range(s)] == proofs
    assert [after.consistency_proof(o, s) for s in (1, 50, 93) for o in range(s + 1)] == consistency
    tree = Tree(leaves)
    assert roots == [tree.root(s) for s in range(94)]
    # The reopened log keeps growing exactly as one that never stopped.
    overlay = Overlay(reopenable[0])
    log = MerkleLog.open(overlay)
    log.append_many(_leaves(40, b"more"))
    overlay.flush()
    _reopen(reopenable)
    log = MerkleLog.open(Overlay(reopenable[0]))
    grown = Tree(leaves + _leaves(40, b"more"))
    assert log.size == 133
    assert [log.root(s) for s in range(134)] == [grown.root(s) for s in range(134)]


def test_discarded_block_leaves_the_committed_log() -> None:
    kv = MemoryKV()
    overlay = Overlay(kv)
    log = MerkleLog.open(overlay)
    committed = _leaves(11, b"c")
    log.append_many(committed)
    overlay.flush()
    root = log.root()
    log.append_many(_leaves(6, b"lost"))
    assert log.size == 17
    overlay.discard()
    assert MerkleLog.open(overlay).size == 11
    log.reload()
    assert log.size == 11
    assert log.root() == root
    replacement = _leaves(6, b"kept")
    log.append_many(replacement)
    overlay.flush()
    reopened = MerkleLog.open(Overlay(kv))
    _check_everything(reopened, Tree(committed + replacement))


def test_a_failing_iterable_leaves_a_whole_log() -> None:
    overlay = Overlay(MemoryKV())
    log = MerkleLog.open(overlay)
    items: list[object] = [*_leaves(5), "not bytes", b"never"]
    with pytest.raises(TypeError):
        log.append_many(items)  # type: ignore[arg-type]
    assert log.size == 5
    assert log.root() == Tree(_leaves(5)).root(5)
    assert MerkleLog.open(overlay).root() == log.root()


def test_out_of_range_arguments_name_the_argument() -> None:
    log = MerkleLog.open(Overlay(MemoryKV()))
    log.append_many(_leaves(5))
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: log.root(6), "size"),
        (lambda: log.root(-1), "size"),
        (lambda: log.leaf_hash_at(5), "index"),
        (lambda: log.leaf_hash_at(-1), "index"),
        (lambda: log.inclusion_proof(5), "index"),
        (lambda: log.inclusion_proof(3, 3), "index"),
        (lambda: log.inclusion_proof(0, 0), "index"),
        (lambda: log.inclusion_proof(0, 6), "size"),
        (lambda: log.inclusion_proof(True), "index"),
        (lambda: log.consistency_proof(4, 3), "old_size"),
        (lambda: log.consistency_proof(6), "old_size"),
        (lambda: log.consistency_proof(-1), "old_size"),
        (lambda: log.consistency_proof(0, 6), "new_size"),
        (lambda: log.append_leaf_hash(b"short"), "leaf_hash"),
    ]
    for call, field in cases:
        with pytest.raises(ProofError) as info:
            call()
        assert info.value.field == field
    assert log.size == 5


def _committed(n: int) -> MemoryKV:
    kv = MemoryKV()
    overlay = Overlay(kv)
    MerkleLog.open(overlay).append_many(_leaves(n))
    overlay.flush()
    return kv


def test_corrupt_records_are_reported() -> None:
    kv = _committed(6)
    kv.write({SIZE_KEY: b"\x06"})
    with pytest.raises(CorruptStore, match="size record"):
        MerkleLog.open(Overlay(kv))

    kv = _committed(6)
    kv.write({node_key(1, 2): None})  # part of the frontier of 6 = 4 + 2
    with pytest.raises(CorruptStore, match="level 1, index 2"):
        MerkleLog.open(Overlay(kv))

    kv = _committed(6)
    kv.write({SIZE_KEY: (5).to_bytes(8, "big")})  # leaf 5 exists beyond size 5
    with pytest.raises(CorruptStore, match="beyond its size"):
        MerkleLog.open(Overlay(kv))

    kv = _committed(6)
    kv.write({node_key(0, 2): b"\x00" * 31})
    log = MerkleLog.open(Overlay(kv))
    assert log.root() == Tree(_leaves(6)).root(6)  # the frontier alone is intact
    with pytest.raises(CorruptStore):
        log.inclusion_proof(3)


def test_one_large_batch_over_leveldb() -> None:
    # Both bulk entry points, a thousand leaves committed in one LevelDB batch.
    with tempfile.TemporaryDirectory() as tmp:
        kv = LevelDBKV(Path(tmp) / "db")
        overlay = Overlay(kv)
        log = MerkleLog.open(overlay)
        leaves = _leaves(1000)
        log.append_many(leaves[:500])
        for leaf in leaves[500:]:
            log.append_leaf_hash(leaf_hash(leaf))
        overlay.flush()
        reopened = MerkleLog.open(Overlay(kv))
        assert reopened.root() == log.root() == Tree(leaves).root(1000)
        kv.close()
