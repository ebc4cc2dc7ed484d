"""The block store: committed blocks, their certificates and indexes.

Layout (fixed-width big-endian integers after one-byte prefixes, so byte
order is height order)::

    M chain            chain id (UTF-8)
    M genesis          genesis hash
    M format           the store's layout (8 bytes, :data:`FORMAT`)
    M height           latest committed height (8 bytes)
    B <height:8>       block bytes up to its transactions (see below)
    X <height:8> <index:4>  wire bytes of transaction ``index`` of that block
    H <height:8>       that block's header bytes (a header without its block)
    C <height:8>       commit certificate of that block
    I <block hash>     height (8 bytes)
    T <tx id>          height (8) + index in block (4) + index in the log (8)
    Y <height:8>       where block ``height`` changes the validator set: the
                       set and its state proof at that block's state root,
                       kept for header chains once the state is pruned

The Merkle log (``L``), the state tree (``N``, ``P``, ``V``, ``K``) and the
declaration indexes derived from the state (``Q``, :mod:`contracts.indexes`)
live in the same store. Everything one block changes is staged in an :class:`Overlay`
and written by :meth:`ChainStore.commit` as one atomic, fsynced batch: after
a crash the store holds the last committed block or the one before, never a
mix. A certificate stored with the tip is replaced by the canonical one the
next block carries, so every node ends with the same bytes.

A block's canonical encoding is a map whose last entry is ``txs``, the
array of its transactions' wire bytes. ``B`` keeps the encoding up to and
including that array's header; each transaction is its own ``X`` record, so
a receipt reads the one transaction it needs, not a block of megabytes, and
the block's bytes are ``B`` followed by each ``X`` as a MessagePack binary.

``M format`` names the layout of the whole store, the state's records
included. A store of another layout is refused when opened
(:class:`~ledger.errors.IncompatibleStore`), never misread. The state layout
is part of the rules (it decides the state roots in the headers), so a chain
made under another layout is read by the version that made it; a node whose
store alone is behind starts on a new data directory and catches up from
peers. Layout 2 added ``H``, ``X`` and the declaration records that name
their document's version; layout 3 keeps the state tree's deep nodes under
``P`` by position (:mod:`ledger.smt`), with the same blocks and state roots;
layout 4 authenticates fewer keys (no nonce per key, no index entries in
the tree, a declaration's versions described by their transactions'
results), so its state roots differ from layout 3's for the same blocks;
layout 5 keys each declaration by its owner as well as its id
(``decl/<owner>/<id>``, ``doc/<owner>/<id>/<version>``) and records
organisations' identities and encryption keys; layout 6 writes into each
state record the height of the block that wrote it, names each value
record by its leaf, keeps a declaration's document as pieces of its
transaction's ``X`` record, and can log what each block takes out of the
tree, so that old states can be pruned (:mod:`ledger.smt`), with the same
blocks and state roots as layout 5; layout 7 keeps the state tree in pages
of four levels instead of a record a node (:mod:`ledger.smt`), with the
same blocks and state roots as layout 6. A reader of blocks alone
(an audit, an export: ``blocks_only``) also opens
the layouts in :data:`BLOCK_LAYOUTS`, whose block records are the same.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.block import Block, Header
from ledger.encoding import decode
from ledger.errors import CorruptStore, IncompatibleStore, LedgerError, WrongChain
from ledger.genesis import Genesis
from ledger.kv import KVStore, Overlay
from ledger.tx import Transaction
from ledger.votes import Certificate

_CHAIN = b"Mchain"
_GENESIS = b"Mgenesis"
_HEIGHT = b"Mheight"
_FORMAT = b"Mformat"
FORMAT = 7
BLOCK_LAYOUTS = frozenset({2, 3, 4, 5, 6, 7})
"""Layouts whose blocks, headers, certificates and indexes this version reads."""
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_TXLOC = struct.Struct(">QIQ")


def _h(prefix: bytes, height: int) -> bytes:
    return prefix + _U64.pack(height)


def _bin_header(size: int) -> bytes:
    """The MessagePack header of a binary of ``size`` bytes (shortest form, as canonical)."""
    if size < 0x100:
        return b"\xc4" + size.to_bytes(1, "big")
    if size < 0x10000:
        return b"\xc5" + size.to_bytes(2, "big")
    return b"\xc6" + size.to_bytes(4, "big")


def tx_record_key(height: int, index: int) -> bytes:
    """The store key of the wire of transaction ``index`` of block ``height``."""
    return b"X" + _U64.pack(height) + _U32.pack(index)


def stage_transactions(overlay: Overlay, height: int, txs: Sequence[Transaction]) -> None:
    """Stage the wire records of block ``height``'s transactions.

    A node stages them before it executes the block, in the block's
    overlay, since the state keeps declaration documents as spans of them.
    """
    for i, tx in enumerate(txs):
        overlay.put(tx_record_key(height, i), tx.wire)


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a committed transaction is: block height, index in it, index in the log."""

    height: int
    index: int
    log_index: int


