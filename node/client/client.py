"""A synchronous Python client of a dgledger node (httpx).

It builds and signs transactions, submits them (by default waiting for the
commit), signs read requests, and turns every error answer into a
:class:`ClientError` carrying the API's ``code``, ``message``, ``path`` and
``violations``.

Nonces: a nonce only makes two transactions of the same content differ
(the chain refuses a transaction id it has committed, and has no order of
nonces), so the client picks one locally, asking nothing: the time in
microseconds, or one above the last it used, whichever is higher. Any
number of clients and processes may sign with one key at once.

Expiry: a transaction expires ``expires_after`` blocks above the height the
node last reported (at connect, or in a commit answer; blocks are made only
while transactions are pending, so the default of 1000 blocks is generous),
and the rules take none more than ``MAX_TX_LIFETIME`` (10,000) blocks ahead.
When a submission is refused as expired (the height known here was
stale), the high-level methods ask the node's height and re-sign once.

Sealing: a declaration's commercially sensitive fields (parties besides
the shipper, contacts, commercial references) travel sealed to the
organisations entitled to read it (:mod:`node.client.sealing`). The client
asks the node whom to seal an owner's declarations to (``GET /v1/readers``,
remembered per owner) and seals a submitted or amended document before it
signs it, when any of them has an encryption key: bound to version 1 for a
submission, to the version after the current one for an amendment. A
forwarder declaring in a shipper's name says so (``owner=``), so that the
fields are sealed for that shipper. Refused as sealed to readers that have
changed since (``sealed.recipients``, ``sealed.key``), it asks again and
re-signs once. ``seal=False`` sends the document as given.

Size: a declaration travels in one transaction of at most ``MAX_TX_SIZE``
bytes. A document too large for one is refused here, before it is signed or
sent, as ``declaration.too_large`` at ``$.body.declaration``, naming its
size and the limit.

TLS: a node's URL is ``https://`` and the client checks its certificate
against ``ca`` (the authority's PEM file, e.g. a test network's
``tls/ca.pem``), or the system's trust store without it
(:mod:`node.client.tls`). A client given its own ``http`` client uses that
client's settings.
"""

from __future__ import annotations

import json
import os
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx

from ledger.crypto import SigningKey
from ledger.encoding import encode
from ledger.errors import LedgerError
from ledger.tx import MAX_TX_SIZE, Envelope, Transaction
from node.auth import sign_request
from node.client.errors import ClientError
from node.client.sealing import KEY_BYTES, sensitive_paths
from node.client.sealing import seal as seal_fields
from node.client.tls import tls_failure, trust

DEFAULT_TIMEOUT: Final = 70.0
DEFAULT_EXPIRES_AFTER: Final = 1000
MAX_BLOCKS_PER_REQUEST: Final = 10_000
DECISIONS: Final = ("accepted", "refused", "cleared", "held", "released", "loaded", "discharged")
SEALED_TYPES: Final = frozenset({"declaration.submit", "declaration.amend"})
"""Transactions whose document the client seals."""
STALE_READERS: Final = frozenset({"sealed.recipients", "sealed.key"})
"""Refusals of a document sealed to readers that have changed since the client asked."""


