"""Typed access to the authenticated state, with layered pending writes.

State keys are UTF-8 paths; values are canonical encodings::

    org/<name>                       {name, role, active}
    key/<key id>                     {org, pub, revoked_at}
    identity/<org>                   {legal_name, identifiers}; with legal-name/<normalised>,
                                     identifier/<scheme>/<value> naming who holds each
    enc/<org>                        {keys: [{key, added_at, retired_at}]}, X25519 keys;
                                     with enc-key/<hex> naming who holds each
                                     (:mod:`contracts.identity`)
    params                           {dgl, governance_delay, lead_time_hours (absent: 0)}
    ports                            {<UN/LOCODE>: {name, authority}}, the ports the
                                     network serves; absent if it lists none
                                     (:mod:`contracts.ports`)
    validators                       the validator set in force
    gov/pending                      governance actions waiting for their height
    delegation/<org>/<forwarder>     {granted_at}
    decl/<owner>/<id>                the declaration record: its owner (``org``), current
                                     status and version, the ids of the transactions that
                                     made each version (``txs``, in order), the version
                                     holding the current document, and its vessel, voyage
                                     and containers
    doc/<owner>/<id>/<version:06d>   the document a submission or an amendment brought
    tx/<tx id hex>                   the result of a committed transaction; for an accepted
                                     declaration transaction, the description of the
                                     version it made
    evidence/<hash hex>              committed evidence of misbehaviour

Only what consensus must agree on is here: a declaration transaction
writes at most three keys (``decl/``, ``doc/`` with a new document, and
``tx/``), a decision two. There are no nonce keys: a transaction is
refused again by its committed ``tx/<id>`` within its bounded lifetime
(:mod:`contracts.engine`). The indexes a list query needs are derived
data, kept outside the tree (:mod:`contracts.indexes`).

Derived keys (:data:`DERIVED`) are read and written through a view like
state keys, in the same block, but kept outside the tree, in the store
under ``Q`` beside the indexes::

    unit/<IMO number>/<voyage>/<container>   the active declarations with goods in
                                             one container on one voyage
                                             (:mod:`contracts.units`)
    aboard/<IMO number>/<voyage>             the containers loaded declarations placed
                                             on board one vessel on one voyage, with
                                             their positions (:mod:`contracts.aboard`)

Each is a function of the declaration records in the state, so the state
root still commits to everything that decides a transaction, and
:func:`contracts.units.rebuild` and :func:`contracts.aboard.rebuild` make
them again from the records alone.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ledger.encoding import decode, encode

if TYPE_CHECKING:
    from ledger.smt import StateTree

DERIVED: Final = ("unit/", "aboard/")
"""Keys read and written like state, kept outside the tree: see the module's docstring."""
MEMBERSHIP: Final = ("org/", "enc/", "enc-orgs", "delegation/")
"""Keys who reads whose declarations depends on (:mod:`contracts.access`,
:func:`contracts.sealed.recipients`): a view chain that wrote none of them reads
them as its tree's root holds them (:meth:`StateView.membership_as_committed`),
so what is computed from them can be kept by that root's
:func:`membership_token`, which blocks that write none of them keep."""
DERIVED_PREFIX: Final = b"Q"
"""Where the store keeps derived keys (beside the indexes, whose entries begin ``idx/``)."""


_TOKENS: Final[OrderedDict[bytes, bytes]] = OrderedDict()
_TOKENS_KEPT: Final = 4096


def membership_token(root: bytes) -> bytes:
    """A root at which the :data:`MEMBERSHIP` keys were as they are at ``root``.

    :meth:`StateView.commit` maps each root it makes from a commit that wrote
    no membership key to the token of the root it started from, so every root
    of a run of such blocks has one token, and what is computed from the
    membership alone can be kept by it across blocks. A root this process
    never made is its own token: always correct, only less often shared.
    Roots are hashes of the whole state, so a token is never wrong for a
    root, whichever tree or process made it.
    """
    token = _TOKENS.get(root)
    return root if token is None else token


def _remember_token(old_root: bytes, new_root: bytes, membership_written: bool) -> None:
    if new_root == old_root:
        return
    _TOKENS[new_root] = new_root if membership_written else membership_token(old_root)
    _TOKENS.move_to_end(new_root)
    while len(_TOKENS) > _TOKENS_KEPT:
        _TOKENS.popitem(last=False)


