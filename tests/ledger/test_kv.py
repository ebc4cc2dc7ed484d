"""One suite, run against every KVStore backend: the fake must behave as the real one."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import StoreError
from ledger.kv import (
    DEFAULT_TABLE_BYTES,
    MAX_TABLE_BYTES,
    MIN_TABLE_BYTES,
    KVStore,
    LevelDBKV,
    MemoryKV,
    Overlay,
    prefix_end,
)


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KVStore]:
    kv: KVStore = MemoryKV() if request.param == "memory" else LevelDBKV(tmp_path / "db")
    yield kv
    kv.close()


def test_get_put_delete(store: KVStore) -> None:
    assert store.get(b"a") is None
    store.write({b"a": b"1", b"b": b"2"})
    assert store.get(b"a") == b"1"
    store.write({b"a": None, b"c": b"3"})
    assert store.get(b"a") is None
    assert store.get(b"c") == b"3"


def test_scan_is_ordered_and_half_open(store: KVStore) -> None:
    store.write({bytes([i]): bytes([i]) for i in range(10)})
    assert [k for k, _ in store.scan(b"\x02", b"\x05")] == [b"\x02", b"\x03", b"\x04"]
    assert [k for k, _ in store.scan(b"\x02", b"\x05", reverse=True)] == [
        b"\x04",
        b"\x03",
        b"\x02",
    ]


def test_scan_prefix(store: KVStore) -> None:
    store.write({b"A\x00": b"x", b"A\xff": b"y", b"B": b"z", b"@": b"w"})
    assert [k for k, _ in store.scan_prefix(b"A")] == [b"A\x00", b"A\xff"]


def test_big_endian_keys_sort_by_number(store: KVStore) -> None:
    store.write({b"H" + n.to_bytes(8, "big"): b"" for n in (300, 2, 70000, 1)})
    heights = [int.from_bytes(k[1:], "big") for k, _ in store.scan_prefix(b"H")]
    assert heights == [1, 2, 300, 70000]


def test_overlay_reads_its_own_writes_and_flushes_atomically(store: KVStore) -> None:
    store.write({b"k": b"old"})
    ov = Overlay(store)
    ov.put(b"k", b"new")
    ov.put(b"n", b"1")
    ov.delete(b"gone")
    assert ov.get(b"k") == b"new"
    assert store.get(b"k") == b"old"
    ov.flush()
    assert store.get(b"k") == b"new"
    assert store.get(b"n") == b"1"
    assert ov.pending == {}


def test_overlay_discard(store: KVStore) -> None:
    ov = Overlay(store)
    ov.put(b"k", b"v")
    ov.discard()
    ov.flush()
    assert store.get(b"k") is None


def test_closed_store_refuses(store: KVStore) -> None:
    store.close()
    with pytest.raises(StoreError):
        store.get(b"a")


def test_snapshot_keeps_the_moment_it_was_taken(store: KVStore) -> None:
    store.write({b"a": b"1", b"b": b"2"})
    snap = store.snapshot()
    store.write({b"a": b"changed", b"b": None, b"c": b"3"})
    assert (snap.get(b"a"), snap.get(b"b"), snap.get(b"c")) == (b"1", b"2", None)
    assert list(snap.scan(b"", b"\xff")) == [(b"a", b"1"), (b"b", b"2")]
    assert [k for k, _ in snap.scan(b"", b"\xff", reverse=True)] == [b"b", b"a"]
    assert store.get(b"a") == b"changed"
    snap.close()


def test_snapshot_is_read_only_and_closes(store: KVStore) -> None:
    store.write({b"a": b"1"})
    snap = store.snapshot()
    with pytest.raises(StoreError, match="read-only"):
        snap.write({b"a": b"2"})
    assert store.get(b"a") == b"1"
    # A snapshot of a snapshot is the same moment; closing it leaves the first open.
    inner = snap.snapshot()
    store.write({b"a": b"2"})
    assert inner.get(b"a") == b"1"
    inner.close()
    assert snap.get(b"a") == b"1"
    snap.close()
    with pytest.raises(StoreError):
        snap.get(b"a")
    assert store.get(b"a") == b"2"


def test_snapshots_agree_while_another_thread_writes(store: KVStore) -> None:
    # The writer keeps a == b in every batch; a snapshot must never see them differ.
    store.write({b"a": b"0", b"b": b"0"})
    done = threading.Event()

    def writer() -> None:
        for i in range(1, 2001):
            value = str(i).encode()
            store.write({b"a": value, b"b": value}, sync=False)
        done.set()

    thread = threading.Thread(target=writer)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, inside batches too
    thread.start()
    try:
        while not done.is_set():
            snap = store.snapshot()
            a = snap.get(b"a")
            assert snap.get(b"b") == a
            assert [v for _, v in snap.scan(b"a", b"c")] == [a, a]
            snap.close()
    finally:
        thread.join()
        sys.setswitchinterval(interval)
    assert store.get(b"a") == store.get(b"b") == b"2000"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.dictionaries(st.binary(max_size=3), st.one_of(st.none(), st.binary(max_size=3))),
        max_size=5,
    )
)
def test_matches_a_dict_model(store: KVStore, batches: list[dict[bytes, bytes | None]]) -> None:
    model = dict(store.scan(b"", b"\xff" * 8))
    for batch in batches:
        store.write(batch)
        for k, v in batch.items():
            if v is None:
                model.pop(k, None)
            else:
                model[k] = v
    assert dict(store.scan(b"", b"\xff" * 8)) == model
    assert [k for k, _ in store.scan(b"", b"\xff" * 8)] == sorted(model)


def test_prefix_end() -> None:
    assert prefix_end(b"A") == b"B"
    assert prefix_end(b"A\xff") == b"B"
    assert prefix_end(b"") > b"\xff" * 8


def test_leveldb_persists_across_reopen(tmp_path: Path) -> None:
    kv = LevelDBKV(tmp_path / "db")
    kv.write({b"a": b"1"})
    kv.close()
    kv = LevelDBKV(tmp_path / "db", create=False)
    assert kv.get(b"a") == b"1"
    kv.close()


def test_leveldb_missing_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        LevelDBKV(tmp_path / "absent", create=False)


def test_leveldb_locked_by_another_handle(tmp_path: Path) -> None:
    kv = LevelDBKV(tmp_path / "db")
    with pytest.raises(StoreError):
        LevelDBKV(tmp_path / "db")
    kv.close()


def _incompressible(batch: int, i: int) -> bytes:
    return b"".join(hashlib.sha256(b"%d-%d-%d" % (batch, i, j)).digest() for j in range(32))


@pytest.mark.parametrize("table_bytes", [MIN_TABLE_BYTES, DEFAULT_TABLE_BYTES])
def test_leveldb_compacts_into_tables_of_the_size_asked(tmp_path: Path, table_bytes: int) -> None:
    kv = LevelDBKV(tmp_path / "db", table_bytes=table_bytes)
    # 32 small flushes of random keys, each compacted into what is below it:
    # every table but the flushed ones is a compaction's output.
    values = {}
    for batch in range(32):
        part = {
            hashlib.sha256(b"%d-%d" % (batch, i)).digest(): _incompressible(batch, i)
            for i in range(256)
        }
        kv.write(part)
        kv._db.compact_range()
        values.update(part)
    sizes = sorted(f.stat().st_size for f in (tmp_path / "db").glob("*.ldb"))
    assert sum(sizes) >= 8 << 20
    # A table ends at the first block boundary past the size asked.
    assert 0.9 * table_bytes <= sizes[-1] <= table_bytes + (64 << 10)
    assert all(kv.get(k) == v for k, v in values.items())
    kv.close()


@pytest.mark.parametrize("table_bytes", [0, MIN_TABLE_BYTES - 1, MAX_TABLE_BYTES + 1])
def test_leveldb_refuses_a_table_size_it_would_clip(tmp_path: Path, table_bytes: int) -> None:
    with pytest.raises(ValueError, match="table_bytes"):
        LevelDBKV(tmp_path / "db", table_bytes=table_bytes)
    assert not (tmp_path / "db").exists()


@pytest.mark.parametrize("compression", ["snappy", None])
def test_leveldb_stores_compressible_records_as_asked(
    tmp_path: Path, compression: str | None
) -> None:
    """Snappy shrinks what repeats; without compression a table holds the bytes as they are."""
    kv = LevelDBKV(tmp_path / "db", compression=compression)
    records = {b"%08d" % i: b"A" * 1000 for i in range(4096)}
    kv.write(records)
    kv._db.compact_range()
    size = sum(f.stat().st_size for f in (tmp_path / "db").glob("*.ldb"))
    if compression is None:
        assert size >= 4096 * 1000
    else:
        assert size < 4096 * 1000 // 4
    assert all(kv.get(k) == v for k, v in records.items())
    kv.close()
    # Either way the store reads back under the other setting.
    other = LevelDBKV(tmp_path / "db", compression="snappy" if compression is None else None)
    assert other.get(b"%08d" % 7) == b"A" * 1000
    other.close()


@pytest.mark.parametrize(
    ("option", "value"),
    [("compression", "zlib"), ("write_buffer_bytes", 0), ("write_buffer_bytes", 2 << 30)],
)
def test_leveldb_refuses_settings_it_does_not_take(
    tmp_path: Path, option: str, value: object
) -> None:
    with pytest.raises(ValueError, match=option):
        LevelDBKV(tmp_path / "db", **{option: value})  # type: ignore[arg-type]
    assert not (tmp_path / "db").exists()
