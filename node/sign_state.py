"""A validator's sign state on disk: loaded at start, saved (fsynced) before each send.

The consensus package is pure: :class:`~node.consensus.privval.PrivValidator`
keeps the sign state in memory and the machine emits ``PersistSigned`` before
it broadcasts. The node carries that action out with :meth:`SignStateFile.save`
(temporary file, fsync, rename over the old one, directory fsync) before it
sends anything, so after a crash it never signs a message conflicting with
one it may have sent.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledger.encoding import decode, encode
from ledger.errors import LedgerError
from node.consensus.errors import SignStateError
from node.consensus.privval import (
    MAX_FILE_SIZE,
    SignedState,
    SignState,
    state_from_value,
    state_to_value,
)


class SignStateFile:
    """Where a validator's sign state lives on disk: load at start, save before each send."""

    def __init__(self, path: Path, chain: str) -> None:
        self.path = path
        self.chain = chain

    def load(self) -> SignState:
        """The saved state, or an empty one if nothing was ever signed with this file."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return SignState(self.chain)
        except OSError as e:
            raise SignStateError(f"cannot read {self.path}: {e}") from e
        try:
            value = decode(data, max_size=MAX_FILE_SIZE)
        except LedgerError as e:
            raise SignStateError(f"corrupt sign state {self.path}: {e}") from e
        return SignState(self.chain, state_from_value(self.chain, value))

    def save(self, state: SignedState) -> None:
        """Atomically replace the file with ``state`` and make it durable."""
        data = encode(state_to_value(self.chain, state))
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as e:
            raise SignStateError(f"cannot save sign state to {self.path}: {e}") from e
