"""Node configuration, genesis file and key file: every problem is a clear error naming the field.

``load_config`` is checked alone on files written per test; the genesis and
key checks also through :class:`NodeService`, which is where a node meets
them at start (before it opens its store).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from contracts.sealed import sealing_keys
from ledger.chainstore import FORMAT, ChainStore
from ledger.crypto import SigningKey
from ledger.keyfile import load_signing_key, save_signing_key
from ledger.kv import DEFAULT_OPEN_FILES, LevelDBKV
from ledger.tx import Envelope, Transaction
from node.cli.main import main
from node.client.sealing import seal
from node.config import MAX_CONFIG_SIZE, load_config
from node.errors import ConfigError, GenesisFileError, NetworkInitError, StartupError
from node.genesis_file import MAX_FILE, genesis_from_json, load_genesis
from node.network import DGL_COPY, init_network
from node.service import NodeService, check_open_files
from tests.samples import member, reference, sample

PORT_KEY: Final = SigningKey.from_seed(b"port-authority".ljust(32, b"\x00")).public
AUDITOR_KEY: Final = SigningKey.from_seed(b"auditor".ljust(32, b"\x00")).public
GOOD: Final = f"""\
[node]
name = "customs"
data_dir = "data"
genesis = "../genesis.json"
key = "keys/node-key.pem"
listen = "127.0.0.1:7100"
peer_listen = "127.0.0.1:7104"

[[peers]]
name = "port-authority"
address = "127.0.0.1:7105"
key = "{PORT_KEY.hex()}"

[[observers]]
name = "auditor"
key = "{AUDITOR_KEY.hex()}"

[consensus]
propose_ms = 2000
commit_ms = 0

[mempool]
max_txs = 10

[api]
rate_per_key = 5
tls_cert = "api-cert.pem"
tls_key = "api-key.pem"
"""


def write(directory: Path, text: str | bytes, name: str = "node.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def refusal(path: Path) -> str:
    """The message of the error ``load_config`` raises; it always names the file."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_good_config_resolves_paths_against_its_own_directory(tmp_path: Path) -> None:
    path = write(tmp_path / "customs", GOOD)
    config = load_config(path)
    assert config.name == "customs"
    assert config.data_dir == tmp_path / "customs" / "data"
    assert config.genesis == tmp_path / "customs" / ".." / "genesis.json"
    assert config.key == tmp_path / "customs" / "keys" / "node-key.pem"
    assert (config.host, config.port, config.validator, config.dgl) == (
        "127.0.0.1",
        7100,
        True,
        "builtin",
    )
    assert config.peer_listen == ("127.0.0.1", 7104)
    assert [(p.name, p.address, p.key) for p in config.peers] == [
        ("port-authority", "127.0.0.1:7105", PORT_KEY)
    ]
    assert [(o.name, o.key) for o in config.observers] == [("auditor", AUDITOR_KEY)]
    assert (config.consensus.propose_ms, config.consensus.prevote_ms) == (2000, 1000)
    assert (config.mempool.max_txs, config.api.rate_per_key) == (10, 5)


def test_an_ipv6_peer_address_is_taken_in_brackets(tmp_path: Path) -> None:
    text = GOOD.replace('address = "127.0.0.1:7105"', 'address = "[::1]:7105"')
    peer = load_config(write(tmp_path, text)).peers[0]
    assert (peer.host, peer.port, peer.address) == ("::1", 7105, "[::1]:7105")


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    text = GOOD.replace('"data"', f'"{tmp_path / "elsewhere"}"')
    text = text.replace("\nlisten = ", f'\ndgl = "{tmp_path / "list.csv"}"\nlisten = ')
    config = load_config(write(tmp_path / "customs", text))
    assert config.data_dir == tmp_path / "elsewhere"
    assert config.dgl == str(tmp_path / "list.csv")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert "cannot read" in refusal(tmp_path / "absent.toml")
    (tmp_path / "dir.toml").mkdir()
    assert "cannot read" in refusal(tmp_path / "dir.toml")


