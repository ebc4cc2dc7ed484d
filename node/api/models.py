"""Response models of the read API, for validation of answers and the OpenAPI document.

Pydantic lives here, at the HTTP edge only: the models describe the JSON
forms that :mod:`node.api.prover` builds (:mod:`node.client.json_forms` says how bytes
are written: hex, or base64 for transaction wire bytes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Hex = str
Hash = str


class Strict(BaseModel):
    """Answers carry exactly the documented fields."""

    model_config = ConfigDict(extra="forbid")


class ViolationModel(Strict):
    """One broken rule."""

    code: str
    path: str
    message: str
    paragraph: str | None = None


class ErrorBody(BaseModel):
    """What went wrong: a stable code, the parameter or field, a message for people."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    path: str | None = None
    violations: list[ViolationModel] | None = None
    tx_id: str | None = None


class ErrorResponse(Strict):
    """The one shape of every error answer."""

    error: ErrorBody


class HeaderModel(Strict):
    """A block header; ``hash`` is SHA-256 of its canonical encoding."""

    hash: Hash
    chain: str
    height: int
    time: int
    prev_hash: Hash
    txs_root: Hash
    log_size: int
    log_root: Hash
    state_root: Hash
    validators_hash: Hash
    next_validators_hash: Hash
    proposer: str


class CertificateModel(Strict):
    """Precommit signatures of more than two thirds of the voting power."""

    height: int
    round: int
    block: Hash
    sigs: list[list[str]] = Field(description="[validator key id, signature hex] pairs")


class LeafModel(Strict):
    """The leaf met at the end of a state proof's path."""

    key_hash: Hash
    value_hash: Hash


class StateProofModel(Strict):
    """Sparse Merkle proof (ledger.smt_proof)."""

    siblings: list[Hash]
    leaf: LeafModel | None


class StateEntryModel(Strict):
    """A state key, its canonical value (hex; null when absent) and the proof at a root."""

    key: str
    value: Hex | None
    proof: StateProofModel


class TxEntryModel(Strict):
    """A committed transaction with its RFC 9162 inclusion proof in the log."""

    id: Hash
    wire: str = Field(description="transaction wire bytes, base64")
    height: int
    index: int
    log_index: int
    proof: list[Hash]


class TransactionReceiptModel(Strict):
    """Proof that a transaction is committed, and what the rules made of it."""

    kind: Literal["transaction"]
    version: int
    chain: str
    genesis: Hash
    tx: TxEntryModel
    result: dict[str, Any]
    header: HeaderModel
    certificate: CertificateModel
    state: list[StateEntryModel]


class DeclarationReceiptModel(Strict):
    """Proof of a declaration's current record and whole history at the latest block."""

    kind: Literal["declaration"]
    version: int
    chain: str
    genesis: Hash
    declaration: str
    owner: str
    header: HeaderModel
    certificate: CertificateModel
    state: list[StateEntryModel]
    transactions: list[TxEntryModel]


class DeclarationModel(Strict):
    """A declaration: current record and document, every version with signer and time, receipt."""

    id: str
    owner: str = Field(description="the organisation the declaration belongs to")
    status: str
    record: dict[str, Any]
    declaration: dict[str, Any]
    history: list[dict[str, Any]]
    receipt: DeclarationReceiptModel


class DeclarationSummaryModel(Strict):
    """One declaration in a list, with its current status."""

    id: str
    status: str
    org: str
    version: int
    height: int
    updated_at: int
    vessel: str
    voyage: str
    containers: list[str]


class DeclarationPageModel(Strict):
    """One page of a list query; pass ``next`` back as ``after`` for the following page."""

    items: list[DeclarationSummaryModel]
    next: str | None


class ReaderKeyModel(Strict):
    """An organisation a declaration is sealed to, and the X25519 key to seal to (hex)."""

    organisation: str
    key: Hex


class ReadersModel(Strict):
    """Whom a declaration of ``owner`` is sealed to, at ``height``: sorted by organisation."""

    owner: str
    height: int
    readers: list[ReaderKeyModel]


