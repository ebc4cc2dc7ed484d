"""Legal identities and encryption keys in the state, and the rule that binds a shipper to them.

State keys (values are canonical encodings)::

    identity/<org>                  {legal_name, identifiers: {scheme: value}}
    legal-name/<normalised name>    {org}   one per recorded legal name: who holds it
    identifier/<scheme>/<value>     {org}   one per recorded identifier: who holds it
    enc/<org>                       {keys: [{key, added_at, retired_at}, ...]}
    enc-key/<key hex>               {org}   one per encryption key ever recorded
    enc-orgs                        {orgs: [sorted names]}  those with a key on record,
                                    so a declaration's readers are found in a few reads
                                    (:mod:`contracts.sealed`); absent where none has one

An organisation has an identity once genesis or governance records one;
the reverse keys keep legal names and identifiers unique across
organisations and let a declaration's shipper party be looked up in one
read. Encryption keys are never deleted: a rotated key is retired at the
action's height (``retired_at``), so what was encrypted to it before can
still be explained, while only the keys in force (``retired_at`` null) are
to be encrypted to from then on.

The shipper rule (:func:`submission_owner`, :func:`check_amended_shipper`):
where membership records an identity, a declaration's shipper party must be
the organisation it is declared for, which is the signer's, or one that
delegated the signing forwarder. The document carries the shipper's name
and address only (``contracts.declaration.Party``), so the party is matched
by its normalised legal name; once a party carries an identifier such as
an EORI number, it is to be matched on that first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from contracts.errors import TransactionRejected, Violation
from contracts.lifecycle import Role
from contracts.membership import MAX_ENC_KEYS, Identity, Organisation, normalised

if TYPE_CHECKING:
    from contracts.state import StateView

SHIPPER_PATH: Final = "$.body.declaration.shipper.partyName"
ENC_ORGS: Final = "enc-orgs"
"""The state key listing the organisations with an encryption key on record."""


def _reject(code: str, path: str, message: str) -> TransactionRejected:
    return TransactionRejected([Violation(code, path, message)])


# ------------------------------------------------------------ identities


def identity_of(view: StateView, org: str) -> Identity | None:
    """The identity membership records for ``org``, if any."""
    value = view.get(f"identity/{org}")
    if value is None:
        return None
    return Identity(value["legal_name"], tuple(sorted(value["identifiers"].items())))


def _marks(identity: Identity) -> list[str]:
    """The reverse keys an identity holds: its legal name and each identifier."""
    return [
        f"legal-name/{normalised(identity.legal_name)}",
        *(f"identifier/{scheme}/{value}" for scheme, value in identity.identifiers),
    ]


def holder_of_name(view: StateView, name: str) -> str | None:
    """The organisation whose legal name is ``name`` once both are normalised."""
    value = view.get(f"legal-name/{normalised(name)}")
    return None if value is None else str(value["org"])


def identity_conflict(view: StateView, org: str, identity: Identity) -> str | None:
    """What of ``identity`` another organisation holds already, as a sentence, or ``None``."""
    for mark, (what, shown) in zip(
        _marks(identity),
        [("legal name", identity.legal_name), *identity.identifiers],
        strict=True,
    ):
        holder = view.get(mark)
        if holder is not None and holder["org"] != org:
            return f"{holder['org']} has the {what} {shown!r} already"
    return None


def set_identity(view: StateView, org: str, identity: Identity) -> None:
    """Record ``identity`` for ``org``, replacing any before it, with its reverse keys."""
    old = identity_of(view, org)
    new_marks = _marks(identity)
    if old is not None:
        for mark in _marks(old):
            if mark not in new_marks:
                view.delete(mark)
    view.put(f"identity/{org}", identity.to_value())
    for mark in new_marks:
        view.put(mark, {"org": org})


# -------------------------------------------------------- encryption keys


def encryption_key_records(view: StateView, org: str) -> list[dict[str, Any]]:
    """Every encryption key on record for ``org``: ``{key, added_at, retired_at}``, in order."""
    value = view.get(f"enc/{org}")
    return [] if value is None else [dict(k) for k in value["keys"]]


def encryption_keys_in_force(view: StateView, org: str) -> list[bytes]:
    """The X25519 public keys that what ``org`` may read is to be encrypted to."""
    return [k["key"] for k in encryption_key_records(view, org) if k["retired_at"] is None]


def encryption_key_holder(view: StateView, raw: bytes) -> str | None:
    """The organisation an encryption key is (or was) recorded for."""
    value = view.get(f"enc-key/{raw.hex()}")
    return None if value is None else str(value["org"])


def add_encryption_keys(view: StateView, org: str, keys: Iterable[bytes], height: int) -> None:
    """Put ``keys`` in force for ``org`` from ``height`` (callers checked they are new)."""
    records = encryption_key_records(view, org)
    for raw in keys:
        records.append({"key": raw, "added_at": height, "retired_at": None})
        view.put(f"enc-key/{raw.hex()}", {"org": org})
    if len(records) > MAX_ENC_KEYS:
        raise AssertionError(f"{org}: more than {MAX_ENC_KEYS} encryption keys")
    view.put(f"enc/{org}", {"keys": records})
    listed = view.get(ENC_ORGS)
    orgs = [] if listed is None else list(listed["orgs"])
    if org not in orgs:
        view.put(ENC_ORGS, {"orgs": sorted([*orgs, org])})


def retire_encryption_key(view: StateView, org: str, raw: bytes, height: int) -> None:
    """Take ``raw`` out of force for ``org`` from ``height``; kept on record."""
    records = encryption_key_records(view, org)
    for record in records:
        if record["key"] == raw and record["retired_at"] is None:
            record["retired_at"] = height
    view.put(f"enc/{org}", {"keys": records})


def record_organisation(view: StateView, org: Organisation, height: int) -> None:
    """Write a new member's records: ``org/``, its member keys, identity, encryption keys."""
    view.put(f"org/{org.name}", {"name": org.name, "role": org.role.value, "active": True})
    for key in org.keys:
        if view.get(f"key/{key.key_id}") is None:
            view.put(f"key/{key.key_id}", {"org": org.name, "pub": key.raw, "revoked_at": None})
    if org.identity is not None:
        set_identity(view, org.name, org.identity)
    if org.enc_keys:
        add_encryption_keys(view, org.name, org.enc_keys, height)


