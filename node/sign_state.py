"""A validator's sign state on disk: loaded at start, saved (one fdatasync) before each send.

The consensus package is pure: :class:`~node.consensus.privval.PrivValidator`
keeps the sign state in memory and the machine emits ``PersistSigned`` before
it broadcasts. The node carries that action out with :meth:`SignStateFile.save`
before it sends anything, so after a crash it never signs a message
conflicting with one it may have sent.

The file is a log: every save appends one record and syncs its data once
(``fdatasync``), which is what a signing step must wait for; rewriting a file
and renaming it over the old one costs a sync of the file and one of its
directory, twice as long on this project's machines. The last whole record is
the state::

    file   = b"DGSIGN\x00\x01" record+
    record = length (4 bytes, big-endian) || SHA-256(payload) || payload
    payload = canonical encoding of the saved state (node.consensus.privval)

A crash can leave the last record cut short, or its appended bytes unwritten:
it was never acknowledged, nothing it signed was sent, and loading ignores
it. A record that does not match its hash anywhere before the end is damage,
not a crash, and the node refuses to start rather than sign from an older
state. When the log passes :data:`ROTATE_BYTES` it is written afresh with
only the last state (a temporary file, synced, renamed over the log, the
directory synced). A file in the earlier format (the state's canonical
encoding alone) is read, and replaced by a log at the first save.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Final

from ledger.encoding import decode, encode
from ledger.errors import LedgerError
from node import durable
from node.consensus.errors import SignStateError
from node.consensus.privval import (
    MAX_FILE_SIZE,
    SignedState,
    SignState,
    state_from_value,
    state_to_value,
)

MAGIC: Final = b"DGSIGN\x00\x01"
HEADER: Final = struct.Struct(">I32s")
ROTATE_BYTES: Final = 64 << 20
"""A log longer than this is written afresh with its last state at the next save."""
MAX_LOG_BYTES: Final = ROTATE_BYTES + 2 * (MAX_FILE_SIZE + HEADER.size) + len(MAGIC)
"""The most a log can hold (a save past the rotation size, then one more)."""


class SignStateFile:
    """Where a validator's sign state lives on disk: load at start, save before each send."""

    def __init__(self, path: Path, chain: str) -> None:
        self.path = path
        self.chain = chain
        self._appendable: bool | None = None
        """Whether the file is a log that a save may append to (None: not looked at yet)."""

    def load(self) -> SignState:
        """The saved state, or an empty one if nothing was ever signed with this file."""
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_LOG_BYTES + 1)
        except FileNotFoundError:
            self._appendable = False
            return SignState(self.chain)
        except OSError as e:
            raise SignStateError(f"cannot read {self.path}: {e}") from e
        if len(data) > MAX_LOG_BYTES:
            raise SignStateError(f"corrupt sign state {self.path}: over {MAX_LOG_BYTES} bytes")
        if data.startswith(MAGIC):
            payload = self._last_record(data)
            self._appendable = len(data) <= ROTATE_BYTES
        else:
            payload = data  # the earlier format: one canonical value
            self._appendable = False
        try:
            value = decode(payload, max_size=MAX_FILE_SIZE)
        except LedgerError as e:
            raise SignStateError(f"corrupt sign state {self.path}: {e}") from e
        return SignState(self.chain, state_from_value(self.chain, value))

    def _last_record(self, data: bytes) -> bytes:
        """The payload of the last whole record; a cut or unwritten last one is ignored."""
        offset, last = len(MAGIC), None
        while offset + HEADER.size <= len(data):
            length, digest = HEADER.unpack_from(data, offset)
            end = offset + HEADER.size + length
            if end > len(data):
                break  # cut short by a crash
            payload = data[offset + HEADER.size : end]
            if hashlib.sha256(payload).digest() != digest:
                if end == len(data):
                    break  # the last record's bytes never reached the disk
                raise SignStateError(
                    f"corrupt sign state {self.path}: record at byte {offset} does not match"
                    " its hash, and more follows"
                )
            last, offset = payload, end
        if last is None:
            raise SignStateError(f"corrupt sign state {self.path}: no whole record")
        return last

    def save(self, state: SignedState) -> None:
        """Make ``state`` durable: append it to the log (or write the log afresh)."""
        payload = encode(state_to_value(self.chain, state))
        record = HEADER.pack(len(payload), hashlib.sha256(payload).digest()) + payload
        try:
            if self._appendable is None:
                self._appendable = self._is_log()
            if self._appendable:
                self._append(record)
            else:
                self._write_afresh(MAGIC + record)
        except OSError as e:
            self._appendable = None  # look again before the next save
            raise SignStateError(f"cannot save sign state to {self.path}: {e}") from e

    def _is_log(self) -> bool:
        try:
            with self.path.open("rb") as f:
                head = f.read(len(MAGIC))
                size = os.fstat(f.fileno()).st_size
        except FileNotFoundError:
            return False
        return head == MAGIC and size <= ROTATE_BYTES

    def _append(self, record: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            durable.write_all(fd, record)
            os.fdatasync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        self._appendable = size <= ROTATE_BYTES

    def _write_afresh(self, data: bytes) -> None:
        durable.replace(self.path, data)
        self._appendable = True
