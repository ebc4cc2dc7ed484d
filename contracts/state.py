"""Typed access to the authenticated state, with layered pending writes.

State keys are UTF-8 paths; values are canonical encodings::

    org/<name>                       {name, role, active}
    key/<key id>                     {org, pub, revoked_at}
    nonce/<key id>                   last nonce used by the key
    params                           {dgl, governance_delay}
    validators                       the validator set in force
    gov/pending                      governance actions waiting for their height
    delegation/<org>/<forwarder>     {granted_at}
    decl/<id>                        the declaration record: current status and version,
                                     the version holding the current document, and its
                                     vessel, voyage and containers
    declv/<id>/<version:06d>         one version of the declaration's history (with its
                                     document, for a submission or an amendment)
    tx/<tx id hex>                   the result of a committed transaction
    evidence/<hash hex>              committed evidence of misbehaviour
    idx/<kind>/<value>/<id>          indexes: vessel, container, status, org

Index keys are also mirrored, unauthenticated, under ``Q<key>`` in the store
so that range queries can find them; every answer is then proven from the
state tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ledger.encoding import decode, encode
from ledger.kv import Overlay
from ledger.smt import StateTree

_ABSENT = object()
INDEX_PREFIX = "idx/"
MIRROR = b"Q"


class StateView:
    """Reads through to the state tree; writes stay pending until committed or merged."""

    def __init__(self, tree: StateTree, parent: StateView | None = None) -> None:
        self.tree = tree
        self.parent = parent
        self.pending: dict[str, bytes | None] = {}
        # Values read from the tree by the root view, until its next commit: a
        # block reads the same organisations, keys and parameters again and again.
        self._read: dict[str, bytes | None] = {}

    def raw(self, key: str) -> bytes | None:
        """Encoded value at ``key`` as this view sees it."""
        view = self
        while True:
            if key in view.pending:
                return view.pending[key]
            if view.parent is None:
                break
            view = view.parent
        read = view._read
        if key in read:
            return read[key]
        value = read[key] = self.tree.get(key.encode())
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Decoded value at ``key``, or ``default``."""
        raw = self.raw(key)
        return default if raw is None else decode(raw)

    def put(self, key: str, value: Any) -> None:
        """Stage a value."""
        self.pending[key] = encode(value)

    def delete(self, key: str) -> None:
        """Stage a deletion."""
        self.pending[key] = None

    def child(self) -> StateView:
        """A view whose writes can be merged into this one or dropped."""
        return StateView(self.tree, self)

    def merge_into_parent(self) -> None:
        """Move this view's writes into its parent."""
        if self.parent is None:
            raise AssertionError("merge of a root view")
        self.parent.pending.update(self.pending)
        self.pending = {}

    def commit(self, overlay: Overlay) -> bytes:
        """Apply the pending writes to the tree (staged in ``overlay``); return the new root."""
        if self.parent is not None:
            raise AssertionError("commit of a child view")
        changes = {k.encode(): v for k, v in self.pending.items()}
        root = self.tree.update(changes)
        self._read = {}
        for key, value in self.pending.items():
            if key.startswith(INDEX_PREFIX):
                mirror = MIRROR + key.encode()
                if value is None:
                    overlay.delete(mirror)
                else:
                    overlay.put(mirror, value)
        self.pending = {}
        return root


def scan_index(overlay: Overlay, prefix: str, after: str = "") -> Iterator[str]:
    """State keys under ``prefix`` in key order (from the unauthenticated mirror)."""
    start = MIRROR + (after.encode() + b"\x00" if after else prefix.encode())
    stop = MIRROR + prefix.encode() + b"\xff"
    for key, _ in overlay.base.scan(start, stop):
        yield key[len(MIRROR) :].decode()
