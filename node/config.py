"""Node configuration: one TOML file per node, validated field by field.

::

    [node]
    name = "customs"                    # this node's name (log lines, metrics)
    data_dir = "customs/data"           # LevelDB and the consensus sign state
    genesis = "genesis.json"
    key = "customs/node-key.pem"        # the node's consensus/peer key (PKCS#8)
    key_password_env = ""               # name of an env variable holding the key password
    dgl = "builtin"                     # the list genesis pins: built-in, or a list file
    dgl_extra = []                      # list files a dgl.set governance action may bring
                                        # into force (load them before it takes effect)
    listen = "127.0.0.1:7100"           # the HTTP API
    peer_listen = "127.0.0.1:7104"      # peer connections (mutual TLS 1.3); optional: a
                                        # node no other node dials (an observer, a
                                        # network's only validator) leaves it out
    validator = true                    # false: observer, follows without voting

    [[peers]]                           # nodes this node connects to
    name = "port-authority"
    address = "127.0.0.1:7105"          # the peer's peer_listen
    key = "3f1c...e2"                   # its node key (64 hex): the one certificate
                                        # this node takes from that address

    [[observers]]                       # observer nodes that may connect to this one
    name = "auditor"                    # (it does not dial them); each is refused
    key = "9a07...4d"                   # once its key is revoked or its org removed

    [consensus]                         # milliseconds
    propose_ms = 3000
    prevote_ms = 1000
    precommit_ms = 1000
    round_increment_ms = 500
    commit_ms = 0
    block_delay_ms = 50                 # wait this long after the first pending tx
    idle_block_ms = 1000                # blocks this far apart while only a governance
                                        # action waits for its height
    max_block_txs = 2000
    max_clock_drift_ms = 10000

    [mempool]
    max_txs = 5000
    max_bytes = 67108864
    max_per_signer = 2000

    [api]
    max_body_bytes = 350552             # a submission's body: at most this, what the
                                        # largest transaction (256 KiB) takes as JSON
    rate_per_key = 200                  # requests per second per key, burst of 2x
    tls_cert = "api-cert.pem"           # the API's server certificate (PEM; a chain:
                                        # the server's first, then intermediates)
    tls_key = "api-key.pem"             # its private key (PEM)
    tls_key_password_env = ""           # name of an env variable holding its password
    plain_http = false                  # true: serve plain HTTP, for a reverse proxy
                                        # that terminates TLS in front of the node;
                                        # then no tls_cert or tls_key

    [store]
    open_files = 256                    # LevelDB table files kept open (74 - 50000):
                                        # more serve reads of a big chain faster, and
                                        # keep more of the store mapped in memory
    write_buffer_mib = 64               # LevelDB's memtable (4 - 1024): writes collect
                                        # there before one table is written; larger
                                        # means less compaction, more memory
    compression = "snappy"              # "snappy" or "none": snappy shrinks blocks'
                                        # transactions by about a sixth, "none" costs
                                        # less CPU and more disk
    prune_keep = 0                      # 0: keep the state of every block (an
                                        # auditor's node); N (2 or more): keep the
                                        # last N blocks' states and delete what only
                                        # older ones used, as blocks commit

Relative paths are relative to the configuration file. Unknown sections
or keys are errors, so a typo never silently falls back to a default. The
client API speaks TLS: a configuration gives ``tls_cert`` and ``tls_key``,
or says ``plain_http = true``; one that says neither is refused.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from contracts.dgl_builtin import BUILTIN
from ledger.crypto import PublicKey
from ledger.errors import LedgerError
from ledger.kv import DEFAULT_OPEN_FILES
from ledger.tx import MAX_TX_SIZE
from node.chain import MIN_PRUNE_KEEP
from node.errors import ConfigError
from node.pipeline import MAX_WORKERS

MAX_CONFIG_SIZE: Final = 256 * 1024
ZERO_ALLOWED: Final = frozenset(
    {"round_increment_ms", "commit_ms", "block_delay_ms", "max_clock_drift_ms", "prune_keep"}
)
"""Integer settings that may be 0; every other one must be at least 1 (0 would stop the node)."""


MAX_PEERS: Final = 256


@dataclass(frozen=True, slots=True)
class Peer:
    """Another node this node connects to, and the node key it must present."""

    name: str
    host: str
    port: int
    key: PublicKey

    @property
    def address(self) -> str:
        """``HOST:PORT`` of the peer's ``peer_listen``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Observer:
    """An observer node that may connect to this one (this node does not dial it)."""

    name: str
    key: PublicKey


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Timeouts and block limits."""

    propose_ms: int = 3000
    prevote_ms: int = 1000
    precommit_ms: int = 1000
    round_increment_ms: int = 500
    commit_ms: int = 0
    block_delay_ms: int = 50
    idle_block_ms: int = 1000
    max_block_txs: int = 2000
    max_clock_drift_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """Bounds of the pending pool."""

    max_txs: int = 5_000
    max_bytes: int = 64 * 1024 * 1024
    max_per_signer: int = 2_000


MAX_SUBMIT_BODY: Final = 4 * -(-MAX_TX_SIZE // 3) + 1024
"""The most a submission's body needs: the largest transaction (``MAX_TX_SIZE``) as base64
in JSON, with a KiB for the JSON around it (350,552 bytes); ``max_body_bytes`` may lower it."""


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """HTTP limits, and the API's TLS certificate and key (or plain HTTP, said explicitly)."""

    max_body_bytes: int = MAX_SUBMIT_BODY
    rate_per_key: int = 200
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_key_password_env: str = ""
    plain_http: bool = False


