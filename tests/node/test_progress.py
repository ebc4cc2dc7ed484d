"""Progress lines of audit, export and catch-up: how far, how fast, how long still."""

from __future__ import annotations

import io

from node.progress import REDRAW, TerminalProgress, describe


def test_a_line_with_a_total_says_how_far_how_fast_and_how_long_still() -> None:
    line = describe("audit", 1_200, 5_000, 84_000, 30.0)
    assert line == ("audit: block 1,200 of 5,000 (24%)  84,000 tx  2,800 tx/s  about 0:01:35 left")


def test_time_left_counts_from_where_the_job_began() -> None:
    # A catch-up from height 1,000: 500 blocks in 10 s, 1,500 to go -> 30 s.
    line = describe("catch-up", 1_500, 3_000, None, 10.0, start=1_000)
    assert line == "catch-up: block 1,500 of 3,000 (50%)  50.0 blocks/s  about 0:00:30 left"


def test_without_a_total_only_how_far_and_how_fast() -> None:
    assert describe("audit", 40, None, 4_000, 2.0) == "audit: block 40  4,000 tx  2,000 tx/s"
    assert describe("export", 40, None, None, 2.0) == "export: block 40  20.0 blocks/s"


def test_no_time_left_in_the_first_second_nor_past_the_end() -> None:
    assert "left" not in describe("export", 10, 100, None, 0.5)
    assert describe("export", 100, 100, None, 5.0) == (
        "export: block 100 of 100 (100%)  20.0 blocks/s"
    )


def test_the_terminal_line_is_redrawn_in_place_at_most_every_half_second() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = TerminalProgress("export", enabled=True, total=10, stream=out, clock=lambda: now[0])
    bar.update(1)
    now[0] = REDRAW / 2
    bar.update(2)  # too soon: not drawn
    now[0] = 2.0
    bar.update(5)
    bar.end()
    drawn = out.getvalue()
    assert drawn.count("\r") == 2 and drawn.endswith("\n")
    assert "block 1 of 10 (10%)" in drawn and "block 2 " not in drawn
    assert "block 5 of 10 (50%)  2.5 blocks/s  about 0:00:02 left" in drawn


def test_a_disabled_line_draws_nothing() -> None:
    out = io.StringIO()
    bar = TerminalProgress("audit", enabled=False, stream=out)
    bar.update(3, 30)
    bar.end()
    assert out.getvalue() == ""
