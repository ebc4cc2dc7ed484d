"""A small port community for contract tests: fixed keys, genesis, block maker.

Where the community has encryption keys (``community(identities=True)``),
:meth:`Community.tx` seals a submitted or amended document as a writer's
client does (to :func:`contracts.sealed.sealing_keys` of its owner), unless
told ``seal=False``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from contracts import sealed
from contracts.dgl_builtin import builtin_list
from contracts.engine import Engine
from contracts.identity import holder_of_name
from contracts.membership import AppGenesis, Identity, Organisation
from ledger.block import Block, Header
from ledger.crypto import SigningKey
from ledger.errors import LedgerError
from ledger.genesis import Genesis
from ledger.kv import MemoryKV, Overlay
from ledger.tx import Envelope, Transaction
from ledger.validators import Validator, ValidatorSet
from ledger.votes import Certificate
from node.client import sealing
from tests.samples import ORGS, VALIDATOR_ORGS

CHAIN = "dg-test"
EXPIRES_AFTER = 100


def key_for(name: str, index: int = 0) -> SigningKey:
    """A fixed key per (organisation, index)."""
    seed = (name.encode() + bytes([index])).ljust(32, b"\x00")[:32]
    return SigningKey.from_seed(seed)


IDENTITIES: Final[Mapping[str, Identity]] = MappingProxyType(
    {
        "customs": Identity("DIRECTION GENERALE DES DOUANES"),
        "port-authority": Identity("HAROPA PORT"),
        "forwarder-a": Identity("ALPHA FREIGHT SARL", (("eori", "FR40303265045"),)),
        "forwarder-b": Identity("BRAVO LOGISTICS BV", (("eori", "NL813457011"),)),
        "shipper-acme": Identity("ACME CHEMICALS SAS", (("eori", "FR12345678901234"),)),
        "shipper-beta": Identity("BETA POLYMERS GMBH", (("eori", "DE987654321"),)),
        "auditor": Identity("PORT AUDIT LLP"),
    }
)
"""Legal identities of the test community, for :func:`community` with ``identities``."""


def enc_key_for(name: str, index: int = 0) -> X25519PrivateKey:
    """A fixed X25519 key per (organisation, index)."""
    seed = (b"enc:" + name.encode() + bytes([index])).ljust(32, b"\x00")[:32]
    return X25519PrivateKey.from_private_bytes(seed)


def enc_public(name: str, index: int = 0) -> bytes:
    """The raw public key of :func:`enc_key_for`."""
    return enc_key_for(name, index).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass
class Community:
    """Genesis, an engine over an in-memory store, and a block counter."""

    genesis: Genesis
    engine: Engine
    overlay: Overlay
    height: int = 0
    time: int = 1_790_000_000_000
    nonces: dict[str, int] = field(default_factory=dict)

    def tx(
        self,
        org: str,
        type_: str,
        body: dict[str, Any],
        *,
        extra: Sequence[str] = (),
        nonce: int | None = None,
        expires: int | None = None,
        seal: bool = True,
    ) -> Transaction:
        """A transaction signed by ``org``'s first key (and the first keys of ``extra``).

        By default its nonce is the key's next counter value and it expires
        :data:`EXPIRES_AFTER` blocks above the next block. With ``seal``, a
        declaration's sensitive fields are sealed to its owner's readers as the
        state has them now, when any has an encryption key.
        """
        if seal and type_ in ("declaration.submit", "declaration.amend"):
            body = self._sealed(org, type_, body)
        key = key_for(org)
        kid = key.public.key_id
        if nonce is None:
            nonce = self.nonces[kid] = self.nonces.get(kid, 0) + 1
        if expires is None:
            expires = self.height + 1 + EXPIRES_AFTER
        env = Envelope(CHAIN, type_, kid, nonce, body, expires)
        return Transaction.create(env, [key, *(key_for(o) for o in extra)])

    def _sealed(self, org: str, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        document = body.get("declaration")
        if not isinstance(document, dict) or "sealed" in document:
            return body
        view = self.engine.view()
        if type_ == "declaration.submit":
            shipper = document.get("shipper")
            party = shipper.get("partyName") if isinstance(shipper, dict) else None
            named = holder_of_name(view, party) if isinstance(party, str) else None
            delegated = named is not None and view.get(f"delegation/{named}/{org}") is not None
            owner, version = (named if delegated and named else org), 1
        else:
            owner = body.get("owner", org)
            try:
                record = view.get(f"decl/{owner}/{body.get('id')}")
            except LedgerError:  # a hostile id too long for a state key: the engine refuses it
                record = None
            version = 1 if record is None else record["version"] + 1
        keys = sealed.sealing_keys(view, owner)
        if not keys or not sealing.sensitive_paths(document):
            return body
        return {
            **body,
            "declaration": sealing.seal(document, owner=owner, version=version, recipients=keys),
        }

    def block(self, txs: Sequence[Transaction]) -> list[dict[str, Any]]:
        """Apply ``txs`` as the next block; return each transaction's result."""
        self.height += 1
        self.time += 5_000
        zero = b"\x00" * 32
        header = Header(
            CHAIN, self.height, self.time, zero, zero, 0, zero, zero, zero, zero, "0" * 40
        )
        commit = None
        if self.height > 1:
            commit = Certificate(self.height - 1, 0, zero, ())
        self.engine.apply_block(Block(header, tuple(txs), commit))
        self.overlay.flush()
        view = self.engine.view()
        return [view.get(f"tx/{tx.id.hex()}") for tx in txs]


def community(*, identities: bool = False) -> Community:
    """A fresh community at genesis; with ``identities``, each member has a legal identity.

    With ``identities`` every organisation also has one encryption key,
    :func:`enc_public` of its name.
    """
    orgs = [
        Organisation(
            name,
            role,
            (key_for(name).public,),
            IDENTITIES[name] if identities else None,
            (enc_public(name),) if identities else (),
        )
        for name, role in ORGS.items()
    ]
    validators = ValidatorSet.create(
        [Validator(key_for(f"{o}-node").public, 10, o) for o in VALIDATOR_ORGS]
    )
    dgl = builtin_list()
    app = AppGenesis(tuple(orgs), dgl.digest(), 2)
    genesis = Genesis.create(CHAIN, 1_790_000_000_000, validators, app.to_value())
    overlay = Overlay(MemoryKV())
    engine = Engine(genesis, overlay, {dgl.digest(): dgl})
    overlay.flush()
    return Community(genesis, engine, overlay)
