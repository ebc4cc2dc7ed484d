"""Transactions on declarations: submit, amend, cancel, decide, delegate.

Bodies::

    declaration.submit   {"declaration": <document>}
    declaration.amend    {"id": str, "owner"?: org, "declaration": <document>, "reason"?: str}
    declaration.cancel   {"id": str, "owner"?: org, "reason"?: str}
    declaration.decide   {"id": str, "owner": org, "decision": accepted|refused|cleared|held|
                          released|loaded|discharged, "reason"?: str}
    delegation.grant     {"forwarder": <organisation>}
    delegation.revoke    {"forwarder": <organisation>}

Declaration ids are namespaced per organisation: a declaration belongs to
its *owner*, the organisation on whose behalf it is declared, and two
owners may use the same id text without meeting. The owner of a new
declaration is the signer's organisation, or, when a forwarder declares in
the name of an organisation that delegated it, that organisation
(:func:`contracts.identity.submission_owner`, which also holds the shipper
party to the identities membership records). A transaction on an existing
declaration names it by ``id`` and ``owner``; ``owner`` defaults to the
signer's organisation, except for a decision, where the port authority and
customs must name it.

A submitted or amended document's sensitive fields are sealed as
:mod:`contracts.sealed` says: where the owner has an encryption key, in a
section encrypted to exactly the organisations that may read the
declaration at that height (a submission's at admission too; an
amendment's once its signer may amend, in the block).

A declaration is two or three kinds of authenticated record:

* ``decl/<owner>/<id>``, the current record: status, ``org`` (its owner),
  submitter (key id), ``version`` (how many versions there are), ``txs``
  (the id of the transaction that made each version, in order: the whole
  history), ``document`` (the version whose document is current), what the
  indexes need of that document (``vessel``, ``voyage``, ``containers``),
  and when it last changed (``updated_at``, ``height``);
* ``doc/<owner>/<id>/<version:06d>``, the document a submission or an
  amendment brought, stored once, never rewritten;
* ``tx/<id>``, the result of the transaction that made a version, which
  describes it (:data:`VERSION_FIELDS`: action, status, version, signer,
  organisation, time, height, reason, and ``replaces``, the transaction of
  the version before), and names the declaration (``declaration``,
  ``owner``).

So a submission or an amendment writes three keys and a decision or a
cancellation two, and a decision rewrites a record of a few hundred bytes,
never a document. A declaration has at most :data:`MAX_VERSIONS` versions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from contracts import formats, ports, units
from contracts.aboard import STOWAGE, check_loading
from contracts.aboard import update as update_aboard
from contracts.checks import departure_violations, validate
from contracts.errors import DeclarationInvalid, TransactionRejected, Violation
from contracts.identity import check_amended_shipper, submission_owner
from contracts.lifecycle import DECISIONS, SUBMITTER, TABLE, Action, Role, Status
from contracts.membership import ORG_NAME
from contracts.sealed import check as check_sealed
from contracts.stowage import Position, read_positions

if TYPE_CHECKING:
    from contracts.handler import Context, Handler, Precheck, Signer
    from contracts.state import StateView
    from ledger.tx import Transaction

MAX_REASON: Final = 1000
MAX_VERSIONS: Final = 1000
"""Versions a declaration may have: its record lists them all, so it must stay bounded."""
DOCUMENT_ACTIONS: Final = frozenset({Action.SUBMIT.value, Action.AMEND.value})
"""Actions whose version brings a document (``doc/<id>/<version>``)."""
VERSION_FIELDS: Final = (
    "version",
    "action",
    "status",
    "signer",
    "org",
    "time",
    "height",
    "replaces",
    "reason",
)
"""What the result of a declaration transaction says of the version it made."""
DECIDERS: Final = frozenset({Role.PORT_AUTHORITY, Role.CUSTOMS})
"""Roles that must name a declaration's owner: they own no declarations themselves."""


def _reject(code: str, path: str, message: str) -> TransactionRejected:
    return TransactionRejected([Violation(code, path, message)])


