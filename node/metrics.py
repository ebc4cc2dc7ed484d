"""Prometheus text exposition of a node's metrics (no client library needed)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.service import NodeService

QUANTILES = (0.5, 0.9, 0.99)


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


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics(node: NodeService) -> str:
    """Every metric in Prometheus text format 0.0.4."""
    lines = [
        "# HELP dgledger_height Latest committed block height.",
        "# TYPE dgledger_height gauge",
        f"dgledger_height {node.chain.height}",
        "# HELP dgledger_consensus_round Current consensus round.",
        "# TYPE dgledger_consensus_round gauge",
        f"dgledger_consensus_round {node.machine.round}",
        "# HELP dgledger_mempool_txs Pending transactions.",
        "# TYPE dgledger_mempool_txs gauge",
        f"dgledger_mempool_txs {len(node.mempool)}",
        "# HELP dgledger_mempool_bytes Bytes of pending transactions.",
        "# TYPE dgledger_mempool_bytes gauge",
        f"dgledger_mempool_bytes {node.mempool.size_bytes}",
        "# HELP dgledger_peers_connected Peers that answered the last request.",
        "# TYPE dgledger_peers_connected gauge",
        f"dgledger_peers_connected {node.transport.connected()}",
        "# HELP dgledger_committed_txs_total Transactions committed since start.",
        "# TYPE dgledger_committed_txs_total counter",
        f"dgledger_committed_txs_total {node.metrics.committed_txs}",
        "# HELP dgledger_blocks_synced_total Blocks applied by block sync.",
        "# TYPE dgledger_blocks_synced_total counter",
        f"dgledger_blocks_synced_total {node.metrics.blocks_synced}",
    ]
    metrics = node.metrics
    lines += metrics.commit_latency.render(
        "dgledger_commit_latency_ms", "Submit-to-commit latency (quantiles of the last 1,000)."
    )
    lines += metrics.read_latency.render(
        "dgledger_read_latency_ms",
        "Read answers (receipts, proofs, lists, blocks): waiting for a read thread, then"
        " building (quantiles of the last 1,000).",
    )
    lines += metrics.read_build.render(
        "dgledger_read_build_ms",
        "Building a read answer in its thread (quantiles of the last 1,000).",
    )
    rejected = dict(node.metrics.rejected_messages)
    for reason, count in node.machine.rejected.items():
        rejected[f"consensus_{reason}"] = rejected.get(f"consensus_{reason}", 0) + count
    for reason, count in node.mempool.rejected.items():
        rejected[f"mempool_{reason}"] = rejected.get(f"mempool_{reason}", 0) + count
    lines += [
        "# HELP dgledger_rejected_messages_total Dropped or refused messages by reason.",
        "# TYPE dgledger_rejected_messages_total counter",
    ]
    for reason in sorted(rejected):
        lines.append(
            f'dgledger_rejected_messages_total{{reason="{_label(reason)}"}} {rejected[reason]}'
        )
    return "\n".join(lines) + "\n"