API_TLS_KEYS: Final = frozenset({"tls_cert", "tls_key", "tls_key_password_env", "plain_http"})


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How the node's LevelDB store is opened.

    The defaults were measured on the node's commit path (``scripts/make_chain.py``,
    10,000 declarations, five runs each in turn, 2026-12-07; ``docs/benchmarks.md``):
    against LevelDB's 16 MiB memtable with snappy, a 64 MiB memtable took 1.12x
    less CPU for the same disk (84 MB) and 28 MiB more peak memory; with no
    compression as well, 1.17x less CPU but 21% more disk (101 MB), since
    snappy cannot shrink the tree's hashes but does shrink blocks' transactions.
    """

    open_files: int = DEFAULT_OPEN_FILES
    write_buffer_mib: int = 64
    compression: str = "snappy"
    prune_keep: int = 0
    """0: every block's state is kept; N: the last N (see :meth:`node.chain.Chain.prune`)."""

    def store_options(self) -> dict[str, Any]:
        """The keyword arguments of :class:`ledger.kv.LevelDBKV` these settings mean."""
        return {
            "open_files": self.open_files,
            "write_buffer_bytes": self.write_buffer_mib << 20,
            "compression": None if self.compression == "none" else self.compression,
        }


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """Catching up: processes that check the next blocks while one executes.

    ``workers`` (``[sync] workers``, 0 to :data:`node.pipeline.MAX_WORKERS`;
    0: none) defaults to one per core but one, at most 4
    (:func:`node.pipeline.default_workers`). They run only while the node is
    at least :data:`node.p2p.sync.PREFETCH_BEHIND` blocks behind.
    """

    workers: int | None = None


