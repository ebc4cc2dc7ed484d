"""CLI verbs of auditors: ``dgledger verify`` and ``dgledger export``.

``verify ID`` fetches the declaration's receipt and the header chain from
block 1 to the receipt's block, then checks them against the genesis file
given (never the node's word), printing each check; exit 0 only if all hold.
The document is proven as stored, its sealed section's digest included;
with the organisation's encryption key (``--enc-key``, or the one beside
``--key``) the sealed fields are opened and checked against that digest too.
``--save FILE`` keeps the receipt with its header chain, and ``--receipt
FILE`` checks such a file again, offline.

``export`` writes the whole chain as one file (the format of
:mod:`node.chainfile`, which ``dgledger audit --file`` reads) from a node
(``--node``, streaming ``GET /v1/blocks?format=msgpack``) or from a stopped
node's data directory (``--data``). The file is written beside its target
and renamed over it only when complete.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgpack

from ledger.chainstore import ChainStore
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.kv import LevelDBKV
from node.chainfile import ChainFileWriter
from node.cli.common import (
    CliError,
    add_node_args,
    connect,
    failure,
    genesis_arg,
    read_json_object,
    say,
    store_path,
)
from node.cli.sealed_fields import add_enc_key_args, encryption_key, verify_lines
from node.client.client import Client
from node.client.errors import ClientError, ReceiptError
from node.client.receipt import verify_receipt
from node.progress import TerminalProgress

MAX_RECEIPT = 64 * 1024 * 1024
MAX_HEADERS = 10_000_000


# ----------------------------------------------------------------- verify


def _receipt_height(document: Any) -> int | None:
    """The height a fetched receipt claims, if it claims one a header chain can reach."""
    try:
        height = document["receipt"]["header"]["height"]
    except (KeyError, TypeError):
        return None
    return height if type(height) is int and 1 <= height <= MAX_HEADERS else None


def _fetch_receipt(args: argparse.Namespace) -> dict[str, Any]:
    client = connect(args)
    with client:
        try:
            document: Any = client.declaration(args.id, args.owner)
            if not isinstance(document, dict):
                raise CliError(f"the node at {args.node} sent no receipt: ask another node")
            height = _receipt_height(document)
            # A receipt without a usable height is refused by verify_receipt, path named.
            document["headers"] = [] if height is None else client.header_chain(height)
        except ClientError as e:
            raise failure(e) from e
    return document


def _load_receipt(path: str) -> dict[str, Any]:
    return read_json_object(path, MAX_RECEIPT, "receipt")


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a declaration's receipt from genesis; print every check."""
    genesis = genesis_arg(args.genesis)
    key = encryption_key(args)
    if args.receipt:
        document = _load_receipt(args.receipt)
    elif args.id:
        if not args.key:
            raise CliError("reading a receipt from a node needs a member key: give --key")
        document = _fetch_receipt(args)
    else:
        raise CliError("give a declaration ID (with --node and --key) or --receipt FILE")
    if args.id and document.get("id", args.id) != args.id:
        raise CliError(f"the receipt is for {document.get('id')!r}, not {args.id!r}")
    if args.owner and document.get("owner", args.owner) != args.owner:
        raise CliError(
            f"the receipt is for {document.get('owner')!r}'s {document.get('id')!r},"
            f" not {args.owner!r}'s"
        )
    try:
        checks = verify_receipt(document, genesis)
    except ReceiptError as e:
        for check in e.passed:
            say(f"ok      {check}")
        say(f"FAILED  {e.code}: {e.path}: {e.message}")
        raise CliError(f"the receipt does not hold: {e.path}: {e.message}") from e
    for check in checks:
        say(f"ok      {check}")
    sealed, failed = verify_lines(document, key)
    for line in sealed:
        say(line)
    if failed:
        raise CliError(failed)
    if args.save:
        _write_atomic(Path(args.save), json.dumps(document, indent=1).encode() + b"\n")
        say(f"saved the receipt with its header chain to {args.save}")
    status = document.get("status") or document.get("result", {}).get("status")
    say(f"verified: {document.get('id', 'transaction')} is {status}, from genesis alone")
    return 0


# ----------------------------------------------------------------- export


def _write_atomic(path: Path, data: bytes) -> None:
    with _AtomicFile(path) as f:
        f.write(data)


class _AtomicFile:
    """A file written beside its target and renamed over it only when complete."""

    def __init__(self, path: Path) -> None:
        self.path = path
        directory = path.parent if str(path.parent) else Path()
        if not directory.is_dir():
            raise CliError(f"directory {directory} does not exist")
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
        self.temp = Path(name)
        self.file = os.fdopen(fd, "wb")

    def __enter__(self) -> Any:
        return self.file

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.file.close()
        if exc_type is None:
            self.temp.replace(self.path)
        else:
            self.temp.unlink(missing_ok=True)


