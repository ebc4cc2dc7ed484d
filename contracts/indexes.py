"""Declaration indexes: derived data, kept beside the authenticated state, not in it.

A list query (the declarations of a vessel and voyage, of a container, of
an organisation, in a status) needs entries sorted by those fields. They
are not what consensus agrees on: each is a function of one declaration
record ``decl/<owner>/<id>``, so they are kept unauthenticated in the store,
under ``Q`` followed by the entry, with an empty value::

    Q idx/status/<status>/<owner>/<id>
    Q idx/org/<owner>/<id>
    Q idx/vessel/<IMO number>/<voyage>/<owner>/<id>
    Q idx/container/<container number>/<owner>/<id>
    Q idx/id/<id>/<owner>                   the owners of an id: a read that names
                                            no owner finds them here
    Q idx/own/<owner>/status/<status>/<id>  the same three, within one owner's
    Q idx/own/<owner>/vessel/<IMO number>/<voyage>/<id>
    Q idx/own/<owner>/container/<container number>/<id>

Every entry but ``idx/id/`` and ``idx/own/`` ends with the owner and the id;
an ``idx/own/`` entry starts with the owner and ends with the id
(:func:`target`); neither holds a ``/``. The ``idx/own/`` entries serve
readers who may read only some organisations' declarations (a shipper, a
forwarder): their queries scan the organisations they read, and without
these they would read every one of those organisations' records to find a
status or a vessel.

The layout is :data:`FORMAT`, recorded under :data:`FORMAT_KEY`; a node
opening a store written under another (or none) puts the :func:`entries` of
every one of :func:`records` before it serves queries (``node.chain``), in
batches rather than as :func:`restore` does, which holds the whole index in
memory.

:func:`stage` writes them in the block's own atomic batch, from the records
the block wrote (the record before the block against the record after it),
so they always describe the committed state. :func:`rebuild` computes them
from the state alone, walking the tree's leaves and reading back each
declaration record (its key is recomputed from its id and checked against
the leaf), so a lost or doubted index is made again without the blocks.

An answer found through an index is proven through the records it points
to: a reader reads each declaration's record from the authenticated state
(with a state proof when asked) and drops an entry its record does not
match, so the index can make a query slower, never wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.kv import KVStore, Overlay
from ledger.smt import StateTree

PREFIX: Final = b"Q"
ENTRY: Final = "idx/"
RECORD: Final = "decl/"
"""State keys of declaration records: ``decl/<owner>/<id>``."""
IDS: Final = "idx/id/"
"""The index of owners by declaration id: ``idx/id/<id>/<owner>``."""
OWN: Final = "idx/own/"
"""The indexes within one owner's declarations: ``idx/own/<owner>/<kind>/.../<id>``."""
FORMAT_KEY: Final = b"Midx_format"
FORMAT: Final = b"2"
"""The layout of the index: 2 added ``idx/own/`` (2026-12-07)."""


def entries(record: Mapping[str, Any]) -> set[str]:
    """The index entries a declaration record appears under."""
    decl_id = record["id"]
    owner = record["org"]
    tail = f"{owner}/{decl_id}"
    found = {
        f"idx/status/{record['status']}/{tail}",
        f"idx/org/{tail}",
        f"idx/vessel/{record['vessel']}/{record['voyage']}/{tail}",
        f"{IDS}{decl_id}/{owner}",
    }
    found.update(f"idx/container/{c}/{tail}" for c in record["containers"])
    own = f"{OWN}{owner}/"
    found.add(f"{own}status/{record['status']}/{decl_id}")
    found.add(f"{own}vessel/{record['vessel']}/{record['voyage']}/{decl_id}")
    found.update(f"{own}container/{c}/{decl_id}" for c in record["containers"])
    return found


def target(entry: str) -> tuple[str, str]:
    """The owner and id of the declaration an index entry points to."""
    if entry.startswith(IDS):
        decl_id, owner = entry[len(IDS) :].split("/")
        return owner, decl_id
    if entry.startswith(OWN):
        parts = entry[len(OWN) :].split("/")
        return parts[0], parts[-1]
    owner, decl_id = entry.rsplit("/", 2)[1:]
    return owner, decl_id


def owners(store: KVStore, decl_id: str) -> list[str]:
    """The organisations the index lists a declaration ``decl_id`` for, in name order.

    Unauthenticated like every index: a reader confirms each by reading its record.
    """
    prefix = f"{IDS}{decl_id}/"
    return [entry[len(prefix) :] for entry in scan(store, prefix)]


def stage(overlay: Overlay, old: bytes | None, new: bytes | None) -> None:
    """Stage the index change of one declaration record moving from ``old`` to ``new``."""
    before = set() if old is None else entries(decode(old))
    after = set() if new is None else entries(decode(new))
    for entry in before - after:
        overlay.delete(PREFIX + entry.encode())
    for entry in after - before:
        overlay.put(PREFIX + entry.encode(), b"")


def scan(store: KVStore, prefix: str, after: str = "") -> Iterator[str]:
    """Index entries under ``prefix`` in order, from just past ``after`` if given."""
    start = PREFIX + (after.encode() + b"\x00" if after else prefix.encode())
    stop = PREFIX + prefix.encode() + b"\xff"
    for key, _ in store.scan(start, stop):
        yield key[len(PREFIX) :].decode()


def records(tree: StateTree) -> Iterator[dict[str, Any]]:
    """Every declaration record in the state at ``tree``'s root, read from the leaves alone.

    A leaf is a declaration record when its value is a map whose ``org``
    and ``id`` give back the leaf's key hash as ``decl/<org>/<id>``: no
    other value can pass for one.
    """
    sha256 = hashlib.sha256
    for key_hash, raw in tree.leaves():
        try:
            value = decode(raw)
        except LedgerError:
            continue
        if type(value) is not dict:
            continue
        decl_id, owner = value.get("id"), value.get("org")
        if (
            type(decl_id) is str
            and type(owner) is str
            and sha256(f"{RECORD}{owner}/{decl_id}".encode()).digest() == key_hash
        ):
            yield value


def rebuild(tree: StateTree) -> set[str]:
    """The index entries the state at ``tree``'s root calls for."""
    found: set[str] = set()
    for record in records(tree):
        found |= entries(record)
    return found


def restore(overlay: Overlay, tree: StateTree) -> int:
    """Stage in ``overlay`` what makes the stored index the one the state calls for.

    Returns how many entries were put or deleted (0: the index was right).
    """
    wanted = rebuild(tree)
    stored = set(scan(overlay.base, ENTRY))
    for entry in stored - wanted:
        overlay.delete(PREFIX + entry.encode())
    for entry in wanted - stored:
        overlay.put(PREFIX + entry.encode(), b"")
    return len(stored ^ wanted)