def test_too_large_not_toml_not_utf8(tmp_path: Path) -> None:
    big = write(tmp_path, GOOD + "#" * MAX_CONFIG_SIZE)
    assert f"larger than {MAX_CONFIG_SIZE} bytes" in refusal(big)
    assert "not valid TOML" in refusal(write(tmp_path, "[node\nname = 1"))
    assert "not valid TOML" in refusal(write(tmp_path, b'[node]\nname = "\xff"\n'))
    assert "not valid TOML" in refusal(write(tmp_path, "a = " + "[" * 20_000 + "]" * 20_000))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("[api]", "[apis]", "unknown section 'apis'"),
        ('name = "customs"', 'name = "customs"\nport = 1', "[node] unknown key 'port'"),
        (
            "propose_ms = 2000",
            "propose_ms = 2000\npropse_ms = 1",
            "[consensus] unknown key 'propse_ms'",
        ),
        ("[node]", "[nodes]", "unknown section 'nodes'"),
        ('name = "customs"', "name = 5", "[node] name must be a non-empty string"),
        ('name = "customs"', 'name = ""', "[node] name must be a non-empty string"),
        ('data_dir = "data"\n', "", "[node] data_dir must be a non-empty string"),
        ('key = "keys/node-key.pem"', "key = []", "[node] key must be a non-empty string"),
        ('listen = "127.0.0.1:7100"', 'listen = "7100"', "[node] listen must be HOST:PORT"),
        ('listen = "127.0.0.1:7100"', 'listen = "h:70000"', "[node] listen must be HOST:PORT"),
        ('listen = "127.0.0.1:7100"', 'listen = "h:http"', "[node] listen must be HOST:PORT"),
        ('name = "customs"', 'name = "customs"\nvalidator = "yes"', "[node] validator must be"),
        ("propose_ms = 2000", 'propose_ms = "2000"', "[consensus] propose_ms must be a positive"),
        ("propose_ms = 2000", "propose_ms = 2000.0", "[consensus] propose_ms must be a positive"),
        ("propose_ms = 2000", "propose_ms = true", "[consensus] propose_ms must be a positive"),
        ("propose_ms = 2000", "propose_ms = 0", "[consensus] propose_ms must be a positive"),
        ("propose_ms = 2000", "propose_ms = -5", "[consensus] propose_ms must be a positive"),
        ("commit_ms = 0", "commit_ms = -1", "[consensus] commit_ms must be a non-negative"),
        ("max_txs = 10", "max_txs = 10000000000000", "[mempool] max_txs must be a positive"),
        ("rate_per_key = 5", "rate_per_key = 0", "[api] rate_per_key must be a positive"),
        ("[api]\n", "api = 5\n[apis]\n", "unknown section 'apis'"),
        ('listen = "127.0.0.1:7100"', 'listen = "h:\u00b2"', "[node] listen must be HOST:PORT"),
        ('peer_listen = "127.0.0.1:7104"', 'peer_listen = "7104"', "peer_listen must be HOST:"),
        ('peer_listen = "127.0.0.1:7104"', "peer_listen = 7104", "peer_listen must be a non-empty"),
        (
            'peer_listen = "127.0.0.1:7104"',
            'peer_listen = "127.0.0.1:7100"',
            "[node] peer_listen must differ from listen",
        ),
        ('address = "127.0.0.1:7105"', 'address = "h:0"', "peers[0].address must be HOST:PORT"),
        ('address = "127.0.0.1:7105"', 'address = "h"', "peers[0].address must be HOST:PORT"),
        ('address = "127.0.0.1:7105"', 'address = "[]:1"', "peers[0].address must be HOST:PORT"),
        (
            'address = "127.0.0.1:7105"',
            "address = 7105",
            "peers[0] address and key and name must be non-empty strings",
        ),
        (
            'address = "127.0.0.1:7105"',
            'url = "http://127.0.0.1:7101"',
            "peers[0] must have exactly address and key and name",
        ),
        ('name = "port-authority"\n', "", "peers[0] must have exactly address and key and name"),
        (f'key = "{PORT_KEY.hex()}"', 'key = "abc"', "peers[0].key is not a node key (64 hex)"),
        (
            f'key = "{PORT_KEY.hex()}"',
            f'key = "{PORT_KEY.hex().upper()}"',
            "peers[0].key is not a node key (64 hex)",
        ),
        (
            f'key = "{PORT_KEY.hex()}"',
            f'key = "{"00" * 32}"',
            "peers[0].key is not a node key (64 hex)",
        ),
        (
            f'key = "{AUDITOR_KEY.hex()}"',
            f'key = "{AUDITOR_KEY.hex()}"\naddress = "h:1"',
            "observers[0] must have exactly key and name",
        ),
        (
            f'key = "{AUDITOR_KEY.hex()}"',
            f'key = "{PORT_KEY.hex()}"',
            "a node key is given twice in [[peers]] and [[observers]]",
        ),
        (
            'name = "auditor"',
            'name = "port-authority"',
            "a node name is given twice in [[peers]] and [[observers]]",
        ),
        ("[[observers]]", 'observers = "x"\n[[x]]', "unknown section 'x'"),
        ("[api]", "[store]\nopen_files = 73\n[api]", "[store] open_files must be 74 to 50000"),
        ("[api]", "[store]\nopen_files = 50001\n[api]", "[store] open_files must be 74 to"),
        ("[api]", '[store]\nopen_files = "all"\n[api]', "[store] open_files must be a positive"),
        ("[api]", "[store]\ncache = 1\n[api]", "[store] unknown key 'cache'"),
        ("[api]", "[store]\nwrite_buffer_mib = 3\n[api]", "[store] write_buffer_mib must be 4 to"),
        ("[api]", "[store]\nwrite_buffer_mib = 1025\n[api]", "write_buffer_mib must be 4 to 1024"),
        ("[api]", '[store]\ncompression = "zstd"\n[api]', '[store] compression must be "snappy"'),
        ("[api]", "[store]\ncompression = false\n[api]", '[store] compression must be "snappy"'),
        ("[api]", "[store]\nprune_keep = 1\n[api]", "[store] prune_keep must be 0 or at least 2"),
        ("[api]", "[store]\nprune_keep = -2\n[api]", "[store] prune_keep must be a non-negative"),
        ("[api]", "[sync]\nworkers = -1\n[api]", "[sync] workers must be an integer from 0 to 64"),
        ("[api]", "[sync]\nworkers = 65\n[api]", "[sync] workers must be an integer from 0 to 64"),
        ("[api]", '[sync]\nworkers = "2"\n[api]', "[sync] workers must be an integer"),
        ("[api]", "[sync]\nworkers = true\n[api]", "[sync] workers must be an integer"),
        ("[api]", "[sync]\nahead = 2\n[api]", "[sync] unknown key 'ahead'"),
    ],
)
def test_bad_setting_is_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in refusal(write(tmp_path, GOOD.replace(old, new, 1)))


