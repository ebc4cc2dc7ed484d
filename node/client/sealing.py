"""Sealed fields: the parts of a declaration that only its readers can open.

A declaration's commercially sensitive fields (:data:`SENSITIVE_TOP`, and the
emergency contact of every dangerous-goods item) leave the document before it
is signed and travel in its ``sealed`` section, encrypted to each
organisation entitled to read the declaration. What the IMDG rules need stays
in clear, so every validator still judges every rule; the section's ``paths``
say which fields it holds, so a rule that needs a field to be present still
sees it. Sealing happens on the writer's machine, opening on the reader's:
nodes never hold a private encryption key.

Format, version 1. Everything an independent implementation needs is here.
``encode`` is the canonical MessagePack of :mod:`ledger.encoding`; ``b64`` is
base64url without padding; ``||`` concatenates bytes.

1. ``context = encode(["dgledger/sealed/v1", owner, declaration_id, version])``
   binds the section to one version of one declaration of one organisation,
   so it cannot be moved to another.
2. ``plaintext = encode({"fields": F, "salt": S})`` where ``F`` maps each
   sealed path (``"consignee"``, ``"containers[0].dangerousGoods[1]
   .emergencyContactDetails"``) to the JSON value removed from the document,
   and ``S`` is 32 random bytes, so that the digest gives nothing away to
   whoever guesses a consignee.
3. ``digest = SHA-256(context || plaintext)``, written as 64 hex digits: the
   chain's commitment to the plaintext, proved by receipts like any other
   field of the document.
4. A fresh 32-byte data key ``K`` and 12-byte nonce ``N`` per version:
   ``ciphertext = ChaCha20-Poly1305(K).encrypt(N, plaintext, aad=context)``.
5. For each recipient organisation ``R`` with X25519 public key ``P``:
   ``wrapped = enc || ct`` from RFC 9180 HPKE, base mode, single shot, suite
   DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305, sealing ``K``
   to ``P`` with ``info = context`` and empty ``aad`` (32 + 48 bytes).

The section, in the document's JSON::

    "sealed": {
      "version": 1,
      "paths": [sorted sealed paths],
      "digest": hex,
      "nonce": b64(N),
      "ciphertext": b64(ciphertext),
      "recipients": [{"organisation": R, "key": b64(P), "wrapped": b64(wrapped)}, ...]
    }

with recipients sorted by organisation, one each. A reader opens its
recipient's ``wrapped`` with its private key, decrypts, and accepts the
fields only if the digest recomputed from the plaintext equals ``digest`` and
the plaintext's paths are exactly ``paths``: since every reader checks the
same digest, a writer cannot show different readers different fields.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from contracts.declaration import SEALABLE_ITEM, SEALABLE_TOP, SEALED_VERSION
from ledger.encoding import decode, encode
from ledger.errors import EncodingError
from node.client.errors import ClientError

VERSION: Final = SEALED_VERSION
LABEL: Final = "dgledger/sealed/v1"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
SALT_BYTES: Final = 32
WRAPPED_BYTES: Final = 32 + KEY_BYTES + 16
"""HPKE ``enc`` (an X25519 public key), then the data key and its tag."""

SENSITIVE_TOP: Final = SEALABLE_TOP
"""Top-level document fields sealed when present: parties other than the
shipper, and commercial references (the contracts' list)."""
SENSITIVE_ITEM: Final = SEALABLE_ITEM
"""Fields of each dangerous-goods item sealed when present: contacts."""

_SUITE: Final = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
_ITEM_PATH: Final = re.compile(r"containers\[(\d+)\]\.dangerousGoods\[(\d+)\]\.(\w+)\Z")


class SealingError(ClientError):
    """A sealed section that cannot be made or opened; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, "$.sealed")


def b64(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: Any, what: str) -> bytes:
    """Bytes from base64url without padding; SealingError naming ``what``."""
    if type(text) is not str or not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise SealingError("sealed.invalid", f"{what} is not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise SealingError("sealed.invalid", f"{what} is not base64url") from None


def context(owner: str, declaration_id: str, version: int) -> bytes:
    """What a section is bound to: one version of one organisation's declaration."""
    return encode([LABEL, owner, declaration_id, version])


def sensitive_paths(document: Mapping[str, Any]) -> list[str]:
    """The paths of the sensitive fields a JSON document holds, sorted."""
    paths = [key for key in SENSITIVE_TOP if key in document]
    containers = document.get("containers")
    for c, container in enumerate(containers if isinstance(containers, list) else ()):
        items = container.get("dangerousGoods") if isinstance(container, Mapping) else None
        for i, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, Mapping):
                for key in SENSITIVE_ITEM:
                    if key in item:
                        paths.append(f"containers[{c}].dangerousGoods[{i}].{key}")
    return sorted(paths)


