"""The privileged validator: our consensus key and the memory of what it signed.

A validator that signs two different votes for one (height, round, step)
is Byzantine, even if it only forgot after a crash what it had signed. So
every signature goes through :class:`SignState`, which remembers the last
signed (height, round, step) with the exact signed content and refuses to
sign anything at a lower position, or anything different at the same one.
Re-signing the identical content (after a restart, say) is allowed and
gives back the same message, since Ed25519 signatures are deterministic.

What is saved (a :class:`SignedState`) is a little more than the last
message:

* our own messages of the last two rounds of the height (at most six:
  proposal, prevote, precommit per round), because after a restart peers
  may still be waiting for one that was lost, and only the exact signed
  message may be sent again;
* the lock in force, with what justifies it: the locked block and the
  polka (two thirds of prevotes) for it. The lock changes only when a
  precommit is signed, so it is saved with that precommit (about once per
  height), and a validator that restarts in the middle of a height keeps
  it. Without the lock a restarted validator could prevote for a value
  other than the one it precommitted, which Tendermint's safety argument
  rules out for correct validators; without the block and the polka it
  could never propose the locked value again, and validators locked on it
  could wait for each other forever.

The state machine never touches files. It signs through
:class:`PrivValidator` (pure), which updates the in-memory :class:`SignState`
and hands back the new :class:`SignedState`; the machine then emits a
``PersistSigned`` action before the broadcast, and the driver saves it with
:meth:`node.sign_state.SignStateFile.save` (temporary file, fsync, rename
over the old one, directory fsync) before it sends anything.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Final

from ledger.block import MAX_BLOCK_SIZE, Block
from ledger.crypto import SigningKey
from ledger.encoding import encode
from ledger.errors import LedgerError
from ledger.schema import as_map, get_bytes, get_int, get_list, get_str
from ledger.votes import MAX_ROUND, Proposal, Vote, VoteType, vote_value
from node.consensus.errors import DoubleSignRefused, SignStateError
from node.consensus.signed import VOTE_STEP, SignedRecord, Step

FORMAT_VERSION: Final = 1
MAX_FILE_SIZE: Final = MAX_BLOCK_SIZE + 1024 * 1024
MAX_RECENT: Final = 6
MAX_POLKA: Final = 256
_FILE_KEYS: Final = frozenset({"version", "chain", "signed", "lock"})
_LOCK_KEYS: Final = frozenset({"height", "round", "block", "polka"})
_RECORD_KEYS: Final = frozenset({"height", "round", "step", "payload", "sig"})


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock and its justification: the block, and the prevotes of the polka for it."""

    height: int
    round: int
    block_hash: bytes
    block: Block
    polka: tuple[Vote, ...]

    @classmethod
    def of(cls, round_: int, block: Block, polka: list[Vote]) -> Lock:
        """The lock on ``block`` at ``round_`` justified by ``polka``."""
        return cls(block.height, round_, block.hash, block, tuple(polka))

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "height": self.height,
            "round": self.round,
            "block": self.block.encode(),
            "polka": [v.to_value() for v in self.polka],
        }

    @classmethod
    def from_value(cls, value: Any) -> Lock:
        """Validate and build from a decoded map; raise :class:`SignStateError`."""
        try:
            m = as_map(value, "lock", _LOCK_KEYS)
            height = get_int(m, "height", lo=1)
            round_ = get_int(m, "round", hi=MAX_ROUND)
            block = Block.decode(get_bytes(m, "block", max_len=MAX_BLOCK_SIZE))
            polka = tuple(Vote.from_value(v) for v in get_list(m, "polka", max_len=MAX_POLKA))
        except LedgerError as e:
            raise SignStateError(f"corrupt sign state: lock: {e}") from e
        block_hash = block.hash
        if block.height != height or any(
            (v.type, v.height, v.round, v.block_hash)
            != (VoteType.PREVOTE, height, round_, block_hash)
            for v in polka
        ):
            raise SignStateError("corrupt sign state: lock does not match its block or polka")
        return cls(height, round_, block_hash, block, polka)


@dataclass(frozen=True, slots=True)
class SignedState:
    """What must be durable before a signed message leaves the node."""

    recent: tuple[SignedRecord, ...]
    """Our messages of the last two rounds of the last height, oldest first; never empty."""
    lock: Lock | None = None

    @property
    def last(self) -> SignedRecord:
        """The most recently signed message (the highest position)."""
        return self.recent[-1]


