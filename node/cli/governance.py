"""``dgledger governance`` and ``dgledger delegate``: changes that need several signatures.

A governance action (a new organisation, a key, the validator set, the
Dangerous Goods List in force) needs the signatures of member keys of
validator organisations holding more than two thirds of the voting power,
on one transaction. The signatures are gathered in a proposal file that
travels between the organisations; no private key ever leaves its owner::

    dgledger governance propose org.add --name shipper-new --role shipper \\
        --public-key HEX --after 100 --key customs.pem --node URL --out p.json
    dgledger governance sign p.json --key port-authority.pem     # each co-signer
    dgledger governance submit p.json --node URL --wait

An organisation's legal identity and its encryption keys change the same way::

    dgledger governance propose org.identity --org shipper-acme \
        --legal-name "ACME CHEMICALS SAS" --eori FR12345678901234 ...
    dgledger keygen --encryption --out acme.enc.pem        # by shipper-acme, kept there
    dgledger governance propose enc_key.rotate --org shipper-acme \
        --old-enc-key HEX --enc-key HEX ...

So do the ports the network serves, each port's authority, and the lead time::

    dgledger governance propose port.add --locode BEANR --port-name Antwerp \\
        --authority port-antwerp ...
    dgledger governance propose port.authority --locode FRURO --authority port-rouen ...
    dgledger governance propose params.set --lead-time-hours 24 ...

A proposal file is JSON: ``format``, ``chain``, ``envelope`` (hex of the
transaction envelope's canonical bytes) and ``signatures`` (public key hex
to signature hex). ``sign`` and ``show`` print what the envelope says, read
from the envelope itself, and check every signature already on it, so a
co-signer never signs what they have not seen.

``dgledger delegate FORWARDER`` lets a forwarder declare in this
organisation's name and amend and cancel its declarations (``--revoke``
withdraws it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Final

from contracts.dgl_builtin import named_list
from contracts.engine import MAX_TX_LIFETIME
from contracts.errors import ContractError
from contracts.governance import ACTIONS
from ledger.crypto import Verifier
from ledger.errors import LedgerError
from ledger.tx import MAX_TX_SIZE, Transaction
from node.cli.common import (
    CliError,
    add_node_args,
    connect,
    failure,
    load_key,
    read_json_object,
    say,
)
from node.client.errors import ClientError
from node.client.json_forms import hexed

FORMAT: Final = "dgledger-proposal/1"
MAX_PROPOSAL: Final = 4 * MAX_TX_SIZE
DEFAULT_AFTER: Final = 100
"""Blocks after the next one until the action takes effect, unless --effective-height is given.

