"""How many pending transactions a node takes from clients: about a second of commits.

A node that admits more than it commits builds a queue, and every
transaction in it waits longer: at twice its capacity offered, a pool
bounded only by its size holds tens of seconds of work, which then also
has to be gossiped, checked and selected. So a client's submission is
refused early, with ``503 mempool.busy`` and a ``Retry-After``, once the
pool holds what the node committed in the last :data:`TARGET_S` seconds,
measured over the last :data:`WINDOW_S` seconds of commits, or two of the
largest blocks of that window if that is more (and at least :data:`FLOOR`,
so that an idle node takes a burst). The two blocks keep the bound from
feeding on itself: when blocks come less often than every ``TARGET_S``, a
second of commits is less than a block, the next block could only be as
large as the bound, the rate would fall with it and the bound again, down
to the floor, with cores idle. With room for two blocks, a proposer that
takes what is pending makes each block up to twice the last, until blocks
are as large as it can build in time. The refusal costs
nothing: it comes before the signature is checked or anything is decoded
further. Transactions gossiped by peers are not refused by it: their
sender took them already, and the pool's own size bounds them.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

TARGET_S: Final = 1.0
"""The wait a transaction admitted now should have before its block: half the latency aim."""
WINDOW_S: Final = 5.0
"""The span of commits the rate is measured over."""
FLOOR: Final = 500
"""Pending transactions always taken, whatever the measured rate (an idle node, a burst)."""


class Backpressure:
    """The measured commit rate, and the bound on pending transactions it sets."""

    def __init__(
        self, target_s: float = TARGET_S, window_s: float = WINDOW_S, floor: int = FLOOR
    ) -> None:
        self.target_s = target_s
        self.window_s = window_s
        self.floor = floor
        self._commits: deque[tuple[float, int]] = deque()
        self.refused = 0

    def committed(self, txs: int, now: float) -> None:
        """A block of ``txs`` transactions committed at ``now`` (monotonic seconds)."""
        self._commits.append((now, txs))
        while self._commits and now - self._commits[0][0] > self.window_s:
            self._commits.popleft()

    def rate(self, now: float) -> float:
        """Transactions committed per second over the window up to ``now``."""
        recent = [n for t, n in self._commits if now - t <= self.window_s]
        return sum(recent) / self.window_s

    def bound(self, now: float) -> int:
        """How many pending transactions the node takes from clients now."""
        largest = max((n for t, n in self._commits if now - t <= self.window_s), default=0)
        return max(self.floor, int(self.rate(now) * self.target_s), 2 * largest)

    def busy(self, pending: int, now: float) -> int | None:
        """Seconds a client should wait before retrying, or ``None`` if there is room."""
        bound = self.bound(now)
        if pending < bound:
            return None
        self.refused += 1
        rate = max(self.rate(now), 1.0)
        return max(1, math.ceil((pending - bound + 1) / rate))