def test_zero_is_allowed_where_it_means_no_wait(tmp_path: Path) -> None:
    text = GOOD.replace(
        "commit_ms = 0", "commit_ms = 0\nblock_delay_ms = 0\nround_increment_ms = 0"
    )
    consensus = load_config(write(tmp_path, text)).consensus
    assert (consensus.commit_ms, consensus.block_delay_ms, consensus.round_increment_ms) == (
        0,
        0,
        0,
    )


def test_store_open_files(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).store.open_files == DEFAULT_OPEN_FILES
    text = GOOD.replace("[api]", "[store]\nopen_files = 4000\n\n[api]")
    assert load_config(write(tmp_path, text)).store.open_files == 4000


def test_store_write_buffer_and_compression(tmp_path: Path) -> None:
    default = load_config(write(tmp_path, GOOD)).store.store_options()
    assert default["write_buffer_bytes"] == 64 << 20 and default["compression"] == "snappy"
    text = GOOD.replace("[api]", '[store]\nwrite_buffer_mib = 8\ncompression = "none"\n\n[api]')
    options = load_config(write(tmp_path, text)).store.store_options()
    assert options == {
        "open_files": DEFAULT_OPEN_FILES,
        "write_buffer_bytes": 8 << 20,
        "compression": None,
    }