OPEN_FILES_RANGE: Final = (74, 50_000)
"""What LevelDB accepts for ``max_open_files`` (it would clip anything else silently)."""
WRITE_BUFFER_MIB_RANGE: Final = (4, 1024)
"""Memtable sizes a node accepts, in MiB."""
STORE_COMPRESSIONS: Final = ("snappy", "none")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything a node needs to start."""

    path: Path
    name: str
    data_dir: Path
    genesis: Path
    key: Path
    key_password_env: str
    dgl: str
    host: str
    port: int
    validator: bool
    peers: tuple[Peer, ...] = ()
    observers: tuple[Observer, ...] = ()
    peer_listen: tuple[str, int] | None = None
    """Host and port peers connect to; None: this node accepts no peer connections."""
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    dgl_extra: tuple[str, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)


MAX_EXTRA_LISTS: Final = 16


def _section(cls: Any, raw: Any, where: str, path: Path) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [{where}] must be a table")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in known:
            raise ConfigError(f"{path}: [{where}] unknown key {key!r}")
        low = 0 if key in ZERO_ALLOWED else 1
        if type(value) is not int or not low <= value <= 10**12:
            kind = "a non-negative" if low == 0 else "a positive"
            raise ConfigError(f"{path}: [{where}] {key} must be {kind} integer")
        values[key] = value
    return cls(**values)


def _store(raw: Any, path: Path) -> StoreConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [store] must be a table")
    raw = dict(raw)
    compression = raw.pop("compression", "snappy")
    if compression not in STORE_COMPRESSIONS:
        raise ConfigError(f'{path}: [store] compression must be "snappy" or "none"')
    store: StoreConfig = replace(_section(StoreConfig, raw, "store", path), compression=compression)
    low, high = OPEN_FILES_RANGE
    if not low <= store.open_files <= high:
        raise ConfigError(f"{path}: [store] open_files must be {low} to {high}")
    low, high = WRITE_BUFFER_MIB_RANGE
    if not low <= store.write_buffer_mib <= high:
        raise ConfigError(f"{path}: [store] write_buffer_mib must be {low} to {high}")
    if 0 < store.prune_keep < MIN_PRUNE_KEEP:
        raise ConfigError(f"{path}: [store] prune_keep must be 0 or at least {MIN_PRUNE_KEEP}")
    return store


def _read_text(path: Path) -> str:
    # Read at most one byte past the limit: the size is checked on what was read,
    # not on a stat() the file may have outgrown since.
    with path.open("rb") as f:
        data = f.read(MAX_CONFIG_SIZE + 1)
    if len(data) > MAX_CONFIG_SIZE:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_SIZE} bytes")
    return data.decode("utf-8")


def load_config(path: str | Path) -> NodeConfig:
    """Read and validate a node configuration file."""
    path = Path(path)
    try:
        raw = tomllib.loads(_read_text(path))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except RecursionError as e:  # arrays or tables nested deeper than the parser's stack
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from e
    unknown = set(raw) - {
        "node",
        "peers",
        "observers",
        "consensus",
        "mempool",
        "api",
        "store",
        "sync",
    }
    if unknown:
        raise ConfigError(f"{path}: unknown section {sorted(unknown)[0]!r}")
    node = raw.get("node")
    if not isinstance(node, dict):
        raise ConfigError(f"{path}: [node] section missing")
    allowed = {
        "name",
        "data_dir",
        "genesis",
        "key",
        "key_password_env",
        "dgl",
        "dgl_extra",
        "listen",
        "peer_listen",
        "validator",
    }
    for key in node:
        if key not in allowed:
            raise ConfigError(f"{path}: [node] unknown key {key!r}")

    def text(key: str, default: str | None = None) -> str:
        value = node.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise ConfigError(f"{path}: [node] {key} must be a non-empty string")
        return value

    base = path.parent
    host, port = _host_port(text("listen"), f"{path}: [node] listen")
    peer_listen = None
    if "peer_listen" in node:
        peer_listen = _host_port(text("peer_listen"), f"{path}: [node] peer_listen")
        if peer_listen == (host, port):
            raise ConfigError(f"{path}: [node] peer_listen must differ from listen")
    validator = node.get("validator", True)
    if not isinstance(validator, bool):
        raise ConfigError(f"{path}: [node] validator must be true or false")
    peers = tuple(
        Peer(name, *_host_port(fields["address"], f"{path}: peers[{i}].address"), key)
        for i, (name, key, fields) in enumerate(
            _nodes(raw.get("peers", []), "peers", {"name", "address", "key"}, path)
        )
    )
    observers = tuple(
        Observer(name, key)
        for name, key, _ in _nodes(raw.get("observers", []), "observers", {"name", "key"}, path)
    )
    # One node, one name, one key: traffic is told apart (and cut off in tests) by name.
    nodes = [(p.name, p.key.key_id) for p in peers] + [(o.name, o.key.key_id) for o in observers]
    for column, what in enumerate(("name", "key")):
        values = [n[column] for n in nodes]
        if len(set(values)) != len(values):
            raise ConfigError(
                f"{path}: a node {what} is given twice in [[peers]] and [[observers]]"
            )
    dgl = text("dgl", BUILTIN)
    extra = node.get("dgl_extra", [])
    if (
        not isinstance(extra, list)
        or len(extra) > MAX_EXTRA_LISTS
        or not all(isinstance(e, str) and e for e in extra)
    ):
        raise ConfigError(
            f"{path}: [node] dgl_extra must be a list of at most {MAX_EXTRA_LISTS} file names"
        )
    api = raw.get("api")
    body = api.get("max_body_bytes") if isinstance(api, dict) else None
    if isinstance(body, int) and body > MAX_SUBMIT_BODY:
        raise ConfigError(
            f"{path}: [api] max_body_bytes must be at most {MAX_SUBMIT_BODY}: a submission's"
            f" body holds one transaction, at most {MAX_TX_SIZE} bytes, {MAX_SUBMIT_BODY} as"
            " base64 in JSON"
        )
    store = _store(raw.get("store", {}), path)
    return NodeConfig(
        path=path,
        name=text("name"),
        data_dir=base / text("data_dir"),
        genesis=base / text("genesis"),
        key=base / text("key"),
        key_password_env=text("key_password_env", ""),
        dgl=_list_path(base, dgl),
        host=host,
        port=port,
        validator=validator,
        peers=peers,
        observers=observers,
        peer_listen=peer_listen,
        consensus=_section(ConsensusConfig, raw.get("consensus", {}), "consensus", path),
        mempool=_section(MempoolConfig, raw.get("mempool", {}), "mempool", path),
        api=_api(raw.get("api", {}), path),
        dgl_extra=tuple(_list_path(base, e) for e in extra),
        store=store,
        sync=_sync(raw.get("sync", {}), path),
    )


def _sync(raw: Any, path: Path) -> SyncConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [sync] must be a table")
    unknown = set(raw) - {"workers"}
    if unknown:
        raise ConfigError(f"{path}: [sync] unknown key {sorted(unknown)[0]!r}")
    if "workers" not in raw:
        return SyncConfig()
    workers = raw["workers"]
    if type(workers) is not int or not 0 <= workers <= MAX_WORKERS:
        raise ConfigError(f"{path}: [sync] workers must be an integer from 0 to {MAX_WORKERS}")
    return SyncConfig(workers)


def _api(raw: Any, path: Path) -> ApiConfig:
    """The ``[api]`` table: limits, and TLS (a certificate and key, or plain HTTP said so)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [api] must be a table")
    limits: ApiConfig = _section(
        ApiConfig, {k: v for k, v in raw.items() if k not in API_TLS_KEYS}, "api", path
    )
    for key in ("tls_cert", "tls_key", "tls_key_password_env"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key]):
            raise ConfigError(f"{path}: [api] {key} must be a non-empty string")
    plain = raw.get("plain_http", False)
    if not isinstance(plain, bool):
        raise ConfigError(f"{path}: [api] plain_http must be true or false")
    given = [k for k in ("tls_cert", "tls_key") if k in raw]
    if plain and (given or "tls_key_password_env" in raw):
        raise ConfigError(
            f"{path}: [api] plain_http = true with TLS settings: give one or the other"
        )
    if not plain and len(given) != 2:
        missing = " and ".join(k for k in ("tls_cert", "tls_key") if k not in given)
        raise ConfigError(
            f"{path}: [api] {missing} missing: the client API needs a TLS"
            " certificate and key (network init writes them), or plain_http = true behind"
            " a proxy that terminates TLS"
        )
    if "tls_key_password_env" in raw and "tls_key" not in raw:
        raise ConfigError(f"{path}: [api] tls_key_password_env without tls_key")
    base = path.parent
    return replace(
        limits,
        tls_cert=base / raw["tls_cert"] if "tls_cert" in raw else None,
        tls_key=base / raw["tls_key"] if "tls_key" in raw else None,
        tls_key_password_env=raw.get("tls_key_password_env", ""),
        plain_http=plain,
    )