# ------------------------------------------------------------ the shipper rule


def _as(view: StateView, org: str) -> str:
    identity = identity_of(view, org)
    return org if identity is None else f"{org} ({identity.legal_name})"


def submission_owner(view: StateView, org: str, role: Role, party_name: str) -> str:
    """The organisation a new declaration with shipper ``party_name`` is declared for.

    ``org`` and ``role`` are the signer's. The owner is the signer's
    organisation, or, for a forwarder, the organisation the party names if
    it delegated the forwarder. Refused where membership records an identity
    that the party contradicts: the party names another member, or the
    signer has a legal name and the party is not it.
    """
    named = holder_of_name(view, party_name)
    if named == org:
        return org
    if named is not None:
        if role is not Role.FORWARDER:
            raise _reject(
                "identity.shipper_mismatch",
                SHIPPER_PATH,
                f"the shipper {party_name!r} is {_as(view, named)}, not the signer's"
                f" organisation {_as(view, org)}: declare in your own organisation's name",
            )
        if view.get(f"delegation/{named}/{org}") is None:
            raise _reject(
                "identity.not_delegated",
                SHIPPER_PATH,
                f"the shipper {party_name!r} is {_as(view, named)}, which has not delegated"
                f" {org}: only a forwarder it delegated may declare in its name",
            )
        return named
    own = identity_of(view, org)
    if own is None:
        return org
    delegated = " or an organisation that delegated it" if role is Role.FORWARDER else ""
    raise _reject(
        "identity.shipper_mismatch",
        SHIPPER_PATH,
        f"the shipper {party_name!r} is not {_as(view, org)}, the signer's organisation"
        f"{delegated}: name it as membership records it, {own.legal_name!r}",
    )


def check_amended_shipper(view: StateView, owner: str, party_name: str) -> None:
    """Refuse an amendment whose shipper party is not the declaration's owner."""
    named = holder_of_name(view, party_name)
    if named == owner:
        return
    identity = identity_of(view, owner)
    if named is None and identity is None:
        return
    expected = "" if identity is None else f", {identity.legal_name!r}"
    found = "" if named is None else f" ({_as(view, named)})"
    raise _reject(
        "identity.shipper_mismatch",
        SHIPPER_PATH,
        f"the shipper {party_name!r}{found} is not the organisation this declaration is"
        f" declared for, {owner}{expected}",
    )
