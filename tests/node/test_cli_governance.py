"""``dgledger governance propose``: every action's flags make params the contracts accept.

The proposal is built from the command line as a user types it, then
applied by the contracts engine with three of four validator organisations
signing (the real-process test in ``test_cli.py`` covers the files and the
node).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.dgl import DangerousGoodsList
from contracts.dgl_builtin import builtin_list
from node.cli.common import CliError
from node.cli.governance import _params, _read
from node.cli.main import build_parser
from tests.contracts.fixtures import Community, community, key_for

SIGNERS = ["customs", "port-authority", "forwarder-a"]


def params(*argv: str) -> dict[str, Any]:
    args = build_parser().parse_args(
        ["governance", "propose", *argv, "--out", "p.json", "--key", "k.pem"]
    )
    return _params(args)


def apply(c: Community, action: str, p: dict[str, Any]) -> dict[str, Any]:
    body = {"action": action, "effective_height": c.height + 3, "params": p}
    result = c.block([c.tx(SIGNERS[0], "governance", body, extra=SIGNERS[1:])])[0]
    c.block([])
    c.block([])
    return result


def test_every_action_builds_params_the_contracts_take(tmp_path: Path) -> None:
    c = community()
    new = key_for("shipper-new").public.raw.hex()
    other = key_for("shipper-new", 1).public.raw.hex()
    steps = [
        ("org.add", "--name", "shipper-new", "--role", "shipper", "--public-key", new),
        ("key.add", "--org", "shipper-new", "--public-key", other),
        ("key.revoke", "--key-id", key_for("shipper-new", 1).public.key_id),
        (
            "key.rotate",
            "--key-id",
            key_for("shipper-new").public.key_id,
            "--public-key",
            key_for("shipper-new", 2).public.raw.hex(),
        ),
        ("org.remove", "--name", "shipper-new"),
    ]
    for action, *flags in steps:
        result = apply(c, action, params(action, *flags))
        assert result["ok"], (action, result)
    view = c.engine.view()
    assert view.get("org/shipper-new")["active"] is False
    assert view.get(f"key/{key_for('shipper-new', 1).public.key_id}")["revoked_at"] is not None

    validators = [
        f"{org}:{power}:{key_for(f'{org}-node').public.raw.hex()}"
        for org, power in (("customs", 20), ("port-authority", 10), ("forwarder-a", 10))
    ]
    flags = [x for v in validators for x in ("--validator", v)]
    assert apply(c, "validators.set", params("validators.set", *flags))["ok"]
    assert {v.org: v.power for v in c.engine.validators} == {
        "customs": 20,
        "port-authority": 10,
        "forwarder-a": 10,
    }

    smaller = DangerousGoodsList(e for e in builtin_list() if e.un_number != "1230")
    path = tmp_path / "list.csv"
    path.write_text(smaller.to_csv(), encoding="utf-8")
    c.engine.lists[smaller.digest()] = smaller
    assert apply(c, "dgl.set", params("dgl.set", "--dgl", str(path)))["ok"]
    assert c.engine.view().get("params")["dgl"] == smaller.digest()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["org.add", "--name", "x", "--role", "shipper"], "org.add needs --public-key"),
        (["key.add", "--org", "x", "--public-key", "zz"], "is not hex"),
        (["key.add", "--org", "x", "--public-key", "ab" * 31], "32 bytes"),
        (["key.rotate", "--key-id", "k"], "key.rotate needs --public-key"),
        (["validators.set", "--validator", "customs:ten:ab"], "ORG:POWER:PUBLIC-KEY-HEX"),
        (["dgl.set", "--dgl", "/no/such/list.csv"], "check --dgl"),
    ],
)
def test_missing_or_bad_flags_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(CliError, match=message):
        params(*argv)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
hexes = st.binary(max_size=80).map(bytes.hex)


@settings(max_examples=150)
@given(
    json_values
    | st.fixed_dictionaries(
        {},
        optional={
            "format": st.just("dgledger-proposal/1") | st.text(max_size=20),
            "chain": st.text(max_size=20),
            "envelope": hexes | json_values,
            "signatures": st.dictionaries(
                hexes | st.text(max_size=70), hexes | json_values, max_size=3
            )
            | json_values,
        },
    )
)
def test_a_hostile_proposal_file_is_refused_in_one_line(tmp_path_factory: Any, value: Any) -> None:
    path = tmp_path_factory.mktemp("p") / "p.json"
    path.write_text(json.dumps(value), encoding="utf-8")
    with pytest.raises(CliError):
        _read(str(path))
