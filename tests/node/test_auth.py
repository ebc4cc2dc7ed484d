"""Signed requests: freshness, replay, tampering, chain binding, and who may sign them.

:class:`RequestVerifier` is checked alone with fixed keys and an injected
clock; membership (unknown, revoked, removed organisation) through the HTTP
surface of an in-process validator, where governance really revokes a key.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto import SigningKey, Verifier
from node.auth import (
    DEFAULT_MAX_SKEW_MS,
    HEADER_KEY,
    HEADER_NODE,
    HEADER_SIG,
    HEADER_TIME,
    RequestVerifier,
    sign_request,
)
from node.errors import AuthError
from tests.node.reads_support import LocalNode
from tests.samples import sample

CHAIN: Final = "dg-auth"
NODE: Final = "customs"
ALICE: Final = SigningKey.from_seed(b"alice".ljust(32, b"\x00"))
MALLORY: Final = SigningKey.from_seed(b"mallory".ljust(32, b"\x00"))
NOW: Final = 1_790_000_000_000
PATH: Final = "/v1/declarations?status=submitted&limit=5"
BODY: Final = b'{"q": 1}'
ORDER: Final = 2**252 + 27742317777372353535851937790883648493
VERIFIER: Final = Verifier(workers=1)


def fresh(node: str = NODE) -> RequestVerifier:
    return RequestVerifier(CHAIN, VERIFIER, node)


def headers(
    key: SigningKey = ALICE,
    *,
    chain: str = CHAIN,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    time_ms: int = NOW,
    node: str = NODE,
) -> dict[str, str]:
    return sign_request(key, chain, method, path, body, time_ms, node=node)


def refused(
    verifier: RequestVerifier,
    h: dict[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now: int = NOW,
) -> str:
    """The code of the refusal (fails the test if the request is accepted)."""
    with pytest.raises(AuthError) as info:
        verifier.check(h, method, path, body, now)
    assert info.value.message
    return info.value.code


def test_valid_request_names_its_key() -> None:
    caller = fresh().check(headers(), "POST", PATH, BODY, NOW)
    assert caller.key_id == ALICE.public.key_id
    # The method is signed in upper case, whatever case the server reports it in.
    assert fresh().check(headers(), "post", PATH, BODY, NOW).public == ALICE.public


@pytest.mark.parametrize("skew", [-DEFAULT_MAX_SKEW_MS, DEFAULT_MAX_SKEW_MS])
def test_time_at_the_edge_of_the_window_is_accepted(skew: int) -> None:
    assert fresh().check(headers(time_ms=NOW + skew), "POST", PATH, BODY, NOW)


@pytest.mark.parametrize("skew", [-DEFAULT_MAX_SKEW_MS - 1, DEFAULT_MAX_SKEW_MS + 1, -NOW])
def test_stale_or_future_request_is_refused(skew: int) -> None:
    assert refused(fresh(), headers(time_ms=NOW + skew)) == "auth.stale"


def test_replay_is_refused_within_the_window_and_stale_after_it() -> None:
    v = fresh()
    h = headers()
    v.check(h, "POST", PATH, BODY, NOW)
    assert refused(v, h) == "auth.replayed"
    assert refused(v, h, now=NOW + DEFAULT_MAX_SKEW_MS) == "auth.replayed"
    assert refused(v, h, now=NOW + DEFAULT_MAX_SKEW_MS + 1) == "auth.stale"
    # Another request of the same key in the same window is its own request.
    assert v.check(headers(time_ms=NOW + 1), "POST", PATH, BODY, NOW)


def test_a_forged_attempt_does_not_use_up_the_genuine_request() -> None:
    v = fresh()
    genuine = headers()
    forged = {**genuine, HEADER_SIG: bytes(64).hex()}
    assert refused(v, forged) == "auth.bad_signature"
    assert v.check(genuine, "POST", PATH, BODY, NOW).key_id == ALICE.public.key_id


def test_malleated_signature_is_not_a_second_request() -> None:
    """S + L verifies under lax rules; the ledger's rule refuses it, so no replay slips through."""
    v = fresh()
    h = headers()
    sig = bytes.fromhex(h[HEADER_SIG])
    s = int.from_bytes(sig[32:], "little") + ORDER
    malleated = sig[:32] + s.to_bytes(32, "little")
    v.check(h, "POST", PATH, BODY, NOW)
    assert refused(v, {**h, HEADER_SIG: malleated.hex()}) == "auth.bad_signature"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", PATH, BODY),
        ("POST", "/v1/declarations?status=cleared&limit=5", BODY),
        ("POST", "/v1/declarations?limit=5&status=submitted", BODY),
        ("POST", "/v1/declarations", BODY),
        ("POST", "/v1/blocks?status=submitted&limit=5", BODY),
        ("POST", PATH, b'{"q": 2}'),
        ("POST", PATH, b""),
    ],
)
def test_tampered_request_is_refused(method: str, path: str, body: bytes) -> None:
    code = refused(fresh(), headers(), method=method, path=path, body=body)
    assert code == "auth.bad_signature"


def test_signature_by_another_key_is_refused() -> None:
    h = headers(MALLORY)
    assert refused(fresh(), {**h, HEADER_KEY: ALICE.public.raw.hex()}) == "auth.bad_signature"


def test_tampered_time_is_refused() -> None:
    h = headers()
    assert refused(fresh(), {**h, HEADER_TIME: str(NOW + 1)}) == "auth.bad_signature"


