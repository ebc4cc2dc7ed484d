"""A signed request captured before a node's crash is refused after its restart.

Real node processes: a one-validator network on loopback, ``kill -9``, the
same process started again, and the captured request sent once more within
the freshness window. A client whose clock runs ahead of the node's (within
the window) shows why the rule is the node's persisted mark and not its
start time: such a request carries a time after the restart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import pytest

from ledger.keyfile import load_signing_key
from node.auth import sign_request
from node.client.client import Client
from node.devnet.localnet import LocalNetwork

pytestmark = pytest.mark.slow

TARGET: Final = "/peer/v1/blocks?from=1&count=1"


def test_a_request_signed_before_a_kill_nine_is_refused_after_the_restart(
    tmp_path: Path,
) -> None:
    with LocalNetwork(tmp_path, validators=["customs"], members=["shipper-acme:shipper"]) as net:
        net.start()
        # Customs runs a node: its member key may read blocks.
        key = load_signing_key(net.key_path("customs"))
        chain = net.status("customs")["chain"]  # type: ignore[index]
        now = time.time_ns() // 1_000_000
        in_time = sign_request(key, chain, "GET", TARGET, b"", now, node="customs")
        # A client whose clock runs 20 s ahead of the node's: still within the window.
        ahead = sign_request(key, chain, "GET", TARGET, b"", now + 20_000, node="customs")
        url = net.url("customs") + TARGET
        for captured in (in_time, ahead):
            assert net.http.get(url, headers=captured).status_code == 200
            again = net.http.get(url, headers=captured)
            assert (again.status_code, again.json()["error"]["code"]) == (401, "auth.replayed")

        net.kill("customs")
        net.start("customs")

        for captured in (in_time, ahead):
            replay = net.http.get(url, headers=captured)
            assert replay.status_code == 401, replay.text
            error = replay.json()["error"]
            assert error["code"] == "auth.signed_before_restart", error
            # The answer names the time a new signature must be after.
            assert error["not_before"] >= int(captured["x-dg-time"])
        # A client signing afresh reads on: after a refusal of this kind it signs
        # again with a time after the one named, whatever its clock says.
        with Client.connect(net.url("customs"), key, ca=net.ca) as client:
            assert client.declarations(limit=1)["items"] == []
