"""What every ``dgledger`` verb shares: the one error type, exit codes, and common options.

A verb raises :class:`CliError` for anything the user can mend; :func:`node.cli.main.main`
prints it as one line on standard error and exits with its status. Nothing else
the user types or points at ends in a traceback.

::

    CliError(message, status, code)   a user error: one line, exit status 1 (or 2 for
                                      usage); ``code`` is ``cli.user_error``, or the code
                                      of the node's or client's error it reports

Exit statuses: 0 done, 1 a user error or a check that failed, 2 usage,
141 the reader of the output went away, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from ledger.crypto import SigningKey
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.keyfile import load_signing_key
from node.api_tls import CA_CERT
from node.client.client import Client
from node.client.errors import ClientError
from node.errors import GenesisFileError
from node.genesis_file import load_genesis

EXIT_USAGE: Final = 2
EXIT_FAILED: Final = 1
EXIT_BROKEN_PIPE: Final = 128 + 13
"""128 + SIGPIPE: what a shell reports for a command whose reader went away."""
PLAIN_JSON: Final = json.JSONDecoder()


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on shown as its escape.

    Control characters (ESC sequences that repaint a screen, BEL, NUL, line
    breaks) and format characters (a right-to-left override) come out as
    ``\\x1b``, ``\\u202e``..., so what a node, a file or an argument says is
    shown, never obeyed. Every line the command line prints goes through it,
    except JSON, which escapes them itself.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def say(text: str, *, err: bool = False) -> None:
    """Print one line, made :func:`terminal_safe`."""
    print(terminal_safe(text), file=sys.stderr if err else sys.stdout)


class CliError(Exception):
    """A user error: printed as one line, exit status 1 (or ``status``)."""

    def __init__(
        self, message: str, status: int = EXIT_FAILED, *, code: str = "cli.user_error"
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


HINTS: Final = {
    "client.unreachable": "is the node running? check --node",
    "client.timeout": "the node is slow or stuck; try again or ask another node",
    "client.bad_response": "the node did not answer as a dgledger node does; check --node",
    "client.untrusted": "give the network's CA certificate with --ca (or DGLEDGER_CA),"
    " and the node's name as its certificate has it in --node",
    "client.tls": "check --node: https:// for a node that serves TLS",
    "client.bad_ca": "check --ca or DGLEDGER_CA",
    "auth.not_a_member": "use a member key of this network (--key)",
    "auth.key_revoked": "this key is revoked: use another key of your organisation (--key)",
    "auth.org_inactive": "your organisation is no longer a member of this network",
    "auth.unknown_key": "use a member key of this network (--key)",
    "auth.stale": "check this machine's clock",
    "auth.bad_signature": "the node runs another chain, or the key file is not the one meant",
    "auth.wrong_node": "the request was signed for another node: check --node",
    "rate_limited": "too many requests: wait a moment and retry",
    "declaration.unknown": "check the declaration id",
    "declaration.ambiguous": "name the organisation it belongs to with --owner",
    "owner.unknown": "check --owner: an organisation of this network",
    "identity.shipper_mismatch": "name the shipper as membership records the legal name of the"
    " organisation you declare for",
    "identity.not_delegated": "the shipper's organisation must delegate to you first"
    " ('dgledger delegate')",
    "sealed.required": "declare the document in clear and let dgledger declare or amend seal it"
    " (a forwarder declaring for a shipper names it with --owner)",
    "sealed.recipients": "a forwarder declaring for a shipper names it with --owner; else the"
    " readers changed since the document was sealed: declare it again",
    "sealed.key": "an encryption key was rotated since the document was sealed: declare it again",
    "tx.commit_timeout": "not committed yet: look again later with 'dgledger show'",
    "mempool.full": "the node is busy: retry in a moment",
    "mempool.busy": "the node is at capacity: retry in a moment, or ask another node",
    "role.not_allowed": "use the key of an organisation whose role may do this (--key)",
    "lifecycle.transition_not_allowed": "see where the declaration stands with 'dgledger show'",
    "decision.reason_required": "give --reason",
    "port.not_authority": "the port authority of the port named decides on this call: its key"
    " signs ('dgledger status' lists the ports and their authorities)",
    "port.not_served": "no port authority of this network decides on a call outside its ports"
    " ('dgledger status' lists them)",
    "date.departure_past": "correct estimatedDeparture: the vessel has sailed",
    "date.too_late": "the network's lead time has passed: ask the port authority how to declare"
    " this late ('dgledger status' shows the lead time)",
    "stowage.segregation": "choose positions that keep the segregation named; see what is on"
    " board with 'dgledger stowage --vessel IMO --voyage VOYAGE'",
    "stowage.position_taken": "another container stands there: see 'dgledger stowage'",
    "stowage.already_aboard": "the container is on board already: give its position",
    "stowage.unknown_container": "give the declaration's own container numbers ('dgledger show')",
    "stowage.format": "a position is BBRRTT: bay 01-99, row 00-99, tier 02-78 under deck or"
    " 82-98 on deck",
    "stowage.bay": "bays are numbered 01 to 99",
    "stowage.tier": "tiers are even: 02-78 under deck, 82-98 on deck",
    "stowage.not_loaded": "give --stowage with --decision loaded only",
    "governance.no_supermajority": "more validator organisations must sign it first"
    " ('dgledger governance sign')",
}


def add_node_args(p: argparse.ArgumentParser, *, key: bool = True) -> None:
    """--node, --ca, --key and --password-env."""
    p.add_argument(
        "--node",
        default=os.environ.get("DGLEDGER_NODE"),
        help="URL of a node, https://HOST:PORT (default: $DGLEDGER_NODE)",
    )
    add_ca_arg(p)
    p.add_argument("--key", required=key, help="member key file (PKCS#8 PEM)")
    p.add_argument("--password-env", help="environment variable holding the key's password")


def add_ca_arg(p: argparse.ArgumentParser) -> None:
    """--ca: the authority a node's TLS certificate must come from."""
    p.add_argument(
        "--ca",
        default=os.environ.get("DGLEDGER_CA"),
        help="certificate (PEM) of the authority the node's TLS certificate must come from"
        " (default: $DGLEDGER_CA, else the tls/ca.pem of the network directory holding"
        " --key's keys/ or --genesis, else the system's trust store)",
    )


