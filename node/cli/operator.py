"""Operators' verbs: ``dgledger keygen``, ``network init``, ``node start`` and ``demo``."""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path
from typing import Any, Final

import uvicorn
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.errors import ContractError
from contracts.lifecycle import Role
from contracts.membership import Identity, Port
from ledger.crypto import SigningKey
from ledger.errors import LedgerError
from ledger.keyfile import encryption_public, save_encryption_key, save_signing_key
from node import memory
from node.api.app import KEEP_ALIVE_S, create_app
from node.api_tls import CA_CERT, api_context
from node.cli.common import CliError, say
from node.config import load_config
from node.devnet.demo import main as demo_main
from node.errors import ConfigError, GenesisFileError, NetworkInitError, StartupError
from node.genesis_file import load_genesis
from node.logs import setup_logging
from node.network import (
    DEFAULT_MEMBERS,
    DEFAULT_VALIDATORS,
    HAROPA,
    corridor,
    init_network,
    network_roles,
)
from node.service import NodeService

ROLE_DUTIES: Final = {
    Role.CUSTOMS: "clears, holds, releases or refuses declarations",
    Role.PORT_AUTHORITY: "accepts or refuses declarations, records loading and discharge",
    Role.FORWARDER: "files declarations, amends or cancels a shipper's if delegated",
    Role.SHIPPER: "files, amends and cancels its own declarations",
    Role.AUDITOR: "reads and verifies the chain (may run an observer node)",
}
"""What an organisation of each role does, as ``network init --help`` lists them."""


def cmd_keygen(args: argparse.Namespace) -> int:
    """Write a new Ed25519 signing key, or an X25519 encryption key (PKCS#8, mode 0600)."""
    password = None
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"environment variable {args.password_env} is empty or not set")
        password = value.encode()
    out = Path(args.out)
    directory = out.parent if str(out.parent) else Path()
    if not directory.is_dir():
        raise CliError(f"directory {directory} does not exist: create it, or choose another --out")
    if os.path.lexists(out):
        # No option replaces a key file: it may be the only copy of a member's key.
        raise CliError(f"{out} exists: choose another --out, or remove the file")
    if args.encryption:
        enc = X25519PrivateKey.generate()
        try:
            save_encryption_key(out, enc, password)
        except LedgerError as e:
            raise CliError(str(e)) from e
        print(f"wrote {args.out}\nencryption public key {encryption_public(enc).hex()}")
        return 0
    key = SigningKey.generate()
    try:
        save_signing_key(out, key, password)
    except LedgerError as e:
        raise CliError(str(e)) from e
    print(f"wrote {args.out}\nkey id {key.public.key_id}\npublic key {key.public.raw.hex()}")
    return 0


def _pairs(items: list[str], flag: str, what: str) -> dict[str, str]:
    """``ORG=VALUE`` flags as a map, each organisation once."""
    out: dict[str, str] = {}
    for item in items:
        org, sep, value = item.partition("=")
        if not sep or not org.strip():
            raise CliError(f"{flag} {item!r}: give ORG={what}")
        if org.strip() in out:
            raise CliError(f"{flag}: {org.strip()} is given twice")
        out[org.strip()] = value
    return out


def identities(legal_names: list[str], eoris: list[str]) -> dict[str, Identity]:
    """The identities ``--legal-name ORG=NAME`` and ``--eori ORG=EORI`` give, checked."""
    names = _pairs(legal_names, "--legal-name", "LEGAL NAME")
    numbers = _pairs(eoris, "--eori", "EORI")
    for org in numbers:
        if org not in names:
            raise CliError(f"--eori {org}=...: give {org}'s --legal-name too")
    out = {}
    for org, name in names.items():
        try:
            out[org] = Identity.from_fields(
                name, {"eori": numbers[org]} if org in numbers else {}, org
            )
        except ContractError as e:
            flag = "--eori" if e.path.endswith(".eori") else "--legal-name"
            raise CliError(f"{flag} {org}: {e.message}") from e
    return out


