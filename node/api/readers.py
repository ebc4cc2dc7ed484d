"""Who is asking, and what they may read: :mod:`contracts.access` at the HTTP edge.

A signed request names a key; :func:`reader_at` turns it into a
:class:`~contracts.access.Reader` (organisation, role, whether it runs a
node of this network) at the snapshot that answers the request, so the rule
and the answer see the same state. The guards below raise what the routes
answer: a declaration or a transaction the reader may not read is the very
error of an id the chain does not hold (:func:`node.api.prover.unknown_declaration`,
:func:`~node.api.prover.unknown_transaction`); blocks refused are
``403 auth.not_entitled``, naming what was refused.

Declaration ids are namespaced per owner (:mod:`contracts.declarations_tx`):
:func:`owner_of` finds whose declaration a read means when the request does
not name the owner: the reader's own organisation's if it has one of that
id, else the only one of that id the reader may read, else ``409
declaration.ambiguous`` listing the owners to choose from.

Whom a writer seals a declaration's sensitive fields to
(:func:`contracts.sealed.sealing_keys`) is told to the owner and the
forwarders it delegated, those who write its declarations
(:func:`check_writer`); to anyone else ``403 auth.not_entitled``.

Who runs a node is this node's knowledge: the organisations of the
validator set now and just before, and of the observers its configuration
lets in (each observer's node key is a member key of its organisation). A
node hands exactly those the blocks over its peer connections already.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from contracts import indexes
from contracts.access import (
    Reader,
    delegated,
    may_read_blocks,
    may_read_declaration,
    may_read_transaction,
)
from contracts.declarations_tx import record_key
from contracts.lifecycle import Role
from contracts.state import StateView
from ledger.kv import KVStore
from node.api.errors import ApiError
from node.api.prover import unknown_declaration, unknown_transaction
from node.service import NodeService

NOT_ENTITLED: Final = "auth.not_entitled"
AMBIGUOUS: Final = "declaration.ambiguous"


@dataclass(frozen=True, slots=True)
class NodeRunners:
    """The node keys this node knows: validators with their organisations, observers."""

    validators: Mapping[str, str]
    """Key id -> organisation, for the validator set now and just before."""
    observers: frozenset[str]
    """Key ids of the observer nodes this node lets in."""

    @classmethod
    def of(cls, node: NodeService) -> NodeRunners:
        """What ``node`` knows now (read on the event loop, where the sets change)."""
        validators = {
            v.key_id: v.org
            for validators in (node.chain.previous_validators, node.chain.validators)
            for v in validators
        }
        return cls(validators, frozenset(o.key.key_id for o in node.config.observers))

    def runs_node(self, org: str, view: StateView) -> bool:
        """Whether ``org`` runs one of the nodes this node knows."""
        if org in self.validators.values():
            return True
        for key_id in self.observers:
            record = view.get(f"key/{key_id}")
            if record is not None and record["org"] == org:
                return True
        return False


def reader_at(view: StateView, key_id: str, runners: NodeRunners) -> Reader:
    """The reader behind ``key_id``: a member key's organisation, or a validator key's."""
    record = view.get(f"key/{key_id}")
    org = record["org"] if record is not None else runners.validators.get(key_id)
    org_record = None if org is None else view.get(f"org/{org}")
    if org is None or org_record is None:
        # Authentication let the key in; the state names no organisation for it.
        raise ApiError(403, "auth.not_a_member", "the key is not a member or node key")
    return Reader(org, Role(org_record["role"]), runners.runs_node(org, view))


def check_declaration(view: StateView, reader: Reader, owner: str, decl_id: str) -> None:
    """Raise the unknown-id error unless ``reader`` may read ``owner``'s ``decl_id``."""
    record = view.get(record_key(owner, decl_id))
    if record is None or not may_read_declaration(reader, record["org"], view):
        raise unknown_declaration(decl_id)


def owner_of(kv: KVStore, view: StateView, reader: Reader, decl_id: str) -> str:
    """Whose declaration ``decl_id`` a read that names no owner means.

    The reader's own organisation's, if it has one; else the only one the
    reader may read; none: the unknown-id error; several: ``409
    declaration.ambiguous`` with the ``owners`` to choose from. The id index
    is only a hint: each owner is confirmed by its record in the state.
    """
    if view.get(record_key(reader.org, decl_id)) is not None:
        return reader.org
    owners = [
        owner
        for owner in indexes.owners(kv, decl_id)
        if view.get(record_key(owner, decl_id)) is not None
        and may_read_declaration(reader, owner, view)
    ]
    if not owners:
        raise unknown_declaration(decl_id)
    if len(owners) > 1:
        raise ApiError(
            409,
            AMBIGUOUS,
            f"{len(owners)} organisations have a declaration {decl_id}: name one with"
            f" ?owner= ({', '.join(owners)})",
            "$.owner",
            owners=owners,
        )
    return owners[0]


def check_transaction(view: StateView, reader: Reader, tx_id: bytes) -> None:
    """Raise the unknown-id error for a committed transaction ``reader`` may not read.

    A transaction not committed is left to the prover, which says so.
    """
    result = view.get(f"tx/{tx_id.hex()}")
    if result is None:
        return
    key = view.get(f"key/{result.get('signer')}") if type(result.get("signer")) is str else None
    signer_org = None if key is None else key["org"]
    if not may_read_transaction(reader, result, signer_org, view):
        raise unknown_transaction(tx_id)


def check_blocks(reader: Reader) -> None:
    """Raise ``403 auth.not_entitled`` unless ``reader`` may read whole blocks."""
    if not may_read_blocks(reader):
        raise ApiError(
            403,
            NOT_ENTITLED,
            f"{reader.org} ({reader.role.phrase}) runs no node of this network: blocks, raw"
            " transactions and exports are for organisations running a validator or an"
            " observer, and auditors; read declarations with GET /v1/declarations",
        )


def check_writer(view: StateView, reader: Reader, owner: str) -> None:
    """Raise unless ``reader`` writes ``owner``'s declarations: it, or a forwarder it delegated.

    ``404 owner.unknown`` for no member ``owner``; ``403 auth.not_entitled``
    for a reader that writes none of its declarations.
    """
    if view.get(f"org/{owner}") is None:
        raise ApiError(404, "owner.unknown", f"no member organisation {owner}", "$.owner")
    if reader.org == owner or (
        reader.role is Role.FORWARDER and delegated(view, owner, reader.org)
    ):
        return
    raise ApiError(
        403,
        NOT_ENTITLED,
        f"{reader.org} writes no declarations of {owner}: whom they are sealed to is told to"
        f" {owner} and the forwarders it delegated",
        "$.owner",
    )
