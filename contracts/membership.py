"""Organisations, their roles, member keys, legal identities and encryption keys.

The ``app`` part of genesis::

    {"orgs": [{"name": str, "role": role, "keys": [<32-byte Ed25519 public key>, ...],
               "legal_name": str,                       optional
               "identifiers": {"eori": str},            optional, with legal_name only
               "enc_keys": [<32-byte X25519 public key>, ...]},   optional
              ...],
     "dgl": <SHA-256 of the Dangerous Goods List in force>,
     "params": {"governance_delay": int,
                "lead_time_hours": int},                optional, absent for 0
     "ports": [{"locode": str, "name": str, "authority": <organisation>}, ...]}
                                                        optional, absent for none

Validator organisations are the ``org`` names of the genesis validator set;
their voting power is the sum of their validators' power. Member keys sign
transactions; validator keys (in the validator set) sign consensus messages.

An organisation's :class:`Identity` is its legal name (as a declaration's
shipper party names it, at most 70 printable characters like a document's
``partyName``) and its identifiers: an EORI number today, two capital letters
of a country then up to 15 capital letters or digits. Legal names are
compared :func:`normalised` (case-folded, runs of spaces made one), so no two
organisations may have the same normalised name, nor the same identifier.
Encryption keys are X25519 public keys (RFC 7748) to which the declarations
an organisation may read will be encrypted; a key must be canonical (below
2^255 - 19) and not one of the curve's low-order points, which would give
every sender the same shared secret. The optional fields are absent from the
canonical value when not set, so a genesis file written before they existed
reads, and hashes, as it always did.

The ports are those the network serves, the corridor (:class:`Port`): each
a UN/LOCODE of an ISO 3166-1 country, its name, and the port authority
organisation that decides on calls there (one authority may have several
ports: HAROPA has Le Havre, Rouen and Paris). A network that lists none
restricts no port authority to any port (:mod:`contracts.ports`). The lead
time is how many hours before the estimated departure a declaration must be
submitted or amended; without it, only a departure already past at the
block's time is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts.errors import ContractError
from contracts.formats import KNOWN_LOCODE, is_text
from contracts.lifecycle import Role
from ledger.crypto import PublicKey
from ledger.errors import LedgerError

MAX_ORGS: Final = 1000
MAX_KEYS_PER_ORG: Final = 64
MAX_ENC_KEYS: Final = 16
"""Encryption keys an organisation may have on record, in force and retired together."""
MAX_LEGAL_NAME: Final = 70
"""A legal name is at most as long as a document's ``partyName``, or it could never match."""
ORG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
EORI: Final = re.compile(r"[A-Z]{2}[0-9A-Z]{1,15}")
"""An EORI number: an ISO 3166 country code, then up to 15 capital letters or digits."""
IDENTIFIER_SCHEMES: Final = {"eori": EORI}
"""The identifiers membership records, by scheme, with the form each must have."""
DEFAULT_GOVERNANCE_DELAY: Final = 2
MAX_PORTS: Final = 256
MAX_PORT_NAME: Final = 70
MAX_LEAD_TIME_HOURS: Final = 8760
"""A year: a lead time longer than that would refuse every real declaration."""
_P25519: Final = 2**255 - 19
_LOW_ORDER: Final = frozenset(
    {
        0,
        1,
        _P25519 - 1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    }
)
"""The u-coordinates of Curve25519's points of order 1, 2, 4 and 8 (below p)."""


def invalid(path: str, message: str, code: str = "genesis.invalid") -> ContractError:
    """A genesis or governance field that cannot be used."""
    return ContractError(code, path, message)


def normalised(name: str) -> str:
    """A legal name as names are compared: case-folded, runs of whitespace made one space."""
    return " ".join(name.casefold().split())