class SignState:
    """In-memory guard against double signing; start it from the saved state."""

    def __init__(self, chain: str, saved: SignedState | None = None) -> None:
        self.chain = chain
        self.saved = saved

    def check(self, height: int, round_: int, step: Step, payload: bytes) -> SignedRecord | None:
        """None if signing is allowed; the record if this exact content was signed already.

        Raises :class:`DoubleSignRefused` for anything different at a position
        already signed, or below the last signed position. ``prior`` is the
        message signed at that very position when we still have it.
        """
        saved = self.saved
        if saved is None:
            return None
        position = (height, round_, int(step))
        last = saved.last
        if position > last.position:
            return None
        prior = last
        for signed in saved.recent:
            if signed.position == position:
                if signed.payload == payload:
                    return signed
                prior = signed
        raise DoubleSignRefused(
            f"refusing to sign {step.name.lower()} at height {height} round {round_}: already"
            f" signed {prior.step.name.lower()} at height {prior.height} round {prior.round}",
            prior=prior,
        )

    def record(self, signed: SignedRecord, lock: Lock | None) -> SignedState:
        """Remember ``signed`` (with the lock now in force); the new state to persist."""
        keep: tuple[SignedRecord, ...] = ()
        if self.saved is not None:
            keep = tuple(
                r
                for r in self.saved.recent
                if r.height == signed.height and r.round >= signed.round - 1
            )
        if lock is not None and lock.height != signed.height:
            lock = None
        self.saved = SignedState((*keep, signed)[-MAX_RECENT:], lock)
        return self.saved


class PrivValidator:
    """Signs votes and proposals with ``key``, consulting the sign state first."""

    def __init__(self, key: SigningKey, state: SignState) -> None:
        self.key = key
        self.state = state
        self.key_id = key.public.key_id

    def sign_vote(
        self,
        type_: VoteType,
        height: int,
        round_: int,
        block_hash: bytes | None,
        *,
        lock: Lock | None,
    ) -> tuple[Vote, SignedState | None]:
        """The vote, and the state to persist before sending it (None: already persisted)."""
        step = VOTE_STEP[type_]
        payload = encode(vote_value(type_, height, round_, block_hash, self.key_id))
        prior = self.state.check(height, round_, step, payload)
        if prior is not None:
            message = prior.message()
            assert isinstance(message, Vote)
            return message, None
        vote = Vote.sign(self.key, self.state.chain, type_, height, round_, block_hash)
        signed = SignedRecord(height, round_, step, payload, vote.signature)
        return vote, self.state.record(signed, lock)

    def sign_proposal(
        self,
        height: int,
        round_: int,
        block_hash: bytes,
        pol_round: int,
        *,
        lock: Lock | None,
    ) -> tuple[Proposal, SignedState | None]:
        """The proposal, and the state to persist before sending it (None: already persisted)."""
        unsigned = Proposal(height, round_, block_hash, pol_round, self.key_id, b"")
        payload = encode(unsigned.signed_value())
        prior = self.state.check(height, round_, Step.PROPOSE, payload)
        if prior is not None:
            message = prior.message()
            assert isinstance(message, Proposal)
            return message, None
        proposal = Proposal.sign(self.key, self.state.chain, height, round_, block_hash, pol_round)
        signed = SignedRecord(height, round_, Step.PROPOSE, payload, proposal.signature)
        return proposal, self.state.record(signed, lock)


def state_to_value(chain: str, state: SignedState) -> dict[str, Any]:
    """The file's content as a plain map."""
    return {
        "version": FORMAT_VERSION,
        "chain": chain,
        "signed": [
            {
                "height": r.height,
                "round": r.round,
                "step": int(r.step),
                "payload": r.payload,
                "sig": r.signature,
            }
            for r in state.recent
        ],
        "lock": None if state.lock is None else state.lock.to_value(),
    }


def _record_from_value(value: Any) -> SignedRecord:
    m = as_map(value, "signed", _RECORD_KEYS)
    signed = SignedRecord(
        get_int(m, "height", lo=1),
        get_int(m, "round", hi=MAX_ROUND),
        Step(get_int(m, "step", lo=1, hi=3)),
        get_bytes(m, "payload", max_len=1024),
        get_bytes(m, "sig", size=64),
    )
    message = signed.message()
    if (message.height, message.round) != (signed.height, signed.round) or (
        isinstance(message, Vote) and VOTE_STEP[message.type] is not signed.step
    ):
        raise SignStateError("corrupt sign state: a message does not match its position")
    return signed


def state_from_value(chain: str, value: Any) -> SignedState:
    """Validate a decoded file for ``chain``; raise :class:`SignStateError`."""
    try:
        m = as_map(value, "sign_state", _FILE_KEYS)
        if get_int(m, "version") != FORMAT_VERSION:
            raise SignStateError(f"unknown sign-state format {m['version']}")
        if get_str(m, "chain", max_len=64) != chain:
            raise SignStateError(f"sign state is for chain {m['chain']!r}, not {chain!r}")
        recent = tuple(_record_from_value(v) for v in get_list(m, "signed", max_len=MAX_RECENT))
        lock = None if m["lock"] is None else Lock.from_value(m["lock"])
    except LedgerError as e:
        raise SignStateError(f"corrupt sign state: {e}") from e
    if not recent:
        raise SignStateError("corrupt sign state: no signed message")
    if any(a.position >= b.position for a, b in itertools.pairwise(recent)) or any(
        r.height != recent[-1].height for r in recent
    ):
        raise SignStateError("corrupt sign state: messages out of order")
    if lock is not None and lock.height != recent[-1].height:
        raise SignStateError("corrupt sign state: lock of another height")
    return SignedState(recent, lock)