class BlockTxModel(Strict):
    """A transaction of a block."""

    id: Hash
    type: str
    signer: str
    nonce: int
    wire: str = Field(description="transaction wire bytes, base64")


class BlockModel(Strict):
    """A committed block with the certificate it carries and its own."""

    height: int
    header: HeaderModel
    txs: list[BlockTxModel]
    last_commit: CertificateModel | None
    certificate: CertificateModel | None


class CheckpointModel(Strict):
    """The latest header and its commit certificate (null at height 0)."""

    version: int
    chain: str
    genesis: Hash
    height: int
    header: HeaderModel | None
    certificate: CertificateModel | None


class ConsistencyModel(Strict):
    """RFC 9162 consistency proof between two log sizes, with both roots."""

    old_size: int
    new_size: int
    old_root: Hash
    new_root: Hash
    proof: list[Hash]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "bad parameter, or one the route does not take (code and path say which)",
    },
    401: {"model": ErrorResponse, "description": "missing or invalid request signature"},
    403: {
        "model": ErrorResponse,
        "description": "the key is not a member key (auth.not_a_member, ...); for whole blocks,"
        " its organisation runs no node and is no auditor (auth.not_entitled)",
    },
    404: {
        "model": ErrorResponse,
        "description": "no such object, or one the key's organisation may not read: the same"
        " answer",
    },
    429: {"model": ErrorResponse, "description": "too many requests for this key"},
}
"""Error answers every signed read route documents."""


class SubmitAnswerModel(Strict):
    """What a submission answers: pending (202), or committed or rejected (200, ?wait=commit)."""

    tx_id: Hash
    status: Literal["pending", "committed", "rejected"]
    height: int | None = None
    index: int | None = None
    log_index: int | None = None
    result: dict[str, Any] | None = None


SUBMIT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SubmitAnswerModel,
        "description": "committed (with ?wait=commit, or when submitted again after its commit)",
    },
    202: {"model": SubmitAnswerModel, "description": "admitted, pending"},
    400: ERRORS[400],
    413: {"model": ErrorResponse, "description": "body too large"},
    422: {"model": ErrorResponse, "description": "the rules refuse it (every violation listed)"},
    429: ERRORS[429],
    503: {"model": ErrorResponse, "description": "the mempool is full: retry later"},
    504: {"model": ErrorResponse, "description": "not committed in time: query it later"},
}
"""Answers of ``POST /v1/transactions``."""

SUBMIT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["tx"],
                    "properties": {"tx": {"type": "string", "description": "wire bytes, base64"}},
                    "additionalProperties": False,
                }
            },
        },
    }
}


class BatchErrorModel(Strict):
    """Why one transaction of a batch was refused."""

    code: str
    message: str
    path: str | None = None
    violations: list[ViolationModel] | None = None
    retry_after: int | None = None


class BatchResultModel(Strict):
    """What became of one transaction of a batch (``item``: its place in the request)."""

    item: int
    tx_id: Hash | None
    status: Literal["pending", "committed", "rejected", "refused"]
    height: int | None = None
    index: int | None = None
    log_index: int | None = None
    result: dict[str, Any] | None = None
    error: BatchErrorModel | None = None


class BatchAnswerModel(Strict):
    """One result per transaction of the batch, in order."""

    results: list[BatchResultModel]


BATCH_DOC: dict[int | str, dict[str, Any]] = {
    200: {"model": BatchAnswerModel, "description": "each transaction's fate, in order"},
    400: ERRORS[400],
    413: {"model": ErrorResponse, "description": "body too large"},
}

BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/msgpack": {
                "schema": {
                    "type": "string",
                    "format": "binary",
                    "description": "a MessagePack array of transactions' wire bytes",
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["txs"],
                    "properties": {
                        "txs": {
                            "type": "array",
                            "items": {"type": "string", "description": "wire bytes, base64"},
                            "minItems": 1,
                            "maxItems": 1000,
                        }
                    },
                    "additionalProperties": False,
                }
            },
        },
    }
}
"""The request body of ``POST /v1/transactions``, which the route reads itself."""