The rules take an action ``governance_delay`` blocks after the block that
includes it, at the earliest: ``--after`` equal to the delay is accepted if
the proposal is submitted before another block commits; more leaves time to
gather the signatures."""
DEFAULT_EXPIRES: Final = MAX_TX_LIFETIME
"""Blocks the proposal may take to gather its signatures and be included: the most allowed."""


# ---------------------------------------------------------------- params


def _hex_bytes(value: str, flag: str, size: int) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except ValueError as e:
        raise CliError(f"{flag} {value[:20]!r} is not hex") from e
    if len(raw) != size:
        raise CliError(f"{flag} must be {size} bytes ({2 * size} hex characters)")
    return raw


def _need(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if not getattr(args, name):
            raise CliError(f"{args.action} needs --{name.replace('_', '-')}")


def _identity(args: argparse.Namespace) -> dict[str, Any]:
    """``legal_name`` and ``identifiers`` from --legal-name and --eori."""
    if args.eori and not args.legal_name:
        raise CliError(f"{args.action}: --eori needs --legal-name")
    return {"legal_name": args.legal_name, "identifiers": {"eori": args.eori} if args.eori else {}}


def _params(args: argparse.Namespace) -> dict[str, Any]:
    """The action's params from its flags."""
    action = args.action
    keys = [_hex_bytes(k, "--public-key", 32) for k in args.public_key or []]
    enc_keys = [_hex_bytes(k, "--enc-key", 32) for k in args.enc_key or []]
    if action == "org.add":
        _need(args, "name", "role", "public_key")
        params: dict[str, Any] = {"name": args.name, "role": args.role, "keys": keys}
        if args.legal_name or args.eori:
            identity = _identity(args)
            params["legal_name"] = identity["legal_name"]
            if identity["identifiers"]:
                params["identifiers"] = identity["identifiers"]
        if enc_keys:
            params["enc_keys"] = enc_keys
        return params
    if action == "org.identity":
        _need(args, "org", "legal_name")
        return {"org": args.org, **_identity(args)}
    if action in ("enc_key.add", "enc_key.rotate"):
        _need(args, "org", "enc_key", *(["old_enc_key"] if action == "enc_key.rotate" else []))
        if len(enc_keys) != 1:
            raise CliError(f"{action} takes one --enc-key")
        params = {"org": args.org, "key": enc_keys[0]}
        if action == "enc_key.rotate":
            params["old"] = _hex_bytes(args.old_enc_key, "--old-enc-key", 32)
        return params
    if action == "org.remove":
        _need(args, "name")
        return {"name": args.name}
    if action in ("key.add", "key.rotate"):
        _need(args, "public_key", "org" if action == "key.add" else "key_id")
        if len(keys) != 1:
            raise CliError(f"{action} takes one --public-key")
        if action == "key.add":
            return {"org": args.org, "key": keys[0]}
        return {"key_id": args.key_id, "key": keys[0]}
    if action == "key.revoke":
        _need(args, "key_id")
        return {"key_id": args.key_id}
    if action == "validators.set":
        _need(args, "validator")
        validators = []
        for item in args.validator:
            org, _, rest = item.partition(":")
            power, _, key = rest.partition(":")
            if not org or not power.isdigit() or not key:
                raise CliError(f"--validator {item!r}: give ORG:POWER:PUBLIC-KEY-HEX")
            raw = _hex_bytes(key, "--validator key", 32)
            validators.append({"key": raw, "power": int(power), "org": org})
        return {"validators": validators}
    if action in ("port.add", "port.authority", "port.remove"):
        needs = {"port.add": ("locode", "port_name", "authority"), "port.remove": ("locode",)}
        _need(args, *needs.get(action, ("locode", "authority")))
        params = {"locode": args.locode}
        if action == "port.add":
            params["name"] = args.port_name
        if action != "port.remove":
            params["authority"] = args.authority
        return params
    if action == "params.set":
        if args.lead_time_hours is None:
            raise CliError("params.set needs --lead-time-hours")
        return {"lead_time_hours": args.lead_time_hours}
    # dgl.set: ACTIONS is checked by argparse.
    _need(args, "dgl")
    try:
        dgl = named_list(args.dgl)
    except ContractError as e:
        raise CliError(f"{args.dgl}: {e.message}: check --dgl") from e
    return {"dgl": dgl.digest()}


# ---------------------------------------------------------------- proposal files


def _write(path: str, tx: Transaction) -> None:
    value = {
        "format": FORMAT,
        "chain": tx.chain,
        "envelope": tx.env_bytes.hex(),
        "signatures": {s.public.raw.hex(): s.signature.hex() for s in tx.signatures},
    }
    try:
        Path(path).write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror}") from e


