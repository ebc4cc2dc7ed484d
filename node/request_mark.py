"""The request mark: a time no signed request this node accepted is later than, on disk.

:class:`node.auth.RequestVerifier` remembers the signatures it accepted
within the freshness window in memory; a crash forgets them. So that a
request captured before a crash cannot be replayed after the restart, the
verifier raises this mark, durably, before it accepts a request signed after
the mark, and after a restart refuses every request signed at or before the
mark it loads (:mod:`node.auth` says why a mark and not the start time).

The file is a log of marks, each record appended and synced (``fdatasync``)
once; the largest whole record is the mark::

    file   = b"DGMARK\\x00\\x01" record*
    record = time (8 bytes, big-endian, ms since the epoch) || SHA-256(MAGIC || time)[:8]

A crash can leave the last record cut short or unwritten: it was never
acknowledged, no request it covered was accepted, and loading ignores it.
Marks only grow, so a damaged record before the last loses nothing the
later ones do not cover. When the log passes :data:`ROTATE_RECORDS` records
it is written afresh with the mark alone (a temporary file, synced, renamed
over the log, the directory synced): once an hour or so at one record a
second.
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path
from typing import Final

from node import durable
from node.errors import StartupError

MAGIC: Final = b"DGMARK\x00\x01"
TIME: Final = struct.Struct(">Q")
RECORD_SIZE: Final = TIME.size + 8
ROTATE_RECORDS: Final = 4096
MAX_FILE_BYTES: Final = len(MAGIC) + (ROTATE_RECORDS + 2) * RECORD_SIZE


def record(time_ms: int) -> bytes:
    """One record of the log: the time and its check."""
    packed = TIME.pack(time_ms)
    return packed + hashlib.sha256(MAGIC + packed).digest()[:8]


def parse(data: bytes, where: str = "request mark") -> int:
    """The largest whole, intact mark in a log's bytes (0 for a log with none)."""
    if not data.startswith(MAGIC):
        raise StartupError(
            f"{where} is not a request mark file: if it was damaged, remove it, and start"
            " the node no sooner than a minute (the freshness window) after it stopped"
        )
    mark = 0
    for offset in range(len(MAGIC), len(data) - RECORD_SIZE + 1, RECORD_SIZE):
        chunk = data[offset : offset + RECORD_SIZE]
        if record(TIME.unpack_from(chunk)[0]) == chunk:
            mark = max(mark, TIME.unpack_from(chunk)[0])
    return mark


class RequestMark:
    """The node's request mark file: loaded once at start, raised before an acceptance."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = 0
        """Records in the log now (0: no log yet; the next save writes one afresh)."""

    def load(self) -> int:
        """The mark on disk, or 0 if this node never accepted a signed request."""
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except FileNotFoundError:
            self.records = 0
            return 0
        except OSError as e:
            raise StartupError(f"cannot read {self.path}: {e.strerror}") from e
        if len(data) > MAX_FILE_BYTES:
            raise StartupError(f"{self.path}: over {MAX_FILE_BYTES} bytes: not a request mark")
        mark = parse(data, str(self.path))
        self.records = (len(data) - len(MAGIC)) // RECORD_SIZE
        return mark

    def save(self, time_ms: int) -> None:
        """Make ``time_ms`` the mark, durably (raises ``OSError`` if the disk refuses)."""
        if 0 < self.records < ROTATE_RECORDS:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                durable.write_all(fd, record(time_ms))
                os.fdatasync(fd)
            finally:
                os.close(fd)
            self.records += 1
            return
        durable.replace(self.path, MAGIC + record(time_ms))
        self.records = 1
