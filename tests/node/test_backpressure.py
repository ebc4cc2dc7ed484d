"""Backpressure: the bound follows the measured commit rate; refusals say when to retry."""

from __future__ import annotations

from node.backpressure import Backpressure


def test_an_idle_node_takes_its_floor() -> None:
    b = Backpressure(floor=500)
    assert b.bound(0.0) == 500
    assert b.busy(499, 0.0) is None
    assert b.busy(500, 0.0) == 1
    assert b.refused == 1


def test_the_bound_is_a_second_of_measured_commits() -> None:
    b = Backpressure(target_s=1.0, window_s=5.0, floor=100)
    for tenth in range(50):
        b.committed(100, tenth / 10)  # 1,000 a second for five seconds, ten blocks a second
    assert b.rate(4.9) == 1000.0
    assert b.bound(4.9) == 1000
    b.committed(0, 5.0)  # the window now starts after the first block
    assert b.rate(4.0) == 1000.0
    assert b.bound(4.0) == 1000
    assert b.busy(999, 4.0) is None
    # 1,500 pending, 1,000 a second: the excess clears in a second.
    assert b.busy(1500, 4.0) == 1


def test_the_rate_forgets_what_left_the_window() -> None:
    b = Backpressure(target_s=1.0, window_s=5.0, floor=100)
    b.committed(5000, 0.0)
    assert b.rate(1.0) == 1000
    assert b.bound(1.0) == 10_000  # two such blocks
    assert b.bound(5.5) == 100  # the commit is older than the window: the floor again
    b.committed(50, 6.0)
    assert b.bound(6.0) == 100


def test_the_retry_hint_grows_with_the_excess() -> None:
    b = Backpressure(target_s=1.0, window_s=1.0, floor=10)
    for tenth in range(5):
        b.committed(20, tenth / 10)  # 100 a second, in blocks of 20
    assert b.bound(0.5) == 100
    assert b.busy(100, 0.5) == 1
    assert b.busy(500, 0.5) == 5


def test_the_bound_holds_two_of_the_largest_recent_blocks() -> None:
    """Slow blocks: a second of commits is less than one block, which would shrink the
    next block, then the rate, then the bound, until only the floor was left."""
    b = Backpressure(target_s=1.0, window_s=6.0, floor=100)
    for t in (0.0, 2.0, 4.0):
        b.committed(800, t)  # 400 a second, in blocks of 800 every two seconds
    assert b.rate(4.0) == 400.0
    assert b.bound(4.0) == 1600
    assert b.busy(1599, 4.0) is None


def test_a_bound_that_holds_two_blocks_lets_blocks_grow_to_capacity() -> None:
    """A proposer that takes all the pending transactions, up to what it can build."""
    b = Backpressure(target_s=1.0, window_s=5.0, floor=200)
    capacity, interval = 3000, 1.5  # transactions a block can take, seconds between blocks
    now, sizes = 0.0, []
    for _ in range(20):
        pending = b.bound(now)  # clients offer more than it takes: the pool fills to the bound
        size = min(pending, capacity)
        b.committed(size, now)
        sizes.append(size)
        now += interval
    assert sizes[-1] == capacity
    assert sizes == sorted(sizes)
