"""``dgledger network init``: genesis, one configuration and key per node, member keys.

Layout written under the target directory::

    genesis.json
    <validator org>/node.toml          node configuration
    <validator org>/node-key.pem       the node's consensus and peer key
    <validator org>/data/              created by the node on first start
    <validator org>/api-cert.pem       the client API's TLS server certificate
    <validator org>/api-key.pem        and its key
    <observer org>/node.toml, node-key.pem, api-cert.pem, api-key.pem
                                       an observer: follows the chain, does not vote
    keys/<org>.pem                     a member key per organisation (signs transactions)
    keys/<org>.enc.pem                 an X25519 encryption key per organisation: what it
                                       may read is to be encrypted to its public key,
                                       which genesis records (``enc_keys``)
    tls/ca.pem                         the local authority that signed the API
                                       certificates: what clients trust (--ca)
    tls/ca-key.pem                     its key: stays here, with whoever ran init
    dangerous-goods-list.csv           with ``dgl_file``: the list every node loads

Genesis lists the ports the network serves, each with its port authority
(``ports``; :func:`corridor` makes the HAROPA corridor, Le Havre, Rouen and
Paris, for a network with one port authority), and the lead time
(``lead_time_hours``) a declaration must be submitted by before departure.

Without ``dgl_file`` the network runs on the built-in list. With it (the
project's CSV format or a 49 CFR 172.101 table), the file is checked, copied
beside the genesis, its digest pinned in genesis, and every node
configuration points at the copy: a node refuses to start on any other list.

Every key file is PKCS#8, mode 0600. A validator organisation's node key is
also registered as one of its member keys, so the node can sign the
transactions it must send itself (evidence of misbehaviour).

Ports: the nodes' HTTP APIs take ``base_port`` and the ports after it, in
node order (validators, then observers); the validators' peer listeners
(``peer_listen``) take the ports after those. Every validator lists every
other validator under ``[[peers]]`` (address and node key) and every
observer under ``[[observers]]`` (node key: it may connect); an observer
lists the validators as its peers and listens for no one. A network of one
validator and no observer has no peer to listen for. No peer certificate
is written: a node's peer certificate is built from its node key and the
genesis file (:mod:`node.p2p.tls`), the same on every node. The client API
is served over TLS with a certificate of a local authority made here
(:mod:`node.api_tls`), for ``host``, ``localhost``, ``127.0.0.1`` and
``::1``; the nodes' URLs are ``https://``.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.dgl import DangerousGoodsList, read_list_file
from contracts.dgl_builtin import BUILTIN, builtin_list
from contracts.errors import ContractError
from contracts.lifecycle import Role
from contracts.membership import (
    ORG_NAME,
    AppGenesis,
    Identity,
    Organisation,
    Port,
    lead_time_problem,
    normalised,
)
from ledger.crypto import PublicKey, SigningKey
from ledger.genesis import Genesis
from ledger.keyfile import encryption_public, save_encryption_key, save_signing_key
from ledger.validators import Validator, ValidatorSet
from node.api_tls import (
    CA_CERT,
    CA_KEY,
    LOCAL_NAMES,
    SERVER_CERT,
    SERVER_KEY,
    Authority,
    cert_pem,
    write_private,
    write_public,
)
from node.errors import NetworkInitError
from node.genesis_file import genesis_to_json

DEFAULT_VALIDATORS = ("customs", "port-authority", "forwarder-a", "forwarder-b")
DEFAULT_MEMBERS = ("shipper-acme:shipper", "shipper-beta:shipper", "auditor:auditor")
CHAIN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DGL_COPY = "dangerous-goods-list.csv"
ENC_KEY_SUFFIX = ".enc.pem"
"""``keys/<org>.enc.pem``: the organisation's X25519 encryption key, beside its member key."""
HAROPA: Final = (("FRLEH", "Le Havre"), ("FRURO", "Rouen"), ("FRPAR", "Paris"))
"""The ports a new network serves unless told otherwise: HAROPA's, on the Seine."""


@dataclass(frozen=True, slots=True)
class NodeFiles:
    """Where ``network init`` put one node's files."""

    name: str
    config: Path
    url: str
    peer_address: str | None = None
    """``HOST:PORT`` where it takes peer connections (a validator, in a network of several)."""


VALIDATOR_ROLES = (Role.CUSTOMS, Role.PORT_AUTHORITY, Role.FORWARDER)


