"""Small files a node must not lose: written whole, synced, replaced atomically.

The sign state (:mod:`node.sign_state`) and the request mark
(:mod:`node.request_mark`) are append logs that are rewritten now and then;
both use these two steps.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many writes it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace(path: Path, data: bytes) -> None:
    """Make ``path`` hold exactly ``data``, durably: a synced temporary file renamed
    over it, then the directory synced, so a crash leaves the old file or the new."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
