"""Genesis: the one file every node and auditor trusts.

::

    {"chain": str, "time": ms since epoch, "validators": [validator, ...],
     "app": {...}}

The ledger core reads the chain id, the genesis time and the first
validator set; ``app`` belongs to the contracts (organisations, roles, keys,
the pinned Dangerous Goods List hash) and is opaque here. The genesis hash is
SHA-256 of the canonical encoding and is the ``prev_hash`` of block 1, so a
chain cannot be replayed against another genesis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.encoding import decode, encode, sha256
from ledger.errors import SchemaError
from ledger.schema import as_map, get_int, get_str
from ledger.validators import ValidatorSet

MAX_GENESIS_SIZE: Final = 4 * 1024 * 1024
_KEYS: Final = frozenset({"chain", "time", "validators", "app"})


@dataclass(frozen=True, slots=True)
class Genesis:
    """The validated genesis document."""

    chain: str
    time: int
    validators: ValidatorSet
    app: Mapping[str, Any]
    hash: bytes

    @classmethod
    def create(
        cls, chain: str, time: int, validators: ValidatorSet, app: Mapping[str, Any]
    ) -> Genesis:
        """Build and hash a genesis document."""
        return cls.from_value(
            {"chain": chain, "time": time, "validators": validators.to_value(), "app": dict(app)}
        )

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "chain": self.chain,
            "time": self.time,
            "validators": self.validators.to_value(),
            "app": dict(self.app),
        }

    def encode(self) -> bytes:
        """Canonical bytes (what the genesis file holds)."""
        return encode(self.to_value())

    @classmethod
    def from_value(cls, value: Any) -> Genesis:
        """Validate and build from a decoded map."""
        m = as_map(value, "genesis", _KEYS)
        chain = get_str(m, "chain", max_len=64)
        if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in chain):
            raise SchemaError("use letters, digits, '-', '_' and '.' only", field="chain")
        if type(m["app"]) is not dict:
            raise SchemaError("must be a map", field="app")
        validators = ValidatorSet.from_value(m["validators"])
        canonical = {**m, "validators": validators.to_value()}
        return cls(chain, get_int(m, "time"), validators, m["app"], sha256(encode(canonical)))

    @classmethod
    def decode(cls, data: bytes) -> Genesis:
        """Decode canonical genesis bytes."""
        return cls.from_value(decode(data, max_size=MAX_GENESIS_SIZE))
