"""Pruning the state tree: kept roots stay whole, and nothing else is left behind."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import CorruptStore, SchemaError
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay
from ledger.smt import (
    DEEP_NODE_PREFIX,
    EMPTY_ROOT,
    NODE_PREFIX,
    STALE_LOG_KEY,
    STALE_PREFIX,
    VALUE_PREFIX,
    NodeCache,
    StateTree,
    leaf_hash,
    node_key,
    prune,
    record_version,
    verify_state_proof,
)
from tests.ledger.test_smt import (
    ABSENT,
    UNIVERSE,
    Model,
    apply_model,
    changes,
    naive_root,
    page_parts,
)

RECORD_PREFIXES = (NODE_PREFIX, DEEP_NODE_PREFIX, VALUE_PREFIX)
# Few keys and values: keys go back to earlier values and subtrees to earlier
# leaves, so records leave the tree and are written again.
recurring = st.dictionaries(
    st.sampled_from(UNIVERSE[:12]), st.none() | st.sampled_from([b"a", b"b", b"c"]), max_size=8
)
batches = st.one_of(changes, recurring)


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def records(kv: KVStore) -> set[bytes]:
    """Every node and value record key in ``kv``."""
    return {k for k, _ in kv.scan(b"", b"\xff") if k[:1] in RECORD_PREFIXES}


def reachable(kv: KVStore, root: bytes) -> set[bytes]:
    """The record keys the tree at ``root`` uses, found by walking its pages from the layout."""
    found: set[bytes] = set()
    stack = [(root, 0, 0)] if root != EMPTY_ROOT else []
    while stack:
        page_hash, depth, path = stack.pop()
        where = node_key(page_hash, depth, path)
        record = kv.get(where)
        assert record is not None, f"page {page_hash.hex()} at depth {depth} missing"
        name, leaves, inner = page_parts(record)
        assert name == page_hash
        found.add(where)
        for _, key_hash, value_hash in leaves:
            value_key = VALUE_PREFIX + h(b"\x00" + key_hash + value_hash)
            assert kv.get(value_key) is not None
            found.add(value_key)
        for slot, child in inner:
            stack.append((child, depth + 4, path | (slot << (252 - depth))))
    return found


def check_root(kv: KVStore, root: bytes, model: Model) -> None:
    cold = StateTree(Overlay(kv), root, cache=NodeCache(0))
    for key in UNIVERSE + ABSENT:
        value, proof = cold.proven(key)
        assert value == model.get(key)
        verify_state_proof(root, key, value, proof)


def tracked_store(kind: str, tmp_path: object) -> KVStore:
    kv: KVStore = MemoryKV() if kind == "memory" else LevelDBKV(tmp_path / "db")  # type: ignore[operator]
    kv.write({STALE_LOG_KEY: b""})
    return kv


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(batches, min_size=1, max_size=10), st.data())
def test_kept_roots_stay_whole_and_the_last_prune_leaves_only_the_tip(
    cluster_depth: int, history: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    # The small key universe and short values make keys come back to earlier
    # values and subtrees to earlier leaves: records taken out, then written again.
    kv = tracked_store("memory", None)
    shared = NodeCache()
    root = EMPTY_ROOT
    model: Model = {}
    roots: list[tuple[bytes, Model]] = [(EMPTY_ROOT, {})]
    kept_from = 0
    for version, batch in enumerate(history, start=1):
        overlay = Overlay(kv)
        root = StateTree(overlay, root, cache=shared, version=version).update(batch)
        overlay.flush()
        apply_model(model, batch)
        roots.append((root, dict(model)))
        assert root == naive_root(model)
        keep_from = data.draw(st.integers(0, version), label="keep_from")
        prune(kv, keep_from, batch=data.draw(st.integers(1, 50), label="batch"))
        kept_from = max(kept_from, keep_from)
        for at in range(kept_from, version + 1):
            check_root(kv, *roots[at])
    prune(kv, len(history))
    assert records(kv) == reachable(kv, root)
    assert not any(True for _ in kv.scan_prefix(STALE_PREFIX))


@pytest.mark.parametrize("kind", ["memory", "leveldb"])
def test_a_pruned_root_is_refused_and_the_tip_reads_on(kind: str, tmp_path: object) -> None:
    kv = tracked_store(kind, tmp_path)
    roots = []
    root = EMPTY_ROOT
    for version in range(1, 6):
        overlay = Overlay(kv)
        batch = {b"k%d" % i: b"v%d-%d" % (i, version) for i in range(0, 300, version)}
        root = StateTree(overlay, root, version=version).update(batch)
        overlay.flush()
        roots.append(root)
    before = len(records(kv))
    done = prune(kv, 4)
    assert done.deleted > 0 and done.entries >= done.deleted
    assert len(records(kv)) == before - done.deleted
    for old in roots[:3]:
        with pytest.raises(CorruptStore):
            StateTree(Overlay(kv), old, cache=NodeCache(0))
    for kept in roots[3:]:
        StateTree(Overlay(kv), kept, cache=NodeCache(0))
    tip = StateTree(Overlay(kv), roots[-1], cache=NodeCache(0))
    assert tip.get(b"k0") == b"v0-5"
    assert tip.get(b"k3") == b"v3-3"
    assert tip.get(b"k1") == b"v1-1"
    assert prune(kv, 4).entries == 0
    kv.close()


def test_a_record_written_again_is_kept() -> None:
    # k goes to v2 and back: the leaf of (k, v1) and its value leave the tree at
    # version 2 and come back at 3; pruning up to 3 must keep them.
    kv = tracked_store("memory", None)
    root = EMPTY_ROOT
    for version, value in enumerate((b"v1", b"v2", b"v1"), start=1):
        overlay = Overlay(kv)
        root = StateTree(overlay, root, version=version).update({b"k": value, b"j": b"x"})
        overlay.flush()
    done = prune(kv, 3)
    assert done.kept >= 2
    value_record = kv.get(VALUE_PREFIX + leaf_hash(h(b"k"), h(b"v1")))
    assert value_record is not None and record_version(value_record) == 3
    assert StateTree(Overlay(kv), root, cache=NodeCache(0)).get(b"k") == b"v1"
    assert records(kv) == reachable(kv, root)


def test_nothing_is_logged_without_the_marker() -> None:
    kv = MemoryKV()
    root = EMPTY_ROOT
    for version in (1, 2):
        overlay = Overlay(kv)
        root = StateTree(overlay, root, version=version).update({b"k": b"v%d" % version})
        overlay.flush()
    assert not any(True for _ in kv.scan_prefix(STALE_PREFIX))
    assert prune(kv, 2).entries == 0


def test_versions_are_checked() -> None:
    with pytest.raises(SchemaError):
        StateTree(Overlay(MemoryKV()), EMPTY_ROOT, version=-1)
    with pytest.raises(SchemaError):
        StateTree(Overlay(MemoryKV()), EMPTY_ROOT, version=1 << 64)
    with pytest.raises(SchemaError):
        prune(MemoryKV(), -1)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(batches, min_size=1, max_size=10), st.data())
def test_pruning_from_the_writes_remembered_deletes_what_reading_back_does(
    cluster_depth: int, history: list[dict[bytes, bytes | None]], data: st.DataObject
) -> None:
    # A node remembers what each block it committed wrote, from some height on;
    # pruning from that must leave the store exactly as reading each record back.
    reading, remembering = tracked_store("memory", None), tracked_store("memory", None)
    written: dict[bytes, int] = {}
    written_from = data.draw(st.integers(1, len(history) + 1), label="written_from")
    roots = {id(reading): EMPTY_ROOT, id(remembering): EMPTY_ROOT}
    for version, batch in enumerate(history, start=1):
        for kv in (reading, remembering):
            overlay = Overlay(kv)
            roots[id(kv)] = StateTree(overlay, roots[id(kv)], version=version).update(batch)
            if kv is remembering and version >= written_from:
                for key, value in overlay.pending.items():
                    if value is not None and key[:1] in RECORD_PREFIXES:
                        written[key] = version
            overlay.flush()
        keep_from = data.draw(st.integers(0, version), label="keep_from")
        prune(reading, keep_from)
        prune(remembering, keep_from, written=written, written_from=written_from)
        assert dict(reading.scan(b"", b"\xff")) == dict(remembering.scan(b"", b"\xff"))
