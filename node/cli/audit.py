"""``dgledger audit``: replay a chain from genesis and say whether it is sound.

The chain comes from a running node (``--node``, read with a member key),
a stopped node's data directory (``--data``) or a file written by
``dgledger export`` (``--file``). Exit 0 only if every block holds; an
unsound chain exits 1 naming the first bad height, the transaction index
where one is at fault, and the reason (as JSON with ``--json``). A source
that cannot be read at all is a user error: one line, exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import BUILTIN, named_list
from contracts.errors import ContractError
from ledger.block import Block
from ledger.errors import ChainError, LedgerError, StoreError
from ledger.genesis import Genesis
from ledger.replay import ReplaySummary
from ledger.votes import Certificate
from node.audit import AuditReport, audit, blocks_from_node, blocks_from_store
from node.chainfile import read_chain_file
from node.cli.common import CliError, add_ca_arg, connect, genesis_arg, say, store_path
from node.errors import AuditSourceError, ChainFileError
from node.pipeline import MAX_WORKERS
from node.progress import TerminalProgress

Blocks = Iterator[tuple[Block, Certificate | None]]


class _Progress(TerminalProgress):
    """The audit's line: blocks of the total, transactions and their rate, time left."""

    def __call__(self, summary: ReplaySummary) -> None:
        self.update(summary.height, summary.transactions)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``dgledger audit``."""
    p = sub.add_parser("audit", help="replay a chain from genesis and verify everything")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--node", help="URL of a running node, https://HOST:PORT (needs --key)")
    source.add_argument("--data", help="data directory of a stopped node")
    source.add_argument("--file", help="chain file written by dgledger export")
    p.add_argument("--genesis", required=True, help="the genesis file you trust")
    p.add_argument("--key", help="member key to sign requests to --node")
    p.add_argument("--password-env", help="environment variable holding the key's password")
    add_ca_arg(p)
    p.add_argument(
        "--dgl",
        action="append",
        help="Dangerous Goods List file (default: built-in); repeat it for every list the"
        " chain brought into force",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="processes that check the next blocks' signatures and documents while one"
        " executes (default: one per core but one, at most 4; 0: none)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_audit)


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and {MAX_WORKERS}")
    return value


# ---------------------------------------------------------------- sources


def _open_file(path: str, genesis: Genesis) -> tuple[BinaryIO, Blocks]:
    try:
        handle = Path(path).open("rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError as e:
        raise CliError(f"{path} does not exist: check --file") from e
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from e
    try:
        file_genesis, blocks = read_chain_file(handle)
    except ChainFileError as e:
        handle.close()
        raise CliError(f"{path}: {e}: is it a file written by dgledger export?") from e
    except BaseException:
        handle.close()
        raise
    if file_genesis.hash != genesis.hash:
        handle.close()
        raise CliError(f"{path} was made from another genesis than --genesis: check both")
    return handle, blocks


def _store_blocks(directory: str, genesis: Genesis, progress: _Progress) -> Blocks:
    def total(height: int) -> None:
        progress.total = height

    return blocks_from_store(store_path(Path(directory)), genesis, on_height=total)


def _node_blocks(args: argparse.Namespace, genesis: Genesis, progress: _Progress) -> Blocks:
    if not args.key:
        raise CliError("--node needs --key: reads are signed requests by a member key")
    with connect(args) as client:
        status = client.status_at_connect or {}
    if status.get("genesis") != genesis.hash.hex():
        raise CliError(f"the node at {args.node} runs another genesis: check --genesis")
    height = status.get("height")
    progress.total = height if type(height) is int and height >= 0 else None
    if client.key is None or client.node is None:  # connect() set both (--key was given)
        raise CliError("--node needs --key")
    verify = True if client.tls is None else client.tls
    return blocks_from_node(client.url, client.node, genesis, client.key, verify=verify)


def _load_dgl(name: str) -> DangerousGoodsList:
    try:
        return named_list(name)
    except ContractError as e:
        raise CliError(f"{name}: {e.message}: check --dgl") from e


# ---------------------------------------------------------------- the verb


def cmd_audit(args: argparse.Namespace) -> int:
    """Replay and print a summary; exit 0 only if the chain is sound."""
    genesis = genesis_arg(args.genesis)
    loaded = [(name, _load_dgl(name)) for name in args.dgl or [BUILTIN]]
    lists = {dgl.digest(): dgl for _, dgl in loaded}
    pinned = genesis.app.get("dgl")
    if pinned not in lists:
        shown = pinned.hex() if isinstance(pinned, bytes) else repr(pinned)
        given = ", ".join(f"{name} ({dgl.digest().hex()})" for name, dgl in loaded)
        raise CliError(
            f"genesis pins the Dangerous Goods List {shown}, but --dgl gives {given}:"
            " give the list the network was created with"
        )
    progress = _Progress("audit", enabled=sys.stderr.isatty() and not args.json)
    handle: BinaryIO | None = None
    try:
        blocks: Blocks
        if args.file:
            handle, blocks = _open_file(args.file, genesis)
        elif args.data:
            blocks = _store_blocks(args.data, genesis, progress)
        else:
            blocks = _node_blocks(args, genesis, progress)
        report = audit(genesis, blocks, lists, progress=progress, workers=args.workers)
    except ChainError as e:
        # A replay failure, or a block whose bytes do not decode: the chain is not sound.
        return _unsound(args, e.height or 0, e.tx_index, e.message)
    except ChainFileError as e:
        if e.height is None:
            raise CliError(f"{args.file}: {e}") from e
        return _unsound(args, e.height, e.tx_index, e.reason)
    except ContractError as e:
        # Not a fault of the chain: a list it brought into force was not given.
        raise CliError(f"{e.message}: give every list the chain used with --dgl") from e
    except AuditSourceError as e:
        raise CliError(f"{e}: check --node and --key") from e
    except httpx.HTTPError as e:
        raise CliError(f"cannot reach {args.node}: {e}: is the node running?") from e
    except LedgerError as e:
        # LevelDB's lock error is a plain StoreError; its subclasses name other faults.
        locked = args.data and type(e) is StoreError and "lock" in str(e).lower()
        hint = ": is the node still running? stop it, or audit with --node" if locked else ""
        raise CliError(f"cannot read the chain: {e}{hint}") from e
    except OSError as e:
        raise CliError(f"cannot read the chain: {e.strerror or e}") from e
    finally:
        progress.end()
        if handle is not None:
            handle.close()
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        _print_report(genesis, report)
    return 0


def _unsound(args: argparse.Namespace, height: int, tx_index: int | None, reason: str) -> int:
    if args.json:
        value = {"sound": False, "height": height, "tx_index": tx_index, "reason": reason}
        print(json.dumps(value, sort_keys=True))
    else:
        where = f"height {height}" + (f", transaction {tx_index}" if tx_index is not None else "")
        say(f"audit FAILED at {where}: {reason}", err=True)
    return 1


def _print_report(genesis: Genesis, report: AuditReport) -> None:
    say(f"chain {genesis.chain}: SOUND")
    say(f"  blocks        {report.blocks:,}")
    say(f"  transactions  {report.transactions:,}")
    for kind, n in sorted(report.tx_types.items()):
        say(f"    {kind:<24}{n:,}")
    say(f"  tip           {report.tip_hash}")
    say(f"  state root    {report.state_root}")
    say("  declarations by status:")
    for status, n in sorted(report.declarations_by_status.items()):
        say(f"    {status:<24}{n:,}")
    say("  declarations by organisation:")
    for org, n in sorted(report.declarations_by_org.items()):
        say(f"    {org:<24}{n:,}")
    say(f"  rejected transactions by rule: {sum(report.rejections.values()):,}")
    for code, n in sorted(report.rejections.items()):
        say(f"    {code:<40}{n:,}")
    say(f"  evidence of misbehaviour: {report.evidence}")
