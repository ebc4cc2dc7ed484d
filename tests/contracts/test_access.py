"""The read rule of :mod:`contracts.access`, over a state of its own: role by role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pytest

from contracts.access import (
    Reader,
    declaration_of,
    may_read_blocks,
    may_read_declaration,
    may_read_transaction,
    readable_owners,
)
from contracts.lifecycle import Role
from contracts.state import StateView
from ledger.kv import MemoryKV, Overlay
from ledger.smt import EMPTY_ROOT, StateTree

ROLES: Final[Mapping[str, Role]] = {
    "acme": Role.SHIPPER,
    "beta": Role.SHIPPER,
    "fwd-a": Role.FORWARDER,
    "fwd-b": Role.FORWARDER,
    "port": Role.PORT_AUTHORITY,
    "customs": Role.CUSTOMS,
    "auditor": Role.AUDITOR,
}


def reader(org: str, *, runs_node: bool = False) -> Reader:
    return Reader(org, ROLES[org], runs_node)


@pytest.fixture
def view() -> StateView:
    """acme's declaration D1 and beta's D2; acme delegated fwd-a."""
    v = StateView(StateTree(Overlay(MemoryKV()), EMPTY_ROOT))
    v.put("delegation/acme/fwd-a", {"granted_at": 3})
    v.put("decl/acme/D1", {"id": "D1", "org": "acme"})
    v.put("decl/beta/D2", {"id": "D2", "org": "beta"})
    v.commit()
    return v


def made(decl_id: str, type_: str = "declaration.submit") -> dict[str, Any]:
    """The result of a transaction that made a version of ``decl_id``."""
    owner = {"D1": "acme", "D2": "beta"}.get(decl_id, "acme")
    return {
        "ok": True,
        "type": type_,
        "signer": "k",
        "declaration": decl_id,
        "owner": owner,
        "version": 1,
    }


@pytest.mark.parametrize(
    ("org", "readable"),
    [
        ("acme", True),  # the owner
        ("fwd-a", True),  # delegated by the owner
        ("port", True),
        ("customs", True),
        ("auditor", True),
        ("beta", False),  # another shipper
        ("fwd-b", False),  # a forwarder the owner did not delegate
    ],
)
def test_who_reads_a_declaration(view: StateView, org: str, readable: bool) -> None:
    assert may_read_declaration(reader(org), "acme", view) is readable
    # Running a node reads blocks, not declarations through the read routes.
    assert may_read_declaration(reader(org, runs_node=True), "acme", view) is readable


def test_a_delegation_counts_only_for_the_delegator_and_a_forwarder(view: StateView) -> None:
    assert not may_read_declaration(reader("fwd-a"), "beta", view)
    # A shipper under a delegation key of its own name is still no forwarder.
    view.put("delegation/acme/beta", {"granted_at": 4})
    assert not may_read_declaration(reader("beta"), "acme", view)


def test_reads_follow_the_current_state_of_a_delegation(view: StateView) -> None:
    assert may_read_declaration(reader("fwd-a"), "acme", view)
    view.delete("delegation/acme/fwd-a")
    assert not may_read_declaration(reader("fwd-a"), "acme", view)
    result = {**made("D1", "declaration.amend"), "org": "fwd-a"}
    # The versions it signed itself included.
    assert not may_read_transaction(reader("fwd-a"), result, "fwd-a", view)


@pytest.mark.parametrize(
    ("org", "runs_node", "entitled"),
    [
        ("auditor", False, True),
        ("customs", True, True),
        ("fwd-b", True, True),
        ("port", False, False),
        ("customs", False, False),
        ("acme", False, False),
        ("fwd-a", False, False),
    ],
)
def test_blocks_are_for_node_operators_and_auditors(
    org: str, runs_node: bool, entitled: bool
) -> None:
    assert may_read_blocks(reader(org, runs_node=runs_node)) is entitled


def test_a_transaction_that_made_a_version_is_read_as_its_declaration(view: StateView) -> None:
    decision = {**made("D1", "declaration.decide"), "org": "customs"}
    assert may_read_transaction(reader("acme"), decision, "customs", view)
    assert may_read_transaction(reader("fwd-a"), decision, "customs", view)
    assert not may_read_transaction(reader("beta"), decision, "customs", view)
    # An operator reads the block holding it, not its receipt.
    assert not may_read_transaction(reader("fwd-b", runs_node=True), decision, "customs", view)


def test_a_transaction_that_made_no_version_is_its_signers_and_block_readers(
    view: StateView,
) -> None:
    refused = {"ok": False, "type": "declaration.submit", "signer": "k", "violations": []}
    assert declaration_of(refused) is None
    assert may_read_transaction(reader("beta"), refused, "beta", view)
    assert may_read_transaction(reader("auditor"), refused, "beta", view)
    assert may_read_transaction(reader("fwd-b", runs_node=True), refused, "beta", view)
    assert not may_read_transaction(reader("acme"), refused, "beta", view)
    assert not may_read_transaction(reader("port"), refused, "beta", view)
    grant = {"ok": True, "type": "delegation.grant", "delegation": "delegation/acme/fwd-a"}
    assert declaration_of(grant) is None
    assert may_read_transaction(reader("acme"), grant, "acme", view)
    assert not may_read_transaction(reader("fwd-b"), grant, "acme", view)


def test_a_result_naming_a_declaration_it_did_not_make_names_none() -> None:
    # Only an accepted declaration transaction made a version.
    assert declaration_of({"ok": True, "type": "governance.propose", "declaration": "D1"}) is None
    assert declaration_of({"ok": False, "type": "declaration.amend", "declaration": "D1"}) is None
    assert declaration_of({"ok": True, "type": "declaration.amend", "declaration": 7}) is None
    assert declaration_of(made("D1")) == "D1"


def test_a_transaction_of_a_declaration_gone_from_the_state_is_read_by_none(
    view: StateView,
) -> None:
    assert not may_read_transaction(reader("acme"), made("D9"), "acme", view)


def test_readable_owners(view: StateView) -> None:
    owners = ["acme", "beta", "fwd-a", "fwd-b"]
    assert readable_owners(reader("fwd-a"), owners, view) == {"acme", "fwd-a"}
    assert readable_owners(reader("fwd-b"), owners, view) == {"fwd-b"}
    assert readable_owners(reader("beta"), owners, view) == {"beta"}
    assert readable_owners(reader("customs"), owners, view) == set(owners)
    assert readable_owners(reader("acme"), [], view) == frozenset()
