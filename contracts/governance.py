"""Governance: membership, keys, validators and reference data, by supermajority.

One transaction type, ``governance``, with body::

    {"action": <action>, "effective_height": int, "params": {...}}

    org.add         {"name", "role", "keys": [<public key>, ...]}, and optionally
                    "legal_name", "identifiers", "enc_keys" (:mod:`contracts.membership`)
    org.remove      {"name"}
    org.identity    {"org", "legal_name", "identifiers": {"eori": str} or {}}
                    set (or replace) the organisation's legal identity
    key.add         {"org", "key": <public key>}
    key.revoke      {"key_id"}
    key.rotate      {"key_id", "key": <public key>}     revoke one key, add another
    enc_key.add     {"org", "key": <X25519 public key>}
    enc_key.rotate  {"org", "old": <X25519 public key>, "key": <X25519 public key>}
                    retire a key in force, put another in force
    validators.set  {"validators": [{"key", "power", "org"}, ...]}
    dgl.set         {"dgl": <SHA-256 of the new Dangerous Goods List>}
    port.add        {"locode", "name", "authority"}     a port the network serves from then
                    on, and the port authority organisation that decides on calls there
    port.authority  {"locode", "authority"}             another port authority for a port
    port.remove     {"locode"}                          never the last port
    params.set      {"lead_time_hours": int}            hours before the estimated departure
                    a declaration must be submitted or amended by (0: not after departure)

It carries several signatures: member keys of validator organisations
holding together more than two thirds of the voting power in force. It is
accepted at once and takes effect at ``effective_height``, which must be at
least ``governance_delay`` blocks later: transactions from that height on
see the change, and a validator set change is the set that signs that
height's block. A legal name or identifier, or an encryption key, that
another organisation holds is refused when proposed; should two pending
actions claim the same one, the first to take effect has it and the other
changes nothing (:mod:`contracts.identity`). Port actions are judged against
the ports in force when proposed and again when they take effect: one that
no longer applies (a port added meanwhile, one gone, the last port) changes
nothing (:mod:`contracts.ports`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from contracts import identity as ids
from contracts import ports as corridor
from contracts.errors import ContractError, TransactionRejected, Violation
from contracts.lifecycle import Role
from contracts.membership import (
    MAX_ENC_KEYS,
    ORG_NAME,
    Identity,
    Organisation,
    encryption_key_problem,
    lead_time_problem,
    port_problem,
)
from ledger.crypto import PublicKey
from ledger.errors import LedgerError
from ledger.validators import ValidatorSet

if TYPE_CHECKING:
    from contracts.handler import Context, Handler, Signer
    from contracts.state import StateView
    from ledger.tx import Transaction

MAX_PENDING: Final = 256
ACTIONS: Final = frozenset(
    {
        "org.add",
        "org.remove",
        "org.identity",
        "key.add",
        "key.revoke",
        "key.rotate",
        "enc_key.add",
        "enc_key.rotate",
        "validators.set",
        "dgl.set",
        "port.add",
        "port.authority",
        "port.remove",
        "params.set",
    }
)


def _reject(code: str, path: str, message: str) -> TransactionRejected:
    return TransactionRejected([Violation(code, path, message)])


def _params(params: Any, keys: set[str], optional: frozenset[str] = frozenset()) -> dict[str, Any]:
    if type(params) is not dict or not keys <= set(params) <= keys | optional:
        also = f", optionally {sorted(optional)}" if optional else ""
        raise _reject(
            "governance.invalid_params", "$.body.params", f"params are {sorted(keys)}{also}"
        )
    return params


def _member(view: StateView, org: Any, path: str) -> str:
    if type(org) is not str or view.get(f"org/{org}") is None:
        raise _reject("governance.unknown_org", path, "no such organisation")
    return org


def _new_encryption_key(view: StateView, raw: Any, path: str) -> bytes:
    problem = encryption_key_problem(raw)
    if problem is not None:
        raise _reject("governance.invalid_params", path, problem)
    holder = ids.encryption_key_holder(view, raw)
    if holder is not None:
        raise _reject(
            "governance.key_exists", path, f"encryption key already recorded for {holder}"
        )
    return bytes(raw)


def _free_identity(view: StateView, org: str, identity: Identity, path: str) -> None:
    conflict = ids.identity_conflict(view, org, identity)
    if conflict is not None:
        raise _reject("governance.identity_taken", path, conflict)


def _port_field(p: dict[str, Any], field: str) -> str:
    problem = port_problem(field, p[field])
    if problem is not None:
        raise _reject("governance.invalid_params", f"$.body.params.{field}", problem)
    return str(p[field])


def _listed_port(view: StateView, locode: Any) -> dict[str, dict[str, str]]:
    """The ports served, of which ``locode`` is one."""
    served = corridor.ports_served(view) or {}
    if type(locode) is not str or locode not in served:
        raise _reject(
            "governance.unknown_port", "$.body.params.locode", "not a port this network serves"
        )
    return served


def _port_authority(view: StateView, org: Any) -> str:
    name = _member(view, org, "$.body.params.authority")
    if view.get(f"org/{name}")["role"] != Role.PORT_AUTHORITY.value:
        raise _reject(
            "governance.invalid_params",
            "$.body.params.authority",
            f"{name} is not a port authority",
        )
    return name


def _public_key(raw: Any, path: str) -> PublicKey:
    try:
        return PublicKey(raw if type(raw) is bytes else b"")
    except LedgerError as e:
        raise _reject("governance.invalid_params", path, f"not a valid Ed25519 key: {e}") from e


class Governance:
    """Handler for ``governance`` transactions and activation of pending actions."""

    def handlers(self) -> dict[str, Handler]:
        """Transaction type -> handler."""
        return {"governance": self.propose}

    def propose(
        self, view: StateView, tx: Transaction, signer: Signer, ctx: Context
    ) -> dict[str, Any]:
        """Check the supermajority and the action; queue it for its height."""
        body = tx.body
        if set(body) != {"action", "effective_height", "params"}:
            raise _reject("body.invalid", "$.body", "body is {action, effective_height, params}")
        action = body["action"]
        if type(action) is not str or action not in ACTIONS:
            raise _reject("governance.unknown_action", "$.body.action", f"one of {sorted(ACTIONS)}")
        delay = view.get("params")["governance_delay"]
        effective = body["effective_height"]
        if type(effective) is not int or not ctx.height + delay <= effective <= ctx.height + 10**9:
            raise _reject(
                "governance.too_soon",
                "$.body.effective_height",
                f"must be at least height {ctx.height + delay}",
            )
        self._check_supermajority(view, tx, ctx)
        self._check_action(view, action, body["params"])
        pending = list(view.get("gov/pending"))
        if len(pending) >= MAX_PENDING:
            raise _reject("governance.queue_full", "$.body", "too many pending governance actions")
        pending.append(
            {"height": effective, "tx": tx.id, "action": action, "params": body["params"]}
        )
        pending.sort(key=lambda p: (p["height"], p["tx"]))
        view.put("gov/pending", pending)
        return {"action": action, "effective_height": effective}

    def _check_supermajority(self, view: StateView, tx: Transaction, ctx: Context) -> None:
        validators = ValidatorSet.from_value(view.get("validators"))
        power_by_org: dict[str, int] = {}
        for v in validators:
            power_by_org[v.org] = power_by_org.get(v.org, 0) + v.power
        signed_orgs: set[str] = set()
        for i, key_id in enumerate(tx.signer_keys):
            key = view.get(f"key/{key_id}")
            path = f"$.sigs[{i}]"
            if key is None or (key["revoked_at"] is not None and key["revoked_at"] <= ctx.height):
                raise _reject("auth.unknown_key", path, f"{key_id} is not an active member key")
            org = view.get(f"org/{key['org']}")
            if org is None or not org["active"]:
                raise _reject("auth.org_inactive", path, f"{key['org']} is not active")
            if key["org"] not in power_by_org:
                raise _reject("governance.not_validator", path, f"{key['org']} runs no validator")
            signed_orgs.add(key["org"])
        power = sum(power_by_org[o] for o in signed_orgs)
        if not validators.has_quorum(power):
            raise _reject(
                "governance.no_supermajority",
                "$.sigs",
                f"signing organisations hold {power} of {validators.total_power} voting power;"
                " more than two thirds is needed",
            )

    def _check_action(self, view: StateView, action: str, params: Any) -> None:
        if action == "org.add":
            p = _params(
                params,
                {"name", "role", "keys"},
                frozenset({"legal_name", "identifiers", "enc_keys"}),
            )
            try:
                org = Organisation.from_value(p, "$.body.params")
            except ContractError as e:
                raise _reject("governance.invalid_params", e.path, e.message) from e
            if view.get(f"org/{p['name']}") is not None:
                raise _reject("governance.org_exists", "$.body.params.name", "organisation exists")
            if org.identity is not None:
                _free_identity(view, org.name, org.identity, "$.body.params")
            for i, raw in enumerate(org.enc_keys):
                _new_encryption_key(view, raw, f"$.body.params.enc_keys[{i}]")
        elif action == "org.identity":
            p = _params(params, {"org", "legal_name", "identifiers"})
            org_name = _member(view, p["org"], "$.body.params.org")
            try:
                identity = Identity.from_fields(
                    p["legal_name"], p["identifiers"], "$.body.params", "governance.invalid_params"
                )
            except ContractError as e:
                raise _reject(e.code, e.path, e.message) from e
            _free_identity(view, org_name, identity, "$.body.params")
        elif action in ("enc_key.add", "enc_key.rotate"):
            rotate = action == "enc_key.rotate"
            p = _params(params, {"org", "key", "old"} if rotate else {"org", "key"})
            org_name = _member(view, p["org"], "$.body.params.org")
            in_force = ids.encryption_keys_in_force(view, org_name)
            if rotate and p["old"] not in in_force:
                raise _reject(
                    "governance.unknown_key",
                    "$.body.params.old",
                    f"not an encryption key of {org_name} in force",
                )
            _new_encryption_key(view, p["key"], "$.body.params.key")
            if len(ids.encryption_key_records(view, org_name)) >= MAX_ENC_KEYS:
                raise _reject(
                    "governance.too_many_keys",
                    "$.body.params.key",
                    f"{org_name} has {MAX_ENC_KEYS} encryption keys on record, the most it may",
                )
        elif action == "org.remove":
            p = _params(params, {"name"})
            if type(p["name"]) is not str or view.get(f"org/{p['name']}") is None:
                raise _reject(
                    "governance.unknown_org", "$.body.params.name", "no such organisation"
                )
        elif action == "key.add":
            p = _params(params, {"org", "key"})
            _member(view, p["org"], "$.body.params.org")
            key = _public_key(p["key"], "$.body.params.key")
            if view.get(f"key/{key.key_id}") is not None:
                raise _reject(
                    "governance.key_exists", "$.body.params.key", "key already registered"
                )
        elif action in ("key.revoke", "key.rotate"):
            p = _params(params, {"key_id"} if action == "key.revoke" else {"key_id", "key"})
            if type(p["key_id"]) is not str or view.get(f"key/{p['key_id']}") is None:
                raise _reject("governance.unknown_key", "$.body.params.key_id", "no such key")
            if action == "key.rotate":
                key = _public_key(p["key"], "$.body.params.key")
                if view.get(f"key/{key.key_id}") is not None:
                    raise _reject(
                        "governance.key_exists", "$.body.params.key", "key already registered"
                    )
        elif action == "validators.set":
            p = _params(params, {"validators"})
            try:
                new = ValidatorSet.from_value(p["validators"])
            except LedgerError as e:
                raise _reject(
                    "governance.invalid_params", "$.body.params.validators", str(e)
                ) from e
            for v in new:
                org = view.get(f"org/{v.org}")
                if org is None or not ORG_NAME.match(v.org):
                    raise _reject(
                        "governance.unknown_org",
                        "$.body.params.validators",
                        f"no organisation {v.org!r}",
                    )
                if org["role"] not in (
                    Role.CUSTOMS.value,
                    Role.PORT_AUTHORITY.value,
                    Role.FORWARDER.value,
                ):
                    raise _reject(
                        "governance.invalid_params",
                        "$.body.params.validators",
                        f"{v.org} may not validate",
                    )
        elif action == "dgl.set":
            p = _params(params, {"dgl"})
            if type(p["dgl"]) is not bytes or len(p["dgl"]) != 32:
                raise _reject("governance.invalid_params", "$.body.params.dgl", "a 32-byte SHA-256")
        elif action.startswith("port.") or action == "params.set":
            self._check_corridor(view, action, params)

    def _check_corridor(self, view: StateView, action: str, params: Any) -> None:
        """Port actions against the ports in force; ``params.set`` against its range."""
        if action == "port.add":
            p = _params(params, {"locode", "name", "authority"})
            locode = _port_field(p, "locode")
            _port_field(p, "name")
            if locode in (corridor.ports_served(view) or {}):
                raise _reject(
                    "governance.port_exists",
                    "$.body.params.locode",
                    f"{locode} is a port of the network already: port.authority changes its"
                    " authority",
                )
            _port_authority(view, p["authority"])
        elif action == "port.authority":
            p = _params(params, {"locode", "authority"})
            _listed_port(view, p["locode"])
            _port_authority(view, p["authority"])
        elif action == "port.remove":
            p = _params(params, {"locode"})
            if len(_listed_port(view, p["locode"])) == 1:
                raise _reject(
                    "governance.last_port",
                    "$.body.params.locode",
                    f"{p['locode']} is the network's last port: without ports no port authority"
                    " is held to its ports; add another first",
                )
        else:
            p = _params(params, {"lead_time_hours"})
            problem = lead_time_problem(p["lead_time_hours"])
            if problem is not None:
                raise _reject("governance.invalid_params", "$.body.params.lead_time_hours", problem)

    def activate(self, view: StateView, height: int) -> None:
        """Carry out every pending action whose effective height is ``height`` or earlier."""
        pending = view.get("gov/pending")
        due = [p for p in pending if p["height"] <= height]
        if not due:
            return
        view.put("gov/pending", [p for p in pending if p["height"] > height])
        for item in due:
            self._apply(view, item["action"], item["params"], height)

    def _apply(self, view: StateView, action: str, p: dict[str, Any], height: int) -> None:
        if action == "org.add":
            org = Organisation.from_value(p, "$")
            if view.get(f"org/{org.name}") is not None:
                return
            if org.identity is not None and ids.identity_conflict(view, org.name, org.identity):
                org = Organisation(org.name, org.role, org.keys, None, org.enc_keys)
            fresh = tuple(k for k in org.enc_keys if ids.encryption_key_holder(view, k) is None)
            org = Organisation(org.name, org.role, org.keys, org.identity, fresh)
            ids.record_organisation(view, org, height)
        elif action == "org.identity":
            identity = Identity.from_fields(p["legal_name"], p["identifiers"], "$")
            if ids.identity_conflict(view, p["org"], identity) is None:
                ids.set_identity(view, p["org"], identity)
        elif action in ("enc_key.add", "enc_key.rotate"):
            records = ids.encryption_key_records(view, p["org"])
            if (
                ids.encryption_key_holder(view, p["key"]) is not None
                or len(records) >= MAX_ENC_KEYS
            ):
                return
            if action == "enc_key.rotate":
                if p["old"] not in ids.encryption_keys_in_force(view, p["org"]):
                    return
                ids.retire_encryption_key(view, p["org"], p["old"], height)
            ids.add_encryption_keys(view, p["org"], [p["key"]], height)
        elif action == "org.remove":
            org_rec = view.get(f"org/{p['name']}")
            if org_rec is not None:
                view.put(f"org/{p['name']}", {**org_rec, "active": False})
        elif action == "key.add":
            key = PublicKey(p["key"])
            if view.get(f"key/{key.key_id}") is None:
                view.put(f"key/{key.key_id}", {"org": p["org"], "pub": key.raw, "revoked_at": None})
        elif action in ("key.revoke", "key.rotate"):
            old = view.get(f"key/{p['key_id']}")
            if old is None:
                return
            if old["revoked_at"] is None:
                view.put(f"key/{p['key_id']}", {**old, "revoked_at": height})
            if action == "key.rotate":
                key = PublicKey(p["key"])
                if view.get(f"key/{key.key_id}") is None:
                    view.put(
                        f"key/{key.key_id}", {"org": old["org"], "pub": key.raw, "revoked_at": None}
                    )
        elif action == "validators.set":
            view.put("validators", ValidatorSet.from_value(p["validators"]).to_value())
        elif action == "dgl.set":
            params = view.get("params")
            view.put("params", {**params, "dgl": p["dgl"]})
        elif action == "params.set":
            view.put("params", {**view.get("params"), **p})
        elif action in ("port.add", "port.authority", "port.remove"):
            self._apply_port(view, action, p)

    def _apply_port(self, view: StateView, action: str, p: dict[str, Any]) -> None:
        """A port action, unless what it was judged against has changed since (then nothing)."""
        served = corridor.ports_served(view) or {}
        locode = p["locode"]
        if action == "port.remove":
            if locode in served and len(served) > 1:
                del served[locode]
                view.put(corridor.KEY, served)
            return
        if (locode in served) != (action == "port.authority"):
            return
        org = view.get(f"org/{p['authority']}")
        if org is None or org["role"] != Role.PORT_AUTHORITY.value:
            return
        name = p["name"] if action == "port.add" else served[locode]["name"]
        view.put(corridor.KEY, {**served, locode: {"name": name, "authority": p["authority"]}})