def _locate(document: Mapping[str, Any], path: str) -> tuple[Any, str]:
    """The map holding ``path``'s field, and the field's key."""
    m = _ITEM_PATH.match(path)
    if m is None:
        if path not in SENSITIVE_TOP:
            raise SealingError("sealed.path", f"{path} is not a field that is sealed")
        return document, path
    c, i, key = int(m[1]), int(m[2]), m[3]
    if key not in SENSITIVE_ITEM:
        raise SealingError("sealed.path", f"{path} is not a field that is sealed")
    try:
        return document["containers"][c]["dangerousGoods"][i], key
    except (KeyError, IndexError, TypeError):
        raise SealingError("sealed.path", f"{path} is not in the document") from None


@dataclass(frozen=True, slots=True)
class Opened:
    """What a reader found in a section: the fields, and the section's digest."""

    fields: dict[str, Any]
    digest: str


def seal(
    document: Mapping[str, Any],
    *,
    owner: str,
    version: int,
    recipients: Mapping[str, bytes],
    paths: Iterable[str] | None = None,
) -> dict[str, Any]:
    """A copy of a JSON document with its sensitive fields in a ``sealed`` section.

    ``recipients`` maps each organisation entitled to read the declaration
    to its X25519 public key (32 bytes). ``paths`` defaults to every
    sensitive field present (:func:`sensitive_paths`).
    """
    if "sealed" in document:
        raise SealingError("sealed.twice", "the document already has a sealed section")
    if not recipients:
        raise SealingError("sealed.recipients", "no organisation to seal the fields to")
    declaration_id = document.get("declarationId")
    if type(declaration_id) is not str:
        raise SealingError("sealed.invalid", "the document has no declarationId")
    out: dict[str, Any] = _copy(document)
    chosen = sorted(set(sensitive_paths(document) if paths is None else paths))
    fields: dict[str, Any] = {}
    for path in chosen:
        holder, key = _locate(out, path)
        if key not in holder:
            raise SealingError("sealed.path", f"{path} is not in the document")
        fields[path] = holder.pop(key)
    bound = context(owner, declaration_id, version)
    try:
        plaintext = encode({"fields": fields, "salt": os.urandom(SALT_BYTES)})
    except EncodingError as e:
        raise SealingError("sealed.invalid", f"a sealed field is not plain JSON: {e}") from e
    data_key = ChaCha20Poly1305.generate_key()
    nonce = os.urandom(NONCE_BYTES)
    entries = []
    for org in sorted(recipients):
        raw = recipients[org]
        try:
            public = X25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise SealingError("sealed.key", f"{org}'s encryption key is not X25519") from None
        wrapped = _SUITE.encrypt(data_key, public, info=bound)
        entries.append({"organisation": org, "key": b64(raw), "wrapped": b64(wrapped)})
    out["sealed"] = {
        "version": VERSION,
        "paths": chosen,
        "digest": hashlib.sha256(bound + plaintext).hexdigest(),
        "nonce": b64(nonce),
        "ciphertext": b64(ChaCha20Poly1305(data_key).encrypt(nonce, plaintext, bound)),
        "recipients": entries,
    }
    return out


