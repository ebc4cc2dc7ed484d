"""Prometheus text exposition of a node's metrics (text format 0.0.4, no client library).

It writes a :class:`~node.metrics.MetricsSample`, the value the node hands
over, and reads nothing else of the node.
"""

from __future__ import annotations

from node.metrics import MetricsSample


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render_metrics(sample: MetricsSample) -> str:
    """Every metric in Prometheus text format 0.0.4."""
    lines = [
        "# HELP dgledger_height Latest committed block height.",
        "# TYPE dgledger_height gauge",
        f"dgledger_height {sample.height}",
        "# HELP dgledger_consensus_round Current consensus round.",
        "# TYPE dgledger_consensus_round gauge",
        f"dgledger_consensus_round {sample.round}",
        "# HELP dgledger_mempool_txs Pending transactions.",
        "# TYPE dgledger_mempool_txs gauge",
        f"dgledger_mempool_txs {sample.mempool_txs}",
        "# HELP dgledger_mempool_bytes Bytes of pending transactions.",
        "# TYPE dgledger_mempool_bytes gauge",
        f"dgledger_mempool_bytes {sample.mempool_bytes}",
        "# HELP dgledger_peers_connected Configured peers this node holds an admitted"
        " connection to.",
        "# TYPE dgledger_peers_connected gauge",
        f"dgledger_peers_connected {sample.peers_connected}",
        "# HELP dgledger_committed_txs_total Transactions committed since start.",
        "# TYPE dgledger_committed_txs_total counter",
        f"dgledger_committed_txs_total {sample.counters.committed_txs}",
        "# HELP dgledger_blocks_synced_total Blocks applied by block sync.",
        "# TYPE dgledger_blocks_synced_total counter",
        f"dgledger_blocks_synced_total {sample.counters.blocks_synced}",
        "# HELP dgledger_sync_signatures_ahead_total Transaction signatures block sync had"
        " worker processes verify ahead of execution.",
        "# TYPE dgledger_sync_signatures_ahead_total counter",
        f"dgledger_sync_signatures_ahead_total {sample.counters.sync_signatures_ahead}",
        "# HELP dgledger_sync_documents_ahead_total Declaration documents block sync had"
        " worker processes check ahead of execution.",
        "# TYPE dgledger_sync_documents_ahead_total counter",
        f"dgledger_sync_documents_ahead_total {sample.counters.sync_documents_ahead}",
        "# HELP dgledger_txs_admitted_total Transactions admitted to the mempool.",
        "# TYPE dgledger_txs_admitted_total counter",
        f"dgledger_txs_admitted_total {sample.txs_admitted}",
        "# HELP dgledger_tx_signatures_verified_total Transaction signatures checked (not"
        " answered from the verifier's memory).",
        "# TYPE dgledger_tx_signatures_verified_total counter",
        f"dgledger_tx_signatures_verified_total {sample.tx_signatures_verified}",
        "# HELP dgledger_documents_validated_total Declaration documents checked against the"
        " Dangerous Goods List.",
        "# TYPE dgledger_documents_validated_total counter",
        f"dgledger_documents_validated_total {sample.documents_validated}",
        "# HELP dgledger_txs_applied_total Transactions applied by block execution (handlers run).",
        "# TYPE dgledger_txs_applied_total counter",
        f"dgledger_txs_applied_total {sample.txs_applied}",
        "# HELP dgledger_state_from_height Lowest height whose state the node keeps whole"
        " (0: every state; see [store] prune_keep).",
        "# TYPE dgledger_state_from_height gauge",
        f"dgledger_state_from_height {sample.state_from}",
        "# HELP dgledger_state_records_pruned_total State records deleted by pruning.",
        "# TYPE dgledger_state_records_pruned_total counter",
        f"dgledger_state_records_pruned_total {sample.state_records_pruned}",
    ]
    metrics = sample.counters
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
    rejected = sample.rejected
    lines += [
        "# HELP dgledger_rejected_messages_total Dropped or refused messages by reason.",
        "# TYPE dgledger_rejected_messages_total counter",
    ]
    for reason in sorted(rejected):
        lines.append(
            f'dgledger_rejected_messages_total{{reason="{_label(reason)}"}} {rejected[reason]}'
        )
    return "\n".join(lines) + "\n"