def _field(body: Mapping[str, Any], name: str, allowed: frozenset[str]) -> Any:
    extra = set(body) - allowed
    if extra:
        raise _reject("body.unknown_field", f"$.body.{sorted(extra)[0]}", "field not allowed here")
    if name not in body:
        raise _reject("body.missing_field", f"$.body.{name}", "required field missing")
    return body[name]


def _text(body: Mapping[str, Any], name: str, allowed: frozenset[str], *, required: bool) -> str:
    if not required and name not in body:
        return ""
    value = _field(body, name, allowed)
    if type(value) is not str or len(value) > MAX_REASON or not value.isprintable():
        raise _reject(
            "body.invalid_field",
            f"$.body.{name}",
            f"printable text of at most {MAX_REASON} characters, without control or"
            " direction-changing characters",
        )
    return value


def _decl_id(body: Mapping[str, Any], allowed: frozenset[str]) -> str:
    value = _field(body, "id", allowed)
    if type(value) is not str or not formats.DECLARATION_ID.fullmatch(value):
        raise _reject(
            "body.invalid_field",
            "$.body.id",
            "a declaration id: 1 to 100 letters, digits, '.', '_' or '-', starting with a"
            " letter or digit",
        )
    return value


def _owner(
    view: StateView,
    body: Mapping[str, Any],
    allowed: frozenset[str],
    signer: Signer,
    *,
    required: bool,
) -> str:
    """The ``owner`` a transaction names, or the signer's organisation where it may be left out."""
    if "owner" not in body:
        if required:
            raise _reject(
                "body.missing_field",
                "$.body.owner",
                f"{signer.role.phrase} must name the organisation the declaration belongs to",
            )
        return signer.org
    value = _field(body, "owner", allowed)
    if type(value) is not str or not ORG_NAME.match(value):
        raise _reject(
            "body.invalid_field",
            "$.body.owner",
            "an organisation name: lower-case letters, digits and '-', at most 63",
        )
    if view.get(f"org/{value}") is None:
        raise _reject("owner.unknown", "$.body.owner", f"no member organisation {value!r}")
    return value


def _check_role(action: Action, signer: Signer) -> None:
    """Refuse a signer whose role may never take ``action`` (the table's fixed roles)."""
    who = TABLE[action].who
    if isinstance(who, frozenset) and signer.role not in who:
        allowed = " or ".join(r.phrase for r in Role if r in who)
        raise _reject(
            "role.not_allowed",
            "$.env.signer",
            f"{signer.role.phrase} may not {action.value}; only {allowed} may",
        )


def _check_owning_role(action: Action, signer: Signer) -> None:
    """Refuse a signer whose role can neither submit a declaration nor be delegated one."""
    submitters = TABLE[Action.SUBMIT].who
    if isinstance(submitters, frozenset) and signer.role not in submitters:
        raise _reject(
            "role.not_allowed",
            "$.env.signer",
            f"{signer.role.phrase} may not {action.value} a declaration; only the organisation"
            f" that submitted it or {Role.FORWARDER.phrase} it delegated to may",
        )


def document_fields(document: Mapping[str, Any]) -> dict[str, Any]:
    """What a declaration record keeps of its current document: the indexed fields."""
    transport = document.get("transport", {})
    return {
        "vessel": transport.get("vesselIMONumber", ""),
        "voyage": transport.get("voyageNumber", ""),
        "containers": [c.get("equipmentReference", "") for c in document.get("containers", [])],
    }


def record_key(owner: str, decl_id: str) -> str:
    """The state key of the current record of ``owner``'s declaration ``decl_id``."""
    return f"decl/{owner}/{decl_id}"


def document_key(owner: str, decl_id: str, version: int) -> str:
    """The state key of the document that version ``version`` of ``owner``'s ``decl_id`` brought."""
    return f"doc/{owner}/{decl_id}/{version:06d}"


