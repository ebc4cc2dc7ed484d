"""The ledger core's errors: one root, a small tree, typed fields.

::

    LedgerError
    ├── EncodingError            bytes that are not one canonical value
    │   ├── TooLarge             over a size, length or depth limit
    │   └── NonCanonical         decodes, but not to the one allowed byte string
    ├── SchemaError              a canonical value of the wrong shape (field named)
    ├── KeyFileError             a key file that cannot be read, decrypted or trusted
    ├── SignatureError           a signature that does not verify under the rule
    ├── ProofError               a Merkle or state proof that does not verify
    ├── CertificateError         a commit certificate that does not prove finality
    ├── InvalidEvidence          evidence that does not prove a double signature
    ├── ChainError               a block that does not extend the chain (height, reason)
    │   └── ReplayError          replay found the first bad block or transaction
    └── StoreError               the store on disk
        ├── CorruptStore         missing or inconsistent records
        ├── WrongChain           the store belongs to another chain
        └── IncompatibleStore    the store was written in another layout

Every error carries a stable machine-readable ``code`` so callers (HTTP, CLI,
peers) can answer with it; the message is for people.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger core raises."""

    code = "ledger_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message


class EncodingError(LedgerError):
    """Bytes that do not decode to exactly one canonical value."""

    code = "invalid_encoding"


class TooLarge(EncodingError):
    """Input over a size, length or nesting-depth limit."""

    code = "too_large"


class NonCanonical(EncodingError):
    """Input that decodes but is not the canonical encoding of its value."""

    code = "non_canonical"


class SchemaError(LedgerError):
    """A canonical value whose shape is not what the object requires."""

    code = "invalid_schema"


class KeyFileError(LedgerError):
    """A key file that cannot be read, decrypted or is unsafely stored."""

    code = "invalid_key_file"


class SignatureError(LedgerError):
    """A signature that does not verify under the project's rule."""

    code = "invalid_signature"


class ProofError(LedgerError):
    """An inclusion, consistency or state proof that does not verify."""

    code = "invalid_proof"


class CertificateError(LedgerError):
    """A commit certificate that does not prove a block final."""

    code = "invalid_certificate"


class InvalidEvidence(LedgerError):
    """Evidence whose messages do not conflict or whose signatures do not verify."""

    code = "invalid_evidence"


class ChainError(LedgerError):
    """A block that does not validly extend the chain."""

    code = "invalid_block"

    def __init__(
        self,
        message: str,
        *,
        height: int | None = None,
        tx_index: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.height = height
        self.tx_index = tx_index

    def __str__(self) -> str:
        where = []
        if self.height is not None:
            where.append(f"height {self.height}")
        if self.tx_index is not None:
            where.append(f"tx {self.tx_index}")
        prefix = ", ".join(where)
        base = super().__str__()
        return f"{prefix}: {base}" if prefix else base


class ReplayError(ChainError):
    """The first failure found while replaying a chain from genesis."""

    code = "replay_failed"


class StoreError(LedgerError):
    """A problem with the store on disk."""

    code = "store_error"


class CorruptStore(StoreError):
    """Records missing or inconsistent: the store cannot be trusted."""

    code = "corrupt_store"


class WrongChain(StoreError):
    """The store was created for another chain."""

    code = "wrong_chain"


class IncompatibleStore(StoreError):
    """The store was written in a layout this version does not read."""

    code = "incompatible_store"
