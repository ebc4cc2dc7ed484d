"""One suite, run against every KVStore backend: the fake must behave as the real one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import StoreError
from ledger.kv import KVStore, LevelDBKV, MemoryKV, Overlay, prefix_end


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
