"""Receipts and proofs from a node's committed chain, as JSON forms.

What :mod:`node.api.reads` answers and what :mod:`node.client.receipt` checks:

* a transaction receipt: the transaction's wire bytes, its place (height,
  index in the block, index in the log), its inclusion proof in the log at
  the receipt block's ``log_size``, its result ``tx/<id>`` with a state proof
  at that block's ``state_root``, the block header and its commit
  certificate. The receipt block is the transaction's own, or the latest
  where the node has pruned the state of the transaction's block;
* a declaration document: its owner and id, the current record, the
  current declaration document (that of the record's ``document`` version)
  and every version of its history, with state proofs at the latest block's
  ``state_root`` of ``decl/<owner>/<id>`` and, per version (the record's
  ``txs``, in order), of its transaction's result ``tx/<id>``, which
  describes the version, followed, for a submission or an amendment, by its
  document ``doc/<owner>/<id>/<version>``;
  and each version's transaction with its inclusion proof at the latest
  ``log_size``: one header and one certificate prove it all;
* header-chain items: a header, its certificate and, where the header's
  ``next_validators_hash`` differs from its ``validators_hash``, the new set
  with a state proof of key ``validators`` at that header's ``state_root``,
  so a client holding genesis alone follows the validator set to any height.

Everything here reads one :class:`~node.chain.ChainSnapshot` of the
committed chain, so an answer is consistent while blocks commit, and may
be built on any thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from contracts.declarations_tx import DOCUMENT_ACTIONS, document_key, record_key, version_entry
from ledger.block import Header
from ledger.encoding import decode
from ledger.errors import LedgerError
from ledger.kv import Overlay
from ledger.merkle_log import MerkleLog
from ledger.smt import StateTree
from ledger.smt_proof import StateProof
from ledger.votes import Certificate
from node.api.errors import ProofRequestError
from node.chain import ChainSnapshot
from node.client.json_forms import b64, certificate_json, header_json, hexed, state_proof_json

RECEIPT_VERSION: Final = 2
"""Version 2: declarations are named by owner and id."""
MAX_VALUE_SIZE: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class StateRead:
    """A state value at a root (``None``: absent) with its proof, as JSON."""

    value: bytes | None
    entry: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HeaderLink:
    """A header, its certificate and, where the set changes after it, the new validator set."""

    header: Header
    certificate: Certificate
    validators: tuple[bytes, StateProof] | None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (a line of ``GET /v1/blocks?headers=1``)."""
        validators = None
        if self.validators is not None:
            value, proof = self.validators
            validators = {"value": value.hex(), "proof": state_proof_json(proof)}
        return {
            "header": header_json(self.header),
            "certificate": certificate_json(self.certificate),
            "validators": validators,
        }

    def to_value(self) -> dict[str, Any]:
        """The canonical MessagePack form (a record of the MessagePack stream)."""
        validators = None
        if self.validators is not None:
            value, proof = self.validators
            validators = {"value": value, "proof": proof.to_value()}
        return {
            "header": self.header.to_value(),
            "certificate": self.certificate.to_value(),
            "validators": validators,
        }


def unknown_declaration(decl_id: str) -> ProofRequestError:
    """What a declaration the chain does not hold (or the reader may not read) answers."""
    return ProofRequestError("not_found", "declaration.unknown", f"no declaration {decl_id}")


def unknown_transaction(tx_id: bytes) -> ProofRequestError:
    """What a transaction not committed (or that the reader may not read) answers."""
    return ProofRequestError("not_found", "tx.unknown", f"no committed transaction {tx_id.hex()}")