class _Counted:
    """A chain file writer that checks heights follow each other, and draws its progress."""

    def __init__(self, writer: ChainFileWriter, progress: TerminalProgress) -> None:
        self.writer = writer
        self.height = 0
        self.progress = progress

    def add(self, height: Any, block_bytes: Any, certificate_bytes: Any) -> None:
        if height != self.height + 1 or type(block_bytes) is not bytes:
            raise CliError(f"block {height} does not follow block {self.height}: try again")
        if type(certificate_bytes) is not bytes:
            raise CliError(f"block {height} came without its certificate")
        self.writer.add(block_bytes, certificate_bytes)
        self.height = height
        self.progress.update(height)


def _export_from_node(args: argparse.Namespace, genesis: Genesis, writer: _Counted) -> None:
    client: Client = connect(args)
    with client:
        try:
            status = client.status()
            if status.get("genesis") != genesis.hash.hex():
                raise CliError(f"the node at {args.node} runs another genesis: check --genesis")
            height = status.get("height")
            if type(height) is not int or height < 0:
                raise CliError(f"the node at {args.node} states no height: check --node")
            writer.progress.total = height
            unpacker = msgpack.Unpacker(raw=False, strict_map_key=True, max_buffer_size=1 << 26)
            for chunk in client.block_records(1, height):
                unpacker.feed(chunk)
                for record in unpacker:
                    if not isinstance(record, dict) or set(record) != {
                        "height",
                        "block",
                        "certificate",
                    }:
                        raise CliError("the node sent a malformed block record: try again")
                    writer.add(record["height"], record["block"], record["certificate"])
        except ClientError as e:
            raise failure(e) from e
        except (msgpack.UnpackException, ValueError) as e:
            raise CliError(f"the node sent a malformed block stream ({e}): try again") from e
    if writer.height != height:
        raise CliError(f"the node sent {writer.height} of {height} blocks: try again")


def _export_from_store(directory: Path, genesis: Genesis, writer: _Counted) -> None:
    path = store_path(directory)
    try:
        kv = LevelDBKV(path, create=False)
    except LedgerError as e:
        raise CliError(f"{e}: is the node still running? stop it, or use --node") from e
    try:
        store = ChainStore(kv, genesis, blocks_only=True)
        writer.progress.total = store.height
        for height in range(1, store.height + 1):
            cert = store.certificate_bytes(height)
            if cert is None:
                raise CliError(f"the store has no certificate for block {height}")
            writer.add(height, store.block_bytes(height), cert)
    except LedgerError as e:
        raise CliError(f"{path}: {e}") from e
    finally:
        kv.close()


def cmd_export(args: argparse.Namespace) -> int:
    """Write the chain as one file: genesis, then every block with its certificate."""
    genesis = genesis_arg(args.genesis)
    if bool(args.node) == bool(args.data):
        raise CliError("give exactly one of --node URL and --data DIR")
    if args.node and not args.key:
        raise CliError("reading blocks from a node needs a member key: give --key")
    out = Path(args.out)
    progress = TerminalProgress("export", enabled=sys.stderr.isatty())
    try:
        with _AtomicFile(out) as f:
            writer = _Counted(ChainFileWriter(f, genesis), progress)
            if args.node:
                _export_from_node(args, genesis, writer)
            else:
                _export_from_store(Path(args.data), genesis, writer)
    except OSError as e:
        raise CliError(f"cannot write {out}: {e.strerror}") from e
    finally:
        progress.end()
    say(f"wrote {out}: genesis and {writer.height} blocks")
    return 0


def register(sub: Any) -> None:
    """Add ``verify`` and ``export`` to the ``dgledger`` command tree."""
    p = sub.add_parser("verify", help="prove a declaration from genesis (prints each check)")
    p.add_argument("id", metavar="ID", nargs="?")
    p.add_argument(
        "--owner",
        metavar="ORG",
        help="the organisation the declaration belongs to (default: the key's own, or the only"
        " one of that id the key may read)",
    )
    p.add_argument("--genesis", required=True, help="the network's genesis file")
    add_node_args(p, key=False)
    p.add_argument("--receipt", help="check a saved receipt file instead of asking a node")
    p.add_argument("--save", help="write the receipt with its header chain to this file")
    add_enc_key_args(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", help="write the whole chain to one file")
    p.add_argument("--out", required=True)
    p.add_argument("--genesis", required=True, help="the network's genesis file")
    p.add_argument("--data", help="a stopped node's data directory (instead of --node)")
    add_node_args(p, key=False)
    p.set_defaults(func=cmd_export)