def version_entry(
    tx_id: bytes, result: Mapping[str, Any], document: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One version of a declaration's history: its transaction's result, and its document."""
    return {
        "tx": tx_id,
        **{name: result[name] for name in VERSION_FIELDS},
        "declaration": None if document is None else dict(document),
    }


def document_outcome(doc: Any, dgl: Any) -> dict[str, Any] | tuple[Violation, ...]:
    """The canonical value of a submitted declaration document, or every rule it breaks.

    A pure function of the document and the list: what :class:`DocumentMemo` keeps.
    """
    try:
        declaration = validate(doc, dgl)
    except DeclarationInvalid as e:
        return tuple(
            Violation(v.code, v.path.replace("$", "$.body.declaration", 1), v.message, v.paragraph)
            for v in e.violations
        )
    value: dict[str, Any] = declaration.to_value()
    return value


def _at_any_time(
    check: Callable[[StateView, Transaction, Signer], object],
) -> Callable[[StateView, Transaction, Signer, Context], object]:
    """The precheck of a check that no time decides."""

    def precheck(view: StateView, tx: Transaction, signer: Signer, ctx: Context) -> object:
        return check(view, tx, signer)

    return precheck


class DocumentMemo:
    """Validated declaration documents by (transaction id, list digest).

    Parsing and checking a document against the Dangerous Goods List is a
    pure function of the two, and a transaction id binds its body, so a node
    that met a transaction at admission does not validate its document again
    at each mempool re-check and in the block. A hit gives exactly what
    validating again would: the canonical value, or the same violations.
    Bounded by count; an evicted entry is only validated again.
    """

    def __init__(self, capacity: int = 8192) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, dict[str, Any] | tuple[Violation, ...]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> dict[str, Any] | tuple[Violation, ...] | None:
        """The stored outcome of ``key``, if kept."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, outcome: dict[str, Any] | tuple[Violation, ...]) -> None:
        """Keep an outcome, dropping the least recently used beyond the capacity."""
        self._entries[key] = outcome
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def offer(self, key: bytes, outcome: dict[str, Any] | tuple[Violation, ...]) -> None:
        """Keep an outcome computed elsewhere by :func:`document_outcome` (a worker process)."""
        self.put(key, outcome)

    def discard(self, keys: Iterable[bytes]) -> None:
        """Drop these entries, where kept."""
        for key in keys:
            self._entries.pop(key, None)


class OnceMemo(DocumentMemo):
    """The memo of a replay: outcomes checked ahead (:meth:`offer`), each handed out once.

    A replay executes each transaction once, so an entry is dropped when it
    is taken and the engine's own outcomes are not kept (:meth:`put` keeps
    nothing): it holds only what was offered for the blocks ahead.
    """

    def get(self, key: bytes) -> dict[str, Any] | tuple[Violation, ...] | None:
        """The offered outcome of ``key``, dropped as it is handed out."""
        entry = self._entries.pop(key, None)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, key: bytes, outcome: dict[str, Any] | tuple[Violation, ...]) -> None:
        """Nothing: a replay will not meet the transaction again."""

    def offer(self, key: bytes, outcome: dict[str, Any] | tuple[Violation, ...]) -> None:
        """Keep an outcome until it is taken or discarded (the capacity bounds it still)."""
        super().put(key, outcome)


