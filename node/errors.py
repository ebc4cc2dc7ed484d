"""Errors of the node's core (``node/`` itself): one root, a small tree, stable codes.

::

    NodeError(message)            root; ``code`` is stable and machine-readable
    ├── ConfigError               config.invalid      a configuration file that cannot be used
    ├── GenesisFileError          genesis.invalid     a genesis file that cannot be used
    ├── NetworkInitError          network.invalid     arguments that cannot make a network
    ├── StartupError              node.cannot_start   configuration, genesis or store refused
    ├── NodeHalted                node.halted         the node stopped following the chain
    ├── ChainFileError            chainfile.invalid   a truncated or malformed chain file
    ├── AuditSourceError          audit.source        the blocks to audit could not be read
    ├── AuthError                 auth.*              a request that is not properly signed
    └── Rejected                  tx.*, mempool.*,    a transaction that is not admitted,
                                  rate_limited        with every rule it breaks

The subpackages keep trees of their own, each drawn in its ``errors``
module: ``node.consensus`` (ConsensusError), ``node.p2p`` (PeerError),
``node.api`` (ApiError), ``node.client`` (ClientError), ``node.cli``
(CliError) and ``node.devnet`` (NetworkError). Errors of the layers below
(``ledger.errors.LedgerError``, ``contracts.errors.ContractError``) are
converted where a node meets them, keeping their codes.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.errors import Violation


class NodeError(Exception):
    """Root of every error the node's core raises."""

    code = "node.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(NodeError):
    """A configuration file that cannot be used; names the file and field."""

    code = "config.invalid"


class GenesisFileError(NodeError):
    """A genesis file that cannot be used; names the field."""

    code = "genesis.invalid"


class NetworkInitError(NodeError):
    """Arguments that cannot make a network."""

    code = "network.invalid"


class StartupError(NodeError):
    """The node cannot start with this configuration, genesis or store."""

    code = "node.cannot_start"


class NodeHalted(NodeError):
    """The node stopped following the chain: a block it cannot execute, or its own disk failed."""

    code = "node.halted"


class ChainFileError(NodeError):
    """A chain file that is truncated, oversized or malformed; names the record.

    Record ``i >= 1`` holds block ``i``: for those, ``height`` is the block's
    height (and ``tx_index`` the transaction whose bytes do not decode, if
    one is at fault), so an auditor can say where the chain stops being sound.
    """

    code = "chainfile.invalid"

    def __init__(
        self,
        reason: str,
        record: int | None = None,
        *,
        height: int | None = None,
        tx_index: int | None = None,
    ) -> None:
        super().__init__(reason if record is None else f"record {record}: {reason}")
        self.reason = reason
        self.record = record
        if height is None and record is not None and record >= 1:
            height = record  # record i holds block i
        self.height = height
        self.tx_index = tx_index


class AuditSourceError(NodeError):
    """The blocks to audit could not be read."""

    code = "audit.source"


class AuthError(NodeError):
    """A request that is not properly signed; ``code`` says how (``auth.stale``, ...).

    ``status`` is the HTTP status it is answered with (401, or 503 when the node
    cannot record the request); ``not_before`` the time a new signature must be
    after (``auth.signed_before_restart``).
    """

    def __init__(
        self, code: str, message: str, *, status: int = 401, not_before: int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.not_before = not_before


class Rejected(NodeError):
    """A transaction the node does not admit: a stable code, and every violation."""

    def __init__(
        self,
        code: str,
        message: str,
        violations: Sequence[Violation] = (),
        *,
        path: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.violations = list(violations)
        self.path = path if path is not None or not self.violations else self.violations[0].path
        """The JSON path of the field at fault (the first violation's, unless given)."""
        self.retry_after = retry_after
        """Seconds after which the same submission may succeed (a busy node), if it may."""
