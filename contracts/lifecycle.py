"""The declaration lifecycle: which role may move a declaration from which state.

The table below is the whole of it; the README prints the same table. A
transition that is not in the table is rejected with
``lifecycle.transition_not_allowed`` (wrong state) or ``role.not_allowed``
(right state, wrong role).

==================  ==========================================  ==============  =================
action              from                                        to              who
==================  ==========================================  ==============  =================
submit              (new)                                       submitted       shipper, forwarder
amend               submitted, amended, accepted, cleared,      amended         submitter or its
                    held, released                                              delegated forwarder
cancel              submitted, amended, accepted, cleared,      cancelled       submitter or its
                    held, released                                              delegated forwarder
accept              submitted, amended                          accepted        port_authority
refuse (port)       submitted, amended                          refused_by_port port_authority
clear               accepted, held                              cleared         customs
hold                accepted, cleared                           held            customs (reason)
release             held                                        released        customs
refuse (customs)    accepted, held                              refused_by_customs customs
load                cleared, released                           loaded          port_authority
discharge           loaded                                      discharged      port_authority
==================  ==========================================  ==============  =================

An amendment after a decision sends the declaration back to ``amended``:
the port authority and customs decide again on what is now declared.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Where a declaration stands."""

    SUBMITTED = "submitted"
    AMENDED = "amended"
    ACCEPTED = "accepted"
    REFUSED_BY_PORT = "refused_by_port"
    CLEARED = "cleared"
    HELD = "held"
    RELEASED = "released"
    REFUSED_BY_CUSTOMS = "refused_by_customs"
    LOADED = "loaded"
    DISCHARGED = "discharged"
    CANCELLED = "cancelled"


class Role(StrEnum):
    """What an organisation is in the port community."""

    CUSTOMS = "customs"
    PORT_AUTHORITY = "port_authority"
    FORWARDER = "forwarder"
    SHIPPER = "shipper"
    AUDITOR = "auditor"

    @property
    def phrase(self) -> str:
        """The role as a sentence says it: "the port authority", "customs", "a shipper"."""
        return _PHRASES[self]


_PHRASES: dict[Role, str] = {
    Role.CUSTOMS: "customs",
    Role.PORT_AUTHORITY: "the port authority",
    Role.FORWARDER: "a freight forwarder",
    Role.SHIPPER: "a shipper",
    Role.AUDITOR: "an auditor",
}


class Action(StrEnum):
    """What a transaction does to a declaration."""

    SUBMIT = "submit"
    AMEND = "amend"
    CANCEL = "cancel"
    ACCEPT = "accept"
    REFUSE_PORT = "refuse_port"
    CLEAR = "clear"
    HOLD = "hold"
    RELEASE = "release"
    REFUSE_CUSTOMS = "refuse_customs"
    LOAD = "load"
    DISCHARGE = "discharge"


SUBMITTER = "submitter"
"""Marker in the table: the submitting organisation or a forwarder it delegated to."""


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the lifecycle table."""

    action: Action
    sources: frozenset[Status | None]
    target: Status
    who: frozenset[Role] | str
    needs_reason: bool = False


_S = Status
_OPEN = frozenset({_S.SUBMITTED, _S.AMENDED, _S.ACCEPTED, _S.CLEARED, _S.HELD, _S.RELEASED})

TABLE: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.SUBMIT, frozenset({None}), _S.SUBMITTED, frozenset({Role.SHIPPER, Role.FORWARDER})),
        Transition(Action.AMEND, _OPEN, _S.AMENDED, SUBMITTER),
        Transition(Action.CANCEL, _OPEN, _S.CANCELLED, SUBMITTER),
        Transition(Action.ACCEPT, frozenset({_S.SUBMITTED, _S.AMENDED}), _S.ACCEPTED, frozenset({Role.PORT_AUTHORITY})),
        Transition(Action.REFUSE_PORT, frozenset({_S.SUBMITTED, _S.AMENDED}), _S.REFUSED_BY_PORT, frozenset({Role.PORT_AUTHORITY}), needs_reason=True),
        Transition(Action.CLEAR, frozenset({_S.ACCEPTED, _S.HELD}), _S.CLEARED, frozenset({Role.CUSTOMS})),
        Transition(Action.HOLD, frozenset({_S.ACCEPTED, _S.CLEARED}), _S.HELD, frozenset({Role.CUSTOMS}), needs_reason=True),
        Transition(Action.RELEASE, frozenset({_S.HELD}), _S.RELEASED, frozenset({Role.CUSTOMS})),
        Transition(Action.REFUSE_CUSTOMS, frozenset({_S.ACCEPTED, _S.HELD}), _S.REFUSED_BY_CUSTOMS, frozenset({Role.CUSTOMS}), needs_reason=True),
        Transition(Action.LOAD, frozenset({_S.CLEARED, _S.RELEASED}), _S.LOADED, frozenset({Role.PORT_AUTHORITY})),
        Transition(Action.DISCHARGE, frozenset({_S.LOADED}), _S.DISCHARGED, frozenset({Role.PORT_AUTHORITY})),
    )
}  # fmt: skip

DECISIONS: dict[tuple[str, Role], Action] = {
    ("accepted", Role.PORT_AUTHORITY): Action.ACCEPT,
    ("refused", Role.PORT_AUTHORITY): Action.REFUSE_PORT,
    ("cleared", Role.CUSTOMS): Action.CLEAR,
    ("held", Role.CUSTOMS): Action.HOLD,
    ("released", Role.CUSTOMS): Action.RELEASE,
    ("refused", Role.CUSTOMS): Action.REFUSE_CUSTOMS,
    ("loaded", Role.PORT_AUTHORITY): Action.LOAD,
    ("discharged", Role.PORT_AUTHORITY): Action.DISCHARGE,
}
"""A decision word (as users write it) and the decider's role name the action."""

DECISION_WORDS = frozenset(word for word, _ in DECISIONS)


def allowed_targets(status: Status | None) -> frozenset[Status]:
    """Every status reachable from ``status`` in one step (for tests and docs)."""
    return frozenset(t.target for t in TABLE.values() if status in t.sources)
