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

:meth:`Block.decode` reads the block as msgspec Structs (``_BlockForm``), so
the header's and the transaction list's field checks run in C as the bytes
are decoded and proven canonical; the previous block's certificate, a small
part, is decoded apart. When the form declines, the same checks run field by
field on the decoded value (:meth:`Block.from_value`) and word the refusal.
Either way each transaction goes through :meth:`Transaction.decode` unless
``known`` holds it, and the certificate through ``Certificate.from_value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from ledger.encoding import (
    DEFAULT_MAX_DEPTH,
    INT_MAX,
    decode,
    encode,
    fast_decode,
    fast_decode_as,
    sha256,
)
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
_NIL: Final = b"\xc0"


# -- typed forms: the same checks as from_value, made in C ----------------------

_Count = Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)]
_Hash = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
_KeyId = Annotated[str, msgspec.Meta(min_length=40, max_length=40)]


class _HeaderForm(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A header as :meth:`Header.from_value` accepts it, fields in canonical order."""

    chain: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    height: Annotated[int, msgspec.Meta(ge=1, le=INT_MAX)]
    log_root: _Hash
    log_size: _Count
    next_validators_hash: _Hash
    prev_hash: _Hash
    proposer: _KeyId
    state_root: _Hash
    time: _Count
    txs_root: _Hash
    validators_hash: _Hash


class _BlockForm(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A block as :meth:`Block.from_value` accepts it, before the transactions and certificate."""

    header: _HeaderForm
    # The certificate is a small part of the bytes: decoded apart (fast_decode),
    # it is checked without a scan of every transaction's bytes.
    last_commit: msgspec.Raw
    txs: Annotated[list[bytes], msgspec.Meta(max_length=MAX_BLOCK_TXS)]


_BLOCK_FORM: Final = msgspec.msgpack.Decoder(_BlockForm)


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
        form = fast_decode_as(_BLOCK_FORM, data, max_size=max_size)
        if form is not None:
            commit = bytes(form.last_commit)
            # The certificate sits one level below the block, so one level less is left to it.
            sure, last_commit = (
                (True, None)
                if commit == _NIL
                else fast_decode(commit, max_size=max_size, max_depth=DEFAULT_MAX_DEPTH - 1)
            )
            if sure:
                header = Header(**msgspec.structs.asdict(form.header))
                return cls._from_parts(header, form.txs, last_commit, known)
        return cls.from_value(decode(data, max_size=max_size), known=known)

    @classmethod
    def from_value(cls, value: Any, *, known: Mapping[bytes, Transaction] | None = None) -> Block:
        """Validate and build from a decoded map (``known``: see :meth:`decode`)."""
        m = as_map(value, "block", frozenset({"header", "txs", "last_commit"}))
        header = Header.from_value(m["header"])
        txs = get_list(m, "txs", max_len=MAX_BLOCK_TXS)
        return cls._from_parts(header, txs, m["last_commit"], known)

    @classmethod
    def _from_parts(
        cls,
        header: Header,
        raw_txs: list[Any],
        last_commit: Any,
        known: Mapping[bytes, Transaction] | None,
    ) -> Block:
        """The block of a checked header, its transactions' bytes and its certificate's value."""
        txs = []
        for i, raw in enumerate(raw_txs):
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
        commit = None if last_commit is None else Certificate.from_value(last_commit)
        return cls(header, tuple(txs), commit)
