"""The chain as one file: what ``dgledger export`` writes and ``dgledger audit --file`` reads.

Format::

    b"DGLCHAIN\\x01"                          magic and version (9 bytes)
    record*                                  each: length (4 bytes, big-endian) + bytes
      record 0:  canonical genesis bytes
      record i:  canonical [block bytes, certificate bytes] of block i (i >= 1)

Blocks carry the certificate of their predecessor; the certificate in each
record is the one the exporting node holds for that block, so the last
record proves the tip final. The reader streams: memory does not grow with
the file, and every length is checked against a limit before it is read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import BinaryIO, Final

from ledger.block import MAX_BLOCK_SIZE, Block
from ledger.encoding import decode, encode
from ledger.errors import ChainError, LedgerError
from ledger.genesis import MAX_GENESIS_SIZE, Genesis
from ledger.votes import Certificate
from node.errors import ChainFileError

MAGIC: Final = b"DGLCHAIN\x01"
_LEN = struct.Struct(">I")
MAX_RECORD: Final = MAX_BLOCK_SIZE + (1 << 20)


class ChainFileWriter:
    """Writes genesis, then one record per block."""

    def __init__(self, out: BinaryIO, genesis: Genesis) -> None:
        self.out = out
        out.write(MAGIC)
        self._record(genesis.encode())

    def _record(self, data: bytes) -> None:
        self.out.write(_LEN.pack(len(data)))
        self.out.write(data)

    def add(self, block_bytes: bytes, certificate_bytes: bytes) -> None:
        """Append one block with its certificate."""
        self._record(encode([block_bytes, certificate_bytes]))


def _read_record(stream: BinaryIO, index: int, limit: int) -> bytes | None:
    head = stream.read(4)
    if not head:
        return None
    if len(head) != 4:
        raise ChainFileError("truncated length", index)
    (size,) = _LEN.unpack(head)
    if size > limit:
        raise ChainFileError(f"record of {size} bytes is over the limit of {limit}", index)
    data = stream.read(size)
    if len(data) != size:
        raise ChainFileError("truncated record", index)
    return data


def read_chain_file(stream: BinaryIO) -> tuple[Genesis, Iterator[tuple[Block, Certificate]]]:
    """The genesis of the file and an iterator over its blocks with certificates."""
    if stream.read(len(MAGIC)) != MAGIC:
        raise ChainFileError("not a dgledger chain file (bad magic)")
    raw = _read_record(stream, 0, MAX_GENESIS_SIZE)
    if raw is None:
        raise ChainFileError("no genesis record", 0)
    try:
        genesis = Genesis.decode(raw)
    except LedgerError as e:
        raise ChainFileError(f"genesis: {e}", 0) from e

    def blocks() -> Iterator[tuple[Block, Certificate]]:
        index = 1
        while True:
            data = _read_record(stream, index, MAX_RECORD)
            if data is None:
                return
            try:
                pair = decode(data, max_size=MAX_RECORD, max_depth=2)
                if type(pair) is not list or len(pair) != 2:
                    raise ChainFileError("expected [block, certificate]", index)
                block = Block.decode(pair[0])
            except ChainError as e:
                raise ChainFileError(
                    e.message or type(e).__name__, index, height=e.height, tx_index=e.tx_index
                ) from e
            except LedgerError as e:
                raise ChainFileError(f"block: {str(e) or type(e).__name__}", index) from e
            try:
                certificate = Certificate.decode(pair[1])
            except LedgerError as e:
                raise ChainFileError(
                    f"certificate: {str(e) or type(e).__name__}", index, height=block.height
                ) from e
            yield block, certificate
            index += 1

    return genesis, blocks()