def _read(path: str) -> Transaction:
    """A proposal file as a transaction whose every signature verifies."""
    value = read_json_object(path, MAX_PROPOSAL, "proposal")
    if value.get("format") != FORMAT:
        raise CliError(f"{path} is not a proposal file (format {FORMAT!r})")
    envelope, signatures = value.get("envelope"), value.get("signatures")
    if not isinstance(envelope, str) or not isinstance(signatures, dict) or not signatures:
        raise CliError(f"{path}: envelope (hex) and signatures (public key hex: signature hex)")
    try:
        sigs = {bytes.fromhex(k): bytes.fromhex(v) for k, v in signatures.items()}
        tx = Transaction.from_parts(bytes.fromhex(envelope), sigs)
    except (ValueError, TypeError, AttributeError) as e:
        raise CliError(f"{path}: not hex: {e}") from e
    except LedgerError as e:
        raise CliError(f"{path}: {e}") from e
    if tx.chain != value.get("chain"):
        raise CliError(
            f"{path}: the file says chain {value.get('chain')!r}, its envelope {tx.chain!r}"
        )
    with Verifier(workers=1) as verifier:
        try:
            tx.verify(verifier)
        except LedgerError as e:
            raise CliError(
                f"{path}: a signature does not verify ({e}): the file was altered"
            ) from e
    return tx


def _describe(tx: Transaction) -> None:
    body = tx.body
    say(f"chain {tx.chain}: {tx.type} {body.get('action', '')}".rstrip())
    if "effective_height" in body:
        say(f"  takes effect at height {body['effective_height']}")
    print(f"  params {json.dumps(hexed(body.get('params', {})), sort_keys=True)}")
    say(f"  proposed by key {tx.signer}; expires after height {tx.expires}")
    say(f"  transaction {tx.id.hex()}")
    say(f"  signed by {len(tx.signatures)}: {', '.join(tx.signer_keys)}")


# ---------------------------------------------------------------- verbs


def cmd_propose(args: argparse.Namespace) -> int:
    """Build a governance transaction signed by ``--key`` into a proposal file."""
    params = _params(args)
    if not 0 <= args.expires_after <= MAX_TX_LIFETIME:
        raise CliError(
            f"--expires-after {args.expires_after}: from 0 to {MAX_TX_LIFETIME} blocks,"
            " the longest a transaction may live"
        )
    with connect(args) as client:
        try:
            height = int(client.status()["height"])
            # Counted from the next block, the earliest that can include the action.
            effective = args.effective_height or height + 1 + args.after
            body = {"action": args.action, "effective_height": effective, "params": params}
            tx = client.build("governance", body, expires=height + args.expires_after)
        except ClientError as e:
            raise failure(e) from e
    _write(args.out, tx)
    _describe(tx)
    if args.action == "dgl.set":
        say(
            f"every node needs {args.dgl} under dgl_extra in its configuration (and a restart)"
            f" before height {effective}, or it stops there"
        )
    say(
        f"wrote {args.out}: each co-signer runs 'dgledger governance sign {args.out} --key KEY';"
        " validator organisations holding more than two thirds of the voting power must sign"
    )
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    """Add ``--key``'s signature to a proposal file, after showing what it says."""
    tx = _read(args.file)
    key = load_key(args.key, args.password_env)
    if key.public.key_id in tx.signer_keys:
        raise CliError(f"{args.file} already carries the signature of key {key.public.key_id}")
    signed = tx.cosign(key)
    _describe(signed)
    _write(args.file if args.out is None else args.out, signed)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """Print what a proposal file says, after checking its signatures."""
    _describe(_read(args.file))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit a proposal file's transaction."""
    tx = _read(args.file)
    with connect(args) as client:
        try:
            summary = client.submit(tx, wait=args.wait)
        except ClientError as e:
            raise failure(e, f"the proposal in {args.file}") from e
    if args.wait:
        say(f"committed: transaction {summary.get('tx_id')} at block {summary.get('height')}")
    else:
        say(f"accepted for inclusion: transaction {summary.get('tx_id')} (pending)")
    return 0


def cmd_delegate(args: argparse.Namespace) -> int:
    """Grant (or revoke) a forwarder's right to amend and cancel this organisation's filings."""
    kind = "delegation.revoke" if args.revoke else "delegation.grant"
    with connect(args) as client:
        try:
            summary = client.send(kind, {"forwarder": args.forwarder}, wait=args.wait)
        except ClientError as e:
            raise failure(e, "the delegation") from e
    done = "revoked" if args.revoke else "granted"
    state = "committed" if args.wait else "pending"
    say(f"delegation to {args.forwarder} {done} ({state}): transaction {summary.get('tx_id')}")
    return 0