def ports(args: argparse.Namespace, roles: dict[str, Role]) -> tuple[Port, ...]:
    """The ports ``--port``, ``--port-authority`` and ``--no-ports`` give, checked."""
    if args.no_ports:
        if args.port or args.port_authority:
            raise CliError("--no-ports: give no --port or --port-authority with it")
        return ()
    names: tuple[tuple[str, str], ...] = HAROPA
    if args.port:
        names = tuple((code.strip(), name.strip()) for code, name in _ports(args.port, "NAME"))
    authorities: dict[str, str] = {}
    for code, org in _ports(args.port_authority or [], "ORG", "--port-authority"):
        if authorities.setdefault(code, org) != org:
            raise CliError(f"--port-authority: {code} is given twice")
    return corridor(roles, names, authorities)


def _ports(items: list[str], what: str, flag: str = "--port") -> list[tuple[str, str]]:
    """``LOCODE=VALUE`` flags as pairs."""
    out = []
    for item in items:
        code, sep, value = item.partition("=")
        if not sep or not code.strip() or not value.strip():
            example = "Le Havre" if what == "NAME" else "port-authority"
            raise CliError(f"{flag} {item!r}: give LOCODE={what}, e.g. FRLEH={example}")
        out.append((code.strip(), value.strip()))
    return out


def cmd_network_init(args: argparse.Namespace) -> int:
    """Write genesis, node configurations and keys for a new network."""
    chosen = identities(args.legal_name or [], args.eori or [])
    validators = [v for v in args.validators.split(",") if v]
    members = [m for m in args.members.split(",") if m]
    try:
        served = ports(args, network_roles(validators, members))
        nodes = init_network(
            Path(args.dir),
            validators=validators,
            members=members,
            base_port=args.base_port,
            chain=args.chain,
            genesis_time=time.time_ns() // 1_000_000,
            observers=[o for o in args.observers.split(",") if o],
            dgl_file=Path(args.dgl) if args.dgl else None,
            identities=chosen,
            ports=served,
            lead_time_hours=args.lead_time,
        )
    except (NetworkInitError, LedgerError) as e:
        raise CliError(str(e)) from e
    except OSError as e:
        raise CliError(f"cannot write {e.filename}: {e.strerror}: check --dir") from e
    say(f"genesis: {Path(args.dir) / 'genesis.json'}")
    for node in nodes:
        say(f"node {node.name}: {node.config}  ({node.url})")
    say(
        f"member keys: {Path(args.dir) / 'keys'} (ORG.pem signs, ORG.enc.pem decrypts:"
        " each stays with its organisation)"
    )
    if chosen:
        say(f"legal identities recorded in genesis: {', '.join(sorted(chosen))}")
    if served:
        by_authority: dict[str, list[str]] = {}
        for port in served:
            by_authority.setdefault(port.authority, []).append(f"{port.locode} {port.name}")
        listed = "; ".join(f"{', '.join(p)} ({a})" for a, p in by_authority.items())
        say(f"ports served: {listed}: each port authority decides on calls at its ports only")
    else:
        say("ports served: none listed, so no port authority is held to a port")
    if args.lead_time:
        say(f"lead time: declarations at least {args.lead_time} hours before departure")
    ca = Path(args.dir) / CA_CERT
    say(
        f"client API over TLS: certificates of the authority {ca} (its key beside it stays"
        f" with you); clients trust it with --ca {ca} or DGLEDGER_CA"
    )
    pinned = load_genesis(Path(args.dir) / "genesis.json").app["dgl"].hex()
    say(f"dangerous goods list: {args.dgl or 'built-in'} (SHA-256 {pinned}, pinned in genesis)")
    return 0


