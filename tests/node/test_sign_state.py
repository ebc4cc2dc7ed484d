"""The sign-state log: one data sync a save, the last whole record wins, damage refuses.

A crash can cut the last record short or leave its bytes unwritten: that
record was never acknowledged, so loading falls back to the one before it.
Damage anywhere else means the state cannot be trusted, and the node must
not sign from an older one.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ledger.encoding import encode
from node import sign_state
from node.consensus.errors import SignStateError
from node.consensus.privval import SignedState, state_to_value
from node.sign_state import HEADER, MAGIC, SignStateFile
from tests.node.consensus_helpers import PREVOTE
from tests.node.sim_app import CHAIN
from tests.node.test_privval import signer


def states(count: int) -> list[SignedState]:
    """Sign states of one validator after ``count`` prevotes at heights 1, 2, ..."""
    pv = signer()
    out = []
    for height in range(1, count + 1):
        _, saved = pv.sign_vote(PREVOTE, height, 0, None, lock=None)
        assert saved is not None
        out.append(saved)
    return out


def saved_log(tmp_path: Path, count: int) -> tuple[Path, list[SignedState]]:
    path = tmp_path / "sign-state"
    file = SignStateFile(path, CHAIN)
    made = states(count)
    for state in made:
        file.save(state)
    return path, made


def test_each_save_appends_a_record_and_the_last_is_loaded(tmp_path: Path) -> None:
    path, made = saved_log(tmp_path, 3)
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    sizes = [len(encode(state_to_value(CHAIN, s))) + HEADER.size for s in made]
    assert len(data) == len(MAGIC) + sum(sizes)
    assert SignStateFile(path, CHAIN).load().saved == made[-1]


def test_a_save_syncs_its_data_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = saved_log(tmp_path, 1)
    calls: list[str] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(fd: int) -> None:
        calls.append("fdatasync")
        real_fdatasync(fd)

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    file = SignStateFile(path, CHAIN)
    file.load()
    for state in states(3):
        file.save(state)
    assert calls == ["fdatasync"] * 3


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size + 5])
def test_a_last_record_cut_short_is_ignored(tmp_path: Path, cut: int) -> None:
    path, made = saved_log(tmp_path, 3)
    data = path.read_bytes()
    last = len(encode(state_to_value(CHAIN, made[-1]))) + HEADER.size
    path.write_bytes(data[: len(data) - last + cut])
    assert SignStateFile(path, CHAIN).load().saved == made[-2]


def test_a_last_record_whose_bytes_never_reached_the_disk_is_ignored(tmp_path: Path) -> None:
    path, made = saved_log(tmp_path, 3)
    data = bytearray(path.read_bytes())
    payload = len(encode(state_to_value(CHAIN, made[-1])))
    data[len(data) - payload :] = bytes(payload)
    path.write_bytes(bytes(data))
    assert SignStateFile(path, CHAIN).load().saved == made[-2]


def test_damage_before_the_last_record_is_refused(tmp_path: Path) -> None:
    path, _ = saved_log(tmp_path, 3)
    data = bytearray(path.read_bytes())
    data[len(MAGIC) + HEADER.size + 3] ^= 0x01  # inside the first record's payload
    path.write_bytes(bytes(data))
    with pytest.raises(SignStateError, match="more follows"):
        SignStateFile(path, CHAIN).load()


def test_a_file_of_the_earlier_format_is_read_then_replaced_by_a_log(tmp_path: Path) -> None:
    path = tmp_path / "sign-state"
    old, new = states(2)
    path.write_bytes(encode(state_to_value(CHAIN, old)))
    file = SignStateFile(path, CHAIN)
    assert file.load().saved == old
    file.save(new)
    assert path.read_bytes().startswith(MAGIC)
    assert SignStateFile(path, CHAIN).load().saved == new


def test_a_long_log_is_written_afresh_with_its_last_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_state, "ROTATE_BYTES", 2000)
    path, made = saved_log(tmp_path, 40)
    assert path.stat().st_size <= 2000 + len(MAGIC) + 2 * (
        HEADER.size + len(encode(state_to_value(CHAIN, made[-1])))
    )
    assert not (tmp_path / "sign-state.tmp").exists()
    assert SignStateFile(path, CHAIN).load().saved == made[-1]
