"""Progress of long jobs over a chain: how far, how fast, how long still.

``dgledger audit`` and ``dgledger export`` draw one line on a terminal
(stderr, rewritten in place, only when stderr is a terminal and the output
is not JSON); a node catching up logs a line like it every
:data:`LOG_EVERY` seconds. The line::

    audit: block 1,200 of 5,000 (24%)  84,000 tx  2,350 tx/s  about 0:01:37 left

Rates are over the whole job so far (transactions, or blocks where the job
does not count transactions); the time left is the blocks still to
go at the job's block rate so far, shown once a second of the job has
passed. Without a known total the line says only how far and how fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Final, TextIO

REDRAW: Final = 0.5
"""Seconds between two drawings of a terminal line."""
LOG_EVERY: Final = 10.0
"""Seconds between two catch-up log lines."""


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def describe(
    label: str,
    height: int,
    total: int | None,
    transactions: int | None,
    elapsed: float,
    *,
    start: int = 0,
) -> str:
    """The progress line of a job at block ``height`` after ``elapsed`` seconds.

    ``start`` is the height the job began after (a catch-up begins at the
    node's own height), ``total`` the height it ends at, if known.
    """
    parts = [f"{label}: block {height:,}"]
    if total is not None and total > 0:
        parts[0] += f" of {total:,} ({100 * min(height, total) // total}%)"
    if transactions is not None:
        parts.append(f"{transactions:,} tx")
        if elapsed > 0:
            parts.append(f"{transactions / elapsed:,.0f} tx/s")
    done = height - start
    if transactions is None and elapsed > 0:
        parts.append(f"{done / elapsed:,.1f} blocks/s")
    if total is not None and total > height and done > 0 and elapsed >= 1.0:
        parts.append(f"about {_clock((total - height) * elapsed / done)} left")
    return "  ".join(parts)


class TerminalProgress:
    """One progress line on a terminal, redrawn at most every :data:`REDRAW` seconds."""

    def __init__(
        self,
        label: str,
        *,
        enabled: bool,
        total: int | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.enabled = enabled
        self.total = total
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        self.started = clock()
        self.last = float("-inf")
        self.shown = False

    def update(self, height: int, transactions: int | None = None) -> None:
        """Redraw the line for ``height`` (and ``transactions``), unless drawn just now."""
        now = self.clock()
        if not self.enabled or now - self.last < REDRAW:
            return
        self.last = now
        line = describe(self.label, height, self.total, transactions, now - self.started)
        # \x1b[K clears what a longer earlier line left to the right.
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.shown = True

    def end(self) -> None:
        """End the line, if one was drawn."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False
