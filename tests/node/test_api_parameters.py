"""Query parameters a route does not take are refused, on every route, naming the parameter.

A mistyped list filter (``?vesel=...``) used to be ignored, and the
unfiltered list came back: a reader could not tell a filter that matched
everything from one that was never applied. Every route now answers
``400 request.unknown_parameter`` with the parameter's name in the message
and its path, before it looks at the signature or the body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from node.api.app import create_app
from node.api.reads import router as read_router
from node.api.stowage import router as stowage_router
from tests.node.reads_support import LocalNode, TestClient
from tests.samples import sample

# Every route with what it needs to be matched: method and a target.
ROUTES: Final = {
    ("GET", "/v1/status"): "/v1/status",
    ("GET", "/healthz"): "/healthz",
    ("GET", "/metrics"): "/metrics",
    ("GET", "/v1/checkpoint"): "/v1/checkpoint",
    ("GET", "/v1/proofs/consistency"): "/v1/proofs/consistency?from=0&to=1",
    ("GET", "/v1/declarations"): "/v1/declarations?limit=5",
    ("GET", "/v1/declarations/{decl_id}"): "/v1/declarations/DG-PARAM-1",
    ("GET", "/v1/readers"): "/v1/readers?owner=shipper-acme",
    ("GET", "/v1/stowage"): "/v1/stowage?vessel=9454436&voyage=0AB12W",
    ("GET", "/v1/transactions/{tx_id}"): "/v1/transactions/" + "ab" * 32,
    ("GET", "/v1/blocks"): "/v1/blocks?from=1",
    ("GET", "/v1/blocks/{height}"): "/v1/blocks/1",
    ("GET", "/peer/v1/blocks"): "/peer/v1/blocks?from=1&count=1",
    ("GET", "/openapi.json"): "/openapi.json",
    ("GET", "/docs"): "/docs",
    ("GET", "/docs/oauth2-redirect"): "/docs/oauth2-redirect",
    ("GET", "/redoc"): "/redoc",
    ("POST", "/v1/transactions"): "/v1/transactions?wait=commit",
    ("POST", "/v1/transactions/batch"): "/v1/transactions/batch",
}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalNode]:
    n = LocalNode(tmp_path_factory.mktemp("params"))
    try:
        n.client("shipper-acme").declare(sample(decl_id="DG-PARAM-1"))
        yield n
    finally:
        n.close()


def _with(target: str, extra: str) -> str:
    return f"{target}{'&' if '?' in target else '?'}{extra}"


def test_the_table_names_every_route(node: LocalNode) -> None:
    routes = [*node.app.routes, *read_router.routes, *stowage_router.routes]
    served = {
        (method, route.path)
        for route in routes
        if isinstance(route, Route | APIRoute)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
@pytest.mark.parametrize("extra", ["unknown=1", "vesel=9454436", "flag"])
def test_an_unknown_parameter_is_refused_by_name(
    node: LocalNode, method: str, path: str, extra: str
) -> None:
    name = extra.split("=", 1)[0]
    r = node.http.request(method, _with(ROUTES[method, path], extra))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "request.unknown_parameter"
    assert error["path"] == f"$.{name}"
    assert repr(name) in error["message"]


def test_the_parameters_a_route_takes_are_listed(node: LocalNode) -> None:
    r = node.http.get("/v1/declarations?vesel=9454436")
    message = r.json()["error"]["message"]
    for name in ("vessel", "voyage", "container", "status", "organisation", "after", "limit"):
        assert name in message


def test_known_parameters_still_pass(node: LocalNode) -> None:
    # Unsigned: past the parameter check, the signature is what is missing.
    r = node.http.get("/v1/declarations?vessel=9454436&limit=5")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.missing")
    assert node.http.get("/v1/proofs/consistency?from=0&to=1").status_code == 200
    assert node.client("auditor").declarations(vessel="9454436")["items"]


def test_the_framework_submission_route_refuses_them_too(node: LocalNode) -> None:
    # The same route without the fast path in front; not started (no lifespan): the
    # node under it runs already.
    http = TestClient(create_app(node.service, fast_submissions=False))
    r = http.post("/v1/transactions?wiat=commit", content=b"\x80")
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "request.unknown_parameter"
