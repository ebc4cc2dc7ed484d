"""Validator sets: who votes, with what power, on behalf of which organisation."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.crypto import PublicKey
from ledger.encoding import digest
from ledger.errors import LedgerError, SchemaError
from ledger.schema import as_map, get_bytes, get_int, get_str

MAX_VALIDATORS: Final = 256
MAX_POWER: Final = 1000


@dataclass(frozen=True, slots=True)
class Validator:
    """One voting key of a validator organisation."""

    public: PublicKey
    power: int
    org: str

    @property
    def key_id(self) -> str:
        """Key id of the validator's consensus key."""
        return self.public.key_id

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {"key": self.public.raw, "power": self.power, "org": self.org}

    @classmethod
    def from_value(cls, value: Any) -> Validator:
        """Validate and build from a decoded map."""
        m = as_map(value, "validator", frozenset({"key", "power", "org"}))
        try:
            public = PublicKey(get_bytes(m, "key", size=32))
        except LedgerError as e:
            raise SchemaError(f"bad validator key: {e.message}", field="key") from e
        return cls(public, get_int(m, "power", lo=1, hi=MAX_POWER), get_str(m, "org", max_len=64))


@dataclass(frozen=True, slots=True)
class ValidatorSet:
    """An ordered set of validators (sorted by key id); build with :meth:`create`."""

    validators: tuple[Validator, ...]
    total_power: int
    hash: bytes
    _by_id: dict[str, Validator] = field(repr=False, compare=False)
    _schedule: tuple[int, ...] = field(repr=False, compare=False)

    @classmethod
    def create(cls, validators: Sequence[Validator]) -> ValidatorSet:
        """Validate and sort: at least one validator, no key twice, bounded size."""
        if not validators:
            raise SchemaError("a validator set needs at least one validator", field="validators")
        if len(validators) > MAX_VALIDATORS:
            raise SchemaError(f"at most {MAX_VALIDATORS} validators", field="validators")
        ordered = tuple(sorted(validators, key=lambda v: v.key_id))
        by_id = {v.key_id: v for v in ordered}
        if len(by_id) != len(ordered):
            raise SchemaError("a key appears twice in the validator set", field="validators")
        value = [v.to_value() for v in ordered]
        total = sum(v.power for v in ordered)
        return cls(ordered, total, digest(value), by_id, _schedule(ordered))

    @classmethod
    def from_value(cls, value: Any) -> ValidatorSet:
        """Validate and build from a decoded list."""
        if type(value) is not list:
            raise SchemaError("must be a list", field="validators")
        return cls.create([Validator.from_value(v) for v in value])

    def to_value(self) -> list[dict[str, Any]]:
        """Plain list for encoding (sorted by key id)."""
        return [v.to_value() for v in self.validators]

    def get(self, key_id: str) -> Validator | None:
        """The validator with this key id, if any."""
        return self._by_id.get(key_id)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._by_id

    def __iter__(self) -> Iterator[Validator]:
        return iter(self.validators)

    def __len__(self) -> int:
        return len(self.validators)

    def has_quorum(self, power: int) -> bool:
        """True when ``power`` is more than two thirds of the total."""
        return 3 * power > 2 * self.total_power

    def quorum_power(self) -> int:
        """The least power that is more than two thirds of the total."""
        return (2 * self.total_power) // 3 + 1

    def has_one_third(self, power: int) -> bool:
        """True when ``power`` is more than one third (at least one correct validator)."""
        return 3 * power > self.total_power

    def proposer(self, height: int, round_: int) -> Validator:
        """Round-robin proposer weighted by voting power (see :func:`_schedule`)."""
        return self.validators[self._schedule[(height + round_) % len(self._schedule)]]


def _schedule(validators: Sequence[Validator]) -> tuple[int, ...]:
    """One cycle of smooth weighted round-robin over the validators' powers.

    Powers are divided by their common divisor; each step every validator's
    credit grows by its power and the one with the most credit (lowest index
    on a tie) proposes and pays the total. Over a cycle each validator
    proposes in proportion to its power, spread out rather than in runs.
    """
    divisor = math.gcd(*(v.power for v in validators))
    weights = [v.power // divisor for v in validators]
    total = sum(weights)
    credit = [0] * len(weights)
    order = []
    for _ in range(total):
        for i, w in enumerate(weights):
            credit[i] += w
        best = max(range(len(credit)), key=lambda i: (credit[i], -i))
        credit[best] -= total
        order.append(best)
    return tuple(order)
