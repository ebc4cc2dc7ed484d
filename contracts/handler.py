"""What a transaction handler is given and returns: the contract every rule module meets.

A handler applies one transaction of its type to the state view, for the
authenticated :class:`Signer`, at the block's :class:`Context`, and returns
the transaction's result record, or raises
:class:`~contracts.errors.TransactionRejected`. A :data:`Precheck` is the
part of a handler a node's admission runs: it judges without writing.
:class:`~contracts.engine.Engine` dispatches to the handlers that the rule
modules (declarations, governance, evidence) register; the rule modules
import this module, never the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.errors import TransactionRejected, Violation
from contracts.lifecycle import Role
from contracts.state import StateView
from ledger.tx import Transaction


@dataclass(frozen=True, slots=True)
class Context:
    """Where a transaction is being applied: block height and time."""

    height: int
    time: int


@dataclass(frozen=True, slots=True)
class Signer:
    """The authenticated submitter of a transaction."""

    key_id: str
    org: str
    role: Role


def reject(code: str, path: str, message: str, paragraph: str | None = None) -> TransactionRejected:
    """A rejection with one violation."""
    return TransactionRejected([Violation(code, path, message, paragraph)])


Handler = Callable[[StateView, Transaction, Signer, Context], dict[str, Any]]

Precheck = Callable[[StateView, Transaction, Signer, Context], object]
"""Admission's part of a handler: what can be judged without applying the transaction.

The body's shape, whether the signer's role may send it at all, a
submitted document against the Dangerous Goods List (memoised, so the block
does not validate it again), and what the time alone already decides. It
writes nothing; what depends on the declaration's state (its lifecycle, its
owner) is judged when the block applies the transaction.

The context's ``time`` at admission is the latest block's time plus one
millisecond: block times strictly increase, so no block that could record
the transaction has an earlier time, and what is too late at that time is
too late in every such block.
"""
