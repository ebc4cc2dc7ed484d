"""What a node counts and measures, and the sample of it that ``/metrics`` shows.

:class:`Metrics` is the node's own counters and timings, touched only on its
event loop. :class:`MetricsSample` is what the node hands the metrics page at
one instant (``NodeService.metrics_sample``); :mod:`node.api.metrics` writes it
in the Prometheus text format, and knows nothing else of the node.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

QUANTILES: Final = (0.5, 0.9, 0.99)


@dataclass
class Summary:
    """Observed durations: the last 1,000 (for quantiles), their sum and count ever."""

    recent: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.recent.append(value)
        self.total += value
        self.count += 1

    def render(self, name: str, help_text: str) -> list[str]:
        """The summary's lines in the text format."""
        ordered = sorted(self.recent)
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} summary"]
        for q in QUANTILES:
            value = ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0
            lines.append(f'{name}{{quantile="{q}"}} {value:.1f}')
        return [*lines, f"{name}_sum {self.total:.1f}", f"{name}_count {self.count}"]


@dataclass(slots=True)
class Metrics:
    """Counters the node exports at /metrics."""

    rejected_messages: dict[str, int] = field(default_factory=dict)
    commit_latency: Summary = field(default_factory=Summary)
    read_latency: Summary = field(default_factory=Summary)
    read_build: Summary = field(default_factory=Summary)
    committed_txs: int = 0
    blocks_synced: int = 0
    sync_signatures_ahead: int = 0
    """Signatures block sync had worker processes verify (node.pipeline)."""
    sync_documents_ahead: int = 0
    """Documents block sync had worker processes check (node.pipeline)."""

    def reject(self, reason: str, n: int = 1) -> None:
        """Count a dropped message."""
        self.rejected_messages[reason] = self.rejected_messages.get(reason, 0) + n


@dataclass(frozen=True, slots=True)
class MetricsSample:
    """The node's gauges at one instant, with its counters."""

    height: int
    round: int
    mempool_txs: int
    mempool_bytes: int
    peers_connected: int
    txs_admitted: int
    """Transactions admitted to the mempool (from clients and from peers)."""
    tx_signatures_verified: int
    """Transaction signatures checked: once per transaction, at admission or in a block."""
    documents_validated: int
    """Declaration documents checked against the Dangerous Goods List: once per transaction."""
    state_from: int
    """Lowest height whose state the node keeps whole (0 unless it prunes)."""
    state_records_pruned: int
    """State records pruning deleted since the node started."""
    txs_applied: int
    """Transactions applied by a block's execution: once per transaction (a block proposed
    again in a later round, or a proposal that did not commit, applies its own again)."""
    counters: Metrics
    rejected: Mapping[str, int]
    """Every dropped or refused message by reason: the node's, consensus's, the mempool's."""