def ca_file(args: argparse.Namespace) -> Path | None:
    """The authority to trust: ``--ca``, or the network's own, or None for the system's store.

    A network directory written by ``network init`` holds ``keys/ORG.pem``,
    ``genesis.json`` and ``tls/ca.pem``: a ``--key`` or ``--genesis`` taken
    from one brings its authority with it.
    """
    if getattr(args, "ca", None):
        path = Path(args.ca)
        if not path.is_file():
            raise CliError(f"CA file {path} does not exist: check --ca or DGLEDGER_CA")
        return path
    beside = []
    if getattr(args, "key", None) and Path(args.key).parent.name == "keys":
        beside.append(Path(args.key).parent.parent)
    if getattr(args, "genesis", None):
        beside.append(Path(args.genesis).parent)
    for directory in beside:
        if (directory / CA_CERT).is_file():
            return directory / CA_CERT
    return None


def load_key(path: str, password_env: str | None) -> SigningKey:
    """A member key, with a one-line error saying what to do."""
    password = None
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise CliError(f"environment variable {password_env} is empty or not set")
        password = value.encode()
    if not Path(path).exists():
        raise CliError(f"key file {path} does not exist: check --key")
    try:
        return load_signing_key(path, password)
    except LedgerError as e:
        hint = ": check --key"
        if "password is required" in e.message:
            hint = ": give --password-env NAME with the password in that variable"
        elif "wrong password" in e.message:
            hint = ": check the password in --password-env"
        elif "chmod" in e.message:
            hint = ""  # the message says what to run
        raise CliError(f"{e.message}{hint}") from e


def node_url(value: str | None) -> str:
    """``--node`` checked to be an http(s) URL of a host, with a one-line error otherwise."""
    if not value:
        raise CliError("no node: give --node URL or set DGLEDGER_NODE")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as e:
        raise CliError(f"--node {value!r} is not a URL ({e}): give https://HOST:PORT") from e
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise CliError(f"--node {value!r} is not a node URL: give https://HOST:PORT")
    return value


def connect(args: argparse.Namespace) -> Client:
    """A client for ``--node`` signing with ``--key`` (when given)."""
    url = node_url(args.node)
    key = load_key(args.key, args.password_env) if getattr(args, "key", None) else None
    try:
        return Client.connect(url, key, ca=ca_file(args) if url.startswith("https:") else None)
    except ClientError as e:
        raise failure(e) from e


def failure(
    e: ClientError, refused: str = "the request", mend: str = "mend what each line names"
) -> CliError:
    """A client error as a CLI error.

    A refusal prints every broken rule once, one per line; the error line
    after them says what the node refused and how many rules it broke, then
    the hint for the first rule's code, or ``mend``; it repeats no rule.
    """
    if not e.violations:
        hint = HINTS.get(e.code)
        return CliError(f"{e}" + (f": {hint}" if hint else ""), code=e.code)
    for v in e.violations:
        if not isinstance(v, dict):
            continue
        paragraph = f" (IMDG {v['paragraph']})" if v.get("paragraph") else ""
        say(f"  {v.get('path', '$')}: {v.get('code')}: {v.get('message')}{paragraph}", err=True)
    count = len(e.violations)
    rules = f"{count} rule{'s' if count > 1 else ''} broken"
    return CliError(f"the node refused {refused} ({rules}): {HINTS.get(e.code, mend)}", code=e.code)


def read_json_object(
    path: str, limit: int, what: str, decoder: json.JSONDecoder = PLAIN_JSON
) -> dict[str, Any]:
    """A JSON object from a file of at most ``limit`` bytes, with one-line errors naming it."""
    try:
        with Path(path).open("rb") as f:
            # At most one byte past the limit is read, whatever the file's size.
            data = f.read(limit + 1)
    except FileNotFoundError as e:
        raise CliError(f"{path} does not exist") from e
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from e
    if len(data) > limit:
        raise CliError(f"{path} is over {limit} bytes: is it a {what} file?")
    try:
        value = decoder.decode(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CliError(f"{path} is not a {what} file: not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise CliError(
            f"{path} is not a {what} file: not JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from e
    except ValueError as e:  # what ``decoder`` refuses in JSON that parses
        raise CliError(f"{path}: {e}") from e
    except RecursionError as e:  # nesting deeper than the parser's stack
        raise CliError(f"{path} is not a {what} file: JSON nested too deeply") from e
    if not isinstance(value, dict):
        raise CliError(f"{path} is not a {what} file (a JSON object)")
    return value


def genesis_arg(path: str) -> Genesis:
    """The ``--genesis`` file, with a one-line error naming the file when it is not one."""
    try:
        return load_genesis(path)
    except GenesisFileError as e:
        text = str(e)
        where = "" if text.startswith(path) else f"{path}: "
        raise CliError(f"{where}{text}: check --genesis") from e


def store_path(directory: Path) -> Path:
    """The LevelDB store under ``--data``: the data directory, its ``chain``, or a node's own."""
    for path in (directory / "chain", directory / "data" / "chain", directory):
        if (path / "CURRENT").is_file():
            return path
    raise CliError(f"{directory} holds no node store: give a node's data directory")