def open_sealed(
    section: Mapping[str, Any],
    *,
    owner: str,
    declaration_id: str,
    version: int,
    organisation: str,
    private_key: X25519PrivateKey,
) -> Opened:
    """The fields of a section, opened with ``organisation``'s private key.

    Raises SealingError (``sealed.not_a_recipient``, ``sealed.key``,
    ``sealed.tampered``, ``sealed.invalid``) unless the fields decrypt and
    match the section's digest and paths.
    """
    if section.get("version") != VERSION:
        raise SealingError("sealed.version", f"sealed section version {section.get('version')!r}")
    entry = next(
        (
            r
            for r in section.get("recipients") or ()
            if isinstance(r, Mapping) and r.get("organisation") == organisation
        ),
        None,
    )
    if entry is None:
        raise SealingError(
            "sealed.not_a_recipient", f"{organisation} is not among the section's recipients"
        )
    public = private_key.public_key().public_bytes_raw()
    if unb64(entry.get("key"), "recipients[].key") != public:
        raise SealingError(
            "sealed.key",
            f"the fields were sealed to another encryption key of {organisation}"
            " (an earlier one: keep rotated keys to read older versions)",
        )
    bound = context(owner, declaration_id, version)
    try:
        data_key = _SUITE.decrypt(unb64(entry.get("wrapped"), "wrapped"), private_key, info=bound)
        plaintext = ChaCha20Poly1305(data_key).decrypt(
            unb64(section.get("nonce"), "nonce"),
            unb64(section.get("ciphertext"), "ciphertext"),
            bound,
        )
    except (InvalidTag, ValueError):
        raise SealingError(
            "sealed.tampered", "the sealed fields do not open for this declaration and key"
        ) from None
    if hashlib.sha256(bound + plaintext).hexdigest() != section.get("digest"):
        raise SealingError("sealed.tampered", "the sealed fields do not match the chain's digest")
    try:
        value = decode(plaintext)
    except EncodingError as e:
        raise SealingError("sealed.invalid", f"the sealed plaintext: {e}") from e
    if not isinstance(value, dict) or not isinstance(value.get("fields"), dict):
        raise SealingError("sealed.invalid", "the sealed plaintext is not {fields, salt}")
    fields: dict[str, Any] = value["fields"]
    if sorted(fields) != list(section.get("paths") or ()):
        raise SealingError("sealed.tampered", "the sealed fields are not the section's paths")
    return Opened(fields, section["digest"])


def open_with(
    section: Mapping[str, Any],
    *,
    owner: str,
    declaration_id: str,
    version: int,
    private_key: X25519PrivateKey,
) -> tuple[str, Opened]:
    """The recipient whose key ``private_key`` is, and the fields it opens.

    For a reader that knows its key but not under which organisation a
    section names it. Raises ``sealed.not_a_recipient`` when no recipient
    has the key (it may have been rotated since: older versions open with
    the older key), and :func:`open_sealed`'s errors.
    """
    public = private_key.public_key().public_bytes_raw()
    recipients = section.get("recipients") or ()
    for entry in recipients:
        if isinstance(entry, Mapping) and entry.get("key") == b64(public):
            organisation = entry.get("organisation")
            if type(organisation) is str:
                opened = open_sealed(
                    section,
                    owner=owner,
                    declaration_id=declaration_id,
                    version=version,
                    organisation=organisation,
                    private_key=private_key,
                )
                return organisation, opened
    names = ", ".join(
        str(entry.get("organisation")) for entry in recipients if isinstance(entry, Mapping)
    )
    raise SealingError(
        "sealed.not_a_recipient",
        f"the fields are sealed to {names or 'no one'}, none with the key {public.hex()}:"
        " give your organisation's key, or the earlier one it had when this version was sealed",
    )


def unseal(document: Mapping[str, Any], opened: Opened) -> dict[str, Any]:
    """A copy of the document with the opened fields back in place and no section."""
    out: dict[str, Any] = _copy(document)
    out.pop("sealed", None)
    for path in sorted(opened.fields):
        holder, key = _locate(out, path)
        holder[key] = opened.fields[path]
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value