def role_of(name: str, explicit: str | None) -> Role:
    """The role given after ``:``, or one guessed from a validator's name."""
    if explicit:
        try:
            return Role(explicit.replace("-", "_"))
        except ValueError:
            allowed = ", ".join(r.value for r in Role)
            raise NetworkInitError(
                f"{name}: unknown role {explicit!r} (one of {allowed})"
            ) from None
    for prefix, role in (
        ("customs", Role.CUSTOMS),
        ("port", Role.PORT_AUTHORITY),
        ("forwarder", Role.FORWARDER),
    ):
        if name.startswith(prefix):
            return role
    raise NetworkInitError(
        f"{name}: give its role as NAME:ROLE (customs, port_authority, forwarder)"
    )


def _parse(spec: str) -> tuple[str, str | None]:
    name, _, role = spec.partition(":")
    name = name.strip()
    if not ORG_NAME.match(name):
        raise NetworkInitError(f"{name!r}: organisation names are lower-case letters, digits, '-'")
    return name, role.strip() or None


def _validator(spec: str) -> tuple[str, Role]:
    name, explicit = _parse(spec)
    role = role_of(name, explicit)
    if role not in VALIDATOR_ROLES:
        raise NetworkInitError(
            f"{name}: {role.phrase} does not run a validator; make it a member instead"
        )
    return name, role


def _member(spec: str) -> tuple[str, Role]:
    name, explicit = _parse(spec)
    if explicit is None:
        allowed = ", ".join(r.value for r in Role)
        raise NetworkInitError(f"{name}: give a member as NAME:ROLE (ROLE one of {allowed})")
    return name, role_of(name, explicit)


def network_roles(validators: Sequence[str], members: Sequence[str]) -> dict[str, Role]:
    """Each organisation's role, as ``init_network`` reads ``validators`` and ``members``."""
    return dict([_validator(v) for v in validators] + [_member(m) for m in members])


def _refuse_existing(directory: Path, paths: list[Path]) -> None:
    """Refuse a target that is not a directory, or one holding a file this would write."""
    if directory.exists() and not directory.is_dir():
        raise NetworkInitError(f"{directory} is not a directory: choose a new or empty one")
    if (directory / "genesis.json").exists():
        raise NetworkInitError(f"{directory / 'genesis.json'} exists: choose an empty directory")
    for path in paths:
        if os.path.lexists(path):
            raise NetworkInitError(
                f"{path} exists: choose a new or empty directory, or remove the file"
            )


