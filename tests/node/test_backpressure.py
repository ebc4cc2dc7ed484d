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
    for second in range(5):
        b.committed(1000, float(second))  # 1,000 a second for five seconds
    assert b.rate(4.0) == 1000.0
    assert b.bound(4.0) == 1000
    assert b.busy(999, 4.0) is None
    # 1,500 pending, 1,000 a second: the excess clears in a second.
    assert b.busy(1500, 4.0) == 1


def test_the_rate_forgets_what_left_the_window() -> None:
    b = Backpressure(target_s=1.0, window_s=5.0, floor=100)
    b.committed(5000, 0.0)
    assert b.bound(1.0) == 1000
    assert b.bound(5.5) == 100  # the commit is older than the window: the floor again
    b.committed(50, 6.0)
    assert b.bound(6.0) == 100


def test_the_retry_hint_grows_with_the_excess() -> None:
    b = Backpressure(target_s=1.0, window_s=1.0, floor=10)
    b.committed(100, 0.0)
    assert b.busy(100, 0.5) == 1
    assert b.busy(500, 0.5) == 5
