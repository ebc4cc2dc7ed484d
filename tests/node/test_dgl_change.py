"""A governance change of the Dangerous Goods List, as a node lives it.

One validator (customs) runs in this process behind ``TestClient``. Its
configuration lists a second list under ``dgl_extra``; a ``dgl.set``
governance action brings that list into force, after which declarations are
checked against it. A node that lacks the list in force stops instead of
following a chain it cannot execute.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from ledger.keyfile import load_signing_key
from ledger.tx import Envelope, Transaction
from ledger.votes import Certificate, Vote, VoteType
from node.api.app import create_app
from node.cli.main import main
from node.client.client import Client
from node.client.errors import ClientError
from node.config import load_config
from node.devnet.localnet import LocalNetwork
from node.errors import ConfigError, NodeHalted
from node.service import NodeService
from tests.node.reads_support import customs_and_a_shipper
from tests.samples import sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

CHAIN = "dg-lists"


def gasoline(decl_id: str) -> dict[str, Any]:
    """The valid sample without its methanol item: valid under both lists."""
    doc = sample(decl_id=decl_id)
    doc["containers"][0]["dangerousGoods"].pop()
    return doc


def _network(tmp_path: Path, extra: str) -> tuple[Path, DangerousGoodsList]:
    """A one-validator network whose node also loads a list without methanol (UN 1230)."""
    new = DangerousGoodsList(e for e in builtin_list() if e.un_number != "1230")
    (tmp_path / "list-b.csv").write_text(new.to_csv(), encoding="utf-8")
    config = customs_and_a_shipper(tmp_path / "net", CHAIN)
    text = config.read_text().replace('dgl = "builtin"\n', f'dgl = "builtin"\n{extra}')
    config.write_text(text)
    return config, new


def test_a_listed_extra_list_comes_into_force_and_a_missing_one_stops_the_node(
    tmp_path: Path,
) -> None:
    config, new = _network(tmp_path, 'dgl_extra = ["../../list-b.csv"]\n')
    keys = tmp_path / "net" / "keys"
    service = NodeService(load_config(config))
    assert set(service.lists) == {builtin_list().digest(), new.digest()}
    with TestClient(create_app(service)) as http:
        customs = Client(
            "http://testserver", CHAIN, load_signing_key(keys / "customs.pem"), http=http
        )
        shipper = Client(
            "http://testserver", CHAIN, load_signing_key(keys / "shipper-acme.pem"), http=http
        )
        assert shipper.declare(sample(decl_id="BEFORE"))["status"] == "committed"
        height = service.chain.height
        customs.send(
            "governance",
            {"action": "dgl.set", "effective_height": height + 3, "params": {"dgl": new.digest()}},
        )
        status = customs.status()["dgl"]
        assert status["in_force"] == builtin_list().digest().hex()
        assert status["scheduled"] == [
            {"digest": new.digest().hex(), "height": height + 3, "loaded": True}
        ]
        while service.chain.height < height + 3:
            shipper.declare(gasoline(f"FILL-{service.chain.height}"))
        assert service.chain.engine().view().get("params")["dgl"] == new.digest()
        status = customs.status()["dgl"]
        assert (status["in_force"], status["scheduled"]) == (new.digest().hex(), [])
        with pytest.raises(ClientError) as info:
            shipper.declare(sample(decl_id="AFTER"))  # gasoline and methanol
        assert info.value.code == "un_number.unknown"

        # A node without the list in force cannot execute the next block: it stops.
        last = service.chain.store.certificate(service.chain.height)
        tx = shipper.build("declaration.submit", {"declaration": gasoline("STOPS")})
        block = service.chain.build_block(
            [tx], time=service.clock(), proposer=service.key.public.key_id, last_commit=last
        )
        votes = [Vote.sign(service.key, CHAIN, VoteType.PRECOMMIT, block.height, 0, block.hash)]
        certificate = Certificate.from_votes(votes)
    height = service.chain.height
    service = NodeService(load_config(config))  # the store as committed, the node restarted
    del service.lists[new.digest()]
    reasons: list[str] = []
    service.on_fatal = reasons.append
    assert not service._valid(block)
    assert service.metrics.rejected_messages["dgl_unavailable"] == 1
    with pytest.raises(NodeHalted):
        service.commit_block(block, certificate)
    assert len(reasons) == 1 and "dgl_extra" in reasons[0], reasons
    assert new.digest().hex() in reasons[0]
    # The block decided by consensus: no exception escapes into the event loop.
    assert service._commit(block, certificate) is None
    assert len(reasons) == 2
    assert service.chain.height == height


def test_a_bad_extra_list_is_refused_at_start(tmp_path: Path) -> None:
    config, _ = _network(tmp_path, 'dgl_extra = ["../../missing.csv"]\n')
    with pytest.raises(Exception, match=r"missing\.csv"):
        NodeService(load_config(config))
    config.write_text(config.read_text().replace('["../../missing.csv"]', '"one.csv"'))
    with pytest.raises(ConfigError, match="dgl_extra"):
        load_config(config)


@pytest.mark.slow
def test_a_validator_without_the_list_in_force_stops_and_the_others_go_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real processes: three validators load the new list, the fourth does not."""

    with LocalNetwork(tmp_path / "net", chain=CHAIN) as net:
        new = DangerousGoodsList(e for e in builtin_list() if e.un_number != "1230")
        (tmp_path / "list-b.csv").write_text(new.to_csv(), encoding="utf-8")
        lacking = "forwarder-b"
        for name in net.others(lacking):
            config = net.nodes[name].config
            text = config.read_text().replace(
                'dgl = "builtin"\n', f'dgl = "builtin"\ndgl_extra = ["{tmp_path / "list-b.csv"}"]\n'
            )
            config.write_text(text)
        net.start()
        keys = [
            load_signing_key(net.key_path(o)) for o in ("customs", "port-authority", "forwarder-a")
        ]
        shipper = Client.connect(
            net.url("customs"), load_signing_key(net.key_path("shipper-acme")), ca=net.ca
        )
        with shipper:
            height = shipper.status()["height"]
            # The governance delay is 2, counted from the block that takes the action;
            # blocks go on between this read and that block, so leave room for a few.
            effective = height + 6
            body = {
                "action": "dgl.set",
                "effective_height": effective,
                "params": {"dgl": new.digest()},
            }
            env = Envelope(CHAIN, "governance", keys[0].public.key_id, 1, body, height + 100)
            assert shipper.submit(Transaction.create(env, keys))["status"] == "committed"
            net.wait_height(net.names, height + 1)
            # Before the list comes into force, the operator can see which node lacks it.

            assert main(["status", "--node", net.url("customs"), "--ca", str(net.ca)]) == 0
            assert main(["status", "--node", net.url(lacking), "--ca", str(net.ca)]) != 0
            out = capsys.readouterr()
            assert "node customs (validator)" in out.out
            assert f"list {new.digest().hex()} scheduled from height {effective}: NOT loaded" in (
                out.out
            )
            assert "add it under dgl_extra" in out.err
            while shipper.status()["height"] < effective:
                shipper.declare(gasoline(f"FILL-{shipper.status()['height']}"))
            # The list is in force: the validators that have it go on without the fourth.
            with pytest.raises(ClientError) as info:
                shipper.declare(sample(decl_id="METHANOL-AFTER"))
            assert info.value.code == "un_number.unknown"
            shipper.declare(gasoline("AFTER-1"))
        node = net.nodes[lacking]
        assert node.proc is not None
        node.proc.wait(timeout=60)
        log = node.log.read_text(encoding="utf-8", errors="replace")
        assert "node stopping" in log and "dgl_extra" in log, node.log_tail()
        assert new.digest().hex() in log
        assert "shutdown failed" not in log, node.log_tail()
