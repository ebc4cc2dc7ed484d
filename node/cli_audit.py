"""``dgledger audit``: replay a chain from genesis and say whether it is sound."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from ledger.block import Block
from ledger.errors import LedgerError, ReplayError
from ledger.keyfile import load_signing_key
from ledger.replay import ReplaySummary
from ledger.votes import Certificate
from node.audit import AuditSourceError, audit, blocks_from_node, blocks_from_store
from node.chainfile import ChainFileError, read_chain_file
from node.genesis_file import GenesisFileError, load_genesis


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, summary: ReplaySummary) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.5:
            return
        self.last = now
        rate = summary.transactions / max(now - self.started, 1e-9)
        print(
            f"\raudit: block {summary.height:,}  transactions {summary.transactions:,}"
            f"  ({rate:,.0f} tx/s)",
            end="",
            file=sys.stderr,
            flush=True,
        )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dgledger audit``."""
    p = sub.add_parser("audit", help="replay a chain from genesis and verify everything")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--node", help="URL of a running node (needs --key)")
    source.add_argument("--data", help="data directory of a stopped node")
    source.add_argument("--file", help="chain file written by dgledger export")
    p.add_argument("--genesis", required=True, help="the genesis file you trust")
    p.add_argument("--key", help="member key to sign requests to --node")
    p.add_argument("--dgl", default="builtin", help="Dangerous Goods List file (default: built-in)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    """Replay and print a summary; exit 0 only if the chain is sound."""
    from node.cli import CliError

    try:
        genesis = load_genesis(args.genesis)
        dgl = builtin_list() if args.dgl == "builtin" else DangerousGoodsList.load_file(args.dgl)
    except (GenesisFileError, LedgerError) as e:
        raise CliError(str(e)) from e
    except Exception as e:
        raise CliError(f"{args.dgl}: {e}") from e
    lists = {dgl.digest(): dgl}
    handle = None
    try:
        blocks: Iterator[tuple[Block, Certificate | None]]
        if args.file:
            handle = Path(args.file).open("rb")  # noqa: SIM115 - closed below
            file_genesis, blocks = read_chain_file(handle)
            if file_genesis.hash != genesis.hash:
                raise CliError("the chain file was made from another genesis than --genesis")
        elif args.data:
            blocks = blocks_from_store(Path(args.data), genesis)
        else:
            if not args.key:
                raise CliError("--node needs --key: reads are signed requests by a member key")
            blocks = blocks_from_node(args.node, genesis, load_signing_key(Path(args.key)))
        report = audit(
            genesis, blocks, lists, progress=_Progress(sys.stderr.isatty() and not args.json)
        )
    except ReplayError as e:
        where = f"height {e.height}" + (
            f", transaction {e.tx_index}" if e.tx_index is not None else ""
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "sound": False,
                        "height": e.height,
                        "tx_index": e.tx_index,
                        "reason": e.message,
                    }
                )
            )
        else:
            print(f"\naudit FAILED at {where}: {e.message}", file=sys.stderr)
        return 1
    except ChainFileError as e:
        raise CliError(f"{args.file}: {e}") from e
    except (LedgerError, AuditSourceError, OSError) as e:
        raise CliError(f"cannot read the chain: {e}") from e
    finally:
        if handle is not None:
            handle.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
        return 0
    print(file=sys.stderr)
    print(f"chain {genesis.chain}: SOUND")
    print(f"  blocks        {report.blocks:,}")
    print(f"  transactions  {report.transactions:,}")
    for kind, n in sorted(report.tx_types.items()):
        print(f"    {kind:<24}{n:,}")
    print(f"  tip           {report.tip_hash}")
    print(f"  state root    {report.state_root}")
    print("  declarations by status:")
    for status, n in sorted(report.declarations_by_status.items()):
        print(f"    {status:<24}{n:,}")
    print("  declarations by organisation:")
    for org, n in sorted(report.declarations_by_org.items()):
        print(f"    {org:<24}{n:,}")
    print(f"  rejected transactions by rule: {sum(report.rejections.values()):,}")
    for code, n in sorted(report.rejections.items()):
        print(f"    {code:<40}{n:,}")
    print(f"  evidence of misbehaviour: {report.evidence}")
    return 0