def register(sub: Any) -> None:
    """Add ``governance`` and ``delegate`` to the ``dgledger`` command tree."""
    gov = sub.add_parser("governance", help="propose, co-sign and submit governance actions")
    verbs = gov.add_subparsers(dest="governance_command", required=True)

    p = verbs.add_parser("propose", help="write a proposal file signed by --key")
    p.add_argument("action", choices=sorted(ACTIONS))
    p.add_argument("--name", help="org.add, org.remove: the organisation")
    p.add_argument("--role", help="org.add: its role")
    p.add_argument(
        "--org", help="key.add, org.identity, enc_key.add, enc_key.rotate: the organisation"
    )
    p.add_argument("--key-id", help="key.revoke, key.rotate: the key id")
    p.add_argument(
        "--public-key", action="append", help="org.add, key.add, key.rotate: 32 bytes in hex"
    )
    p.add_argument(
        "--validator", action="append", help="validators.set: ORG:POWER:PUBLIC-KEY-HEX, each one"
    )
    p.add_argument("--legal-name", help="org.identity, org.add: the legal name")
    p.add_argument("--eori", help="org.identity, org.add: the EORI number (with --legal-name)")
    p.add_argument(
        "--enc-key",
        action="append",
        help="enc_key.add, enc_key.rotate, org.add: an X25519 public key, 32 bytes in hex"
        " (dgledger keygen --encryption prints one)",
    )
    p.add_argument("--old-enc-key", help="enc_key.rotate: the encryption key it retires, in hex")
    p.add_argument("--dgl", help="dgl.set: the new Dangerous Goods List file")
    p.add_argument("--locode", help="port.add, port.authority, port.remove: the port's UN/LOCODE")
    p.add_argument("--port-name", help="port.add: the port's name, e.g. 'Le Havre'")
    p.add_argument(
        "--authority",
        help="port.add, port.authority: the port authority organisation that decides on calls"
        " at the port",
    )
    p.add_argument(
        "--lead-time-hours",
        type=int,
        help="params.set: hours before the estimated departure a declaration must be submitted"
        " or amended by (0: only not after departure)",
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--effective-height", type=int, help="the height it takes effect at")
    when.add_argument(
        "--after",
        type=int,
        default=DEFAULT_AFTER,
        help="blocks after the next one (at least the network's governance delay, 2 by"
        " default; more leaves time to gather signatures; default: 100)",
    )
    p.add_argument(
        "--expires-after",
        type=int,
        default=DEFAULT_EXPIRES,
        help="blocks it may take to gather signatures and be included (default and most: 10000)",
    )
    p.add_argument("--out", required=True, help="the proposal file to write")
    add_node_args(p)
    p.set_defaults(func=cmd_propose)

    p = verbs.add_parser("sign", help="add --key's signature to a proposal file")
    p.add_argument("file", metavar="PROPOSAL.json")
    p.add_argument("--key", required=True, help="member key file (PKCS#8 PEM)")
    p.add_argument("--password-env", help="environment variable holding the key's password")
    p.add_argument("--out", help="write here instead of updating the file")
    p.set_defaults(func=cmd_sign)

    p = verbs.add_parser("show", help="print what a proposal file says")
    p.add_argument("file", metavar="PROPOSAL.json")
    p.set_defaults(func=cmd_show)

    p = verbs.add_parser("submit", help="submit a proposal file once signed")
    p.add_argument("file", metavar="PROPOSAL.json")
    add_node_args(p, key=False)
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser(
        "delegate", help="let a forwarder declare for you, amend and cancel your declarations"
    )
    p.add_argument("forwarder", metavar="FORWARDER")
    p.add_argument("--revoke", action="store_true", help="withdraw the delegation")
    add_node_args(p)
    p.add_argument("--wait", action="store_true", help="return once committed")
    p.set_defaults(func=cmd_delegate)
