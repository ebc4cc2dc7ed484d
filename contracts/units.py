"""One container on one voyage: whatever every active declaration puts in it.

IMDG 7.3.4 applies segregation to everything packed in one cargo transport
unit, whoever declared it: a consolidated container carries goods of several
shippers, each declared on its own. So a submission or an amendment is
judged against the goods that the other active declarations put in the same
container on the same voyage (vessel IMO number and voyage number), exactly
as if all of them were items of one declaration: the same pairs, the same
rules (:func:`contracts.segregation_checks.check_unit`).

What this needs is kept per container and voyage, as a derived key
(:data:`contracts.state.DERIVED`)::

    unit/<IMO number>/<voyage>/<container>  ->  [[owner, id], ...]  sorted

listing the declarations whose current document puts goods in that
container on that voyage and whose status is active (:data:`ACTIVE`). It is
a function of the declaration records alone (their status, vessel, voyage
and containers), written by every declaration transaction in the same
block, and made again from the records by :func:`rebuild`. The goods
themselves are read from each listed declaration's current document in the
authenticated state, so nothing decides a transaction that the state root
does not commit to.

A violation names the conflicting goods by UN number, proper shipping name
and class, and the rule with its paragraph; never the other declaration, its
organisation or any of its commercial data.

A unit lists at most :data:`MAX_DECLARATIONS` active declarations: a
consolidated container holds a few dozen consignments, not thousands, and
the bound keeps what one submission costs bounded whoever filled the unit
(``unit.too_many_declarations``, judged before any other declaration's goods
are read). The goods of a version are parsed once and kept by the bytes of
its document (:class:`GoodsCache`): a version's document never changes, and
a key made of the bytes cannot be confused by a block that was not committed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from contracts.document import read_declaration
from contracts.errors import Violation
from contracts.item_checks import matching_entries
from contracts.lifecycle import Status
from contracts.segregation_checks import UnitItem, check_unit
from ledger.encoding import decode

if TYPE_CHECKING:
    from contracts.declaration import Container
    from contracts.dgl_types import DangerousGoodsListProtocol
    from contracts.state import StateView

UNIT: Final = "unit/"
INACTIVE: Final = frozenset(
    {Status.CANCELLED, Status.REFUSED_BY_PORT, Status.REFUSED_BY_CUSTOMS, Status.DISCHARGED}
)
"""Statuses whose goods no longer count in a container: withdrawn, refused, or ashore."""
ACTIVE: Final = frozenset(Status) - INACTIVE
OTHER: Final = " (already declared for this container on this voyage in another declaration)"
MAX_DECLARATIONS: Final = 64
"""Active declarations one container on one voyage may hold."""


class GoodsCache:
    """Containers and their items of stored documents, by the document's bytes (LRU)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, tuple[Container, ...]] = OrderedDict()

    def containers(self, raw: bytes) -> tuple[Container, ...]:
        """The containers of the canonical document ``raw``, parsed once."""
        found = self._entries.get(raw)
        if found is None:
            found = self._entries[raw] = read_declaration(decode(raw)).containers
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(raw)
        return found


GOODS: Final = GoodsCache()
"""One per process: a pure function of the bytes, shared by every engine."""


def unit_key(vessel: str, voyage: str, container: str) -> str:
    """The derived key of one container on one voyage."""
    return f"{UNIT}{vessel}/{voyage}/{container}"


def units_of(record: Mapping[str, Any] | None) -> set[str]:
    """The unit keys a declaration record is listed under: none unless it is active."""
    if record is None or Status(record["status"]) not in ACTIVE:
        return set()
    return {unit_key(record["vessel"], record["voyage"], c) for c in record["containers"]}


def update(view: StateView, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """Move a declaration record's listing from ``old`` to ``new`` (either may be inactive)."""
    member = [new["org"], new["id"]]
    before, after = units_of(old), units_of(new)
    for key in sorted(before - after):
        listed = [m for m in view.get(key, []) if m != member]
        if listed:
            view.put(key, listed)
        else:
            view.delete(key)
    for key in sorted(after - before):
        view.put(key, sorted([*view.get(key, []), member]))


def check(
    view: StateView,
    owner: str,
    decl_id: str,
    document: Mapping[str, Any],
    dgl: DangerousGoodsListProtocol,
    path: str = "$.body.declaration",
) -> list[Violation]:
    """What the goods of a declaration's new document break against the others in its units.

    ``document`` is the canonical value of the new document, already
    checked on its own. Its pairs with the goods that other active
    declarations put in the same container on the same voyage are judged;
    pairs within the document are not judged again.
    """
    transport = document["transport"]
    vessel, voyage = transport["vesselIMONumber"], transport["voyageNumber"]
    me = [owner, decl_id]
    others: dict[int, list[list[str]]] = {}
    for n, container in enumerate(document["containers"]):
        listed = view.get(unit_key(vessel, voyage, container["equipmentReference"]), [])
        found = [m for m in listed if m != me]
        if len(found) >= MAX_DECLARATIONS:
            return [
                Violation(
                    "unit.too_many_declarations",
                    f"{path}.containers[{n}].equipmentReference",
                    f"container {container['equipmentReference']} already holds goods of "
                    f"{len(found)} declarations on this voyage, the most one container may",
                )
            ]
        if found:
            others[n] = found
    if not others:
        return []  # the usual case: costs one derived read a container
    mine = read_declaration(document).containers
    out: list[Violation] = []
    for n, members in others.items():
        container = mine[n]
        theirs = [
            item
            for other_owner, other_id in members
            for item in goods(view, other_owner, other_id, container.equipment_reference, dgl)
        ]
        out.extend(_judge(container, f"{path}.containers[{n}]", theirs, dgl))
    return out


def goods(
    view: StateView, owner: str, decl_id: str, container: str, dgl: DangerousGoodsListProtocol
) -> list[UnitItem]:
    """The items another declaration's current document packs in ``container``."""
    record = view.get(f"decl/{owner}/{decl_id}")
    if record is None or record.get("document") is None:
        return []
    raw = view.raw(f"doc/{owner}/{decl_id}/{record['document']:06d}")
    if raw is None:
        return []
    return [
        UnitItem("", item, matching_entries(item, dgl))
        for c in GOODS.containers(raw)
        if c.equipment_reference == container
        for item in c.dangerous_goods
    ]


def _judge(
    container: Container, path: str, theirs: list[UnitItem], dgl: DangerousGoodsListProtocol
) -> list[Violation]:
    """Each pair of an item of ``container`` with one already in the unit, as one unit judges it."""
    out = []
    for i, item in enumerate(container.dangerous_goods):
        mine = UnitItem(f"{path}.dangerousGoods[{i}]", item, matching_entries(item, dgl))
        for other in theirs:
            for v in check_unit(container.equipment_reference, [other, mine]):
                out.append(Violation(v.code, v.path, v.message + OTHER, v.paragraph))
    return out


def rebuild(records: Iterable[Mapping[str, Any]]) -> dict[str, list[list[str]]]:
    """The unit listings that declaration records call for."""
    listed: dict[str, list[list[str]]] = {}
    for record in records:
        for key in units_of(record):
            listed.setdefault(key, []).append([record["org"], record["id"]])
    return {key: sorted(members) for key, members in listed.items()}