def legal_name_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a legal name, or ``None``."""
    if type(value) is not str or not is_text(value, MAX_LEGAL_NAME):
        return (
            f"printable text of 1 to {MAX_LEGAL_NAME} characters without surrounding spaces,"
            " as a declaration's partyName"
        )
    return None


def identifier_problem(scheme: Any, value: Any) -> str | None:
    """Why ``value`` cannot be an identifier of ``scheme``, or ``None``."""
    form = IDENTIFIER_SCHEMES.get(scheme) if type(scheme) is str else None
    if form is None:
        return f"identifiers are {sorted(IDENTIFIER_SCHEMES)}"
    if type(value) is not str or not form.fullmatch(value):
        return (
            "an EORI number: two capital letters of a country, then 1 to 15 capital letters"
            " or digits"
        )
    return None


def encryption_key_problem(raw: Any) -> str | None:
    """Why ``raw`` cannot be an X25519 encryption public key, or ``None``."""
    if type(raw) is not bytes or len(raw) != 32:
        return "an X25519 public key is 32 bytes"
    u = int.from_bytes(raw, "little")
    if u >= _P25519:
        return "not a canonical X25519 public key (at or above 2^255 - 19)"
    if u in _LOW_ORDER:
        return "a low-order X25519 point: every sender would share the same secret"
    return None


@dataclass(frozen=True, slots=True)
class Identity:
    """An organisation's legal name and identifiers (scheme, value), sorted by scheme."""

    legal_name: str
    identifiers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        problem = legal_name_problem(self.legal_name)
        if problem is not None:
            raise ValueError(problem)
        for scheme, value in self.identifiers:
            problem = identifier_problem(scheme, value)
            if problem is not None:
                raise ValueError(problem)
        if list(self.identifiers) != sorted(dict(self.identifiers).items()):
            raise ValueError("identifiers: one per scheme, sorted by scheme")

    @property
    def eori(self) -> str | None:
        """The EORI number, if recorded."""
        return dict(self.identifiers).get("eori")

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding: ``{legal_name, identifiers}``."""
        return {"legal_name": self.legal_name, "identifiers": dict(self.identifiers)}

    @classmethod
    def from_fields(
        cls, legal_name: Any, identifiers: Any, path: str, code: str = "genesis.invalid"
    ) -> Identity:
        """Validate a legal name and a map of identifiers found at ``path``."""
        problem = legal_name_problem(legal_name)
        if problem is not None:
            raise invalid(f"{path}.legal_name", problem, code)
        if type(identifiers) is not dict:
            raise invalid(f"{path}.identifiers", "a map of scheme to identifier", code)
        for scheme in sorted(identifiers, key=str):
            problem = identifier_problem(scheme, identifiers[scheme])
            if problem is not None:
                raise invalid(f"{path}.identifiers.{scheme}", problem, code)
        return cls(legal_name, tuple(sorted(identifiers.items())))


def encryption_keys(value: Any, path: str, code: str = "genesis.invalid") -> tuple[bytes, ...]:
    """Validate a non-empty list of distinct X25519 public keys found at ``path``."""
    if type(value) is not list or not 0 < len(value) <= MAX_ENC_KEYS:
        raise invalid(path, f"a list of 1 to {MAX_ENC_KEYS} X25519 public keys", code)
    for i, raw in enumerate(value):
        problem = encryption_key_problem(raw)
        if problem is not None:
            raise invalid(f"{path}[{i}]", problem, code)
    if len(set(value)) != len(value):
        raise invalid(path, "an encryption key appears twice", code)
    return tuple(value)


_ORG_FIELDS: Final = frozenset({"name", "role", "keys"})
_ORG_OPTIONAL: Final = frozenset({"legal_name", "identifiers", "enc_keys"})


@dataclass(frozen=True, slots=True)
class Organisation:
    """A member organisation of the port community."""

    name: str
    role: Role
    keys: tuple[PublicKey, ...]
    identity: Identity | None = None
    enc_keys: tuple[bytes, ...] = ()
    """X25519 public keys, 32 bytes each, that declarations it may read are encrypted to."""

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding; the optional fields only when set."""
        out: dict[str, Any] = {
            "name": self.name,
            "role": self.role.value,
            "keys": [k.raw for k in self.keys],
        }
        if self.identity is not None:
            out["legal_name"] = self.identity.legal_name
            if self.identity.identifiers:
                out["identifiers"] = dict(self.identity.identifiers)
        if self.enc_keys:
            out["enc_keys"] = list(self.enc_keys)
        return out

    @classmethod
    def from_value(cls, value: Any, path: str) -> Organisation:
        """Validate and build from a decoded map."""
        if type(value) is not dict or not _ORG_FIELDS <= set(value) <= _ORG_FIELDS | _ORG_OPTIONAL:
            raise invalid(
                path,
                "an organisation is {name, role, keys} and optionally legal_name,"
                " identifiers, enc_keys",
            )
        name = value["name"]
        if type(name) is not str or not ORG_NAME.match(name):
            raise invalid(f"{path}.name", "lower-case letters, digits and '-', at most 63")
        try:
            role = Role(value["role"])
        except ValueError:
            raise invalid(f"{path}.role", f"one of {', '.join(r.value for r in Role)}") from None
        keys_value = value["keys"]
        if type(keys_value) is not list or len(keys_value) > MAX_KEYS_PER_ORG:
            raise invalid(f"{path}.keys", f"a list of at most {MAX_KEYS_PER_ORG} keys")
        keys = []
        for i, raw in enumerate(keys_value):
            try:
                keys.append(PublicKey(raw if type(raw) is bytes else b""))
            except LedgerError as e:
                raise invalid(f"{path}.keys[{i}]", f"not a valid Ed25519 key: {e}") from e
        identity = None
        if "legal_name" in value:
            identity = Identity.from_fields(value["legal_name"], value.get("identifiers", {}), path)
            if "identifiers" in value and not value["identifiers"]:
                raise invalid(f"{path}.identifiers", "absent rather than empty")
        elif "identifiers" in value:
            raise invalid(f"{path}.identifiers", "identifiers need a legal_name")
        enc_keys: tuple[bytes, ...] = ()
        if "enc_keys" in value:
            enc_keys = encryption_keys(value["enc_keys"], f"{path}.enc_keys")
        return cls(name, role, tuple(keys), identity, enc_keys)


