"""List queries over declarations: vessel, voyage, container, status, organisation.

The indexes are derived data kept beside the authenticated state
(:mod:`contracts.indexes`: ``idx/status/<status>/<id>``, ``idx/org/<org>/<id>``,
``idx/vessel/<imo>/<voyage>/<id>``, ``idx/container/<number>/<id>``), not
in it. A query scans the most selective index the filters name, then reads
each declaration's current record from the authenticated state and keeps
it only if it matches every filter exactly, so an answer stands on the
records it lists (each provable by ``GET /v1/declarations/{id}``) and the
index can only ever make a query slower, never wrong. A page ends after ``limit`` matches or
after a scan budget, and says where to go on: ``next`` is the last index key
scanned, passed back as ``after``; it is opaque to clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts import indexes
from node.api.errors import QueryError
from node.chain import ChainSnapshot

SCAN_FACTOR: Final = 20
MAX_SCAN: Final = 10_000


@dataclass(frozen=True, slots=True)
class Filters:
    """What a list query asks for; ``None`` means any."""

    vessel: str | None = None
    voyage: str | None = None
    container: str | None = None
    status: str | None = None
    organisation: str | None = None

    def __post_init__(self) -> None:
        if self.voyage is not None and self.vessel is None:
            raise QueryError("$.voyage", "a voyage filter needs the vessel filter too")

    def prefix(self) -> str:
        """The index to scan: the most selective one the filters name."""
        if self.container is not None:
            return f"idx/container/{self.container}/"
        if self.vessel is not None:
            if self.voyage is not None:
                return f"idx/vessel/{self.vessel}/{self.voyage}/"
            return f"idx/vessel/{self.vessel}/"
        if self.organisation is not None:
            return f"idx/org/{self.organisation}/"
        if self.status is not None:
            return f"idx/status/{self.status}/"
        # Every declaration has exactly one organisation entry.
        return "idx/org/"

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether a current declaration record satisfies every filter."""
        return (
            (self.status is None or record["status"] == self.status)
            and (self.organisation is None or record["org"] == self.organisation)
            and (self.vessel is None or record["vessel"] == self.vessel)
            and (self.voyage is None or record["voyage"] == self.voyage)
            and (self.container is None or self.container in record["containers"])
        )


def summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a list item shows of a declaration."""
    fields = ("id", "status", "org", "version", "height", "updated_at", "vessel", "voyage")
    return {**{name: record[name] for name in fields}, "containers": list(record["containers"])}


def list_declarations(
    chain: ChainSnapshot, filters: Filters, *, after: str | None, limit: int
) -> dict[str, Any]:
    """One page of declarations matching ``filters``, in index key order."""
    prefix = filters.prefix()
    if after is not None and not after.startswith(prefix):
        raise QueryError("$.after", "not a cursor of this query: pass the 'next' it returned")
    view = chain.view()
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    budget = min(MAX_SCAN, SCAN_FACTOR * limit)
    last: str | None = None
    more = False
    for key in indexes.scan(chain.kv, prefix, after or ""):
        if len(items) >= limit or budget == 0:
            more = True
            break
        budget -= 1
        last = key
        decl_id = key.rsplit("/", 1)[1]
        if decl_id in seen:
            continue
        record = view.get(f"decl/{decl_id}")
        # The index is not authenticated: an entry whose record does not match
        # (or is absent) is skipped, never shown.
        if record is None or not filters.matches(record):
            continue
        seen.add(decl_id)
        items.append(summary(record))
    return {"items": items, "next": last if more else None}