class Client:
    """One node, one chain, optionally one signing key."""

    def __init__(
        self,
        url: str,
        chain: str,
        key: SigningKey | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.Client | None = None,
        expires_after: int = DEFAULT_EXPIRES_AFTER,
        node: str | None = None,
        ca: str | os.PathLike[str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.chain = chain
        self.key = key
        self.node = node
        """The node's name, which signed requests name (asked of ``/v1/status`` if not given)."""
        self.status_at_connect: dict[str, Any] | None = None
        """What ``/v1/status`` answered to :meth:`connect`."""
        self.expires_after = expires_after
        self._own_http = http is None
        self.tls: ssl.SSLContext | None = None
        """What this client trusts of a node's certificate (None: its ``http`` client decides)."""
        if http is None:
            self.tls = trust(ca)
            http = httpx.Client(timeout=timeout, verify=self.tls)
        self._http = http
        self._last_nonce = 0
        self._height: int | None = None
        self._last_time = 0
        self._readers: dict[str | None, tuple[str, dict[str, bytes]]] = {}

    @classmethod
    def connect(
        cls,
        url: str,
        key: SigningKey | None = None,
        *,
        http: httpx.Client | None = None,
        ca: str | os.PathLike[str] | None = None,
    ) -> Client:
        """A client for whatever chain the node at ``url`` runs (asks ``/v1/status``)."""
        probe = cls(url, "unknown", key, http=http, ca=ca)
        try:
            status = probe.status()
            chain, node = status.get("chain"), status.get("node")
            if not isinstance(chain, str) or not isinstance(node, str):
                raise ClientError("client.bad_response", "the node's status names no chain or node")
        except ClientError:
            probe.close()
            raise
        probe.chain, probe.node, probe.status_at_connect = chain, node, status
        probe._seen(status.get("height"))
        return probe

    def close(self) -> None:
        """Close the connection pool (if this client opened it)."""
        if self._own_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ transport

    def _target(self, path: str, params: Mapping[str, Any] | None) -> str:
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        return path + (f"?{urlencode(clean, quote_via=quote)}" if clean else "")

    def _headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        if self.key is None:
            raise ClientError("client.no_key", "this request must be signed: give a member key")
        # Signatures are deterministic: two requests signed in the same
        # millisecond would be the same request, and the node refuses replays.
        if self.node is None:
            node = self.status().get("node")
            if not isinstance(node, str):
                raise ClientError("client.bad_response", "the node's status names no node")
            self.node = node
        now = max(time.time_ns() // 1_000_000, self._last_time + 1)
        self._last_time = now
        return sign_request(self.key, self.chain, method, target, body, now, node=self.node)

    def _send(
        self,
        method: str,
        target: str,
        *,
        signed: bool,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> httpx.Response:
        for first in (True, False):
            headers = self._headers(method, target, body) if signed else {}
            if content_type:
                headers["content-type"] = content_type
            try:
                response = self._http.request(
                    method, self.url + target, content=body, headers=headers
                )
            except (httpx.RequestError, httpx.InvalidURL) as e:
                raise self._transport_error(e) from e
            if response.status_code < 400:
                break
            error = ClientError.from_response(response)
            if not (first and signed and self._sign_later(error)):
                raise error
        return response

    def _sign_later(self, error: ClientError) -> bool:
        """After ``auth.signed_before_restart``: sign the next request after the node's mark."""
        if error.code != "auth.signed_before_restart" or error.not_before is None:
            return False
        # The node restarted and refuses what was signed at or before its mark; a
        # request signed just after it is new to the node, whatever this clock says.
        self._last_time = max(self._last_time, error.not_before)
        return True

    def _transport_error(self, e: httpx.RequestError | httpx.InvalidURL) -> ClientError:
        """A failure to exchange with the node, by its stable code."""
        if isinstance(e, httpx.InvalidURL):
            return ClientError("client.bad_url", f"{self.url} is not a usable URL: {e}")
        tls = tls_failure(e, self.url)
        if tls is not None:
            return tls
        if isinstance(e, httpx.TimeoutException):
            return ClientError("client.timeout", f"{self.url} did not answer in time")
        if isinstance(e, httpx.TransportError):
            return ClientError("client.unreachable", f"cannot reach {self.url}: {e}")
        # Undecodable content, a redirect loop: something answered, not as a node does.
        return ClientError("client.bad_response", f"{self.url} answered badly: {e}")

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, signed: bool = True
    ) -> Any:
        """GET a JSON answer (signed unless told otherwise)."""
        response = self._send("GET", self._target(path, params), signed=signed)
        try:
            return response.json()
        except ValueError as e:
            raise ClientError("client.bad_response", f"{path}: answer is not JSON") from e

    # ----------------------------------------------------------- unsigned reads

    def status(self) -> dict[str, Any]:
        """The node's status (height, tip, peers)."""
        value = self.get("/v1/status", signed=False)
        if not isinstance(value, dict):
            raise ClientError("client.bad_response", "the node's status is not a JSON object")
        return value

    def checkpoint(self) -> dict[str, Any]:
        """The latest header and its certificate."""
        value: dict[str, Any] = self.get("/v1/checkpoint", signed=False)
        return value

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        """RFC 9162 consistency proof between two log sizes."""
        params = {"from": old_size, "to": new_size}
        value: dict[str, Any] = self.get("/v1/proofs/consistency", params, signed=False)
        return value

    # ------------------------------------------------------------- signed reads

    def transaction(self, tx_id: bytes | str) -> dict[str, Any]:
        """The receipt of a committed transaction."""
        hex_id = tx_id.hex() if isinstance(tx_id, bytes) else tx_id
        value: dict[str, Any] = self.get(f"/v1/transactions/{hex_id}")
        return value

    def declaration(self, decl_id: str, owner: str | None = None) -> dict[str, Any]:
        """A declaration: record, history and receipt.

        ``owner`` names the organisation it belongs to; without it the node
        answers the caller's own, or the only one of that id the caller may
        read (``declaration.ambiguous`` lists the owners when there are several).
        """
        params = None if owner is None else {"owner": owner}
        value: dict[str, Any] = self.get(f"/v1/declarations/{quote(decl_id, safe='')}", params)
        return value

    def stowage(self, vessel: str, voyage: str) -> dict[str, Any]:
        """The dangerous goods on board ``vessel`` on ``voyage``, with positions and checks."""
        value: dict[str, Any] = self.get("/v1/stowage", {"vessel": vessel, "voyage": voyage})
        return value

    def declarations(
        self, *, after: str | None = None, limit: int = 50, **filters: str | None
    ) -> dict[str, Any]:
        """One page of a declaration list query (vessel, voyage, container, status, ...)."""
        value: dict[str, Any] = self.get(
            "/v1/declarations", {**filters, "after": after, "limit": limit}
        )
        return value

    def iter_declarations(self, **filters: str | None) -> Iterator[dict[str, Any]]:
        """Every declaration matching the filters, page after page."""
        after = None
        while True:
            page = self.declarations(after=after, limit=500, **filters)
            yield from page["items"]
            after = page["next"]
            if after is None:
                return

    def readers(self, owner: str | None = None) -> tuple[str, dict[str, bytes]]:
        """Whom ``owner``'s declarations are sealed to now: the owner, and each with its key.

        ``owner`` defaults to this key's organisation. Asked of the node once
        (``GET /v1/readers``) and remembered; an organisation's X25519 public
        key is 32 bytes.
        """
        known = self._readers.get(owner)
        if known is not None:
            return known
        value = self.get("/v1/readers", {"owner": owner})
        try:
            whose = value["owner"]
            keys = {r["organisation"]: bytes.fromhex(r["key"]) for r in value["readers"]}
            if type(whose) is not str or not all(
                type(o) is str and len(k) == KEY_BYTES for o, k in keys.items()
            ):
                raise TypeError(whose)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ClientError("client.bad_response", "the readers answer is not a node's") from e
        self._readers[owner] = self._readers[whose] = (whose, keys)
        return whose, keys

    def seal(
        self, document: Mapping[str, Any], *, owner: str | None = None, version: int = 1
    ) -> dict[str, Any]:
        """``document`` with its sensitive fields sealed to ``owner``'s readers, for ``version``.

        As given when it is sealed already, holds no sensitive field, or no
        reader has an encryption key (a network without them works in clear).
        """
        if "sealed" in document or not sensitive_paths(document):
            return dict(document)
        whose, keys = self.readers(owner)
        if not keys:
            return dict(document)
        return seal_fields(document, owner=whose, version=version, recipients=keys)

    def _sealed_body(
        self, type_: str, body: Mapping[str, Any], owner: str | None
    ) -> Mapping[str, Any]:
        """A submission's or amendment's body with its document sealed, where it must be."""
        document = body.get("declaration")
        if not isinstance(document, Mapping) or "sealed" in document:
            return body
        if not sensitive_paths(document):
            return body
        if len(encode(document)) > MAX_TX_SIZE:
            raise too_large(document)  # before asking anything of the node
        try:
            whose, keys = self.readers(body.get("owner", owner))
        except ClientError as e:
            if e.code != "auth.not_entitled":
                raise
            return body  # it writes none of that owner's declarations: the rules say why
        if not keys:
            return body
        version = 1
        if type_ == "declaration.amend":
            current = self.declaration(str(body.get("id")), whose)
            version = current["record"]["version"] + 1
        return {**body, "declaration": self.seal(document, owner=whose, version=version)}

    def block(self, height: int) -> dict[str, Any]:
        """A committed block."""
        value: dict[str, Any] = self.get(f"/v1/blocks/{height}")
        return value

    def blocks(self, first: int, last: int, *, headers: bool = False) -> Iterator[dict[str, Any]]:
        """Blocks (or header-chain items) ``first``..``last`` as JSON, paged as needed."""
        start = first
        while start <= last:
            end = min(last, start + MAX_BLOCKS_PER_REQUEST - 1)
            params = {"from": start, "to": end, "headers": 1 if headers else None}
            for line in self._stream(self._target("/v1/blocks", params)):
                try:
                    item = json.loads(line)
                except ValueError as e:
                    raise ClientError("client.bad_response", "a block line is not JSON") from e
                if not isinstance(item, dict):
                    raise ClientError("client.bad_response", "a block line is not a JSON object")
                yield item
            start = end + 1

    def header_chain(self, last: int) -> list[dict[str, Any]]:
        """Header-chain items 1..``last``: what a receipt's certificate is followed from."""
        items = list(self.blocks(1, last, headers=True))
        if len(items) != last:
            raise ClientError("client.bad_response", f"asked for {last} headers, got {len(items)}")
        return items

    def block_records(self, first: int, last: int) -> Iterator[bytes]:
        """The MessagePack stream of stored blocks and certificates, in chunks of bytes."""
        start = first
        while start <= last:
            end = min(last, start + MAX_BLOCKS_PER_REQUEST - 1)
            target = self._target("/v1/blocks", {"from": start, "to": end, "format": "msgpack"})
            yield from self._stream(target, lines=False)
            start = end + 1

    def _stream(self, target: str, *, lines: bool = True) -> Iterator[bytes]:
        try:
            yield from self._stream_once(target, lines=lines)
        except ClientError as e:
            if not self._sign_later(e):
                raise
            yield from self._stream_once(target, lines=lines)

    def _stream_once(self, target: str, *, lines: bool) -> Iterator[bytes]:
        headers = self._headers("GET", target, b"")
        try:
            with self._http.stream("GET", self.url + target, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ClientError.from_response(response)
                if lines:
                    for line in response.iter_lines():
                        if line:
                            yield line.encode()
                else:
                    yield from response.iter_bytes()
        except (httpx.RequestError, httpx.InvalidURL) as e:
            raise self._transport_error(e) from e

    # ---------------------------------------------------------- transactions

    def _take_nonce(self) -> int:
        nonce = max(time.time_ns() // 1000, self._last_nonce + 1)
        self._last_nonce = nonce
        return nonce

    def _seen(self, height: Any) -> None:
        """Remember a height the node reported (a later one only)."""
        if type(height) is int:
            self._height = max(height, self._height or 0)

    def _chain_height(self) -> int:
        """The latest height the node reported (asked of ``/v1/status`` the first time)."""
        if self._height is None:
            self._seen(self.status().get("height"))
        if self._height is None:
            raise ClientError("client.bad_response", "the node's status names no height")
        return self._height

    def build(
        self,
        type_: str,
        body: Mapping[str, Any],
        *,
        nonce: int | None = None,
        expires: int | None = None,
        seal: bool = True,
        owner: str | None = None,
    ) -> Transaction:
        """A transaction of ``type_`` signed by this client's key.

        With ``seal``, a submitted or amended document is sealed first (see
        the module's docstring); ``owner`` names whose a submission is, when
        a forwarder declares in another organisation's name.
        """
        if self.key is None:
            raise ClientError("client.no_key", "signing a transaction needs a member key")
        if seal and type_ in SEALED_TYPES:
            body = self._sealed_body(type_, body, owner)
        nonce = self._take_nonce() if nonce is None else nonce
        if expires is None:
            expires = self._chain_height() + self.expires_after
        try:
            envelope = Envelope(
                self.chain, type_, self.key.public.key_id, nonce, dict(body), expires
            )
            return Transaction.create(envelope, [self.key])
        except LedgerError as e:
            if e.field == "env" and "declaration" in body:
                # The one error of the envelope as a whole: it is over the size limit.
                raise too_large(body["declaration"]) from e
            raise ClientError(e.code, str(e), f"$.{e.field}" if e.field else None) from e

    def submit(self, tx: Transaction, *, wait: bool = True) -> dict[str, Any]:
        """Submit ``tx``; with ``wait``, return once committed, raise if the rules refused it."""
        target = "/v1/transactions" + ("?wait=commit" if wait else "")
        response = self._send(
            "POST", target, signed=False, body=tx.wire, content_type="application/msgpack"
        )
        try:
            summary: dict[str, Any] = response.json()
        except ValueError as e:
            raise ClientError("client.bad_response", "submission answer is not JSON") from e
        self._seen(summary.get("height"))
        if summary.get("status") == "rejected":
            result = summary.get("result", {})
            violations = result.get("violations") or []
            first = violations[0] if violations else {}
            raise ClientError(
                first.get("code", "tx.rejected"),
                first.get("message", "the rules refused the transaction"),
                first.get("path"),
                violations,
                tx_id=summary.get("tx_id"),
            )
        return summary

    def submit_batch(
        self, txs: Sequence[Transaction], *, wait: bool = True
    ) -> list[dict[str, Any]]:
        """Submit up to 1,000 transactions in one request; each one's result, in order.

        Each is judged on its own: a result's ``status`` is ``pending``,
        ``committed``, ``rejected`` (in a block, by the rules) or ``refused``
        (not admitted; its ``error`` says why). With ``wait``, the answer comes
        once the admitted ones are committed, or when the node stops waiting.
        """
        target = "/v1/transactions/batch" + ("?wait=commit" if wait else "")
        response = self._send(
            "POST",
            target,
            signed=False,
            body=encode([tx.wire for tx in txs]),
            content_type="application/msgpack",
        )
        try:
            results = response.json()["results"]
        except (ValueError, KeyError, TypeError) as e:
            raise ClientError("client.bad_response", "batch answer has no results") from e
        if type(results) is not list or len(results) != len(txs):
            raise ClientError("client.bad_response", "batch answer has not one result each")
        return [r if isinstance(r, dict) else {} for r in results]

    def send(
        self,
        type_: str,
        body: Mapping[str, Any],
        *,
        wait: bool = True,
        seal: bool = True,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Build, sign and submit, and retry once after a refusal the client can mend.

        On ``tx.expired`` it asks the node's height; on a document sealed to
        readers that have changed since it asked (``sealed.recipients``,
        ``sealed.key``), it asks again whom to seal to.
        """
        try:
            return self.submit(self.build(type_, body, seal=seal, owner=owner), wait=wait)
        except ClientError as e:
            if e.code == "tx.expired":
                self._height = None
            elif seal and type_ in SEALED_TYPES and e.code in STALE_READERS:
                self._readers.clear()
            else:
                raise
            return self.submit(self.build(type_, body, seal=seal, owner=owner), wait=wait)

    def declare(
        self,
        document: Mapping[str, Any],
        *,
        wait: bool = True,
        owner: str | None = None,
        seal: bool = True,
    ) -> dict[str, Any]:
        """Submit a new declaration, sealed (unless told not to) for ``owner`` (default: own)."""
        body = {"declaration": dict(document)}
        return self.send("declaration.submit", body, wait=wait, seal=seal, owner=owner)

    def amend(
        self,
        decl_id: str,
        document: Mapping[str, Any],
        *,
        reason: str = "",
        owner: str | None = None,
        wait: bool = True,
        seal: bool = True,
    ) -> dict[str, Any]:
        """Submit a new version of a declaration (``owner``'s; default: the signer's own).

        Sealed (unless told not to) for the version after the current one.
        """
        body: dict[str, Any] = {"id": decl_id, "declaration": dict(document)}
        if owner is not None:
            body["owner"] = owner
        if reason:
            body["reason"] = reason
        return self.send("declaration.amend", body, wait=wait, seal=seal)

    def cancel(
        self, decl_id: str, *, reason: str = "", owner: str | None = None, wait: bool = True
    ) -> dict[str, Any]:
        """Withdraw a declaration (``owner``'s; default: the signer's own)."""
        body = {
            "id": decl_id,
            **({"owner": owner} if owner is not None else {}),
            **({"reason": reason} if reason else {}),
        }
        return self.send("declaration.cancel", body, wait=wait)

    def decide(
        self,
        decl_id: str,
        decision: str,
        *,
        owner: str,
        reason: str = "",
        stowage: Mapping[str, str] | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Record a decision of the port authority or customs on ``owner``'s declaration.

        ``stowage`` goes with ``loaded``: each container's position, ISO 9711-1
        ``BBRRTT`` (``{"CSQU3054383": "030282"}``).
        """
        body = {
            "id": decl_id,
            "owner": owner,
            "decision": decision,
            **({"reason": reason} if reason else {}),
            **({"stowage": dict(stowage)} if stowage else {}),
        }
        return self.send("declaration.decide", body, wait=wait)


def too_large(document: Any) -> ClientError:
    """The refusal of a declaration document too large for one transaction."""
    size = len(encode(document))
    return ClientError(
        "declaration.too_large",
        f"the declaration takes {size:,} bytes, and with its envelope a transaction may hold at"
        f" most {MAX_TX_SIZE:,} ({MAX_TX_SIZE // 1024} KiB): split its containers over several"
        " declarations",
        "$.body.declaration",
    )


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
