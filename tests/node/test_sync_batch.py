"""How many blocks block sync asks for: sized by bytes, within bounds."""

from __future__ import annotations

from node.p2p.sync import BATCH, FIRST_COUNT, TARGET_RESPONSE, next_count


def test_first_request_is_small() -> None:
    assert next_count(0, 0) == FIRST_COUNT


def test_big_blocks_are_asked_for_a_few_at_a_time() -> None:
    block = 1_700_000  # about 1,000 declarations
    count = next_count(4 * block, 4)
    assert count == TARGET_RESPONSE // block
    assert count * block <= TARGET_RESPONSE


def test_small_blocks_are_asked_for_up_to_the_batch_limit() -> None:
    assert next_count(200 * 2_000, 200) == BATCH


def test_a_block_over_the_target_is_still_fetched_one_at_a_time() -> None:
    assert next_count(3 * TARGET_RESPONSE, 1) == 1