class Prover:
    """Builds receipts and proofs from one node's committed chain."""

    def __init__(self, chain: ChainSnapshot) -> None:
        self.chain = chain

    # ------------------------------------------------------------ basics

    @property
    def height(self) -> int:
        """Latest committed height."""
        return self.chain.height

    def header(self, height: int) -> Header:
        """The header of committed block ``height``, from its own record (not the block)."""
        self._check_height(height)
        return self.chain.store.header(height)

    def _check_height(self, height: int) -> None:
        if not 1 <= height <= self.chain.height:
            raise ProofRequestError(
                "not_found",
                "block.unknown",
                f"no block {height}: the chain is at height {self.chain.height}",
            )

    def certificate_json(self, height: int) -> dict[str, Any] | None:
        """The commit certificate of block ``height`` as JSON, if stored."""
        certificate = self.chain.store.certificate(height)
        return None if certificate is None else certificate_json(certificate)

    def _certificate(self, height: int) -> dict[str, Any]:
        cert = self.certificate_json(height)
        if cert is None:
            raise LedgerError(f"certificate of block {height} is missing from the store")
        return cert

    def state(self, root: bytes, key: str) -> StateRead:
        """The value of ``key`` at ``root`` and its proof, as a receipt's state entry."""
        tree = StateTree(Overlay(self.chain.kv), root, cache=self.chain.cache)
        value, proof = tree.proven(key.encode(), root=root)
        entry = {
            "key": key,
            "value": None if value is None else value.hex(),
            "proof": state_proof_json(proof),
        }
        return StateRead(value, entry)

    def _log(self) -> MerkleLog:
        return MerkleLog.open(Overlay(self.chain.kv))

    def _identity(self) -> dict[str, Any]:
        genesis = self.chain.genesis
        return {"version": RECEIPT_VERSION, "chain": genesis.chain, "genesis": genesis.hash.hex()}

    # -------------------------------------------------- checkpoint and headers

    def checkpoint(self) -> dict[str, Any]:
        """The latest header and its certificate (nothing at height 0)."""
        h = self.chain.height
        return {
            **self._identity(),
            "height": h,
            "header": header_json(self.header(h)) if h else None,
            "certificate": self._certificate(h) if h else None,
        }

    def header_link(self, height: int) -> HeaderLink:
        """One link of the header chain: header, certificate, and a validator change if any."""
        header = self.header(height)
        certificate = self.chain.store.certificate(height)
        if certificate is None:
            raise LedgerError(f"certificate of block {height} is missing from the store")
        validators = None
        if header.next_validators_hash != header.validators_hash:
            # Kept by the commit (Chain.commit_block), since pruning deletes that state.
            record = self.chain.store.validators_record(height)
            if record is None:
                raise LedgerError(f"the validator set block {height} changed to is not stored")
            kept = decode(record, max_size=MAX_VALUE_SIZE)
            validators = (kept["value"], StateProof.from_value(kept["proof"]))
        return HeaderLink(header, certificate, validators)

    def block_json(self, height: int) -> dict[str, Any]:
        """A whole block: header, transactions (wire base64), carried and own certificate."""
        self._check_height(height)
        block = self.chain.store.block(height)
        return {
            "height": height,
            "header": header_json(block.header),
            "txs": [
                {
                    "id": tx.id.hex(),
                    "type": tx.type,
                    "signer": tx.signer,
                    "nonce": tx.nonce,
                    "wire": b64(tx.wire),
                }
                for tx in block.txs
            ],
            "last_commit": None
            if block.last_commit is None
            else certificate_json(block.last_commit),
            "certificate": self.certificate_json(height),
        }

    def block_records(self, height: int) -> tuple[bytes, bytes]:
        """The stored bytes of block ``height`` and of its certificate."""
        self._check_height(height)
        cert = self.chain.store.certificate_bytes(height)
        if cert is None:
            raise LedgerError(f"certificate of block {height} is missing from the store")
        return self.chain.store.block_bytes(height), cert

    # -------------------------------------------------------------- receipts

    def _tx_entry(self, log: MerkleLog, tx_id: bytes, log_size: int) -> dict[str, Any]:
        location = self.chain.store.tx_location(tx_id)
        if location is None:
            raise LedgerError(f"transaction {tx_id.hex()} is in the state but not in the store")
        tx = self.chain.store.transaction(location.height, location.index)
        if tx.id != tx_id:
            raise LedgerError(f"the store's index of transaction {tx_id.hex()} is wrong")
        return {
            "id": tx.id.hex(),
            "wire": b64(tx.wire),
            "height": location.height,
            "index": location.index,
            "log_index": location.log_index,
            "proof": [h.hex() for h in log.inclusion_proof(location.log_index, log_size)],
        }

    def transaction(self, tx_id: bytes) -> dict[str, Any]:
        """The receipt of a committed transaction (raises ``not_found`` otherwise)."""
        location = self.chain.store.tx_location(tx_id)
        if location is None:
            raise unknown_transaction(tx_id)
        # Proven at its own block while that block's state is kept, else at the tip:
        # a result, once written, stays the same in every later state.
        at = location.height if location.height >= self.chain.state_from else self.chain.height
        header = self.header(at)
        result = self.state(header.state_root, f"tx/{tx_id.hex()}")
        if result.value is None:
            raise LedgerError(f"result of transaction {tx_id.hex()} missing from the state")
        entry = self._tx_entry(self._log(), tx_id, header.log_size)
        return {
            "kind": "transaction",
            **self._identity(),
            "tx": entry,
            "result": hexed(decode(result.value, max_size=MAX_VALUE_SIZE)),
            "header": header_json(header),
            "certificate": self._certificate(at),
            "state": [result.entry],
        }

    def declaration(self, owner: str, decl_id: str) -> dict[str, Any]:
        """``owner``'s declaration ``decl_id`` with its receipt at the latest block."""
        height = self.chain.height
        if height == 0:
            raise unknown_declaration(decl_id)
        header = self.header(height)
        root = header.state_root
        current = self.state(root, record_key(owner, decl_id))
        if current.value is None:
            raise unknown_declaration(decl_id)
        record = decode(current.value, max_size=MAX_VALUE_SIZE)
        log = self._log()
        state = [current.entry]
        history = []
        txs = []
        for version, tx_id in enumerate(record["txs"], start=1):
            read = self.state(root, f"tx/{tx_id.hex()}")
            if read.value is None:
                raise LedgerError(f"result of version {version} of {decl_id} missing")
            result = decode(read.value, max_size=MAX_VALUE_SIZE)
            state.append(read.entry)
            document = None
            if result["action"] in DOCUMENT_ACTIONS:
                doc = self.state(root, document_key(owner, decl_id, version))
                if doc.value is None:
                    raise LedgerError(f"document of version {version} of {decl_id} missing")
                document = decode(doc.value, max_size=MAX_VALUE_SIZE)
                state.append(doc.entry)
            history.append(hexed(version_entry(tx_id, result, document)))
            txs.append(self._tx_entry(log, tx_id, header.log_size))
        return {
            "id": decl_id,
            "owner": owner,
            "status": record["status"],
            "record": hexed(record),
            "declaration": history[record["document"] - 1]["declaration"],
            "history": history,
            "receipt": {
                "kind": "declaration",
                **self._identity(),
                "declaration": decl_id,
                "owner": owner,
                "header": header_json(header),
                "certificate": self._certificate(height),
                "state": state,
                "transactions": txs,
            },
        }

    # ---------------------------------------------------------- consistency

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        """RFC 9162 consistency proof between two sizes of the transaction log."""
        log = self._log()
        if not 0 <= old_size <= new_size:
            raise ProofRequestError(
                "invalid", "request.invalid", "from must not be above to", "$.from"
            )
        if new_size > log.size:
            raise ProofRequestError(
                "invalid",
                "request.invalid",
                f"to is above the log size {log.size}",
                "$.to",
            )
        return {
            "old_size": old_size,
            "new_size": new_size,
            "old_root": log.root(old_size).hex(),
            "new_root": log.root(new_size).hex(),
            "proof": [h.hex() for h in log.consistency_proof(old_size, new_size)],
        }
