"""Whom to seal to, kept by state root: never stale after a membership write."""

from __future__ import annotations

from contracts.sealed import recipients
from contracts.state import membership_token
from tests.contracts.fixtures import community
from tests.samples import sample


def test_a_delegation_changes_the_recipients_at_once_and_in_the_next_root() -> None:
    c = community(identities=True)
    before = recipients(c.engine.view(), "shipper-acme")
    assert "forwarder-a" not in before and "shipper-acme" in before
    assert recipients(c.engine.view(), "shipper-acme") == before  # kept, same answer

    # Within one view (a block that granted it earlier): seen at once, not the kept answer.
    view = c.engine.view()
    view.put("delegation/shipper-acme/forwarder-a", {"granted_at": 1})
    assert "forwarder-a" in recipients(view, "shipper-acme")
    child = view.child()
    assert "forwarder-a" in recipients(child, "shipper-acme")
    assert "forwarder-a" not in recipients(c.engine.view(), "shipper-acme")

    # Committed by a block: the new root answers anew.
    grant = c.tx("shipper-acme", "delegation.grant", {"forwarder": "forwarder-a"})
    assert c.block([grant])[0]["ok"]
    assert "forwarder-a" in recipients(c.engine.view(), "shipper-acme")


def test_a_kept_answer_cannot_be_changed_by_its_caller() -> None:
    c = community(identities=True)
    first = recipients(c.engine.view(), "shipper-acme")
    first.clear()
    assert recipients(c.engine.view(), "shipper-acme")


def test_blocks_that_write_no_membership_keep_the_token_and_one_that_does_changes_it() -> None:
    c = community(identities=True)
    start = c.engine.view().tree.root
    submitted = c.tx("shipper-acme", "declaration.submit", {"declaration": sample()})
    assert c.block([submitted])[0]["ok"]
    after_submit = c.engine.view().tree.root
    assert after_submit != start
    assert membership_token(after_submit) == membership_token(start)
    before = recipients(c.engine.view(), "shipper-acme")
    assert "forwarder-a" not in before

    grant = c.tx("shipper-acme", "delegation.grant", {"forwarder": "forwarder-a"})
    assert c.block([grant])[0]["ok"]
    after_grant = c.engine.view().tree.root
    assert membership_token(after_grant) == after_grant != membership_token(start)
    assert "forwarder-a" in recipients(c.engine.view(), "shipper-acme")


def test_a_root_this_process_never_made_is_its_own_token() -> None:
    assert membership_token(b"\x07" * 32) == b"\x07" * 32