def port_problem(field: str, value: Any) -> str | None:
    """Why ``value`` cannot be a port's ``locode`` or ``name``, or ``None``."""
    if field == "locode":
        if type(value) is not str or not KNOWN_LOCODE.fullmatch(value):
            return (
                "a UN/LOCODE: the ISO 3166-1 code of a country, then three capital letters"
                " or digits 2-9"
            )
        return None
    if type(value) is not str or not is_text(value, MAX_PORT_NAME):
        return f"printable text of 1 to {MAX_PORT_NAME} characters without surrounding spaces"
    return None


def lead_time_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a lead time in hours (0 included), or ``None``."""
    if type(value) is not int or not 0 <= value <= MAX_LEAD_TIME_HOURS:
        return f"whole hours from 0 to {MAX_LEAD_TIME_HOURS}"
    return None


_PORT_FIELDS: Final = frozenset({"locode", "name", "authority"})


@dataclass(frozen=True, slots=True)
class Port:
    """A port the network serves: its UN/LOCODE, its name, and its port authority."""

    locode: str
    name: str
    authority: str

    def __post_init__(self) -> None:
        for field in ("locode", "name"):
            problem = port_problem(field, getattr(self, field))
            if problem is not None:
                raise ValueError(f"{field}: {problem}")
        if not ORG_NAME.match(self.authority):
            raise ValueError("authority: an organisation name")

    def to_value(self) -> dict[str, Any]:
        """Plain map for encoding: ``{locode, name, authority}``."""
        return {"locode": self.locode, "name": self.name, "authority": self.authority}

    @classmethod
    def from_value(cls, value: Any, path: str, code: str = "genesis.invalid") -> Port:
        """Validate the shape of a port found at ``path`` (not yet its authority)."""
        if type(value) is not dict or set(value) != _PORT_FIELDS:
            raise invalid(path, "a port is {locode, name, authority}", code)
        for field in ("locode", "name"):
            problem = port_problem(field, value[field])
            if problem is not None:
                raise invalid(f"{path}.{field}", problem, code)
        authority = value["authority"]
        if type(authority) is not str or not ORG_NAME.match(authority):
            raise invalid(f"{path}.authority", "no organisation of that name", code)
        return cls(value["locode"], value["name"], authority)


def _ports(value: Any, orgs: tuple[Organisation, ...]) -> tuple[Port, ...]:
    """The ``ports`` of genesis: each a port authority's, each code once."""
    if type(value) is not list or len(value) > MAX_PORTS:
        raise invalid("$.app.ports", f"a list of 1 to {MAX_PORTS} ports")
    if not value:
        raise invalid("$.app.ports", "absent rather than empty: a network with no port lists none")
    roles = {o.name: o.role for o in orgs}
    ports: list[Port] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        path = f"$.app.ports[{i}]"
        port = Port.from_value(raw, path)
        if port.authority not in roles:
            raise invalid(f"{path}.authority", f"no organisation {port.authority!r}")
        if roles[port.authority] is not Role.PORT_AUTHORITY:
            raise invalid(
                f"{path}.authority",
                f"{port.authority} is {roles[port.authority].phrase}, not a port authority",
            )
        if port.locode in seen:
            raise invalid(f"{path}.locode", f"the port {port.locode} is listed twice")
        seen.add(port.locode)
        ports.append(port)
    return tuple(ports)