class StateView:
    """Reads through to the state tree; writes stay pending until committed or merged."""

    def __init__(self, tree: StateTree, parent: StateView | None = None) -> None:
        self.tree = tree
        self.parent = parent
        self.pending: dict[str, bytes | None] = {}
        # Values read from the tree by the root view, until its next commit: a
        # block reads the same organisations, keys and parameters again and again.
        self._read: dict[str, bytes | None] = {}
        self.membership_written = False
        self.sources: dict[str, bytes] = {}
        """Pending keys whose encoded value is part of a transaction's wire, by that
        transaction's id (see :meth:`put`)."""

    def membership_as_committed(self) -> bool:
        """Whether no view of this chain has written a :data:`MEMBERSHIP` key."""
        view: StateView | None = self
        while view is not None:
            if view.membership_written:
                return False
            view = view.parent
        return True

    def raw(self, key: str) -> bytes | None:
        """Encoded value at ``key`` as this view sees it."""
        view = self
        while True:
            if key in view.pending:
                return view.pending[key]
            if view.parent is None:
                break
            view = view.parent
        return view.committed(key)

    def committed(self, key: str) -> bytes | None:
        """Encoded value at ``key`` in the tree, without this view's pending writes."""
        view = self
        while view.parent is not None:
            view = view.parent
        read = view._read
        if key in read:
            return read[key]
        if key.startswith(DERIVED):
            value = read[key] = self.tree.overlay.get(DERIVED_PREFIX + key.encode())
        else:
            value = read[key] = self.tree.get(key.encode())
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Decoded value at ``key``, or ``default``."""
        raw = self.raw(key)
        return default if raw is None else decode(raw)

    def put(self, key: str, value: Any, *, source: bytes | None = None) -> None:
        """Stage a value.

        ``source``: the id of a transaction of the block whose wire holds
        the value's encoding (a declaration's document), which the store may
        then keep once (:meth:`ledger.smt.StateTree.update`'s ``within``).
        """
        self.pending[key] = encode(value)
        if source is not None:
            self.sources[key] = source
        elif self.sources:
            self.sources.pop(key, None)
        if key.startswith(MEMBERSHIP):
            self.membership_written = True

    def delete(self, key: str) -> None:
        """Stage a deletion."""
        self.pending[key] = None
        if self.sources:
            self.sources.pop(key, None)
        if key.startswith(MEMBERSHIP):
            self.membership_written = True

    def child(self) -> StateView:
        """A view whose writes can be merged into this one or dropped."""
        return StateView(self.tree, self)

    def merge_into_parent(self) -> None:
        """Move this view's writes into its parent."""
        if self.parent is None:
            raise AssertionError("merge of a root view")
        parent = self.parent
        if self.sources or parent.sources:
            for key in self.pending:
                source = self.sources.get(key)
                if source is None:
                    parent.sources.pop(key, None)
                else:
                    parent.sources[key] = source
        parent.pending.update(self.pending)
        parent.membership_written |= self.membership_written
        self.pending = {}
        self.sources = {}
        self.membership_written = False

    def commit(self, within: Mapping[str, tuple[bytes, bytes]] | None = None) -> bytes:
        """Apply the pending writes to the tree (staged in its overlay); return the new root.

        ``within``: pending keys whose value the store may keep as part of
        another record, given by its key and bytes (see :meth:`put`).
        """
        if self.parent is not None:
            raise AssertionError("commit of a child view")
        changes = {}
        overlay = self.tree.overlay
        for k, v in self.pending.items():
            if not k.startswith(DERIVED):
                changes[k.encode()] = v
            elif v is None:
                overlay.delete(DERIVED_PREFIX + k.encode())
            else:
                overlay.put(DERIVED_PREFIX + k.encode(), v)
        old_root = self.tree.root
        records = None if not within else {k.encode(): where for k, where in within.items()}
        root = self.tree.update(changes, records)
        _remember_token(old_root, root, self.membership_written)
        self._read = {}
        self.pending = {}
        self.sources = {}
        self.membership_written = False
        return root