def test_request_signed_for_another_chain_is_refused() -> None:
    assert refused(fresh(), headers(chain="dg-other")) == "auth.bad_signature"


def test_request_signed_for_another_node_is_refused_there() -> None:
    """A request seen on its way to one node cannot be replayed to another."""
    h = headers(node="port-authority")
    assert fresh("port-authority").check(h, "POST", PATH, BODY, NOW)
    assert refused(fresh(), h) == "auth.wrong_node"
    # Naming this node in the header does not help: the signature covers the other name.
    assert refused(fresh(), {**h, HEADER_NODE: NODE}) == "auth.bad_signature"


@pytest.mark.parametrize("missing", [HEADER_KEY, HEADER_TIME, HEADER_NODE, HEADER_SIG])
def test_missing_header_is_refused(missing: str) -> None:
    h = headers()
    del h[missing]
    assert refused(fresh(), h) == "auth.missing"
    assert refused(fresh(), {**headers(), missing: ""}) == "auth.missing"


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        (HEADER_KEY, "zz" * 32, "auth.malformed"),
        (HEADER_KEY, "ab" * 31, "auth.malformed"),
        (HEADER_KEY, "00" * 32, "auth.malformed"),  # not a point on the curve
        (HEADER_SIG, "zz" * 64, "auth.malformed"),
        (HEADER_SIG, "ab" * 63, "auth.malformed"),
        (HEADER_TIME, "soon", "auth.malformed"),
        (HEADER_TIME, "1" * 5000, "auth.malformed"),
        (HEADER_TIME, "0" * 17 + str(NOW), "auth.stale"),
    ],
)
def test_malformed_headers_are_refused(header: str, value: str, code: str) -> None:
    assert refused(fresh(), {**headers(), header: value}) == code


def test_replay_memory_is_bounded() -> None:
    v = fresh()
    v.max_seen = 3
    requests = [headers(time_ms=NOW + i) for i in range(5)]
    for h in requests:
        v.check(h, "POST", PATH, BODY, NOW)
    # The newest are remembered, whatever the bound pushed out.
    assert refused(v, requests[-1]) == "auth.replayed"


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([HEADER_KEY, HEADER_TIME, HEADER_NODE, HEADER_SIG, "x-other"]),
        st.text(max_size=140) | st.sampled_from([ALICE.public.raw.hex(), str(NOW), NODE]),
    ),
    st.text(max_size=20),
    st.binary(max_size=20),
)
def test_any_headers_give_an_auth_error_or_a_caller(
    h: dict[str, str], path: str, body: bytes
) -> None:
    try:
        caller = fresh().check(h, "GET", path, body, NOW)
    except AuthError as e:
        assert e.code.startswith("auth.")
    else:  # pragma: no cover - a random signature that verifies
        assert caller.key_id == ALICE.public.key_id


# ------------------------------------------------------ membership over HTTP


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    """A node where shipper-beta's key is revoked and the auditor organisation removed."""
    n = LocalNode(tmp_path_factory.mktemp("auth"))
    try:
        n.client("shipper-beta").declare(sample(decl_id="DG-AUTH-0"))
        governor = n.client("customs")
        # Each governance transaction commits in its own block, two blocks ahead at least.
        effective = n.service.chain.height + 4
        beta = n.key("shipper-beta").public.key_id
        for action, params in (
            ("key.revoke", {"key_id": beta}),
            ("org.remove", {"name": "auditor"}),
        ):
            body = {"action": action, "effective_height": effective, "params": params}
            assert governor.send("governance", body)["status"] == "committed"
        shipper = n.client("shipper-acme")
        for i in range(1, 6):
            if n.service.chain.height >= effective:
                break
            shipper.declare(sample(decl_id=f"DG-AUTH-{i}"))
        assert n.service.chain.height >= effective
        yield n
    finally:
        n.close()


_clock = [0]


def signed_get(node: LocalNode, key: SigningKey, target: str) -> tuple[int, str | None]:
    _clock[0] = max(time.time_ns() // 1_000_000, _clock[0] + 1)
    h = sign_request(key, node.genesis.chain, "GET", target, b"", _clock[0], node="customs")
    r = node.http.get(target, headers=h)
    assert r.status_code < 500, r.text
    return r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None


def test_member_key_reads(node: LocalNode) -> None:
    # DG-AUTH-0 is shipper-beta's: the port authority reads it (contracts/access.py).
    target = "/v1/declarations/DG-AUTH-0"
    assert signed_get(node, node.key("port-authority"), target) == (200, None)


def test_key_outside_the_membership_is_refused(node: LocalNode) -> None:
    assert signed_get(node, MALLORY, "/v1/declarations/DG-AUTH-0") == (403, "auth.not_a_member")


def test_revoked_key_is_refused(node: LocalNode) -> None:
    target = "/v1/declarations/DG-AUTH-0"
    assert signed_get(node, node.key("shipper-beta"), target) == (403, "auth.key_revoked")


def test_signed_request_for_another_chain_is_refused_over_http(node: LocalNode) -> None:
    target = "/v1/declarations/DG-AUTH-0"
    now = time.time_ns() // 1_000_000
    h = sign_request(node.key("shipper-acme"), "dg-other", "GET", target, b"", now, node="customs")
    r = node.http.get(target, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.bad_signature")


def test_key_of_a_removed_organisation_is_refused(node: LocalNode) -> None:
    target = "/v1/declarations/DG-AUTH-0"
    assert signed_get(node, node.key("auditor"), target) == (403, "auth.org_inactive")
