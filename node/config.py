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
    listen = "127.0.0.1:7100"
    validator = true                    # false: observer, follows without voting

    [[peers]]
    name = "port-authority"
    url = "http://127.0.0.1:7101"

    [consensus]                         # milliseconds
    propose_ms = 3000
    prevote_ms = 1000
    precommit_ms = 1000
    round_increment_ms = 500
    commit_ms = 0
    block_delay_ms = 50                 # wait this long after the first pending tx
    max_block_txs = 2000
    max_clock_drift_ms = 10000

    [mempool]
    max_txs = 5000
    max_bytes = 67108864
    max_per_signer = 2000

    [api]
    max_body_bytes = 1048576
    rate_per_key = 200                  # requests per second per key, burst of 2x

    [store]
    open_files = 256                    # LevelDB table files kept open (74 - 50000):
                                        # more serve reads of a big chain faster, and
                                        # keep more of the store mapped in memory

Relative paths are relative to the configuration file. Unknown sections
or keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from contracts.dgl_builtin import BUILTIN
from ledger.kv import DEFAULT_OPEN_FILES
from node.errors import ConfigError

MAX_CONFIG_SIZE: Final = 256 * 1024
ZERO_ALLOWED: Final = frozenset(
    {"round_increment_ms", "commit_ms", "block_delay_ms", "max_clock_drift_ms"}
)
"""Integer settings that may be 0; every other one must be at least 1 (0 would stop the node)."""


@dataclass(frozen=True, slots=True)
class Peer:
    """Another node to talk to."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    """Timeouts and block limits."""

    propose_ms: int = 3000
    prevote_ms: int = 1000
    precommit_ms: int = 1000
    round_increment_ms: int = 500
    commit_ms: int = 0
    block_delay_ms: int = 50
    max_block_txs: int = 2000
    max_clock_drift_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class MempoolConfig:
    """Bounds of the pending pool."""

    max_txs: int = 5_000
    max_bytes: int = 64 * 1024 * 1024
    max_per_signer: int = 2_000


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """HTTP limits."""

    max_body_bytes: int = 1024 * 1024
    rate_per_key: int = 200


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """How the node's LevelDB store is opened."""

    open_files: int = DEFAULT_OPEN_FILES


OPEN_FILES_RANGE: Final = (74, 50_000)
"""What LevelDB accepts for ``max_open_files`` (it would clip anything else silently)."""


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
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    mempool: MempoolConfig = field(default_factory=MempoolConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    dgl_extra: tuple[str, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)


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
    unknown = set(raw) - {"node", "peers", "consensus", "mempool", "api", "store"}
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
    listen = text("listen")
    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{path}: [node] listen must be HOST:PORT")
    validator = node.get("validator", True)
    if not isinstance(validator, bool):
        raise ConfigError(f"{path}: [node] validator must be true or false")
    peers_raw = raw.get("peers", [])
    if not isinstance(peers_raw, list) or len(peers_raw) > 256:
        raise ConfigError(f"{path}: [[peers]] must be a list of at most 256 tables")
    peers: list[Peer] = []
    for i, p in enumerate(peers_raw):
        if not isinstance(p, dict) or set(p) != {"name", "url"}:
            raise ConfigError(f"{path}: peers[{i}] must have exactly name and url")
        if not all(isinstance(v, str) and v for v in p.values()):
            raise ConfigError(f"{path}: peers[{i}] name and url must be non-empty strings")
        if not p["url"].startswith(("http://", "https://")) or not _has_host(p["url"]):
            raise ConfigError(f"{path}: peers[{i}].url must be an http(s) URL with a host")
        # Senders are kept by peer name: a second entry of one name would silently replace
        # the first.
        if any(q.name == p["name"] for q in peers):
            raise ConfigError(f"{path}: peers[{i}].name {p['name']!r} is given twice")
        peers.append(Peer(p["name"], p["url"].rstrip("/")))
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
    store = _section(StoreConfig, raw.get("store", {}), "store", path)
    low, high = OPEN_FILES_RANGE
    if not low <= store.open_files <= high:
        raise ConfigError(f"{path}: [store] open_files must be {low} to {high}")
    return NodeConfig(
        path=path,
        name=text("name"),
        data_dir=base / text("data_dir"),
        genesis=base / text("genesis"),
        key=base / text("key"),
        key_password_env=text("key_password_env", ""),
        dgl=_list_path(base, dgl),
        host=host,
        port=int(port_text),
        validator=validator,
        peers=tuple(peers),
        consensus=_section(ConsensusConfig, raw.get("consensus", {}), "consensus", path),
        mempool=_section(MempoolConfig, raw.get("mempool", {}), "mempool", path),
        api=_section(ApiConfig, raw.get("api", {}), "api", path),
        dgl_extra=tuple(_list_path(base, e) for e in extra),
        store=store,
    )


def _list_path(base: Path, name: str) -> str:
    """A list setting: the built-in list's name as it is, a file relative to ``base``."""
    return name if name == BUILTIN else str(base / name)


def _has_host(url: str) -> bool:
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:  # a malformed port or bracketed host
        return False
