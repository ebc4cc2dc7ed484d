"""Sealed fields on the reader's machine: the key that opens them, what show and verify say.

A declaration's sensitive fields (parties besides the shipper, contacts,
commercial references) are stored sealed: nodes hand out the document as
stored, and only an organisation's X25519 private key opens them
(:mod:`node.client.sealing`). ``--enc-key FILE`` names that key; without
it, the key ``network init`` writes beside the member key is used when it
is there (``keys/ORG.pem`` -> ``keys/ORG.enc.pem``). Opened fields are
accepted only if they match the digest the chain stores, which a receipt
proves like every field: ``show`` prints them marked sealed and verified,
``verify`` checks them as one more step. Without a key both say the fields
are sealed and how to open them.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.errors import LedgerError
from ledger.keyfile import load_encryption_key
from node.cli.common import CliError
from node.client.sealing import Opened, SealingError, open_with

ENC_SUFFIX: Final = ".enc.pem"
"""``network init`` writes ``keys/ORG.enc.pem`` beside the member key ``keys/ORG.pem``."""
_ITEM_KEY: Final = "emergencyContactDetails"


def add_enc_key_args(p: argparse.ArgumentParser) -> None:
    """--enc-key and --enc-password-env."""
    p.add_argument(
        "--enc-key",
        metavar="FILE",
        help="your organisation's X25519 encryption key, to open the sealed fields (default:"
        " the .enc.pem beside --key, as network init writes it, when there is one)",
    )
    p.add_argument(
        "--enc-password-env",
        metavar="VAR",
        help="environment variable holding the encryption key file's password",
    )


def beside(member_key: str) -> Path:
    """Where ``network init`` puts the encryption key of the member key file ``member_key``."""
    path = Path(member_key)
    return path.with_name(path.name.removesuffix(".pem") + ENC_SUFFIX)


def encryption_key(args: argparse.Namespace) -> tuple[X25519PrivateKey, Path] | None:
    """The key ``--enc-key`` names, or the one beside ``--key``; None if neither is there."""
    given = getattr(args, "enc_key", None)
    if given:
        path = Path(given)
        if not path.is_file():
            raise CliError(f"encryption key file {path} does not exist: check --enc-key")
    elif getattr(args, "key", None) and beside(args.key).is_file():
        path = beside(args.key)
    else:
        return None
    password = None
    if getattr(args, "enc_password_env", None):
        value = os.environ.get(args.enc_password_env)
        if not value:
            raise CliError(f"environment variable {args.enc_password_env} is empty or not set")
        password = value.encode()
    try:
        return load_encryption_key(path, password), path
    except LedgerError as e:
        hint = "give --enc-password-env NAME" if "password is required" in e.message else ""
        raise CliError(f"{e.message}: {hint or 'check --enc-key'}") from e


def section_of(answer: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The sealed section of the current document of a declaration answer, if it has one."""
    document = answer.get("declaration")
    section = document.get("sealed") if isinstance(document, Mapping) else None
    return section if isinstance(section, Mapping) else None


def open_current(answer: Mapping[str, Any], key: X25519PrivateKey) -> tuple[str, Opened]:
    """Open the current document's sealed fields: the recipient the key is, and the fields.

    The section is bound to the owner, the id and the version whose document
    is current (the record's ``document``). Raises :class:`SealingError`.
    """
    section = section_of(answer)
    if section is None:
        raise SealingError("sealed.invalid", "the document has no sealed section")
    return open_with(
        section,
        owner=str(answer.get("owner")),
        declaration_id=str(answer.get("id")),
        version=int(answer["record"]["document"]),
        private_key=key,
    )


def field_name(answer: Mapping[str, Any], path: str) -> str:
    """A sealed path as people read it: ``container CSQU3054383 item 2 emergency contact``."""
    if not path.endswith(f".{_ITEM_KEY}"):
        return path
    try:
        c, i = (int(part.split("[")[1].rstrip("]")) for part in path.split(".")[:2])
        number = answer["declaration"]["containers"][c]["equipmentReference"]
    except (IndexError, ValueError, KeyError, TypeError):
        return path
    return f"container {number} item {i + 1} emergency contact"


