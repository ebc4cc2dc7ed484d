"""Sealed to the right readers: the rule on a declaration's sealed section, with the state.

A declaration's commercially sensitive fields (parties besides the
shipper, contacts, commercial references:
:data:`contracts.declaration.SEALABLE_TOP` and ``SEALABLE_ITEM``) may
travel in its ``sealed`` section, encrypted on the writer's machine to the
organisations entitled to read the declaration (the format is
``node.client.sealing``'s). This module is the rule a submission and an
amendment meet, at the height that applies them:

* where the owner has an encryption key in force, every sensitive field
  must be sealed: one in clear is refused, ``sealed.required`` at its path;
* a section's recipients must be exactly the organisations that may read
  the owner's declarations (:func:`contracts.access.may_read_declaration`:
  the owner, the forwarders it delegated, the port authority, customs and
  auditors; members still active) and have an encryption key in force: one
  left out, or one that may not read or has no key, is named in
  ``sealed.recipients``; each recipient's key must be one of its keys in
  force, else ``sealed.key`` at that key;
* a network whose members have no encryption keys keeps working in clear.

**What validators cannot check.** No validator holds a private encryption
key, so none can open a section. They judge the IMDG rules on the clear
fields (UN numbers, classes, packing groups, quantities, packaging,
containers, vessel, voyage, ports, dates, the shipper), the section's shape
(:mod:`contracts.document`) and, here, who it is sealed to. They cannot
check that the ciphertext opens, that the wrapped keys hold the data key,
that the plaintext is what the digest commits to, or that the section is
bound to this owner, id and version: readers check that when they open it
(``sealed.tampered``), and since every reader checks the same digest, a
writer cannot show different readers different fields. The digest is in
the document, so receipts prove it like any field.

State: ``enc-orgs`` ``{orgs: [sorted names]}``, the organisations with an
encryption key on record (:data:`contracts.identity.ENC_ORGS`, written with
the keys), so the readers of a declaration are found without walking the
state. A network whose genesis records no encryption key has no such key,
and the state root it always had.

Pure functions of the state and the document: no clock, no randomness.
"""

from __future__ import annotations

import base64
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from contracts.access import SEE_EVERY_DECLARATION, Reader, may_read_declaration
from contracts.declaration import SEALABLE_ITEM, SEALABLE_TOP
from contracts.errors import TransactionRejected, Violation
from contracts.identity import ENC_ORGS, encryption_keys_in_force
from contracts.lifecycle import Role
from contracts.membership import Organisation
from contracts.state import membership_token

if TYPE_CHECKING:
    from contracts.state import StateView

__all__ = [
    "ENC_ORGS",
    "check",
    "clear_paths",
    "genesis_sealing_keys",
    "recipients",
    "sealing_keys",
]

DOCUMENT: Final = "$.body.declaration"


_RECIPIENTS: Final[OrderedDict[tuple[bytes, str], dict[str, list[bytes]]]] = OrderedDict()
_RECIPIENTS_KEPT: Final = 1024


def recipients(view: StateView, owner: str) -> dict[str, list[bytes]]:
    """Every organisation a declaration of ``owner`` is to be sealed to, with its keys in force.

    Those that may read ``owner``'s declarations now, are active members and
    have at least one encryption key in force (oldest first), by name.

    A pure function of the membership keys of the state (``MEMBERSHIP``):
    when the view has written none of them it is kept by the tree root's
    :func:`contracts.state.membership_token` and the owner, since every
    submission asks it (measured: without this, half of a validator's time
    under load went to reading and decoding the membership once per
    transaction; keyed by the root alone, every owner's answer was made again
    after each block, each reading every organisation's records).
    """
    if not view.membership_as_committed():
        return _recipients(view, owner)
    key = (membership_token(view.tree.root), owner)
    found = _RECIPIENTS.get(key)
    if found is None:
        found = _RECIPIENTS[key] = _recipients(view, owner)
        while len(_RECIPIENTS) > _RECIPIENTS_KEPT:
            _RECIPIENTS.popitem(last=False)
    else:
        _RECIPIENTS.move_to_end(key)
    return {org: list(keys) for org, keys in found.items()}


