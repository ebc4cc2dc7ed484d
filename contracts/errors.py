"""Errors of the dangerous-goods rules.

::

    ContractError(code, path, message)     one broken rule, stable code, field path
    ├── ReferenceDataError                 a Dangerous Goods List or table that cannot be used
    ├── DeclarationInvalid                 a declaration that breaks one or more rules
    │                                      (carries every Violation at once)
    └── TransactionRejected                a transaction the rules refuse (role, lifecycle,
                                           lifetime, membership); carries its Violation(s)

A :class:`Violation` is a value, not an exception: the checks collect every
violation of a declaration and raise :class:`DeclarationInvalid` once.
Codes are stable, machine-readable, lower-case with dots
(``un_number.unknown``, ``segregation.same_container``); paths are JSON paths
into the submitted document (``$.containers[0].dangerousGoods[1].UNNumber``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: a stable code, the field's JSON path, a human message."""

    code: str
    path: str
    message: str
    paragraph: str | None = None
    """The IMDG paragraph the rule rests on, where one applies: ``"5.4.1.4.1"``."""

    def to_value(self) -> dict[str, str]:
        """Plain map for encoding, HTTP answers and receipts."""
        out = {"code": self.code, "path": self.path, "message": self.message}
        if self.paragraph is not None:
            out["paragraph"] = self.paragraph
        return out

    def __str__(self) -> str:
        ref = f" (IMDG {self.paragraph})" if self.paragraph else ""
        return f"{self.path}: {self.code}: {self.message}{ref}"


class ContractError(Exception):
    """Root of every error the contracts raise."""

    def __init__(self, code: str, path: str, message: str) -> None:
        super().__init__(f"{path}: {code}: {message}")
        self.code = code
        self.path = path
        self.message = message


class ReferenceDataError(ContractError):
    """Reference data (a Dangerous Goods List file, a table) that cannot be used."""


class _ViolationsError(ContractError):
    def __init__(self, violations: Sequence[Violation]) -> None:
        if not violations:
            raise AssertionError("an error of violations needs at least one")
        first = violations[0]
        super().__init__(first.code, first.path, first.message)
        self.violations: tuple[Violation, ...] = tuple(violations)

    def __str__(self) -> str:
        return "; ".join(str(v) for v in self.violations)


class DeclarationInvalid(_ViolationsError):
    """A declaration that breaks one or more rules; ``violations`` lists them all."""


class TransactionRejected(_ViolationsError):
    """A transaction the rules refuse; ``violations`` says why."""
