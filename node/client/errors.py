"""Errors of the client side: one root, a small tree, stable codes.

::

    ClientError(code, message, path)   an error answer of the node (its code), no answer
    │                                  (client.unreachable, client.timeout, client.bad_url),
    │                                  an answer not as a node gives it (client.bad_response),
    │                                  or a request the client cannot make (client.no_key)
    ├── JsonFormError                  json_form.invalid: a JSON form that is not what it
    │                                  should be (``path`` names the field)
    └── ReceiptError                   receipt.invalid: a receipt that does not prove what it
        │                              claims (``passed`` lists the checks that held before)
        ├── MalformedReceipt           receipt.malformed: a field missing or not of its form
        ├── UntrustedHeader            receipt.header: chain, genesis, a header link, a
        │                              certificate or a validator set does not hold
        ├── TransactionInvalid         receipt.transaction: a transaction that does not
        │                              decode, verify, or sit in the log where stated
        └── StateMismatch              receipt.state: a state proof that fails, or a shown
                                       value that is not the proven one

``code`` is stable and machine-readable; the message is for people; ``path``
is the JSON path of the field at fault, where there is one.
"""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """Root: an error answer of the node, no answer, or an answer that does not hold."""

    def __init__(
        self,
        code: str,
        message: str,
        path: str | None = None,
        violations: list[dict[str, Any]] | None = None,
        *,
        status: int | None = None,
        tx_id: str | None = None,
        not_before: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.violations = violations or []
        self.status = status
        self.tx_id = tx_id
        self.not_before = not_before
        """With ``auth.signed_before_restart``: a new signature's time must be after it."""

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code}: {self.message}{where}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ClientError:
        """Build from an error answer (the API's JSON, or whatever came back)."""
        try:
            body = response.json()
            error = body["error"]
            code = str(error["code"])
            message = str(error["message"])
        except (ValueError, KeyError, TypeError):
            text = response.text[:200].strip() or response.reason_phrase
            return cls(
                "client.bad_response",
                f"HTTP {response.status_code}: {text}",
                status=response.status_code,
            )
        violations = error.get("violations")
        not_before = error.get("not_before")
        return cls(
            code,
            message,
            error.get("path"),
            violations if isinstance(violations, list) else None,
            status=response.status_code,
            tx_id=error.get("tx_id"),
            not_before=not_before if type(not_before) is int else None,
        )


class JsonFormError(ClientError):
    """A JSON form that is not what it should be; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__("json_form.invalid", message, path)
        self.path: str = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ReceiptError(ClientError):
    """A receipt that does not prove what it claims; ``passed`` lists the checks before it."""

    code = "receipt.invalid"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(self.code, message, path)
        self.path: str = path
        self.passed: list[str] = []

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class MalformedReceipt(ReceiptError):
    """A field missing, unexpected, or not of its form."""

    code = "receipt.malformed"


class UntrustedHeader(ReceiptError):
    """The chain, genesis, a header link, a certificate or a validator set does not hold."""

    code = "receipt.header"


class TransactionInvalid(ReceiptError):
    """A transaction that does not decode, verify, or sit in the log where stated."""

    code = "receipt.transaction"


class StateMismatch(ReceiptError):
    """A state proof that fails, or a shown value that is not the proven one."""

    code = "receipt.state"
