"""Who reads what: the one rule every read route of a node and the command line apply.

==============================  ============================================================
what                            who reads it
==============================  ============================================================
a declaration: its record,      the organisation that submitted it; a forwarder it has
versions, documents,            delegated to (``delegation/<owner>/<forwarder>`` in the
decisions and receipts          current state); the port authority, customs and auditors
a transaction's receipt         as the declaration it made a version of; a transaction that
                                made none (refused by the rules, a delegation, governance,
                                evidence): its signer's organisation, and those who read
                                blocks
blocks, raw transactions, the   organisations running a node of the network (a validator,
block stream and exports        or an observer a node lets in) and auditors
the header chain, checkpoints,  every member: headers, certificates and validator sets hold
consistency proofs              no transaction, and a receipt is verified against them
==============================  ============================================================

To anyone a declaration is not readable by, it does not exist: the node
answers exactly as for an id it does not hold, and a list query leaves it
out before it pages, so neither a page's length nor its cursor tells of it.

Reads follow the current state, as every rule does: a delegation lets a
forwarder read its delegator's declarations (every version, those before
the delegation too) while it stands; once revoked, the forwarder reads none
of them, the versions it signed itself included, as if it had never been
delegated. A node operator reads blocks because its node holds them all
anyway; reading them is not reading a declaration through the read routes,
which follow the declaration rule for operators as for anyone.

Pure functions of a :class:`Reader` and the state: no clock, no transport.
Who runs a node is the node's to say (its validator set and the observers
it lets in); the rule takes it as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from contracts.lifecycle import Role

if TYPE_CHECKING:
    from contracts.state import StateView

SEE_EVERY_DECLARATION: Final = frozenset({Role.PORT_AUTHORITY, Role.CUSTOMS, Role.AUDITOR})
"""Roles that read every declaration: those who decide on them, and those who audit."""
READ_BLOCKS: Final = frozenset({Role.AUDITOR})
"""Roles that read blocks without running a node."""
DECLARATION_TX: Final = "declaration."
"""Prefix of the transaction types that make versions of declarations."""


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading: an organisation, its role, and whether it runs a node of the network."""

    org: str
    role: Role
    runs_node: bool = False


def delegated(view: StateView, owner: str, forwarder: str) -> bool:
    """Whether ``owner`` has a standing delegation to ``forwarder``."""
    return view.get(f"delegation/{owner}/{forwarder}") is not None


def sees_every_declaration(reader: Reader) -> bool:
    """Whether ``reader`` reads every declaration, whoever submitted it."""
    return reader.role in SEE_EVERY_DECLARATION


def may_read_declaration(reader: Reader, owner: str, view: StateView) -> bool:
    """Whether ``reader`` may read a declaration submitted by the organisation ``owner``."""
    if reader.org == owner or sees_every_declaration(reader):
        return True
    return reader.role is Role.FORWARDER and delegated(view, owner, reader.org)


def may_read_blocks(reader: Reader) -> bool:
    """Whether ``reader`` may read whole blocks, raw transactions, the block stream."""
    return reader.runs_node or reader.role in READ_BLOCKS


def declaration_of(result: Mapping[str, Any]) -> str | None:
    """The id of the declaration a committed transaction made a version of, if any.

    Its owner is the result's ``owner``: ids are namespaced per owner.
    """
    made = result.get("declaration")
    if result.get("ok") is True and str(result.get("type", "")).startswith(DECLARATION_TX):
        return made if type(made) is str else None
    return None


def may_read_transaction(
    reader: Reader,
    result: Mapping[str, Any],
    signer_org: str | None,
    view: StateView,
) -> bool:
    """Whether ``reader`` may read a committed transaction, given its result ``tx/<id>``.

    ``signer_org`` is the organisation of the transaction's signing key
    (``None`` if the state knows no such key). A transaction that made a
    version of a declaration is read as that declaration is; any other by
    its signer's organisation and by those who read blocks.
    """
    decl_id = declaration_of(result)
    owner = result.get("owner")
    if decl_id is not None and type(owner) is str:
        # contracts.declarations_tx.record_key's key: the rules import this module
        # (whom to seal to), so it imports none of theirs.
        record = view.get(f"decl/{owner}/{decl_id}")
        return record is not None and may_read_declaration(reader, record["org"], view)
    return reader.org == signer_org or may_read_blocks(reader)


def readable_owners(reader: Reader, owners: Iterable[str], view: StateView) -> frozenset[str]:
    """Which of ``owners`` (organisations) ``reader`` reads the declarations of.

    For a reader that does not see every declaration: its own organisation,
    and, for a forwarder, each of ``owners`` with a standing delegation to it.
    """
    if sees_every_declaration(reader):
        return frozenset(owners)
    found = {o for o in owners if may_read_declaration(reader, o, view)}
    return frozenset(found)