def test_store_prune_keep(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).store.prune_keep == 0  # every state kept
    text = GOOD.replace("[api]", "[store]\nprune_keep = 100\n\n[api]")
    assert load_config(write(tmp_path, text)).store.prune_keep == 100


def test_sync_workers(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, GOOD)).sync.workers is None  # one per core but one
    for given in (0, 3):
        text = GOOD.replace("[api]", f"[sync]\nworkers = {given}\n\n[api]")
        assert load_config(write(tmp_path, text)).sync.workers == given


def test_open_files_must_fit_the_process_limit() -> None:
    check_open_files(DEFAULT_OPEN_FILES, 1024)
    check_open_files(50_000, resource.RLIM_INFINITY)
    with pytest.raises(StartupError, match=r"open_files = 4000 .* limit of 1024 open files"):
        check_open_files(4000, 1024)
    # The files for connections count too.
    with pytest.raises(StartupError, match="ulimit -n"):
        check_open_files(800, 1024)


def test_peer_named_twice_is_refused(tmp_path: Path) -> None:
    twice = GOOD.replace(
        "[[observers]]",
        '[[peers]]\nname = "port-authority"\naddress = "h:1"\n'
        f'key = "{AUDITOR_KEY.hex()}"\n\n[[observers]]',
    )
    assert "peers[1].name 'port-authority' is given twice" in refusal(write(tmp_path, twice))


def test_missing_node_section_and_bad_peers(tmp_path: Path) -> None:
    assert "[node] section missing" in refusal(write(tmp_path, "[api]\nrate_per_key = 1\n"))
    no_peers = GOOD.replace(
        '[[peers]]\nname = "port-authority"\naddress = "127.0.0.1:7105"\n'
        f'key = "{PORT_KEY.hex()}"\n',
        "",
    )
    no_api = GOOD[: GOOD.index("[api]")]
    assert "[[peers]] must be a list" in refusal(write(tmp_path, 'peers = "x"\n' + no_peers))
    assert "[api] must be a table" in refusal(write(tmp_path, "api = 5\n" + no_api))


# ------------------------------------------------------------------ genesis


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("net")
    init_network(
        directory,
        validators=["customs"],
        members=[member("shipper-acme")],
        chain="dg-config",
        genesis_time=1_790_000_000_000,
    )
    return directory


def genesis_value(network: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((network / "genesis.json").read_text())
    return value


def genesis_refusal(path: Path) -> str:
    with pytest.raises(GenesisFileError) as info:
        load_genesis(path)
    message = str(info.value)
    assert str(path) in message
    return message


def test_genesis_file_problems_are_named(tmp_path: Path, network: Path) -> None:
    assert "cannot read" in genesis_refusal(tmp_path / "absent.json")
    assert "not valid JSON" in genesis_refusal(write(tmp_path, "{", "g.json"))
    assert "not UTF-8" in genesis_refusal(write(tmp_path, b'{"chain": "\xff"}', "g.json"))
    deep = write(tmp_path, "[" * 100_000 + "]" * 100_000, "g.json")
    assert "nested too deeply" in genesis_refusal(deep)
    big = write(tmp_path, " " * MAX_FILE + "{}", "g.json")
    assert f"larger than {MAX_FILE} bytes" in genesis_refusal(big)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda g: g.pop("app"), "exactly chain, time, validators, app"),
        (lambda g: g.update(extra=1), "exactly chain, time, validators, app"),
        (lambda g: g.update(time=1.5), "numbers must be integers"),
        (lambda g: g["validators"][0].update(key="zz"), "validators[0].key: not hex"),
        (lambda g: g["validators"][0].update(key=5), "validators[0].key: expected a hex string"),
        (lambda g: g["app"]["orgs"][0].update(keys=["0g"]), "app.orgs[0].keys: not hex"),
        (lambda g: g["app"].update(dgl=None), "app.dgl: expected a hex string"),
        (lambda g: g.update(validators={}), "validators must be a list"),
        (lambda g: g["validators"].append(7), "validators and orgs must be objects"),
        (lambda g: g["validators"][0].update(key="00" * 32), "invalid genesis"),
        (lambda g: g.update(chain=""), "invalid genesis"),
    ],
)
def test_bad_genesis_field_is_named(
    tmp_path: Path, network: Path, change: Any, expected: str
) -> None:
    value = genesis_value(network)
    change(value)
    assert expected in genesis_refusal(write(tmp_path, json.dumps(value), "g.json"))


