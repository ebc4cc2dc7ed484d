"""The ``dgledger`` command line.

Errors are one line on standard error that says what is wrong and what to
do, with a non-zero exit status; never a traceback for a user error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ledger.crypto import SigningKey
from ledger.errors import LedgerError
from ledger.keyfile import save_signing_key

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    """A user error: printed as one line, exit status 1 (or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def cmd_keygen(args: argparse.Namespace) -> int:
    """Write a new Ed25519 key (PKCS#8, mode 0600)."""
    password = None
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"environment variable {args.password_env} is empty or not set")
        password = value.encode()
    key = SigningKey.generate()
    try:
        save_signing_key(Path(args.out), key, password)
    except LedgerError as e:
        raise CliError(f"{args.out}: {e}") from e
    print(f"wrote {args.out}\nkey id {key.public.key_id}\npublic key {key.public.raw.hex()}")
    return 0


def cmd_network_init(args: argparse.Namespace) -> int:
    """Write genesis, node configurations and keys for a new network."""
    from node.genesis_file import load_genesis
    from node.network import NetworkInitError, init_network

    try:
        nodes = init_network(
            Path(args.dir),
            validators=[v for v in args.validators.split(",") if v],
            members=[m for m in args.members.split(",") if m],
            base_port=args.base_port,
            chain=args.chain,
            genesis_time=time.time_ns() // 1_000_000,
            observers=[o for o in args.observers.split(",") if o],
            dgl_file=Path(args.dgl) if args.dgl else None,
        )
    except (NetworkInitError, LedgerError) as e:
        raise CliError(str(e)) from e
    print(f"genesis: {Path(args.dir) / 'genesis.json'}")
    for node in nodes:
        print(f"node {node.name}: {node.config}  ({node.url})")
    print(f"member keys: {Path(args.dir) / 'keys'}")
    pinned = load_genesis(Path(args.dir) / "genesis.json").app["dgl"].hex()
    print(f"dangerous goods list: {args.dgl or 'built-in'} (SHA-256 {pinned}, pinned in genesis)")
    return 0


def cmd_node_start(args: argparse.Namespace) -> int:
    """Run a node in the foreground until interrupted."""
    import uvicorn

    from node.api import KEEP_ALIVE_S, create_app
    from node.config import ConfigError, load_config
    from node.genesis_file import GenesisFileError
    from node.logs import setup_logging
    from node.service import NodeService, StartupError

    try:
        config = load_config(args.config)
        setup_logging(config.name, args.log_level)
        service = NodeService(config, test_admin=args.unsafe_test_admin)
    except (ConfigError, GenesisFileError, StartupError) as e:
        raise CliError(str(e)) from e
    app = create_app(service)
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
        loop="uvloop",
        http="httptools",
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo network; exit 0 only if every check held."""
    from node.demo import main as demo_main

    argv = ["--declarations", str(args.declarations)]
    if args.keep:
        argv += ["--keep", args.keep]
    return demo_main(argv)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="dgledger", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("keygen", help="write a new key file")
    p.add_argument("--out", required=True, help="where to write the PKCS#8 key")
    p.add_argument("--password-env", help="environment variable holding a password to encrypt it")
    p.set_defaults(func=cmd_keygen)

    network = sub.add_parser("network", help="create a network").add_subparsers(
        dest="network_command", required=True
    )
    p = network.add_parser("init", help="genesis, node configurations and keys")
    p.add_argument("--dir", required=True)
    p.add_argument("--validators", default="customs,port-authority,forwarder-a,forwarder-b")
    p.add_argument("--members", default="shipper-acme:shipper,shipper-beta:shipper,auditor:auditor")
    p.add_argument("--base-port", type=int, default=7100)
    p.add_argument("--chain", default="dgledger-local")
    p.add_argument(
        "--observers",
        default="",
        help="members that run a node following the chain without voting, e.g. auditor",
    )
    p.add_argument(
        "--dgl",
        help="Dangerous Goods List file to pin in genesis (CSV, 49 CFR 172.101; default: built-in)",
    )
    p.set_defaults(func=cmd_network_init)

    node = sub.add_parser("node", help="run a node").add_subparsers(
        dest="node_command", required=True
    )
    p = node.add_parser("start", help="run a node in the foreground")
    p.add_argument("--config", required=True)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--unsafe-test-admin", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_node_start)

    p = sub.add_parser("demo", help="run a local network with sample traffic, then audit it")
    p.add_argument("--declarations", type=int, default=60, help="how many declarations to submit")
    p.add_argument("--keep", help="run in this directory and keep it (default: a temporary one)")
    p.set_defaults(func=cmd_demo)

    from node.cli_audit import add_parser as add_audit

    add_audit(sub)

    from node.cli_client import register as register_client
    from node.cli_governance import register as register_governance
    from node.cli_verify import register as register_verify

    register_client(sub)
    register_governance(sub)
    register_verify(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgledger`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as e:
        print(f"dgledger: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # Run as ``python -m node.cli`` this module is ``__main__``; the verbs raise
    # ``node.cli.CliError``, so run the package's own ``main`` that catches it.
    from node.cli import main as package_main

    sys.exit(package_main())