def _list_path(base: Path, name: str) -> str:
    """A list setting: the built-in list's name as it is, a file relative to ``base``."""
    return name if name == BUILTIN else str(base / name)


def _host_port(value: Any, where: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[IPv6]:PORT``) as a host and a port number from 1 to 65535."""
    host, _, port = value.rpartition(":") if isinstance(value, str) else ("", "", "")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ConfigError(f"{where} must be HOST:PORT")
    return host, int(port)


def _nodes(
    raw: Any, section: str, keys: set[str], path: Path
) -> list[tuple[str, PublicKey, dict[str, str]]]:
    """The ``[[peers]]`` or ``[[observers]]`` tables: name, node key and every field."""
    if not isinstance(raw, list) or len(raw) > MAX_PEERS:
        raise ConfigError(f"{path}: [[{section}]] must be a list of at most {MAX_PEERS} tables")
    listed = " and ".join(sorted(keys))
    seen: list[tuple[str, PublicKey, dict[str, str]]] = []
    for i, entry in enumerate(raw):
        where = f"{path}: {section}[{i}]"
        if not isinstance(entry, dict) or set(entry) != keys:
            raise ConfigError(f"{where} must have exactly {listed}")
        if not all(isinstance(v, str) and v for v in entry.values()):
            raise ConfigError(f"{where} {listed} must be non-empty strings")
        try:
            key = PublicKey.from_hex(entry["key"])
        except LedgerError as e:
            raise ConfigError(f"{where}.key is not a node key (64 hex): {e}") from e
        # Connections are kept by name: a second entry of one name would replace the first.
        if any(name == entry["name"] for name, _, _ in seen):
            raise ConfigError(f"{where}.name {entry['name']!r} is given twice")
        seen.append((entry["name"], key, entry))
    return seen
