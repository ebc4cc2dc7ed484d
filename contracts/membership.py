"""Organisations, their roles and member keys, as genesis lists them.

The ``app`` part of genesis::

    {"orgs": [{"name": str, "role": role, "keys": [<32-byte public key>, ...]}, ...],
     "dgl": <SHA-256 of the Dangerous Goods List in force>,
     "params": {"governance_delay": int}}

Validator organisations are the ``org`` names of the genesis validator set;
their voting power is the sum of their validators' power. Member keys sign
transactions; validator keys (in the validator set) sign consensus messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.errors import ContractError
from contracts.lifecycle import Role
from ledger.crypto import PublicKey
from ledger.errors import LedgerError

MAX_ORGS: Final = 1000
MAX_KEYS_PER_ORG: Final = 64
ORG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_GOVERNANCE_DELAY: Final = 2


def invalid(path: str, message: str, code: str = "genesis.invalid") -> ContractError:
    """A genesis or governance field that cannot be used."""
    return ContractError(code, path, message)


@dataclass(frozen=True, slots=True)
class Organisation:
    """A member organisation of the port community."""

    name: str
    role: Role
    keys: tuple[PublicKey, ...]

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {"name": self.name, "role": self.role.value, "keys": [k.raw for k in self.keys]}

    @classmethod
    def from_value(cls, value: Any, path: str) -> Organisation:
        """Validate and build from a decoded map."""
        if type(value) is not dict or set(value) != {"name", "role", "keys"}:
            raise invalid(path, "an organisation is {name, role, keys}")
        name = value["name"]
        if type(name) is not str or not ORG_NAME.match(name):
            raise invalid(f"{path}.name", "lower-case letters, digits and '-', at most 63")
        try:
            role = Role(value["role"])
        except ValueError:
            raise invalid(f"{path}.role", f"one of {', '.join(r.value for r in Role)}") from None
        keys_value = value["keys"]
        if type(keys_value) is not list or len(keys_value) > MAX_KEYS_PER_ORG:
            raise invalid(f"{path}.keys", f"a list of at most {MAX_KEYS_PER_ORG} keys")
        keys = []
        for i, raw in enumerate(keys_value):
            try:
                keys.append(PublicKey(raw if type(raw) is bytes else b""))
            except LedgerError as e:
                raise invalid(f"{path}.keys[{i}]", f"not a valid Ed25519 key: {e}") from e
        return cls(name, role, tuple(keys))


@dataclass(frozen=True, slots=True)
class AppGenesis:
    """The contracts' part of genesis."""

    orgs: tuple[Organisation, ...]
    dgl_hash: bytes
    governance_delay: int

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> AppGenesis:
        """Validate the ``app`` map of genesis."""
        if set(value) != {"orgs", "dgl", "params"}:
            raise invalid("$.app", "app is {orgs, dgl, params}")
        orgs_value = value["orgs"]
        if type(orgs_value) is not list or not 0 < len(orgs_value) <= MAX_ORGS:
            raise invalid("$.app.orgs", f"a list of 1 to {MAX_ORGS} organisations")
        orgs = tuple(
            Organisation.from_value(o, f"$.app.orgs[{i}]") for i, o in enumerate(orgs_value)
        )
        names = [o.name for o in orgs]
        if len(set(names)) != len(names):
            raise invalid("$.app.orgs", "an organisation name appears twice")
        key_ids = [k.key_id for o in orgs for k in o.keys]
        if len(set(key_ids)) != len(key_ids):
            raise invalid("$.app.orgs", "a key belongs to two organisations")
        dgl = value["dgl"]
        if type(dgl) is not bytes or len(dgl) != 32:
            raise invalid("$.app.dgl", "the SHA-256 of the Dangerous Goods List (32 bytes)")
        params = value["params"]
        if type(params) is not dict or set(params) != {"governance_delay"}:
            raise invalid("$.app.params", "params is {governance_delay}")
        delay = params["governance_delay"]
        if type(delay) is not int or not 1 <= delay <= 1_000_000:
            raise invalid("$.app.params.governance_delay", "an integer from 1 to 1,000,000")
        return cls(orgs, dgl, delay)

    def to_value(self) -> dict[str, Any]:
        """Plain map for genesis."""
        return {
            "orgs": [o.to_value() for o in self.orgs],
            "dgl": self.dgl_hash,
            "params": {"governance_delay": self.governance_delay},
        }
