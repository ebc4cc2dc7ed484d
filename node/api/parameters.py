"""Query parameters a route does not take: ``400 request.unknown_parameter``, naming it.

A list filter mistyped (``?vesel=9454436``) used to be dropped in silence,
and the unfiltered list came back: an answer that looks like one to the
question asked. :class:`KnownParameters` sits in front of everything (the
fast submission path included) and refuses any query parameter the matched
route does not declare, before the signature or the body are looked at.
A route's parameters are what its signature declares (FastAPI's
dependant), or, for the framework's own pages (``/docs``, the OpenAPI
document), none. A request that matches no route is passed on: the router
answers 404 or 405.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Final
from urllib.parse import parse_qsl

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Match, Route

from node.api.submit import App, Receive, Scope, Send

CODE: Final = "request.unknown_parameter"
MAX_NAME: Final = 64
"""Characters of an unknown parameter's name repeated in the answer."""


def declared(dependant: Dependant) -> frozenset[str]:
    """The query parameter names a route's dependant reads, its dependencies' included."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= declared(sub)
    return frozenset(names)


class KnownParameters:
    """ASGI middleware: a query parameter the matched route does not take is refused."""

    def __init__(self, app: App, routes: Callable[[], Iterable[Any]]) -> None:
        self.app = app
        self.routes = routes
        self._table: list[tuple[Route, frozenset[str]]] | None = None

    def table(self) -> list[tuple[Route, frozenset[str]]]:
        """Each route with the parameters it takes (built at the first request)."""
        if self._table is None:
            self._table = [
                (route, declared(route.dependant) if isinstance(route, APIRoute) else frozenset())
                for route in self.routes()
                if isinstance(route, Route)
            ]
        return self._table

    def takes(self, scope: Scope) -> tuple[Route, frozenset[str]] | None:
        """The route ``scope`` goes to with what it takes; ``None`` if no route matches."""
        for route, names in self.table():
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route, names
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = scope.get("query_string", b"") if scope["type"] == "http" else b""
        found = self.takes(scope) if query else None
        if found is None:
            await self.app(scope, receive, send)
            return
        route, names = found
        for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if name not in names:
                await _refuse(send, scope["method"], route.path, name[:MAX_NAME], names)
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, method: str, path: str, name: str, names: frozenset[str]) -> None:
    takes = f"takes {', '.join(sorted(names))}" if names else "takes no query parameters"
    body = {
        "error": {
            "code": CODE,
            "message": f"unknown query parameter {name!r}: {method} {path} {takes}",
            "path": f"$.{name}",
        }
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 400,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