def test_genesis_json_layout_does_not_change_its_hash(network: Path) -> None:
    value = genesis_value(network)
    original = load_genesis(network / "genesis.json")
    compact = genesis_from_json(json.dumps(value, separators=(",", ":"), sort_keys=False))
    assert compact.hash == original.hash


# --------------------------------------------------------- at node start


@pytest.fixture
def start_config(tmp_path: Path, network: Path) -> Iterator[Path]:
    """A configuration of the network's validator, with its own copy of the key."""
    key = load_signing_key(network / "customs" / "node-key.pem")
    save_signing_key(tmp_path / "node-key.pem", key)
    text = (
        "[node]\n"
        'name = "customs"\n'
        'data_dir = "data"\n'
        f'genesis = "{network / "genesis.json"}"\n'
        'key = "node-key.pem"\n'
        'listen = "127.0.0.1:7100"\n'
        "[api]\n"
        "plain_http = true\n"
    )
    yield write(tmp_path, text)


def start_refusal(config: Path, error: type[Exception] = StartupError) -> str:
    with pytest.raises(error) as info:
        NodeService(load_config(config))
    # Refused before the store is opened: nothing was created on disk.
    assert not (config.parent / "data").exists()
    return str(info.value)


def test_world_readable_key_is_refused(start_config: Path) -> None:
    os.chmod(start_config.parent / "node-key.pem", 0o644)
    message = start_refusal(start_config)
    assert str(start_config.parent / "node-key.pem") in message
    assert "chmod 600" in message