class ChainStore:
    """Committed blocks of one chain over a :class:`KVStore`."""

    def __init__(self, kv: KVStore, genesis: Genesis, *, blocks_only: bool = False) -> None:
        """The store of ``genesis``'s chain in ``kv``, created if ``kv`` is empty.

        ``blocks_only``: the caller reads blocks and certificates, never the
        state, so any layout of :data:`BLOCK_LAYOUTS` will do.
        """
        self.kv = kv
        self.genesis = genesis
        chain = kv.get(_CHAIN)
        if chain is None:
            if any(True for _ in kv.scan(b"", b"\xff" * 9)):
                raise CorruptStore("store has records but no chain id")
            kv.write(
                {
                    _CHAIN: genesis.chain.encode(),
                    _GENESIS: genesis.hash,
                    _FORMAT: _U64.pack(FORMAT),
                    _HEIGHT: _U64.pack(0),
                }
            )
        elif chain != genesis.chain.encode():
            raise WrongChain(f"store belongs to chain {chain.decode(errors='replace')!r}")
        elif kv.get(_GENESIS) != genesis.hash:
            raise WrongChain("store was created from another genesis for this chain id")
        raw = kv.get(_FORMAT)
        found = 1 if raw is None else int.from_bytes(raw, "big")
        if found != FORMAT and not (blocks_only and found in BLOCK_LAYOUTS):
            raise IncompatibleStore(
                f"the store is in layout {found}, this version reads layout {FORMAT} only:"
                " use the dgledger version that wrote it, or start the node on a new data"
                " directory to catch up from peers that run this version"
            )
        self._height = self._read_height()
        self._check_tip()

    def reader(self, kv: KVStore) -> ChainStore:
        """This store read through ``kv``, a snapshot of its store taken at its height now.

        Nothing is read or checked: the snapshot holds what this store has
        committed. Only for reading; ``commit`` on it fails in the snapshot.
        """
        other = ChainStore.__new__(ChainStore)
        other.kv = kv
        other.genesis = self.genesis
        other._height = self._height
        return other

    def _read_height(self) -> int:
        raw = self.kv.get(_HEIGHT)
        if raw is None or len(raw) != 8:
            raise CorruptStore("latest height record missing or malformed")
        return int(_U64.unpack(raw)[0])

    def _check_tip(self) -> None:
        if self._height == 0:
            return
        block = self.block(self._height)
        if self.header(self._height).hash != block.hash:
            raise CorruptStore(f"header record of the latest block {self._height} disagrees")
        if self.certificate(self._height) is None:
            raise CorruptStore(f"no certificate for the latest block {self._height}")
        if self.kv.get(_h(b"B", self._height + 1)) is not None:
            raise CorruptStore(f"a block above the latest height {self._height} exists")
        if self.kv.get(b"I" + block.hash) != _U64.pack(self._height):
            raise CorruptStore(f"block hash index disagrees at height {self._height}")

    @property
    def height(self) -> int:
        """Latest committed height (0 before block 1)."""
        return self._height

    def _stored(self, key: bytes, height: int, what: str) -> bytes:
        """Record ``key`` of block ``height``: absent at or below the tip, the store is corrupt."""
        raw = self.kv.get(key)
        if raw is None:
            if 1 <= height <= self._height:
                raise CorruptStore(f"{what} missing")
            raise KeyError(height)
        return raw

    def block_bytes(self, height: int) -> bytes:
        """Canonical bytes of the block at ``height``."""
        parts = [self._stored(_h(b"B", height), height, f"block {height}")]
        for _, wire in self.kv.scan(tx_record_key(height, 0), _h(b"X", height + 1)):
            parts += (_bin_header(len(wire)), wire)
        return b"".join(parts)

    def block(self, height: int) -> Block:
        """The block at ``height`` (``KeyError`` above the tip)."""
        raw = self.block_bytes(height)
        try:
            block = Block.decode(raw)
        except LedgerError as e:
            raise CorruptStore(f"block {height} unreadable: {e}") from e
        if block.height != height:
            raise CorruptStore(f"record for height {height} holds block {block.height}")
        return block

    def header(self, height: int) -> Header:
        """The header of the block at ``height``, without reading the block."""
        raw = self._stored(_h(b"H", height), height, f"header {height}")
        try:
            header = Header.from_value(decode(raw))
        except LedgerError as e:
            raise CorruptStore(f"header {height} unreadable: {e}") from e
        if header.height != height:
            raise CorruptStore(f"record for height {height} holds header {header.height}")
        return header

    def transaction(self, height: int, index: int) -> Transaction:
        """Transaction ``index`` of block ``height``, read and decoded alone."""
        wire = self._stored(
            tx_record_key(height, index), height, f"transaction {index} of block {height}"
        )
        try:
            return Transaction.decode(wire)
        except LedgerError as e:
            raise CorruptStore(f"transaction {index} of block {height} unreadable: {e}") from e

    def certificate_bytes(self, height: int) -> bytes | None:
        """Stored bytes of the certificate of the block at ``height``."""
        return self.kv.get(_h(b"C", height))

    def certificate(self, height: int) -> Certificate | None:
        """The commit certificate of the block at ``height``, if stored."""
        raw = self.certificate_bytes(height)
        if raw is None:
            return None
        try:
            return Certificate.decode(raw)
        except LedgerError as e:
            raise CorruptStore(f"certificate {height} unreadable: {e}") from e

    def height_of(self, block_hash: bytes) -> int | None:
        """Height of the committed block with this hash."""
        raw = self.kv.get(b"I" + block_hash)
        return None if raw is None else int(_U64.unpack(raw)[0])

    def tx_location(self, tx_id: bytes) -> TxLocation | None:
        """Where the committed transaction ``tx_id`` is, if it is."""
        raw = self.kv.get(b"T" + tx_id)
        if raw is None:
            return None
        return TxLocation(*_TXLOC.unpack(raw))

    def stage(self, overlay: Overlay, block: Block, certificate: Certificate) -> None:
        """Stage a block with its certificate and indexes in ``overlay``."""
        height = block.height
        if height != self._height + 1:
            raise CorruptStore(f"block {height} does not follow the tip {self._height}")
        if certificate.height != height or certificate.block_hash != block.hash:
            raise CorruptStore("certificate is not for this block")
        raw = block.encode()
        tail = b"".join(_bin_header(len(tx.wire)) + tx.wire for tx in block.txs)
        # What block_bytes puts together again must be these very bytes.
        if not raw.endswith(tail):
            raise CorruptStore(f"block {height} does not end with its transactions")
        overlay.put(_h(b"B", height), raw[: len(raw) - len(tail)])
        stage_transactions(overlay, height, block.txs)
        overlay.put(_h(b"H", height), block.header.encode())
        overlay.put(_h(b"C", height), certificate.encode())
        if block.last_commit is not None:
            overlay.put(_h(b"C", height - 1), block.last_commit.encode())
        overlay.put(b"I" + block.hash, _U64.pack(height))
        first_log_index = block.header.log_size - len(block.txs)
        for i, tx in enumerate(block.txs):
            overlay.put(b"T" + tx.id, _TXLOC.pack(height, i, first_log_index + i))
        overlay.put(_HEIGHT, _U64.pack(height))

    def stage_validators(self, overlay: Overlay, height: int, record: bytes) -> None:
        """Stage the validator set block ``height`` changes to, with its state proof."""
        overlay.put(_h(b"Y", height), record)

    def validators_record(self, height: int) -> bytes | None:
        """What :meth:`stage_validators` kept for block ``height``, if anything."""
        return self.kv.get(_h(b"Y", height))

    def commit(self, overlay: Overlay) -> None:
        """Write everything staged in ``overlay`` in one fsynced batch."""
        raw = overlay.pending.get(_HEIGHT)
        if raw is None:
            raise CorruptStore("nothing staged")
        overlay.flush(sync=True)
        self._height = int(_U64.unpack(raw)[0])
