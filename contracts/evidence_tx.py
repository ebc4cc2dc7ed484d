"""Evidence of misbehaviour, committed on chain against the offending organisation.

Body::

    evidence.submit   {"evidence": <two conflicting signed votes or proposals>}

Any member of a validator organisation may submit it (nodes do so with
their node key, which is one of their organisation's member keys). The
evidence must verify against the validator set in force: both messages
signed by the same validator key, in conflict. It is recorded once under
``evidence/<hash>``, and ``misbehaviour/<org>`` counts the organisation's
offences.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from contracts.errors import TransactionRejected, Violation
from contracts.lifecycle import Role
from ledger.crypto import Verifier
from ledger.errors import LedgerError
from ledger.evidence import Evidence
from ledger.validators import ValidatorSet

if TYPE_CHECKING:
    from contracts.handler import Context, Handler, Signer
    from contracts.state import StateView
    from ledger.tx import Transaction

MAX_AGE: Final = 100_000
"""Evidence older than this many blocks is no longer accepted."""


def _reject(code: str, path: str, message: str) -> TransactionRejected:
    return TransactionRejected([Violation(code, path, message)])


class EvidenceRules:
    """Handler for ``evidence.submit``."""

    def __init__(self, chain: str) -> None:
        self.chain = chain
        # Serial verification: one signature pair per transaction, no pool needed.
        self.verifier = Verifier(workers=1)

    def handlers(self) -> dict[str, Handler]:
        """Transaction type -> handler."""
        return {"evidence.submit": self.submit}

    def submit(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Verify and record evidence of double signing."""
        body = tx.body
        if set(body) != {"evidence"}:
            raise _reject("body.invalid", "$.body", "body is {evidence}")
        if signer.role not in (Role.CUSTOMS, Role.PORT_AUTHORITY, Role.FORWARDER):
            raise _reject(
                "role.not_allowed", "$.env.signer", "only validator organisations report evidence"
            )
        try:
            evidence = Evidence.from_value(body["evidence"])
        except LedgerError as e:
            raise _reject("evidence.malformed", "$.body.evidence", str(e)) from e
        if not ctx.height - MAX_AGE <= evidence.height <= ctx.height:
            raise _reject(
                "evidence.out_of_range",
                "$.body.evidence",
                "evidence height is too old or in the future",
            )
        validators = ValidatorSet.from_value(view.get("validators"))
        offender = validators.get(evidence.offender)
        if offender is None:
            raise _reject(
                "evidence.unknown_validator",
                "$.body.evidence",
                "offender is not a validator in force",
            )
        try:
            evidence.verify(self.chain, validators, self.verifier)
        except LedgerError as e:
            raise _reject("evidence.invalid", "$.body.evidence", str(e)) from e
        key = f"evidence/{evidence.hash.hex()}"
        if view.get(key) is not None:
            raise _reject(
                "evidence.duplicate", "$.body.evidence", "this evidence is already on chain"
            )
        view.put(
            key,
            {
                "kind": evidence.kind.value,
                "offender": evidence.offender,
                "org": offender.org,
                "height": evidence.height,
                "round": evidence.round,
                "reported_by": signer.org,
                "reported_at": ctx.height,
                "evidence": body["evidence"],
            },
        )
        count = view.get(f"misbehaviour/{offender.org}", 0)
        view.put(f"misbehaviour/{offender.org}", count + 1)
        return {"evidence": evidence.hash.hex(), "org": offender.org}