def _check_distinct_identities(orgs: tuple[Organisation, ...]) -> None:
    """No two organisations share a normalised legal name or an identifier."""
    seen: dict[tuple[str, str], str] = {}
    for i, org in enumerate(orgs):
        if org.identity is None:
            continue
        marks = [("legal name", normalised(org.identity.legal_name)), *org.identity.identifiers]
        for mark in marks:
            other = seen.setdefault(mark, org.name)
            if other != org.name:
                raise invalid(f"$.app.orgs[{i}]", f"{org.name} and {other} have the same {mark[0]}")


@dataclass(frozen=True, slots=True)
class AppGenesis:
    """The contracts' part of genesis."""

    orgs: tuple[Organisation, ...]
    dgl_hash: bytes
    governance_delay: int
    ports: tuple[Port, ...] = ()
    """The ports the network serves; none: no port authority is held to a port."""
    lead_time_hours: int = 0
    """Hours before the estimated departure a declaration must be submitted by."""

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> AppGenesis:
        """Validate the ``app`` map of genesis."""
        if not {"orgs", "dgl", "params"} <= set(value) <= {"orgs", "dgl", "params", "ports"}:
            raise invalid("$.app", "app is {orgs, dgl, params} and optionally ports")
        orgs_value = value["orgs"]
        if type(orgs_value) is not list or not 0 < len(orgs_value) <= MAX_ORGS:
            raise invalid("$.app.orgs", f"a list of 1 to {MAX_ORGS} organisations")
        orgs = tuple(
            Organisation.from_value(o, f"$.app.orgs[{i}]") for i, o in enumerate(orgs_value)
        )
        names = [o.name for o in orgs]
        if len(set(names)) != len(names):
            raise invalid("$.app.orgs", "an organisation name appears twice")
        key_ids = [k.key_id for o in orgs for k in o.keys]
        if len(set(key_ids)) != len(key_ids):
            raise invalid("$.app.orgs", "a key belongs to two organisations")
        enc_keys = [k for o in orgs for k in o.enc_keys]
        if len(set(enc_keys)) != len(enc_keys):
            raise invalid("$.app.orgs", "an encryption key belongs to two organisations")
        _check_distinct_identities(orgs)
        dgl = value["dgl"]
        if type(dgl) is not bytes or len(dgl) != 32:
            raise invalid("$.app.dgl", "the SHA-256 of the Dangerous Goods List (32 bytes)")
        params = value["params"]
        if type(params) is not dict or not (
            {"governance_delay"} <= set(params) <= {"governance_delay", "lead_time_hours"}
        ):
            raise invalid(
                "$.app.params", "params is {governance_delay} and optionally lead_time_hours"
            )
        delay = params["governance_delay"]
        if type(delay) is not int or not 1 <= delay <= 1_000_000:
            raise invalid("$.app.params.governance_delay", "an integer from 1 to 1,000,000")
        lead = params.get("lead_time_hours", 0)
        if "lead_time_hours" in params and (lead_time_problem(lead) is not None or lead == 0):
            raise invalid(
                "$.app.params.lead_time_hours",
                f"whole hours from 1 to {MAX_LEAD_TIME_HOURS} (absent rather than 0)",
            )
        ports = _ports(value["ports"], orgs) if "ports" in value else ()
        return cls(orgs, dgl, delay, ports, lead)

    def to_value(self) -> dict[str, Any]:
        """Plain map for genesis; ``ports`` and ``lead_time_hours`` only when set."""
        params: dict[str, Any] = {"governance_delay": self.governance_delay}
        if self.lead_time_hours:
            params["lead_time_hours"] = self.lead_time_hours
        out: dict[str, Any] = {
            "orgs": [o.to_value() for o in self.orgs],
            "dgl": self.dgl_hash,
            "params": params,
        }
        if self.ports:
            out["ports"] = [p.to_value() for p in self.ports]
        return out
