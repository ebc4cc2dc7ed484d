"""Size limits that agree: one transaction is what a document, a body and the node take.

The rule (README, "Limits"): a declaration travels in one transaction of
at most ``MAX_TX_SIZE`` (256 KiB) of canonical MessagePack; a submission's
body holds one transaction, so its limit is what the largest one takes as
base64 in JSON (``MAX_SUBMIT_BODY``), which ``max_body_bytes`` may lower
but not raise. A document the schema admits but no transaction can hold is
refused before it is signed, as ``declaration.too_large`` naming the limit,
not as an envelope error.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from contracts.document import MAX_CONTAINERS, MAX_ITEMS, parse_declaration
from ledger.tx import MAX_TX_SIZE
from node.api.submit import body_limit
from node.client.errors import ClientError
from node.config import MAX_SUBMIT_BODY, load_config
from node.devnet.traffic import container_number
from node.errors import ConfigError
from tests.node.reads_support import LocalNode
from tests.samples import sample

CONTAINERS: Final = 8
ITEMS: Final = 200


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("limits"))
    try:
        yield n
    finally:
        n.close()


def big_declaration(containers: int, items: int) -> dict[str, Any]:
    """The reference declaration with ``containers`` containers of ``items`` items each."""
    doc = sample(decl_id="DG-LIMITS-1")
    first = doc["containers"][0]
    gasoline = first["dangerousGoods"][0]
    doc["containers"] = [
        {
            **copy.deepcopy(first),
            "equipmentReference": container_number("CSQ", "U", 100 + c),
            "dangerousGoods": [copy.deepcopy(gasoline) for _ in range(items)],
        }
        for c in range(containers)
    ]
    return doc


def test_a_document_no_transaction_can_hold_is_refused_naming_the_limit(
    node: LocalNode,
) -> None:
    doc = big_declaration(CONTAINERS, ITEMS)
    assert CONTAINERS <= MAX_CONTAINERS and ITEMS <= MAX_ITEMS
    parse_declaration(doc)  # the schema's counts admit it
    size = len(json.dumps(doc, indent=2).encode())
    assert size > 700_000  # the file of the report: some 733 KB
    with pytest.raises(ClientError) as refused:
        node.client("shipper-acme").declare(doc)
    error = refused.value
    assert error.code == "declaration.too_large"
    assert error.path == "$.body.declaration"
    assert f"{MAX_TX_SIZE:,}" in error.message
    assert not str(error).startswith("env")
    # Amending with it is refused alike, before anything is sent.
    with pytest.raises(ClientError) as amended:
        node.client("shipper-acme").amend("DG-LIMITS-1", doc)
    assert amended.value.code == "declaration.too_large"


def test_a_document_that_fits_is_declared(node: LocalNode) -> None:
    # About 340 bytes an item of the reference size, 460 with its emergency contact
    # sealed (its path, once in clear and once in the ciphertext): 500 fit with room.
    doc = big_declaration(5, 100)
    doc["declarationId"] = "DG-LIMITS-2"
    summary = node.client("shipper-acme").declare(doc)
    assert summary["status"] == "committed"


def test_the_body_limit_is_what_the_largest_transaction_takes_as_json(node: LocalNode) -> None:
    assert node.service.config.api.max_body_bytes == MAX_SUBMIT_BODY
    assert body_limit(node.service) == MAX_SUBMIT_BODY
    largest = json.dumps({"tx": base64.b64encode(b"\x00" * MAX_TX_SIZE).decode()}, indent=2)
    assert MAX_TX_SIZE < len(largest) <= MAX_SUBMIT_BODY
    r = node.http.post(
        "/v1/transactions", content=largest, headers={"content-type": "application/json"}
    )
    # Read whole, and refused for what it holds: not bytes of a transaction.
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] != "request.too_large"


def _config_with(node: LocalNode, api_line: str) -> Path:
    """The validator's configuration with ``api_line`` in its ``[api]`` table, beside it."""
    source = node.dir / "customs" / "node.toml"
    text = source.read_text()
    if "[api]\n" in text:
        text = text.replace("[api]\n", f"[api]\n{api_line}\n", 1)
    else:
        text += f"\n[api]\n{api_line}\n"
    path = source.with_name(f"node-{abs(hash(api_line))}.toml")
    path.write_text(text)
    return path


def test_a_body_limit_above_one_transaction_is_refused_at_load(node: LocalNode) -> None:
    path = _config_with(node, "max_body_bytes = 1048576")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "max_body_bytes" in str(refused.value)
    assert str(MAX_SUBMIT_BODY) in str(refused.value)


def test_a_lower_body_limit_is_kept(node: LocalNode) -> None:
    path = _config_with(node, "max_body_bytes = 65536")
    assert load_config(path).api.max_body_bytes == 65536