def init_network(
    directory: Path,
    *,
    validators: list[str],
    members: list[str],
    base_port: int = 7100,
    chain: str = "dgledger-local",
    genesis_time: int,
    host: str = "127.0.0.1",
    consensus: dict[str, int] | None = None,
    observers: list[str] | None = None,
    dgl_file: Path | None = None,
    identities: Mapping[str, Identity] | None = None,
    issued_at: datetime.datetime | None = None,
    ports: Sequence[Port] = (),
    lead_time_hours: int = 0,
) -> list[NodeFiles]:
    """Write a new network's files; refuses to overwrite an existing genesis.

    ``observers`` are member organisations (an auditor, another forwarder)
    that run a node following the chain without voting: each gets a node
    key, registered as one of its member keys, and a configuration with
    ``validator = false`` whose peers are the validators. Validators come
    first in the returned list, observers after them.

    ``identities`` gives organisations their legal name and identifiers,
    recorded in genesis; every organisation gets an X25519 encryption key
    (``keys/<org>.enc.pem``, its public key in genesis). ``ports`` are the
    ports the network serves, each a port authority's (none: no port
    authority is held to a port); ``lead_time_hours`` how long before the
    estimated departure a declaration must be submitted.

    Every argument is checked, and the directory searched for any file this
    would write, before the first file is written. The API certificates are
    valid from ``issued_at`` (default: now).
    """
    observers = list(observers or [])
    dgl, dgl_bytes, dgl_setting = _dangerous_goods_list(dgl_file)
    if not CHAIN_ID.match(chain):
        raise NetworkInitError("chain id: letters, digits, '.', '_', '-' (at most 64)")
    if not validators:
        raise NetworkInitError("at least one validator organisation is needed")
    if not 1024 <= base_port <= 65536 - ports_needed(len(validators), len(observers)):
        raise NetworkInitError("base port must leave room for every node below 65536")
    validator_roles = [_validator(v) for v in validators]
    member_roles = [_member(m) for m in members]
    names = [n for n, _ in validator_roles + member_roles]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise NetworkInitError(f"organisation {twice[0]} is named twice")
    unknown = set(observers) - {n for n, _ in member_roles}
    if unknown:
        raise NetworkInitError(f"observer {sorted(unknown)[0]} is not one of the members")
    if len(set(observers)) != len(observers):
        raise NetworkInitError("an observer is named twice")
    identities = dict(identities or {})
    _check_identities(identities, names)
    _check_corridor(ports, lead_time_hours, dict(validator_roles + member_roles))
    runners = [name for name, _ in validator_roles] + observers
    _refuse_existing(
        directory,
        [directory / "keys" / f"{name}{end}" for name in names for end in (".pem", ENC_KEY_SUFFIX)]
        + [
            directory / name / file
            for name in runners
            for file in ("node-key.pem", "node.toml", SERVER_CERT, SERVER_KEY)
        ]
        + [directory / CA_CERT, directory / CA_KEY]
        + ([directory / DGL_COPY] if dgl_bytes is not None else []),
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "keys").mkdir(exist_ok=True)
    now = issued_at or datetime.datetime.now(datetime.UTC)
    authority = Authority.create(chain, now)
    (directory / CA_CERT).parent.mkdir(exist_ok=True)
    write_public(directory / CA_CERT, cert_pem(authority.cert))
    write_private(directory / CA_KEY, authority.key)
    orgs: list[Organisation] = []
    vals: list[Validator] = []
    observer_keys: dict[str, PublicKey] = {}
    for name, role in validator_roles:
        node_key = SigningKey.generate()
        member_key = SigningKey.generate()
        (directory / name).mkdir(exist_ok=True)
        save_signing_key(directory / name / "node-key.pem", node_key)
        save_signing_key(directory / "keys" / f"{name}.pem", member_key)
        orgs.append(
            Organisation(
                name,
                role,
                (member_key.public, node_key.public),
                identities.get(name),
                (_encryption_key(directory, name),),
            )
        )
        vals.append(Validator(node_key.public, 10, name))
    for name, role in member_roles:
        key = SigningKey.generate()
        save_signing_key(directory / "keys" / f"{name}.pem", key)
        keys: tuple[PublicKey, ...] = (key.public,)
        if name in observers:
            node_key = SigningKey.generate()
            (directory / name).mkdir(exist_ok=True)
            save_signing_key(directory / name / "node-key.pem", node_key)
            keys = (key.public, node_key.public)
            observer_keys[name] = node_key.public
        orgs.append(
            Organisation(
                name, role, keys, identities.get(name), (_encryption_key(directory, name),)
            )
        )
    if dgl_bytes is not None:
        (directory / DGL_COPY).write_bytes(dgl_bytes)
    app = AppGenesis(tuple(orgs), dgl.digest(), 2, tuple(ports), lead_time_hours)
    genesis = Genesis.create(chain, genesis_time, ValidatorSet.create(vals), app.to_value())
    (directory / "genesis.json").write_text(genesis_to_json(genesis), encoding="utf-8")
    node_keys = {v.org: v.public for v in vals} | observer_keys
    for name in runners:
        api_cert, api_key = authority.issue(name, [host, *LOCAL_NAMES], now)
        write_public(directory / name / SERVER_CERT, cert_pem(api_cert))
        write_private(directory / name / SERVER_KEY, api_key)
    return _write_configs(
        directory,
        runners,
        validators=[name for name, _ in validator_roles],
        node_keys=node_keys,
        base_port=base_port,
        host=host,
        consensus=consensus or {},
        dgl_setting=dgl_setting,
    )


def _check_identities(identities: Mapping[str, Identity], names: list[str]) -> None:
    """Refuse an identity for an organisation not named, or one two organisations share."""
    unknown = sorted(set(identities) - set(names))
    if unknown:
        raise NetworkInitError(f"identity for {unknown[0]}, which is not one of the organisations")
    seen: dict[tuple[str, str], str] = {}
    for name, identity in sorted(identities.items()):
        for mark in [("legal name", normalised(identity.legal_name)), *identity.identifiers]:
            other = seen.setdefault(mark, name)
            if other != name:
                raise NetworkInitError(f"{other} and {name} have the same {mark[0]}")


def corridor(
    roles: Mapping[str, Role],
    names: Sequence[tuple[str, str]] = HAROPA,
    authorities: Mapping[str, str] | None = None,
) -> tuple[Port, ...]:
    """The ports ``names`` (UN/LOCODE, name), each its ``authorities`` entry's.

    A port no entry names is the network's port authority's, if it has
    exactly one; with none, ``HAROPA`` (the default) gives no port and any
    other list is refused, as is a port left without an authority.
    """
    authorities = dict(authorities or {})
    codes = [code for code, _ in names]
    unknown = sorted(set(authorities) - set(codes))
    if unknown:
        raise NetworkInitError(f"--port-authority {unknown[0]}: not one of the ports listed")
    if len(set(codes)) != len(codes):
        twice = sorted({c for c in codes if codes.count(c) > 1})[0]
        raise NetworkInitError(f"the port {twice} is listed twice")
    ports_authorities = sorted(n for n, r in roles.items() if r is Role.PORT_AUTHORITY)
    if not ports_authorities and names == HAROPA and not authorities:
        return ()
    out = []
    for code, name in names:
        authority = authorities.get(code)
        if authority is None:
            if len(ports_authorities) != 1:
                found = ", ".join(ports_authorities) or "none"
                raise NetworkInitError(
                    f"port {code}: name its port authority with --port-authority {code}=ORG"
                    f" (the network's port authorities: {found})"
                )
            authority = ports_authorities[0]
        try:
            out.append(Port(code, name, authority))
        except ValueError as e:
            raise NetworkInitError(f"port {code}={name!r}: {e}") from None
    return tuple(out)