def _value(value: Any) -> str:
    if isinstance(value, Mapping):
        parts = [value.get(k) for k in ("partyName", "address", "contact", "phone", "provider")]
        parts += [value.get("referenceNumber")]
        shown = [str(p) for p in parts if p is not None]
        if shown:
            return ", ".join(shown)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def opened_lines(answer: Mapping[str, Any], organisation: str, opened: Opened) -> list[str]:
    """What ``show`` prints of opened fields: each marked sealed, and verified."""
    lines = [
        f"sealed fields, opened with {organisation}'s encryption key and verified against"
        f" the chain's digest {opened.digest[:16]}...:"
    ]
    for path in sorted(opened.fields):
        lines.append(f"  {field_name(answer, path)}: {_value(opened.fields[path])}  [sealed]")
    return lines


def closed_lines(answer: Mapping[str, Any], why: str | None = None) -> list[str]:
    """What ``show`` prints of fields it did not open: which, to whom, how to open them."""
    section = section_of(answer) or {}
    paths = [str(p) for p in section.get("paths") or ()]
    to = [
        str(r.get("organisation")) for r in section.get("recipients") or () if isinstance(r, dict)
    ]
    contacts = sum(1 for p in paths if p.endswith(f".{_ITEM_KEY}"))
    named = [p for p in paths if not p.endswith(f".{_ITEM_KEY}")]
    if contacts:
        named.append(f"{contacts} emergency contact{'s' if contacts > 1 else ''}")
    how = (
        "open them with your organisation's encryption key: --enc-key FILE (network init"
        " wrote keys/ORG.enc.pem)"
    )
    return [
        f"sealed fields: {', '.join(named)}; encrypted to {', '.join(to)}",
        f"  not opened: {why}" if why else f"  {how}",
    ]


def show_lines(
    answer: Mapping[str, Any], key: tuple[X25519PrivateKey, Path] | None
) -> tuple[list[str], str | None]:
    """``show``'s lines on the sealed fields, and why they failed if they do not hold.

    No section: nothing. Not a recipient (a competitor's key, or one rotated
    since): the fields stay closed, said so. Fields that do not match the
    chain's digest: said so, and an error for the command to exit 1 with.
    """
    if section_of(answer) is None:
        return [], None
    if key is None:
        return closed_lines(answer), None
    try:
        organisation, opened = open_current(answer, key[0])
    except SealingError as e:
        if e.code == "sealed.not_a_recipient":
            return closed_lines(answer, f"{key[1]}: {e.message}"), None
        return closed_lines(answer, f"{e.code}: {e.message}"), (
            f"the sealed fields do not hold ({e.code}: {e.message}): prove the document with"
            " 'dgledger verify'"
        )
    return opened_lines(answer, organisation, opened), None


def verify_lines(
    answer: Mapping[str, Any], key: tuple[X25519PrivateKey, Path] | None
) -> tuple[list[str], str | None]:
    """``verify``'s step on the sealed fields of a proven document, and why it failed if so.

    Run once the receipt holds, so the digest is the chain's: with a key,
    the fields must open and match it; without one, the step says the
    fields are proven by their digest only.
    """
    section = section_of(answer)
    if section is None:
        return [], None
    paths = ", ".join(str(p) for p in section.get("paths") or ())
    proven = f"the sealed fields ({paths}) are proven by their digest {section.get('digest')}"
    if key is None:
        return [f"sealed  {proven}; give --enc-key FILE to open them and check them too"], None
    try:
        organisation, opened = open_current(answer, key[0])
    except SealingError as e:
        if e.code == "sealed.not_a_recipient":
            return [f"sealed  {proven}; not opened: {key[1]}: {e.message}"], None
        return [f"FAILED  {e.code}: $.declaration.sealed: {e.message}"], (
            f"the sealed fields do not hold: {e.message}"
        )
    version = answer["record"]["document"]
    return [
        f"ok      sealed fields of version {version} ({paths}) open with {organisation}'s"
        f" encryption key and match the proven digest {opened.digest}"
    ], None
