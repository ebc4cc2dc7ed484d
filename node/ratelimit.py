"""Requests per key: a token bucket each, so one busy or hostile key cannot starve the rest.

The node charges every signed request and every submitted transaction to the
key that signed it (never to a key it only claims), :data:`rate` a second
with bursts of twice that.
"""

from __future__ import annotations

import time


class RateLimiter:
    """Token bucket per key: ``rate`` requests per second, bursts of twice that."""

    def __init__(self, rate: int, max_keys: int = 100_000) -> None:
        self.rate = max(1, rate)
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        """Take one token for ``key`` if there is one."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (2.0 * self.rate, now))
        tokens = min(2.0 * self.rate, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return True

    def _forget_full(self, now: float) -> None:
        # Only buckets that have refilled are forgotten (an absent key starts full):
        # clearing every bucket would let anyone with many keys reset the others' limits.
        cap = 2.0 * self.rate
        self._buckets = {
            k: (tokens, last)
            for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate < cap
        }
        if len(self._buckets) > self.max_keys:  # that many busy keys: start afresh
            self._buckets.clear()