def _check_corridor(ports: Sequence[Port], lead_time_hours: int, roles: Mapping[str, Role]) -> None:
    """Refuse a port of no port authority of the network, a port twice, a lead time out of range."""
    seen: set[str] = set()
    for port in ports:
        role = roles.get(port.authority)
        if role is not Role.PORT_AUTHORITY:
            what = "not one of the organisations" if role is None else role.phrase
            raise NetworkInitError(
                f"port {port.locode}: its authority {port.authority} is {what}, not a port"
                " authority of the network"
            )
        if port.locode in seen:
            raise NetworkInitError(f"the port {port.locode} is listed twice")
        seen.add(port.locode)
    problem = lead_time_problem(lead_time_hours)
    if problem is not None:
        raise NetworkInitError(f"lead time {lead_time_hours}: {problem}")


def _encryption_key(directory: Path, name: str) -> bytes:
    """Write ``name``'s new X25519 key beside its member key; its public key."""
    key = X25519PrivateKey.generate()
    save_encryption_key(directory / "keys" / f"{name}{ENC_KEY_SUFFIX}", key)
    return encryption_public(key)


def ports_needed(validators: int, observers: int) -> int:
    """Ports taken from ``base_port`` on: an API per node, a peer listener per validator."""
    return validators + observers + (validators if validators + observers > 1 else 0)


def _write_configs(
    directory: Path,
    runners: list[str],
    *,
    validators: list[str],
    node_keys: dict[str, PublicKey],
    base_port: int,
    host: str,
    consensus: dict[str, int],
    dgl_setting: str,
) -> list[NodeFiles]:
    """Each node's ``node.toml``: its ports, its peers and the observers it lets in."""
    listening = len(runners) > 1  # one validator alone has no peer to listen for
    peer_at = {name: f"{host}:{base_port + len(runners) + i}" for i, name in enumerate(validators)}
    nodes = []
    for i, name in enumerate(runners):
        validator = name in peer_at
        peers = "".join(
            f'\n[[peers]]\nname = "{other}"\naddress = "{address}"\n'
            f'key = "{node_keys[other].hex()}"\n'
            for other, address in peer_at.items()
            if other != name
        )
        observers = "".join(
            f'\n[[observers]]\nname = "{other}"\nkey = "{node_keys[other].hex()}"\n'
            for other in runners
            if validator and other not in peer_at
        )
        address = peer_at[name] if validator and listening else None
        listen = f'peer_listen = "{address}"\n' if address else ""
        extra = "".join(f"{k} = {v}\n" for k, v in consensus.items())
        text = (
            "[node]\n"
            f'name = "{name}"\n'
            'data_dir = "data"\n'
            'genesis = "../genesis.json"\n'
            'key = "node-key.pem"\n'
            f'dgl = "{dgl_setting}"\n'
            f'listen = "{host}:{base_port + i}"\n'
            f"{listen}"
            f"validator = {'true' if validator else 'false'}\n"
            f"{peers}{observers}"
            + (f"\n[consensus]\n{extra}" if extra else "")
            + f'\n[api]\ntls_cert = "{SERVER_CERT}"\ntls_key = "{SERVER_KEY}"\n'
        )
        path = directory / name / "node.toml"
        path.write_text(text, encoding="utf-8")
        url_host = f"[{host}]" if ":" in host else host
        nodes.append(NodeFiles(name, path, f"https://{url_host}:{base_port + i}", address))
    return nodes


def _dangerous_goods_list(path: Path | None) -> tuple[DangerousGoodsList, bytes | None, str]:
    """The list to pin, the bytes to copy (the very bytes checked), the nodes' setting."""
    if path is None:
        return builtin_list(), None, BUILTIN
    try:
        data = read_list_file(path)
        dgl = DangerousGoodsList.from_bytes(data, str(path))
    except ContractError as e:
        raise NetworkInitError(f"{path}: {e.message}") from e
    if not len(dgl):
        raise NetworkInitError(f"{path}: the list has no entries")
    return dgl, data, f"../{DGL_COPY}"