def test_open_files_over_the_process_limit_is_refused(
    start_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_config.write_text(start_config.read_text() + "\n[store]\nopen_files = 2000\n")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert "open_files = 2000" in start_refusal(start_config)


def test_missing_or_wrong_key_is_refused(start_config: Path) -> None:
    (start_config.parent / "node-key.pem").unlink()
    assert "node-key.pem" in start_refusal(start_config)
    save_signing_key(start_config.parent / "node-key.pem", SigningKey.generate(), b"secret-pw")
    assert "a password is required" in start_refusal(start_config)
    text = start_config.read_text().replace(
        "listen", 'key_password_env = "DG_TEST_UNSET_PW"\nlisten'
    )
    start_config.write_text(text)
    os.environ.pop("DG_TEST_UNSET_PW", None)
    assert "DG_TEST_UNSET_PW is not set" in start_refusal(start_config)


def test_genesis_for_another_dangerous_goods_list_is_refused(
    start_config: Path, network: Path
) -> None:
    value = genesis_value(network)
    value["app"]["dgl"] = "ab" * 32
    other = write(start_config.parent, json.dumps(value), "other-genesis.json")
    start_config.write_text(
        start_config.read_text().replace(str(network / "genesis.json"), str(other))
    )
    message = start_refusal(start_config)
    assert "genesis pins " + "ab" * 32 in message


def test_malformed_genesis_is_refused_at_start(start_config: Path) -> None:
    broken = write(start_config.parent, '{"chain": "x"}', "broken.json")
    text = start_config.read_text()
    start_config.write_text(text.replace(text.split('genesis = "')[1].split('"')[0], str(broken)))
    message = start_refusal(start_config, GenesisFileError)
    assert str(broken) in message


def test_a_store_of_the_layout_before_is_refused_at_start(
    start_config: Path, network: Path
) -> None:
    """Layout 3 authenticated other keys: its state roots are not this version's."""
    (start_config.parent / "data").mkdir()
    kv = LevelDBKV(start_config.parent / "data" / "chain")
    ChainStore(kv, load_genesis(network / "genesis.json"))
    assert kv.get(b"Mformat") == FORMAT.to_bytes(8, "big")
    kv.write({b"Mformat": (FORMAT - 1).to_bytes(8, "big")})
    kv.close()
    with pytest.raises(StartupError) as info:
        NodeService(load_config(start_config))
    message = str(info.value)
    assert (
        f"the store is in layout {FORMAT - 1}, this version reads layout {FORMAT} only" in message
    )
    assert "start the node on a new data directory" in message


def test_network_on_a_list_file_pins_it_and_its_nodes_use_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``network init --dgl``: a UN number only the full list knows is accepted by a node."""

    source = reference("dgl_us_49cfr_172101.csv")
    full = DangerousGoodsList.load_file(source)
    init_network(
        tmp_path,
        validators=["customs"],
        members=[member("shipper-acme")],
        chain="dg-full-list",
        genesis_time=1_790_000_000_000,
        dgl_file=source,
    )
    assert (tmp_path / DGL_COPY).read_bytes() == source.read_bytes()
    assert genesis_value(tmp_path)["app"]["dgl"] == full.digest().hex()
    config = load_config(tmp_path / "customs" / "node.toml")
    assert Path(config.dgl).resolve() == (tmp_path / DGL_COPY).resolve()

    builtin = builtin_list()
    entry = next(
        e
        for e in full
        if e.un_number not in builtin
        and e.hazard_class == "8"
        and e.packing_group == 3
        and not e.subsidiary_hazards
        and not e.marine_pollutant
        and "N.O.S." not in e.proper_shipping_name
    )
    doc = sample()
    item = doc["containers"][0]["dangerousGoods"][1]
    for name in ("subsidiaryRisk1", "limits"):
        del item[name]
    item.update(
        UNNumber=entry.un_number,
        properShippingName=entry.proper_shipping_name.split(" or ")[0],
        imoClass="8",
        packingGroup=3,
    )
    key = load_signing_key(tmp_path / "keys" / "shipper-acme.pem")

    async def admit() -> bool:
        service = NodeService(config)
        try:
            assert set(service.lists) == {full.digest()}
            # Sealed as shipper-acme's client seals it, to its readers in the state.
            readers = sealing_keys(service.chain.view(), "shipper-acme")
            sealed = seal(doc, owner="shipper-acme", version=1, recipients=readers)
            body = {"declaration": sealed}
            env = Envelope("dg-full-list", "declaration.submit", key.public.key_id, 1, body, 100)
            tx = Transaction.create(env, [key])
            admitted = service.submit(tx)
            return not admitted.committed and tx.id in service.mempool
        finally:
            await service.stop()

    assert asyncio.run(admit())

    # The audit needs the same list, and says so when given another.

    audit = ["audit", "--data", str(tmp_path / "customs" / "data")]
    audit += ["--genesis", str(tmp_path / "genesis.json")]
    assert main(audit) != 0
    assert f"genesis pins the Dangerous Goods List {full.digest().hex()}" in capsys.readouterr().err
    assert main([*audit, "--dgl", str(tmp_path / DGL_COPY)]) == 0


def test_network_init_refuses_a_bad_list_file(tmp_path: Path) -> None:

    bad = write(tmp_path, "UNNumber,nonsense\n1203,x\n", "list.csv")
    with pytest.raises(NetworkInitError, match=r"list\.csv"):
        init_network(
            tmp_path / "net", validators=["customs"], members=[], genesis_time=1, dgl_file=bad
        )
    assert not (tmp_path / "net").exists()