class DeclarationRules:
    """Handlers for declaration and delegation transactions."""

    def __init__(
        self, list_in_force: Callable[[StateView], Any], memo: DocumentMemo | None = None
    ) -> None:
        self.list_in_force = list_in_force
        self.memo = memo

    def handlers(self) -> dict[str, Handler]:
        """Transaction type -> handler."""
        return {
            "declaration.submit": self.submit,
            "declaration.amend": self.amend,
            "declaration.cancel": self.cancel,
            "declaration.decide": self.decide,
            "delegation.grant": self.grant,
            "delegation.revoke": self.revoke,
        }

    def prechecks(self) -> dict[str, Precheck]:
        """Transaction type -> what admission judges of it without applying it."""
        return {
            "declaration.submit": self._admit_submission,
            "declaration.amend": self._admit_amendment,
            "declaration.cancel": _at_any_time(self._cancelled),
            "declaration.decide": _at_any_time(self._decided),
            "delegation.grant": _at_any_time(self._delegated),
            "delegation.revoke": _at_any_time(self._delegated),
        }

    def _admit_submission(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> None:
        """A submission's admission: its document and seal, and a departure not too soon."""
        _, value = self._submitted(view, tx, signer)
        self._check_departure(view, value, ctx, admission=True)

    def _admit_amendment(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> None:
        """An amendment's admission: its document, and a departure not too soon."""
        _, _, _, value = self._amended(view, tx, signer)
        self._check_departure(view, value, ctx, admission=True)

    def _document(self, view: StateView, doc: Any, tx: Transaction) -> dict[str, Any]:
        dgl = self.list_in_force(view)
        key = tx.id + dgl.digest()
        outcome = self.memo.get(key) if self.memo is not None else None
        if outcome is None:
            outcome = document_outcome(doc, dgl)
            if self.memo is not None:
                self.memo.put(key, outcome)
        if isinstance(outcome, tuple):
            raise TransactionRejected(list(outcome))
        return outcome

    def _write(
        self,
        view: StateView,
        record: dict[str, Any],
        old: Mapping[str, Any] | None,
        tx: Transaction,
        signer: Signer,
        ctx: Context,
        action: Action,
        reason: str,
        document: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Stage the new record (and document); return the version's description.

        The description becomes the transaction's result ``tx/<id>``: that is
        where a version without a document lives.
        """
        txs = [] if old is None else list(old["txs"])
        if len(txs) >= MAX_VERSIONS:
            raise _reject(
                "declaration.too_many_versions",
                "$.body.id",
                f"{record['id']!r} has {MAX_VERSIONS} versions, the most a declaration may have:"
                " submit a new declaration",
            )
        version = len(txs) + 1
        record.update(version=version, updated_at=ctx.time, height=ctx.height, txs=[*txs, tx.id])
        owner = record["org"]
        if document is not None:
            record.update(document=version, **document_fields(document))
            view.put(document_key(owner, record["id"], version), document, source=tx.id)
        view.put(record_key(owner, record["id"]), record)
        units.update(view, old, record)
        update_aboard(view, old, record)
        return {
            "declaration": record["id"],
            "owner": owner,
            "version": version,
            "action": action.value,
            "status": record["status"],
            "org": signer.org,
            "time": ctx.time,
            "replaces": txs[-1] if txs else None,
            "reason": reason,
        }

    def _check_units(
        self, view: StateView, owner: str, decl_id: str, value: Mapping[str, Any]
    ) -> None:
        """Refuse goods that may not share a container with those other declarations put in it."""
        violations = units.check(view, owner, decl_id, value, self.list_in_force(view))
        if violations:
            raise TransactionRejected(violations)

    def _check_departure(
        self, view: StateView, value: Mapping[str, Any], ctx: Context, *, admission: bool = False
    ) -> None:
        """Refuse a departure sooner than the network's lead time after the block's time.

        At ``admission``, ``ctx.time`` is the earliest time a block recording
        the transaction can have (:data:`contracts.handler.Precheck`).
        """
        violations = departure_violations(
            value["transport"]["estimatedDeparture"],
            ctx.time,
            ports.lead_time_hours(view),
            "$.body.declaration.transport.estimatedDeparture",
            admission=admission,
        )
        if violations:
            raise TransactionRejected(violations)

    def _current(self, view: StateView, owner: str, decl_id: str) -> dict[str, Any]:
        record = view.get(record_key(owner, decl_id))
        if record is None:
            raise _reject(
                "declaration.unknown", "$.body.id", f"no declaration {decl_id!r} of {owner}"
            )
        return dict(record)

    def _check_transition(
        self, view: StateView, record: Mapping[str, Any] | None, action: Action, signer: Signer
    ) -> None:
        rule = TABLE[action]
        status = None if record is None else Status(record["status"])
        if status not in rule.sources:
            raise _reject(
                "lifecycle.transition_not_allowed",
                "$.body",
                f"cannot {action.value} a declaration that is {status.value if status else 'new'}",
            )
        if rule.who == SUBMITTER:
            if record is None:
                raise AssertionError("submitter rule on a new declaration")
            owner = record["org"]
            if signer.org != owner and (
                signer.role is not Role.FORWARDER
                or view.get(f"delegation/{owner}/{signer.org}") is None
            ):
                raise _reject(
                    "role.not_allowed",
                    "$.env.signer",
                    f"only {owner} or {Role.FORWARDER.phrase} it delegated to may "
                    f"{action.value} this declaration",
                )
        else:
            _check_role(action, signer)

    def _submitted(
        self, view: StateView, tx: Transaction, signer: Signer
    ) -> tuple[str, dict[str, Any]]:
        """The owner and document of a submission, if the role, document, shipper and seal hold."""
        doc = _field(tx.body, "declaration", frozenset({"declaration"}))
        _check_role(Action.SUBMIT, signer)
        value = self._document(view, doc, tx)
        owner = submission_owner(view, signer.org, signer.role, value["shipper"]["partyName"])
        check_sealed(view, owner, value)
        return owner, value

    def submit(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """A new declaration."""
        owner, value = self._submitted(view, tx, signer)
        self._check_transition(view, None, Action.SUBMIT, signer)
        decl_id = value["declarationId"]
        if view.get(record_key(owner, decl_id)) is not None:
            raise _reject(
                "declaration.exists",
                "$.body.declaration.declarationId",
                f"{owner} has a declaration {decl_id!r} already",
            )
        self._check_departure(view, value, ctx)
        self._check_units(view, owner, decl_id, value)
        record = {
            "id": decl_id,
            "status": Status.SUBMITTED.value,
            "org": owner,
            "submitter": signer.key_id,
            "submitted_at": ctx.time,
        }
        return self._write(view, record, None, tx, signer, ctx, Action.SUBMIT, "", value)

    def _amended(
        self, view: StateView, tx: Transaction, signer: Signer
    ) -> tuple[str, str, str, dict[str, Any]]:
        """Owner, id, reason and document of an amendment, if its shape, role and document hold."""
        allowed = frozenset({"id", "owner", "declaration", "reason"})
        decl_id = _decl_id(tx.body, allowed)
        owner = _owner(view, tx.body, allowed, signer, required=False)
        reason = _text(tx.body, "reason", allowed, required=False)
        _check_owning_role(Action.AMEND, signer)
        value = self._document(view, _field(tx.body, "declaration", allowed), tx)
        if value["declarationId"] != decl_id:
            raise _reject(
                "declaration.id_mismatch",
                "$.body.declaration.declarationId",
                f"amendment of {decl_id!r} carries declarationId {value['declarationId']!r}",
            )
        return owner, decl_id, reason, value

    def amend(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """A new version of an open declaration."""
        owner, decl_id, reason, value = self._amended(view, tx, signer)
        old = self._current(view, owner, decl_id)
        self._check_transition(view, old, Action.AMEND, signer)
        check_amended_shipper(view, owner, value["shipper"]["partyName"])
        # After the role: one who may not amend is told so, not whom to seal to.
        check_sealed(view, owner, value)
        self._check_departure(view, value, ctx)
        self._check_units(view, owner, decl_id, value)
        record = {**old, "status": Status.AMENDED.value}
        return self._write(view, record, old, tx, signer, ctx, Action.AMEND, reason, value)

    def _cancelled(self, view: StateView, tx: Transaction, signer: Signer) -> tuple[str, str, str]:
        """Owner, id and reason of a cancellation, if its shape and the signer's role hold."""
        allowed = frozenset({"id", "owner", "reason"})
        decl_id = _decl_id(tx.body, allowed)
        owner = _owner(view, tx.body, allowed, signer, required=False)
        reason = _text(tx.body, "reason", allowed, required=False)
        _check_owning_role(Action.CANCEL, signer)
        return owner, decl_id, reason

    def cancel(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Withdraw an open declaration before loading."""
        owner, decl_id, reason = self._cancelled(view, tx, signer)
        old = self._current(view, owner, decl_id)
        self._check_transition(view, old, Action.CANCEL, signer)
        record = {**old, "status": Status.CANCELLED.value}
        return self._write(view, record, old, tx, signer, ctx, Action.CANCEL, reason)

    def _decided(
        self, view: StateView, tx: Transaction, signer: Signer
    ) -> tuple[str, str, Action, str, dict[str, Position]]:
        """Owner, id, action, reason and stowage positions of a decision, if its shape and the
        decider's role hold."""
        allowed = frozenset({"id", "owner", "decision", "reason", "stowage"})
        decl_id = _decl_id(tx.body, allowed)
        decision = _field(tx.body, "decision", allowed)
        reason = _text(tx.body, "reason", allowed, required=False)
        action = DECISIONS.get((decision, signer.role)) if type(decision) is str else None
        if action is None:
            words = sorted({w for (w, role) in DECISIONS if role is signer.role})
            raise _reject(
                "role.not_allowed" if not words or type(decision) is str else "body.invalid_field",
                "$.body.decision",
                (
                    f"{signer.role.phrase} may not decide {decision!r}"
                    if type(decision) is str
                    else "decision must be text"
                )
                + (f"; allowed: {', '.join(words)}" if words else "; it takes no decisions"),
            )
        if TABLE[action].needs_reason and not reason.strip():
            raise _reject("decision.reason_required", "$.body.reason", f"{decision} needs a reason")
        positions: dict[str, Position] = {}
        if "stowage" in tx.body:
            if action is not Action.LOAD:
                raise _reject(
                    "stowage.not_loaded",
                    "$.body.stowage",
                    f"stowage positions go with the decision loaded, not {decision}",
                )
            positions = read_positions(tx.body["stowage"])
        owner = _owner(view, tx.body, allowed, signer, required=signer.role in DECIDERS)
        return owner, decl_id, action, reason, positions

    def decide(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """A decision of the port authority or customs."""
        owner, decl_id, action, reason, positions = self._decided(view, tx, signer)
        old = self._current(view, owner, decl_id)
        if signer.role is Role.PORT_AUTHORITY:
            # The call's ports are in the current document, read only if the network lists ports.
            ports.check_decider(
                view,
                signer.org,
                action,
                lambda: view.get(document_key(owner, decl_id, old["document"]))["transport"],
            )
        self._check_transition(view, old, action, signer)
        record = {**old, "status": TABLE[action].target.value}
        if positions:
            # IMDG 7.4.3.3 between the containers placed and those on board already.
            violations = check_loading(view, old, positions, self.list_in_force(view))
            if violations:
                raise TransactionRejected(violations)
            record[STOWAGE] = {c: p.text for c, p in positions.items()}
        return self._write(view, record, old, tx, signer, ctx, action, reason)

    def _delegated(self, view: StateView, tx: Transaction, signer: Signer) -> Any:
        """The forwarder of a delegation, if the body's shape and the signer's role hold."""
        forwarder = _field(tx.body, "forwarder", frozenset({"forwarder"}))
        if signer.role not in (Role.SHIPPER, Role.FORWARDER):
            raise _reject(
                "role.not_allowed", "$.env.signer", "only shippers and forwarders delegate"
            )
        return forwarder

    def _delegation(self, view: StateView, tx: Transaction, signer: Signer) -> str:
        forwarder = self._delegated(view, tx, signer)
        org = view.get(f"org/{forwarder}") if type(forwarder) is str else None
        if org is None or org["role"] != Role.FORWARDER.value:
            raise _reject(
                "delegation.not_a_forwarder",
                "$.body.forwarder",
                f"{forwarder!r} is not a forwarder",
            )
        if forwarder == signer.org:
            raise _reject(
                "delegation.self", "$.body.forwarder", "an organisation cannot delegate to itself"
            )
        return f"delegation/{signer.org}/{forwarder}"

    def grant(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Let a forwarder declare in this organisation's name, amend and cancel for it."""
        key = self._delegation(view, tx, signer)
        view.put(key, {"granted_at": ctx.height})
        return {"delegation": key}

    def revoke(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Withdraw a delegation."""
        key = self._delegation(view, tx, signer)
        if view.get(key) is None:
            raise _reject("delegation.unknown", "$.body.forwarder", "no such delegation")
        view.delete(key)
        return {"delegation": key}
