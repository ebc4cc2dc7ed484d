"""Governance on a running node: a revoked key is told so, and an idle chain reaches the height.

One validator (customs, all the voting power) in this process
(``reads_support.LocalNode``). Nothing else is submitted after the
governance transaction: the chain must still move to the height at which
the action takes effect, or a compromised key would keep its access until
unrelated traffic happened to make blocks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from node.client.errors import ClientError
from node.devnet.localnet import wait_for
from tests.node.reads_support import LocalNode


@pytest.fixture
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("gov"))
    try:
        yield n
    finally:
        n.close()


def revoke(node: LocalNode, org: str) -> int:
    """Revoke ``org``'s member key as early as governance allows; the effective height."""
    key_id = node.key(org).public.key_id
    delay = int(node.service.chain.view().get("params")["governance_delay"])
    customs = node.client("customs")
    height = node.service.chain.height
    body = {
        "action": "key.revoke",
        "effective_height": height + 1 + delay,
        "params": {"key_id": key_id},
    }
    summary = customs.submit(customs.build("governance", body))
    assert summary["status"] == "committed", summary
    return height + 1 + delay


def applied(node: LocalNode) -> bool | None:
    """Whether no governance action is pending any more (the last block applied it)."""
    return node.service.chain.view().get("gov/pending") == [] or None


def test_an_idle_chain_moves_to_the_height_a_pending_action_takes_effect(
    node: LocalNode,
) -> None:
    effective = revoke(node, "shipper-beta")
    # No transaction follows: blocks are made for the pending action alone, until the
    # block before its height applies it (transactions from that height on see it).
    wait_for(lambda: applied(node), 30, "the action to be applied")
    assert node.service.chain.height == effective - 1
    record = node.service.chain.view().get(f"key/{node.key('shipper-beta').public.key_id}")
    assert record["revoked_at"] == effective
    # Made for the action alone, blocks come idle_block_ms apart, not in a burst.
    store = node.service.chain.store
    times = [store.header(h).time for h in range(effective - 2, effective)]
    idle = node.service.config.consensus.idle_block_ms
    assert times[1] - times[0] >= 0.9 * idle, times


def test_a_revoked_keys_reads_are_refused_as_revoked(node: LocalNode) -> None:
    revoke(node, "shipper-beta")
    wait_for(lambda: applied(node), 30, "the action to be applied")
    with pytest.raises(ClientError) as e:
        node.client("shipper-beta").declarations()
    assert (e.value.status, e.value.code) == (403, "auth.key_revoked")
    # The other members read on.
    assert node.client("auditor").declarations() is not None
