"""CLI verbs of shippers, forwarders, the port authority and customs.

``dgledger declare | amend | cancel | decide | show``: each talks to one node
(``--node URL``, or the ``DGLEDGER_NODE`` environment variable) and signs
with a member key (``--key FILE``, decrypted with the password held in the
environment variable named by ``--password-env`` when the file is
encrypted). A refused transaction prints every rule it broke, one per line,
and exits 1; ``--wait`` returns only once the transaction is committed.

Declaration ids are namespaced per organisation: ``--owner ORG`` names whose
declaration is meant. ``amend`` and ``cancel`` default to the signer's own
organisation (a delegated forwarder names its delegator); ``decide`` must
name it; ``show`` defaults to the caller's own, or the only one of that id
the caller may read. ``show`` opens the sealed fields with the
organisation's encryption key and prints them marked as sealed and
verified (:mod:`node.cli.sealed_fields`); ``declare`` and ``amend`` seal
them before signing (``--owner`` names whose a forwarder's submission is).

``decide --decision loaded`` may place the declaration's containers on
board, ``--stowage CONTAINER=BBRRTT`` once per container (ISO 9711-1 bay,
row and tier); the chain refuses a position that breaks the segregation
between containers on board (IMDG 7.4.3.3), naming both containers.
``dgledger stowage`` (:mod:`node.cli.stowage`) shows what is on board.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from contracts.declaration import Declaration
from contracts.describe import describe
from contracts.document import read_declaration
from contracts.errors import ContractError
from contracts.stowage import Position
from node.cli.common import (
    CliError,
    add_node_args,
    connect,
    failure,
    read_json_object,
    say,
    terminal_safe,
)
from node.cli.sealed_fields import add_enc_key_args, encryption_key, show_lines
from node.client.client import DECISIONS, Client
from node.client.errors import ClientError

MAX_DOCUMENT: Final = 1 << 20
MAX_BATCH: Final = 1000
"""Files ``declare`` sends in one request (the node's batch limit)."""


# ----------------------------------------------------------- shared helpers


def _no_float(text: str) -> Any:
    raise ValueError(f"number {text} has a fraction or exponent: write it as a string")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


_DOCUMENT_JSON: Final = json.JSONDecoder(
    parse_float=_no_float, parse_constant=_no_float, object_pairs_hook=_no_duplicates
)


def read_document(path: str) -> dict[str, Any]:
    """A declaration document from a JSON file, with a one-line error when it is not one."""
    return read_json_object(path, MAX_DOCUMENT, "declaration", _DOCUMENT_JSON)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _report(summary: dict[str, Any], waited: bool) -> None:
    if not waited:
        say(f"accepted for inclusion: transaction {summary.get('tx_id')} (pending)")
        return
    result = summary.get("result")
    result = result if isinstance(result, dict) else {}
    say(
        f"committed: {result.get('declaration')} is {result.get('status')}"
        f" (version {result.get('version')}) at block {summary.get('height')},"
        f" owner {result.get('owner')}, transaction {summary.get('tx_id')}"
    )


def _run(
    args: argparse.Namespace,
    action: Callable[[Client], dict[str, Any]],
    refused: str,
    mend: str = "mend what each line names",
) -> int:
    client = connect(args)
    with client:
        try:
            summary = action(client)
        except ClientError as e:
            raise failure(e, refused, mend) from e
    _report(summary, args.wait)
    return 0


# ---------------------------------------------------------------- verbs


def cmd_declare(args: argparse.Namespace) -> int:
    """Submit one declaration, or several in one batch."""
    if len(args.files) > 1:
        return _declare_batch(args)
    (file,) = args.files
    doc = read_document(file)
    return _run(
        args,
        lambda c: c.declare(doc, wait=args.wait, owner=args.owner),
        f"the declaration in {file}",
        f"correct {file} and declare it again",
    )


def _declare_batch(args: argparse.Namespace) -> int:
    """Several files in one request (POST /v1/transactions/batch): a line each, in order."""
    if len(args.files) > MAX_BATCH:
        raise CliError(f"at most {MAX_BATCH} files at once: declare the rest in another run")
    docs = [read_document(file) for file in args.files]
    with connect(args) as client:
        try:
            txs = [
                client.build("declaration.submit", {"declaration": doc}, owner=args.owner)
                for doc in docs
            ]
            results = client.submit_batch(txs, wait=args.wait)
        except ClientError as e:
            raise failure(e, "the batch") from e
    bad = 0
    for file, result in zip(args.files, results, strict=True):
        status = result.get("status")
        if status in {"refused", "rejected"}:
            bad += 1
            error = result.get("error") or {}
            violations = error.get("violations") or (result.get("result") or {}).get(
                "violations", []
            )
            first = violations[0] if violations else error
            say(f"{file}: {status}: {first.get('code')}: {first.get('message')}")
            for v in violations[1:]:
                say(f"  {v.get('path', '$')}: {v.get('code')}: {v.get('message')}")
        elif status == "pending":
            say(f"{file}: accepted for inclusion: transaction {result.get('tx_id')} (pending)")
        else:
            outcome = result.get("result") or {}
            say(
                f"{file}: committed: {outcome.get('declaration')} is {outcome.get('status')}"
                f" at block {result.get('height')}, transaction {result.get('tx_id')}"
            )
    if bad:
        raise CliError(
            f"{bad} of {len(args.files)} declarations refused: correct those files and declare"
            " them again"
        )
    return 0


def cmd_amend(args: argparse.Namespace) -> int:
    """Submit a new version of a declaration."""
    doc = read_document(args.file)
    return _run(
        args,
        lambda c: c.amend(args.id, doc, reason=args.reason, owner=args.owner, wait=args.wait),
        f"the amendment in {args.file}",
        f"correct {args.file} and amend again",
    )


def cmd_cancel(args: argparse.Namespace) -> int:
    """Withdraw a declaration."""
    return _run(
        args,
        lambda c: c.cancel(args.id, reason=args.reason, owner=args.owner, wait=args.wait),
        "the cancellation",
    )


def stowage_positions(values: list[str] | None, decision: str) -> dict[str, str]:
    """``--stowage CONTAINER=BBRRTT`` options as a map; one-line errors for a bad one.

    The positions themselves are the chain's to judge (``stowage.format`` and
    the other codes, each naming the container).
    """
    if not values:
        return {}
    if decision != "loaded":
        raise CliError(f"--stowage goes with --decision loaded, not {decision}")
    positions: dict[str, str] = {}
    for value in values:
        container, sep, position = value.partition("=")
        container, position = container.strip(), position.strip()
        if not sep or not container or not position:
            raise CliError(
                f"--stowage {value!r}: give CONTAINER=BBRRTT, e.g. CSQU3054383=030282"
                " (bay 03, row 02, tier 82 on deck)"
            )
        if container in positions:
            raise CliError(f"--stowage gives container {container} twice")
        positions[container] = position
    return positions


def cmd_decide(args: argparse.Namespace) -> int:
    """Record a decision on a declaration."""
    stowage = stowage_positions(args.stowage, args.decision)
    return _run(
        args,
        lambda c: c.decide(
            args.id,
            args.decision,
            owner=args.owner,
            reason=args.reason,
            stowage=stowage,
            wait=args.wait,
        ),
        f"the decision {args.decision!r}",
    )


def cmd_status(args: argparse.Namespace) -> int:
    """Print a node's status; exit 1 if it lacks a list in force or scheduled."""
    with connect(args) as client:
        status = client.status_at_connect or {}
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        consensus = status.get("consensus", {})
        peers = status.get("peers", {})
        say(
            f"node {status.get('node')} ({'validator' if status.get('validator') else 'observer'})"
            f" on chain {status.get('chain')}"
        )
        say(
            f"  height {status.get('height')}, tip {status.get('tip')},"
            f" consensus at {consensus.get('height')}/{consensus.get('round')}"
        )
        say(
            f"  mempool {status.get('mempool', {}).get('txs')} transactions;"
            f" peers {peers.get('connected')} of {peers.get('configured')} connected"
        )
    lists = status.get("dgl", {})
    missing = [] if lists.get("in_force_loaded", True) else [f"{lists.get('in_force')} (in force)"]
    missing += [
        f"{s.get('digest')} (from height {s.get('height')})"
        for s in lists.get("scheduled", [])
        if not s.get("loaded")
    ]
    if not args.json:
        say(f"  Dangerous Goods List in force {lists.get('in_force')}")
        for s in lists.get("scheduled", []):
            here = "loaded" if s.get("loaded") else "NOT loaded"
            say(f"  list {s.get('digest')} scheduled from height {s.get('height')}: {here}")
        corridor = status.get("corridor", {})
        served = corridor.get("ports") or {}
        listed = ", ".join(
            f"{code} {port.get('name')} ({port.get('authority')})"
            for code, port in sorted(served.items())
        )
        say(f"  ports served: {listed or 'none listed (no port authority is held to a port)'}")
        say(f"  lead time: {corridor.get('lead_time_hours', 0)} hours before departure")
    if missing:
        raise CliError(
            f"this node lacks the Dangerous Goods List {', '.join(missing)}:"
            " add it under dgl_extra in its configuration and restart it"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print a declaration: current state, sealed fields, item descriptions, history."""
    key = encryption_key(args)  # a key file that will not do is said before asking the node
    client = connect(args)
    with client:
        try:
            doc = client.declaration(args.id, args.owner)
        except ClientError as e:
            raise failure(e) from e
    # The ports the network serves, by name, as the node's status said on connecting.
    served = (client.status_at_connect or {}).get("corridor", {}).get("ports")
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return 0
    try:
        lines = render(doc, served if isinstance(served, dict) else None)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError, OverflowError) as e:
        # The node's word is not checked here (``verify`` does that), but a
        # document of another shape must not end in a traceback.
        raise CliError(
            f"the node sent a declaration document that cannot be shown ({e!r}):"
            " try --json, or 'dgledger verify'"
        ) from e
    sealed, failed = show_lines(doc, key)
    lines[2:2] = [terminal_safe(line) for line in sealed]  # after the status and the parties
    for line in lines:
        say(line)
    if failed:
        raise CliError(failed)
    return 0


def render(doc: dict[str, Any], ports: Mapping[str, Any] | None = None) -> list[str]:
    """The human view of a declaration document, one line each, safe for a terminal.

    ``ports`` are those the network serves (``/v1/status`` ``corridor``): each
    is shown with its name beside its code.
    """
    record = doc["record"]
    body = doc["declaration"]
    transport = body.get("transport", {})

    def port(code: Any) -> str:
        named = (ports or {}).get(code)
        name = named.get("name") if isinstance(named, dict) else None
        return f"{code}" if name is None else f"{code} ({name})"

    history = doc["history"]
    lines = [
        f"{record['id']}: {record['status']} (version {record['version']}, block"
        f" {record['height']}, {_time(record['updated_at'])})",
        f"owner {record['org']}, submitted by {history[0]['org']},"
        f" shipper {body['shipper']['partyName']}, consignee"
        f" {body['consignee']['partyName'] if 'consignee' in body else 'sealed'}",
        f"vessel IMO {transport.get('vesselIMONumber')} {transport.get('vesselName')},"
        f" voyage {transport.get('voyageNumber')}, {port(transport.get('portOfLoading'))} ->"
        f" {port(transport.get('portOfDischarge'))}, departing"
        f" {transport.get('estimatedDeparture')}",
    ]
    try:
        declaration: Declaration | None = read_declaration(body)
    except ContractError:
        declaration = None
    stowage = record.get("stowage") or {}
    for c, container in enumerate(body.get("containers", [])):
        number = container.get("equipmentReference")
        lines.append(f"container {number}{_on_board(stowage.get(number))}:")
        for i, item in enumerate(container.get("dangerousGoods", [])):
            if declaration is not None:
                text = describe(declaration.containers[c].dangerous_goods[i])
            else:
                text = f"UN {item.get('UNNumber')}, {item.get('properShippingName')}"
            lines.append(f"  {i + 1}. {text}")
    lines.append("history:")
    for v in doc["history"]:
        reason = f"  reason: {v['reason']}" if v.get("reason") else ""
        lines.append(
            f"  v{v['version']} {_time(v['time'])} block {v['height']}: {v['action']} ->"
            f" {v['status']} by {v['org']} (key {v['signer']}){reason}"
        )
    lines.append(
        f"prove it: dgledger verify {record['id']} --owner {record['org']} --genesis GENESIS.json"
        " --node URL --key KEY"
    )
    return [terminal_safe(line) for line in lines]


def _on_board(position: Any) -> str:
    """`` on board at 030282 (bay 03, row 02, tier 82, on deck)``, or nothing if not placed."""
    if position is None:
        return ""
    try:
        return f" on board at {position} ({Position.parse(position).describe()})"
    except ContractError:
        return f" on board at {position}"


def _owner_arg(p: argparse.ArgumentParser, help_: str, *, required: bool = False) -> None:
    p.add_argument("--owner", metavar="ORG", required=required, help=help_)


def register(sub: Any) -> None:
    """Add the verbs to the ``dgledger`` command tree."""
    p = sub.add_parser(
        "declare",
        help="submit dangerous-goods declarations",
        description="Submit a declaration; several files go in one request, each judged on"
        " its own.",
    )
    p.add_argument("files", metavar="FILE.json", nargs="+", help="declaration documents")
    _owner_arg(
        p,
        "the organisation declared for, whose readers the sensitive fields are sealed to"
        " (default: the key's own; a forwarder names the shipper that delegated it)",
    )
    add_node_args(p)
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_declare)

    p = sub.add_parser("amend", help="submit a new version of a declaration")
    p.add_argument("id", metavar="ID")
    p.add_argument("file", metavar="FILE.json")
    _owner_arg(p, "the organisation the declaration belongs to (default: the key's own)")
    add_node_args(p)
    p.add_argument("--reason", default="")
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_amend)

    p = sub.add_parser("cancel", help="withdraw a declaration")
    p.add_argument("id", metavar="ID")
    _owner_arg(p, "the organisation the declaration belongs to (default: the key's own)")
    add_node_args(p)
    p.add_argument("--reason", default="")
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("decide", help="record a decision (port authority, customs)")
    p.add_argument("id", metavar="ID")
    p.add_argument("--decision", required=True, choices=DECISIONS)
    _owner_arg(p, "the organisation the declaration belongs to", required=True)
    p.add_argument("--reason", default="", help="why; required for refused and held")
    p.add_argument(
        "--stowage",
        action="append",
        metavar="CONTAINER=BBRRTT",
        help="with --decision loaded: where a container of the declaration stands, ISO 9711-1"
        " bay, row and tier (e.g. CSQU3054383=030282: bay 03, row 02, tier 82, on deck);"
        " once per container",
    )
    add_node_args(p)
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("status", help="a node's height, peers and Dangerous Goods Lists")
    add_node_args(p, key=False)
    p.add_argument("--json", action="store_true", help="the whole /v1/status answer")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("show", help="print a declaration, its items and its history")
    p.add_argument("id", metavar="ID")
    _owner_arg(
        p,
        "the organisation the declaration belongs to (default: the key's own, or the only"
        " one of that id the key may read)",
    )
    add_node_args(p)
    add_enc_key_args(p)
    p.add_argument("--json", action="store_true", help="the whole answer, receipt included")
    p.set_defaults(func=cmd_show)
