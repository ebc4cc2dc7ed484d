"""Tendermint BFT consensus as a sans-I/O state machine: events in, actions out.

The algorithm is Algorithm 1 of Buchman, Kwon and Milosevic, "The latest
gossip on BFT consensus" (2018): heights and rounds, a round-robin proposer
(:meth:`ledger.validators.ValidatorSet.proposer`), propose / prevote /
precommit with locking, timeouts that grow linearly with the round. With n
validators it is safe with up to f = floor((n - 1) / 3) Byzantine ones and
decides once the network is synchronous. Modules:

* ``machine``  -- :class:`ConsensusMachine`, the upon-rules of the paper;
* ``height``   -- admission of messages of one height: checks, tallies, bounds;
* ``events``   -- the event and action types (the whole interface);
* ``params``   -- :class:`TimeoutConfig` and :class:`Limits`;
* ``privval``  -- the validator key behind a double-signing guard;
* ``signed``   -- what a validator signed, as the guard remembers it;
* ``evidence`` -- :class:`Evidence` of double signing, to gossip and commit;
* ``errors``   -- the package's error tree.

Using the machine
=================

One task owns one machine and calls ``actions = machine.handle(event)`` for
each event, then carries the actions out **in order**. The machine reads no
clock, does no I/O, starts no thread and draws no random number: the same
events give the same actions, which is what the simulator in
``tests/node/sim.py`` relies on. Build it with::

    sign_file = node.sign_state.SignStateFile(data_dir / "sign_state", chain)  # the driver's
    machine = ConsensusMachine(
        chain=chain,
        verifier=verifier,
        signer=PrivValidator(consensus_key, sign_file.load()),  # None: observer
        timeouts=TimeoutConfig(...),
    )
    actions = machine.handle(Start(chain.height + 1, validators_for_that_height))

Events in
---------

``Start(height, validators)``
    Once, with the height after the last committed block. After a restart
    the machine resumes from the loaded sign state (round, lock, own votes).
``ProposalReceived(proposal, block)`` / ``BlockReceived(block)`` / ``VoteReceived(vote)``
    Messages from peers, decoded (``Proposal.from_value``, ``Block.decode``,
    ``Vote.decode``); the machine itself checks signatures and membership of
    the height's validator set, so no pre-check is needed. The block may
    travel with its proposal or apart from it.
``TimeoutFired(kind, height, round)``
    When the delay of a ``ScheduleTimeout`` has passed. Timers are never
    cancelled: stale ones are recognised and ignored.
``ProposalReady(height, round, block)``
    The answer to ``RequestProposal``: a block on top of the committed tip
    (transactions from the pool, ``last_commit`` = certificate of the tip).
``BlockValidated(height, block_hash, valid)``
    The answer to ``RequestValidation`` (execute and check the block against
    the committed state). Answers may come late; stale ones are ignored.
``NewHeight(height, validators)``
    The application committed ``height - 1`` (after a ``Commit`` action, or
    a block obtained by block sync) and ``validators`` vote at ``height``.
    After its own decision the machine starts the next height once this and
    the commit timeout have both happened; a jump of several heights (sync)
    is fine.

Actions out
-----------

``PersistSigned(height, round, step, what, state)``
    ``sign_file.save(action.state)`` (fsynced) BEFORE carrying out any
    later action of the batch; if saving fails, send nothing and stop. It
    always comes right before the broadcast of the freshly signed message.
``BroadcastProposal(proposal, block)`` / ``BroadcastVote(vote)``
    Send to every peer. Votes may be other validators' votes being relayed
    (the polka that justifies a re-proposed value). The machine re-sends its
    own latest messages on its rebroadcast timer, so a lost send needs no retry.
``ScheduleTimeout(kind, height, round, duration)``
    After ``duration`` ms, deliver ``TimeoutFired(kind, height, round)``.
``RequestProposal(height, round)`` / ``RequestValidation(height, block_hash, block)``
    Ask the application; answer with ``ProposalReady`` / ``BlockValidated``.
``Commit(block, certificate)``
    ``block`` is decided: write it with its certificate in one atomic batch,
    then deliver ``NewHeight(block.height + 1, next validators)``.
``RecordEvidence(evidence)``
    A validator signed two conflicting messages: keep it, gossip it, and
    include it in a block (verify received evidence with
    :meth:`Evidence.verify` against the validator set of its height).

What the driver does besides
----------------------------

* Block sync: a peer's message for a height above ``ours + 1`` (or its
  status) means it has committed blocks we lack; fetch them with their
  certificates, verify, commit, and send ``NewHeight``. Messages for the
  next height are buffered by the machine; higher ones are dropped.
* Metrics: ``machine.rejected`` counts dropped messages and events by
  reason (``duplicate``, ``bad_signature``, ``unknown_validator``,
  ``wrong_proposer``, ``past_height``, ``future_height``, ``round_too_far``,
  ``buffer_full``, ``conflicting_vote``, ``conflicting_proposal``, ...);
  ``machine.signing_refused`` counts signatures the sign state refused.
* Introspection: ``height``, ``round``, ``step``, ``locked_round``,
  ``valid_round`` and ``decision`` are plain attributes, for status pages.
"""

from ledger.evidence import Evidence, EvidenceKind
from node.consensus.errors import (
    ConsensusError,
    DoubleSignRefused,
    InvalidConsensusConfig,
    InvalidEvidence,
    SignStateError,
)
from node.consensus.events import (
    Action,
    BlockReceived,
    BlockValidated,
    BroadcastProposal,
    BroadcastVote,
    Commit,
    Event,
    NewHeight,
    PersistSigned,
    ProposalReady,
    ProposalReceived,
    RecordEvidence,
    RequestProposal,
    RequestValidation,
    ScheduleTimeout,
    Start,
    TimeoutFired,
    VoteReceived,
)
from node.consensus.machine import ConsensusMachine
from node.consensus.params import Limits, TimeoutConfig, TimeoutKind
from node.consensus.privval import PrivValidator, SignedState, SignState
from node.consensus.signed import Step

__all__ = [
    "Action",
    "BlockReceived",
    "BlockValidated",
    "BroadcastProposal",
    "BroadcastVote",
    "Commit",
    "ConsensusError",
    "ConsensusMachine",
    "DoubleSignRefused",
    "Event",
    "Evidence",
    "EvidenceKind",
    "InvalidConsensusConfig",
    "InvalidEvidence",
    "Limits",
    "NewHeight",
    "PersistSigned",
    "PrivValidator",
    "ProposalReady",
    "ProposalReceived",
    "RecordEvidence",
    "RequestProposal",
    "RequestValidation",
    "ScheduleTimeout",
    "SignStateError",
    "SignState",
    "SignedState",
    "Start",
    "Step",
    "TimeoutConfig",
    "TimeoutFired",
    "TimeoutKind",
    "VoteReceived",
]