def cmd_node_start(args: argparse.Namespace) -> int:
    """Run a node in the foreground until interrupted."""
    try:
        config = load_config(args.config)
        setup_logging(config.name, args.log_level)
        tls = api_context(config.api)
        service = NodeService(config, test_admin=args.unsafe_test_admin)
    except (ConfigError, GenesisFileError, StartupError) as e:
        raise CliError(str(e)) from e
    if tls is None:
        logging.getLogger("dgledger.node").warning(
            "client API on plain HTTP (plain_http = true): only behind a proxy that terminates TLS"
        )
    app = create_app(service)
    memory.settle()
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
        ssl_context_factory=None if tls is None else lambda _config, _default: tls,
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo network; exit 0 only if every check held."""
    argv = ["--declarations", str(args.declarations)]
    if args.keep:
        argv += ["--keep", args.keep]
    return demo_main(argv)


def register(sub: Any) -> None:
    """Add ``keygen``, ``network init``, ``node start`` and ``demo`` to the command tree."""
    p = sub.add_parser("keygen", help="write a new key file")
    p.add_argument("--out", required=True, help="where to write the PKCS#8 key")
    p.add_argument("--password-env", help="environment variable holding a password to encrypt it")
    p.add_argument(
        "--encryption",
        action="store_true",
        help="an X25519 encryption key (its public key goes to governance enc_key.add or"
        " enc_key.rotate) instead of an Ed25519 signing key",
    )
    p.set_defaults(func=cmd_keygen)

    network = sub.add_parser("network", help="create a network").add_subparsers(
        dest="network_command", required=True
    )
    p = network.add_parser(
        "init",
        help="genesis, node configurations and keys",
        description="Write a new network: genesis, one configuration and node key per node,\n"
        "a member key per organisation, and a local certificate authority (tls/ca.pem)\n"
        "with a TLS certificate per node for the client API. Every argument is checked\n"
        "before a file is written.",
        epilog="roles, as --members and --validators take them:\n"
        + "\n".join(f"  {role.value:<16}{ROLE_DUTIES[role]}" for role in Role),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dir", required=True, help="where to write the network (new or empty)")
    p.add_argument(
        "--validators",
        default=",".join(DEFAULT_VALIDATORS),
        help="organisations running a validator, NAME or NAME:ROLE, the role one of customs,"
        " port_authority, forwarder (guessed from a name starting with customs, port or"
        " forwarder); default: %(default)s",
    )
    p.add_argument(
        "--members",
        default=",".join(DEFAULT_MEMBERS),
        help="the other organisations, NAME:ROLE (roles below); default: %(default)s",
    )
    p.add_argument(
        "--base-port",
        type=int,
        default=7100,
        help="HTTPS port of the first node's client API; the other nodes' follow, then each"
        " validator's peer port (default: %(default)s)",
    )
    p.add_argument(
        "--chain",
        default="dgledger-local",
        help="the chain id every transaction and vote is signed for (default: %(default)s)",
    )
    p.add_argument(
        "--observers",
        default="",
        help="members that run a node following the chain without voting, e.g. auditor",
    )
    p.add_argument(
        "--dgl",
        help="Dangerous Goods List file to pin in genesis (CSV, 49 CFR 172.101; default: built-in)",
    )
    p.add_argument(
        "--legal-name",
        action="append",
        metavar="ORG=NAME",
        help="an organisation's legal name, as a declaration's shipper party names it"
        " (repeat for each organisation)",
    )
    p.add_argument(
        "--eori",
        action="append",
        metavar="ORG=EORI",
        help="an organisation's EORI number (with its --legal-name): two letters of a country,"
        " then up to 15 capital letters or digits",
    )
    p.add_argument(
        "--port",
        action="append",
        metavar="LOCODE=NAME",
        help="a port the network serves, by UN/LOCODE and name (repeat for each port); a port"
        " authority decides only on calls at its ports (default: "
        + ", ".join(f"{code}={name}" for code, name in HAROPA)
        + ", HAROPA's)",
    )
    p.add_argument(
        "--port-authority",
        action="append",
        metavar="LOCODE=ORG",
        help="the port authority organisation of a port (default: the network's port"
        " authority, when it has one only)",
    )
    p.add_argument(
        "--no-ports",
        action="store_true",
        help="list no port: no port authority is held to a port (as networks made before ports)",
    )
    p.add_argument(
        "--lead-time",
        type=int,
        default=0,
        metavar="HOURS",
        help="hours before the estimated departure a declaration must be submitted or amended"
        " by (default: 0, not after departure); governance params.set changes it",
    )
    p.set_defaults(func=cmd_network_init)

    node = sub.add_parser("node", help="run a node").add_subparsers(
        dest="node_command", required=True
    )
    p = node.add_parser("start", help="run a node in the foreground")
    p.add_argument("--config", required=True, help="the node's node.toml (from network init)")
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="the least severe log records written (default: %(default)s)",
    )
    p.add_argument("--unsafe-test-admin", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_node_start)

    p = sub.add_parser("demo", help="run a local network with sample traffic, then audit it")
    p.add_argument("--declarations", type=int, default=60, help="how many declarations to submit")
    p.add_argument("--keep", help="run in this directory and keep it (default: a temporary one)")
    p.set_defaults(func=cmd_demo)