def _recipients(view: StateView, owner: str) -> dict[str, list[bytes]]:
    listed = view.get(ENC_ORGS)
    out: dict[str, list[bytes]] = {}
    for org in [] if listed is None else listed["orgs"]:
        keys = encryption_keys_in_force(view, org)
        record = view.get(f"org/{org}") if keys else None
        if record is None or not record["active"]:
            continue
        if may_read_declaration(Reader(org, Role(record["role"])), owner, view):
            out[org] = keys
    return out


def sealing_keys(view: StateView, owner: str) -> dict[str, bytes]:
    """The key to seal to for each of :func:`recipients`: the one last put in force."""
    return {org: keys[-1] for org, keys in recipients(view, owner).items()}


def genesis_sealing_keys(orgs: Iterable[Organisation], owner: str) -> dict[str, bytes]:
    """:func:`sealing_keys` of ``owner`` in the state genesis makes, from its organisations.

    For writers that seal without asking a node (load generators, chain
    makers): at genesis no one has delegated anyone, so the readers are the
    owner and those who see every declaration, each with its last key.
    """
    return {
        org.name: org.enc_keys[-1]
        for org in orgs
        if org.enc_keys and (org.name == owner or org.role in SEE_EVERY_DECLARATION)
    }


def clear_paths(value: Mapping[str, Any]) -> list[str]:
    """The sensitive fields a canonical declaration value holds in clear, as sorted paths."""
    paths = [key for key in SEALABLE_TOP if key in value]
    for c, container in enumerate(value.get("containers", ())):
        for i, item in enumerate(container.get("dangerousGoods", ())):
            paths.extend(
                f"containers[{c}].dangerousGoods[{i}].{key}" for key in SEALABLE_ITEM if key in item
            )
    return sorted(paths)


def check(view: StateView, owner: str, value: Mapping[str, Any]) -> None:
    """Refuse a declaration of ``owner`` not sealed as the rule says; every problem at once.

    ``value`` is the canonical value of a document that read (its section's
    shape checked already).
    """
    found: list[Violation] = []
    if encryption_keys_in_force(view, owner):
        for path in clear_paths(value):
            found.append(
                Violation(
                    "sealed.required",
                    f"{DOCUMENT}.{path}",
                    f"{owner} has an encryption key: {path} must travel in the sealed section,"
                    " encrypted to the organisations entitled to read the declaration",
                )
            )
    section = value.get("sealed")
    if section is not None:
        found.extend(_check_recipients(view, owner, section["recipients"]))
    if found:
        raise TransactionRejected(found)


def _check_recipients(
    view: StateView, owner: str, listed: list[Mapping[str, str]]
) -> list[Violation]:
    expected = recipients(view, owner)
    names = [r["organisation"] for r in listed]
    missing = sorted(set(expected) - set(names))
    extra = sorted(set(names) - set(expected))
    found = []
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{', '.join(missing)} may read it and {_is_are(missing)} left out")
        for org in extra:
            parts.append(_why_not(view, owner, org))
        found.append(
            Violation(
                "sealed.recipients",
                f"{DOCUMENT}.sealed.recipients",
                f"the sealed section must be encrypted to exactly the organisations that may read"
                f" {owner}'s declaration and have an encryption key in force"
                f" ({', '.join(sorted(expected)) or 'none'}): {'; '.join(parts)}",
            )
        )
    for n, entry in enumerate(listed):
        org = entry["organisation"]
        if org in expected and _raw(entry["key"]) not in expected[org]:
            found.append(
                Violation(
                    "sealed.key",
                    f"{DOCUMENT}.sealed.recipients[{n}].key",
                    f"{org}'s key here is not an encryption key of {org} in force: seal to the"
                    f" key membership records now (GET /v1/readers?owner={owner})",
                )
            )
    return found


def _why_not(view: StateView, owner: str, org: str) -> str:
    record = view.get(f"org/{org}")
    if record is None:
        return f"{org} is no member"
    if not record["active"]:
        return f"{org} is no longer a member"
    if not may_read_declaration(Reader(org, Role(record["role"])), owner, view):
        return f"{org} may not read it"
    return f"{org} has no encryption key in force"


def _is_are(names: list[str]) -> str:
    return "is" if len(names) == 1 else "are"


def _raw(text: str) -> bytes:
    # The document reader checked the text: canonical base64url of 32 bytes.
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
