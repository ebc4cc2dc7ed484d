"""What goes into the consensus machine (events) and what comes out (actions).

Every event and action is an immutable value; the machine's whole contract
with the outside world is ``ConsensusMachine.handle(event) -> list[Action]``
(see the package docstring for who sends what, and in which order the
driver must carry actions out).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.block import Block
from ledger.evidence import Evidence
from ledger.validators import ValidatorSet
from ledger.votes import Certificate, Proposal, Vote
from node.consensus.params import TimeoutKind
from node.consensus.privval import SignedState
from node.consensus.signed import Step

# ---------------------------------------------------------------- events in


@dataclass(frozen=True, slots=True)
class Start:
    """Begin consensus at ``height`` (the one after the last committed block)."""

    height: int
    validators: ValidatorSet


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A signed proposal from a peer, with its block when it travelled along."""

    proposal: Proposal
    block: Block | None = None


@dataclass(frozen=True, slots=True)
class BlockReceived:
    """A proposed block that arrived apart from its proposal."""

    block: Block


@dataclass(frozen=True, slots=True)
class VoteReceived:
    """A signed prevote or precommit from a peer (or relayed by one)."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timeout the machine scheduled earlier has expired."""

    kind: TimeoutKind
    height: int
    round: int


@dataclass(frozen=True, slots=True)
class BlockValidated:
    """The application's verdict on a block the machine asked it to validate."""

    height: int
    block_hash: bytes
    valid: bool


@dataclass(frozen=True, slots=True)
class ProposalReady:
    """The application built the block the machine asked for, to propose at (height, round)."""

    height: int
    round: int
    block: Block


@dataclass(frozen=True, slots=True)
class NewHeight:
    """The application committed ``height - 1``; ``validators`` vote at ``height``."""

    height: int
    validators: ValidatorSet


Event = (
    Start
    | ProposalReceived
    | BlockReceived
    | VoteReceived
    | TimeoutFired
    | BlockValidated
    | ProposalReady
    | NewHeight
)

# ------------------------------------------------------------- actions out


@dataclass(frozen=True, slots=True)
class BroadcastProposal:
    """Send this signed proposal and its block to every peer."""

    proposal: Proposal
    block: Block


@dataclass(frozen=True, slots=True)
class BroadcastVote:
    """Send this signed vote (ours, or one we relay) to every peer."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Deliver ``TimeoutFired(kind, height, round)`` after ``duration`` ms."""

    kind: TimeoutKind
    height: int
    round: int
    duration: int


@dataclass(frozen=True, slots=True)
class RequestProposal:
    """Build a block for us to propose at (height, round); answer with :class:`ProposalReady`."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class RequestValidation:
    """Check ``block`` against the committed chain; answer with :class:`BlockValidated`."""

    height: int
    block_hash: bytes
    block: Block


@dataclass(frozen=True, slots=True)
class PersistSigned:
    """Make ``state`` durable (fsync) BEFORE carrying out any later action of this batch."""

    height: int
    round: int
    step: Step
    what: Vote | Proposal
    state: SignedState


@dataclass(frozen=True, slots=True)
class Commit:
    """``block`` is decided; write it with ``certificate``, then send :class:`NewHeight`."""

    block: Block
    certificate: Certificate


@dataclass(frozen=True, slots=True)
class RecordEvidence:
    """A validator signed two conflicting messages: keep, gossip and commit this evidence."""

    evidence: Evidence


Action = (
    BroadcastProposal
    | BroadcastVote
    | ScheduleTimeout
    | RequestProposal
    | RequestValidation
    | PersistSigned
    | Commit
    | RecordEvidence
)
