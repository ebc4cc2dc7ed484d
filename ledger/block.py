"""Block headers and blocks.

A header binds a height to everything the chain holds at that height::

    {chain, height, time, prev_hash, txs_root, log_size, log_root,
     state_root, validators_hash, next_validators_hash, proposer}

``time`` is the block time in milliseconds since the Unix epoch, chosen by
the proposer and checked by the validators; the contracts use it and never
a clock. ``txs_root`` is the RFC 9162 root over this block's transactions
(wire bytes); ``log_size``/``log_root`` are the size and root of the log of
every transaction of the chain after this block; ``state_root`` is the root
of the authenticated state after applying this block. The block hash is
SHA-256 of the canonical header.

A block is its header, its ordered transactions and the commit certificate
of the previous block (none at height 1, which follows genesis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ledger.encoding import decode, encode, sha256
from ledger.errors import ChainError, LedgerError, SchemaError
from ledger.merkle import leaf_hash, root_of
from ledger.schema import as_map, get_hash, get_int, get_list, get_str
from ledger.tx import MAX_TX_SIZE, Transaction
from ledger.votes import Certificate

MAX_BLOCK_TXS: Final = 10_000
MAX_BLOCK_SIZE: Final = 32 * 1024 * 1024
_HEADER_KEYS: Final = frozenset(
    {
        "chain",
        "height",
        "time",
        "prev_hash",
        "txs_root",
        "log_size",
        "log_root",
        "state_root",
        "validators_hash",
        "next_validators_hash",
        "proposer",
    }
)


@dataclass(frozen=True, slots=True)
class Header:
    """A block header; its hash identifies the block."""

    chain: str
    height: int
    time: int
    prev_hash: bytes
    txs_root: bytes
    log_size: int
    log_root: bytes
    state_root: bytes
    validators_hash: bytes
    next_validators_hash: bytes
    proposer: str

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding."""
        return {
            "chain": self.chain,
            "height": self.height,
            "time": self.time,
            "prev_hash": self.prev_hash,
            "txs_root": self.txs_root,
            "log_size": self.log_size,
            "log_root": self.log_root,
            "state_root": self.state_root,
            "validators_hash": self.validators_hash,
            "next_validators_hash": self.next_validators_hash,
            "proposer": self.proposer,
        }

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_value())

    @property
    def hash(self) -> bytes:
        """The block hash: SHA-256 of the canonical header."""
        return sha256(self.encode())

    @classmethod
    def from_value(cls, value: Any) -> Header:
        """Validate and build from a decoded map."""
        m = as_map(value, "header", _HEADER_KEYS)
        return cls(
            chain=get_str(m, "chain", max_len=64),
            height=get_int(m, "height", lo=1),
            time=get_int(m, "time"),
            prev_hash=get_hash(m, "prev_hash"),
            txs_root=get_hash(m, "txs_root"),
            log_size=get_int(m, "log_size"),
            log_root=get_hash(m, "log_root"),
            state_root=get_hash(m, "state_root"),
            validators_hash=get_hash(m, "validators_hash"),
            next_validators_hash=get_hash(m, "next_validators_hash"),
            proposer=get_str(m, "proposer", min_len=40, max_len=40),
        )


def txs_root(txs: Sequence[Transaction]) -> bytes:
    """RFC 9162 root over the wire bytes of ``txs``."""
    return root_of([leaf_hash(tx.wire) for tx in txs])


@dataclass(frozen=True, slots=True)
class Block:
    """Header, ordered transactions, and the certificate of the previous block."""

    header: Header
    txs: tuple[Transaction, ...]
    last_commit: Certificate | None

    def __post_init__(self) -> None:
        if (self.header.height == 1) != (self.last_commit is None):
            raise SchemaError(
                "a block carries the previous block's certificate, except at height 1",
                field="last_commit",
            )
        if self.last_commit is not None and self.last_commit.height != self.header.height - 1:
            raise SchemaError("certificate is not for the previous height", field="last_commit")
        if len(self.txs) > MAX_BLOCK_TXS:
            raise SchemaError(f"at most {MAX_BLOCK_TXS} transactions", field="txs")

    @property
    def height(self) -> int:
        """Height of the block."""
        return self.header.height

    @property
    def hash(self) -> bytes:
        """Hash of the header."""
        return self.header.hash

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding; transactions as their wire bytes."""
        return {
            "header": self.header.to_value(),
            "txs": [tx.wire for tx in self.txs],
            "last_commit": None if self.last_commit is None else self.last_commit.to_value(),
        }

    def encode(self) -> bytes:
        """Canonical bytes."""
        return encode(self.to_value())

    @classmethod
    def decode(
        cls,
        data: bytes,
        *,
        max_size: int = MAX_BLOCK_SIZE,
        known: Mapping[bytes, Transaction] | None = None,
    ) -> Block:
        """Decode and validate the shape (signatures and links are checked by replay).

        ``known`` maps wire bytes to transactions already decoded from exactly
        those bytes (a node's mempool), which are taken instead of decoding again.
        """
        return cls.from_value(decode(data, max_size=max_size), known=known)

    @classmethod
    def from_value(cls, value: Any, *, known: Mapping[bytes, Transaction] | None = None) -> Block:
        """Validate and build from a decoded map (``known``: see :meth:`decode`)."""
        m = as_map(value, "block", frozenset({"header", "txs", "last_commit"}))
        header = Header.from_value(m["header"])
        txs = []
        for i, raw in enumerate(get_list(m, "txs", max_len=MAX_BLOCK_TXS)):
            if type(raw) is not bytes or len(raw) > MAX_TX_SIZE:
                raise ChainError("must be transaction bytes", height=header.height, tx_index=i)
            tx = known.get(raw) if known is not None else None
            if tx is not None:
                txs.append(tx)
                continue
            try:
                txs.append(Transaction.decode(raw))
            except LedgerError as e:
                raise ChainError(
                    f"malformed transaction: {e}", height=header.height, tx_index=i
                ) from e
        commit = None if m["last_commit"] is None else Certificate.from_value(m["last_commit"])
        return cls(header, tuple(txs), commit)
