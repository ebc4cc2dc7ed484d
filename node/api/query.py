"""List queries over declarations: vessel, voyage, container, status, organisation.

The indexes are derived data kept beside the authenticated state
(:mod:`contracts.indexes`: ``idx/status/<status>/<owner>/<id>``,
``idx/org/<owner>/<id>``, ``idx/vessel/<imo>/<voyage>/<owner>/<id>``,
``idx/container/<number>/<owner>/<id>``), not in it. A query scans the most
selective index the filters name, then reads each declaration's current
record from the authenticated state and keeps it only if it matches every
filter exactly, so an answer stands on the records it lists (each provable
by ``GET /v1/declarations/{id}?owner=<org>``, ``org`` being the owner) and the
index can only ever make a query slower, never wrong. A page ends after ``limit`` matches or
after a scan budget, and says where to go on: ``next`` is the last index key
scanned, passed back as ``after``; it is opaque to clients.

A query answers only what its reader may read (:mod:`contracts.access`),
and leaves the rest out before it pages: a reader that sees every
declaration (the port authority, customs, auditors) scans the index the
filters name; any other reader scans only indexes within the organisations
it reads (its own, and for a forwarder those that delegated to it), one
organisation after the other, so neither what a page holds, nor where it
ends, nor its cursor depends on a declaration the reader may not read: the
most selective of that organisation's own indexes the filters name
(``idx/own/<owner>/container|vessel|status/...``), else its organisation
index. A forwarder's delegators are found by stepping through the
organisation index one organisation at a time (a seek each, and a
delegation read).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from contracts import indexes
from contracts.access import Reader, readable_owners, sees_every_declaration
from contracts.declarations_tx import record_key
from contracts.lifecycle import Role
from contracts.state import StateView
from ledger.kv import KVStore
from node.api.errors import QueryError
from node.chain import ChainSnapshot

SCAN_FACTOR: Final = 20
MAX_SCAN: Final = 10_000
ORG_INDEX: Final = "idx/org/"
PAST_IDS: Final = "\x7f"
"""Sorts after every character of a declaration id: past an organisation's entries."""


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
        if self.organisation is not None:
            return self._narrowest("idx/", None) or f"{ORG_INDEX}{self.organisation}/"
        # Every declaration has exactly one organisation entry.
        return self._narrowest("idx/", self.status) or ORG_INDEX

    def owner_prefix(self, owner: str) -> str:
        """The index to scan within ``owner``'s declarations: the most selective one named."""
        return self._narrowest(f"{indexes.OWN}{owner}/", self.status) or f"{ORG_INDEX}{owner}/"

    def _narrowest(self, base: str, status: str | None) -> str | None:
        """The container, voyage, vessel or (given) status index under ``base`` named, if any."""
        if self.container is not None:
            return f"{base}container/{self.container}/"
        if self.vessel is not None:
            voyage = "" if self.voyage is None else f"{self.voyage}/"
            return f"{base}vessel/{self.vessel}/{voyage}"
        if status is not None:
            return f"{base}status/{status}/"
        return None

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


def indexed_owners(kv: KVStore) -> list[str]:
    """Every organisation with an entry in the organisation index, one seek each."""
    owners: list[str] = []
    after = ""
    while True:
        key = next(indexes.scan(kv, ORG_INDEX, after), None)
        if key is None:
            return owners
        owner = key[len(ORG_INDEX) :].split("/", 1)[0]
        owners.append(owner)
        after = f"{ORG_INDEX}{owner}/{PAST_IDS}"


def scope(
    kv: KVStore, view: StateView, filters: Filters, reader: Reader
) -> tuple[list[str], frozenset[str] | None]:
    """The index prefixes a query scans, in order, and whose records it may show (None: any)."""
    if sees_every_declaration(reader):
        return [filters.prefix()], None
    # Only forwarders are delegated to: anyone else reads its own alone.
    candidates = indexed_owners(kv) if reader.role is Role.FORWARDER else [reader.org]
    owners = readable_owners(reader, candidates, view)
    if filters.organisation is not None:
        owners &= {filters.organisation}
    return [filters.owner_prefix(o) for o in sorted(owners)], owners


def list_declarations(
    chain: ChainSnapshot, filters: Filters, *, after: str | None, limit: int, reader: Reader
) -> dict[str, Any]:
    """One page of the declarations matching ``filters`` that ``reader`` may read."""
    view = chain.view()
    prefixes, owners = scope(chain.kv, view, filters, reader)
    if after is not None:
        going_on = [p for p in prefixes if after.startswith(p)]
        if not going_on:
            raise QueryError("$.after", "not a cursor of this query: pass the 'next' it returned")
        prefixes = prefixes[prefixes.index(going_on[0]) :]
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    budget = min(MAX_SCAN, SCAN_FACTOR * limit)
    last: str | None = None
    more = False
    for key in _entries(chain.kv, prefixes, after):
        if len(items) >= limit or budget == 0:
            more = True
            break
        budget -= 1
        last = key
        target = indexes.target(key)
        if target in seen:
            continue
        record = view.get(record_key(*target))
        # The index is not authenticated: an entry whose record does not match
        # (or is absent, or is not the reader's to see) is skipped, never shown.
        if record is None or not filters.matches(record):
            continue
        if owners is not None and record["org"] not in owners:
            continue
        seen.add(target)
        items.append(summary(record))
    return {"items": items, "next": last if more else None}


def _entries(kv: KVStore, prefixes: list[str], after: str | None) -> Iterator[str]:
    """The index entries under each prefix in turn, the first from just past ``after``."""
    for i, prefix in enumerate(prefixes):
        yield from indexes.scan(kv, prefix, (after or "") if i == 0 else "")
