"""Containers on board one vessel on one voyage: where each stands, what keeps them apart.

The port authority's ``loaded`` decision may give the stowage position of
each container of the declaration (``{"stowage": {"CSQU3054383": "030282"}}``,
:mod:`contracts.stowage`). The declaration record keeps them (``stowage``),
so they are authenticated with the decision. The chain then judges the
goods of each newly placed container against those of every container
already on board that vessel on that voyage, whoever declared them, by the
table of segregation between closed cargo transport units on board
container ships (IMDG 7.4.3.3), and refuses a loading that breaks it,
naming both containers, never the other declaration, its organisation or
its commercial data.

What this needs is kept per vessel and voyage as a derived key
(:data:`contracts.state.DERIVED`)::

    aboard/<IMO number>/<voyage>  ->  [[container, position, owner, id], ...]  sorted

listing, for every declaration whose status is ``loaded`` and whose record
gives positions, each container it placed. It is a function of the
declaration records alone, written by every declaration transaction in the
same block, and made again from the records by :func:`rebuild`; a discharged
declaration's containers leave it. The goods in a container on board are
those of every active declaration that puts goods in it on that voyage
(:mod:`contracts.units`: a consolidated container carries them all, and a
cancelled or refused declaration's goods leave it), read from the
authenticated state.

The segregation two containers need is the strictest that any of their
items need from each other (:func:`contracts.segregation_checks.requirement`:
the 7.2.4 table, class 1 compatibility, column 16b SG codes); only the
table's numbers 1 to 4 call for a distance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from contracts.describe import describe
from contracts.errors import Violation
from contracts.lifecycle import Status
from contracts.segregation import Segregation
from contracts.segregation_checks import TERMS, Requirement, UnitItem, requirement
from contracts.stowage import PARAGRAPH, Position, judge
from contracts.units import goods, unit_key

if TYPE_CHECKING:
    from contracts.dgl_types import DangerousGoodsListProtocol
    from contracts.state import StateView

ABOARD: Final = "aboard/"
STOWAGE: Final = "stowage"
"""The field of a declaration record holding its containers' positions."""
FARTHEST: Final = Segregation.SEPARATED_LONGITUDINALLY
"""The strictest requirement: two positions that keep it keep every other."""
NONE: Final = Requirement(Segregation.NONE, "", "")

Readable = Callable[[str], bool]
"""Whether the reader of a stowage plan may read an organisation's declarations."""


def aboard_key(vessel: str, voyage: str) -> str:
    """The derived key of one vessel on one voyage."""
    return f"{ABOARD}{vessel}/{voyage}"


def placed(record: Mapping[str, Any] | None) -> dict[str, list[list[str]]]:
    """The entries a declaration record is listed under, by key: none unless it is loaded."""
    if record is None or record["status"] != Status.LOADED.value:
        return {}
    stowage = record.get(STOWAGE) or {}
    if not stowage:
        return {}
    member = [record["org"], record["id"]]
    key = aboard_key(record["vessel"], record["voyage"])
    return {key: [[c, stowage[c], *member] for c in sorted(stowage)]}


def update(view: StateView, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
    """Move a declaration record's entries from ``old`` to ``new``."""
    before, after = placed(old), placed(new)
    for key in sorted(set(before) | set(after)):
        gone, come = before.get(key, []), after.get(key, [])
        if gone == come:
            continue
        listed = [e for e in view.get(key, []) if e not in gone]
        listed = sorted([*listed, *come])
        if listed:
            view.put(key, listed)
        else:
            view.delete(key)


def rebuild(records: Iterable[Mapping[str, Any]]) -> dict[str, list[list[str]]]:
    """The listings that declaration records call for."""
    listed: dict[str, list[list[str]]] = {}
    for record in records:
        for key, entries in placed(record).items():
            listed.setdefault(key, []).extend(entries)
    return {key: sorted(entries) for key, entries in listed.items()}


def on_board(view: StateView, vessel: str, voyage: str) -> dict[str, Position]:
    """Each container on board the vessel on the voyage, with its position."""
    return {c: Position.parse(p) for c, p, _, _ in view.get(aboard_key(vessel, voyage), [])}


class _Goods:
    """The items in containers on one voyage, read once each from the authenticated state."""

    def __init__(
        self,
        view: StateView,
        vessel: str,
        voyage: str,
        dgl: DangerousGoodsListProtocol,
        readable: Readable | None = None,
    ) -> None:
        self.view, self.vessel, self.voyage, self.dgl = view, vessel, voyage, dgl
        self.readable = readable
        self._found: dict[str, tuple[list[list[str]], list[UnitItem]]] = {}

    def of(self, container: str) -> tuple[list[list[str]], list[UnitItem]]:
        """The declarations putting goods in ``container``, and the goods."""
        if container in self._found:
            return self._found[container]
        members = self.view.get(unit_key(self.vessel, self.voyage, container), [])
        if self.readable is not None:
            members = [m for m in members if self.readable(m[0])]
        items = [
            item
            for owner, decl_id in members
            for item in goods(self.view, owner, decl_id, container, self.dgl)
        ]
        self._found[container] = (members, items)
        return members, items

    def between(self, a: str, b: str) -> Requirement:
        """The strictest requirement between the goods in containers ``a`` and ``b``."""
        found = NONE
        for first in self.of(a)[1]:
            for second in self.of(b)[1]:
                need = requirement(first, second)
                if need.level.strictness > found.level.strictness:
                    found = need
        return found


def _overlap(a: Position, b: Position) -> bool:
    """Whether two positions claim the same cell: same row and tier, bays overlapping."""
    (a_first, a_last), (b_first, b_last) = a.slots, b.slots
    return a.row == b.row and a.tier == b.tier and a_first <= b_last and b_first <= a_last


def _at(container: str, position: Position) -> str:
    return f"container {container} at {position.text} ({position.describe()})"


def check_loading(
    view: StateView,
    record: Mapping[str, Any],
    positions: Mapping[str, Position],
    dgl: DangerousGoodsListProtocol,
) -> list[Violation]:
    """What placing a declaration's containers at ``positions`` breaks on board.

    ``record`` is the declaration's record before its loading. Each new
    container is judged against every container already on board and
    against those placed before it by the same decision (in container
    order): its position must be free, the same as where the container
    already is if another declaration placed it, and far enough from the
    others for the segregation their goods need (IMDG 7.4.3.3). A container
    on board already is judged again: the goods this declaration puts in it
    may be ones no loading has judged yet.
    """
    out = []
    for container in sorted(positions):
        if container not in record["containers"]:
            out.append(
                Violation(
                    "stowage.unknown_container",
                    f"$.body.stowage.{container}",
                    f"container {container} is not one of this declaration's: "
                    f"{', '.join(record['containers'])}",
                )
            )
    if out:
        return out
    vessel, voyage = record["vessel"], record["voyage"]
    where = on_board(view, vessel, voyage)
    goods = _Goods(view, vessel, voyage, dgl)
    placed_now = dict(where)
    for container in sorted(positions):
        at, path = positions[container], f"$.body.stowage.{container}"
        if container in where and where[container] != at:
            out.append(
                Violation(
                    "stowage.already_aboard",
                    path,
                    f"container {container} is on board at {where[container].text}"
                    f" ({where[container].describe()}) already: give that position",
                )
            )
            continue
        taken = sorted(c for c, p in placed_now.items() if c != container and _overlap(at, p))
        if taken:
            out.append(
                Violation(
                    "stowage.position_taken",
                    path,
                    f"{_at(container, at)}: {_at(taken[0], placed_now[taken[0]])} stands there",
                )
            )
            continue
        for other in sorted(placed_now):
            there = placed_now[other]
            if other == container or judge(FARTHEST, at, there).held:
                continue  # far enough apart for any requirement: their goods need not be read
            need = goods.between(container, other)
            verdict = judge(need.level, at, there)
            if not verdict.held:
                out.append(
                    Violation(
                        "stowage.segregation",
                        path,
                        f"{_at(container, at)} and {_at(other, there)} must be"
                        f' "{TERMS[need.level]}" each other: {need.why}; {verdict.why}',
                        PARAGRAPH,
                    )
                )
        placed_now[container] = at
    return out


def plan(
    view: StateView,
    vessel: str,
    voyage: str,
    dgl: DangerousGoodsListProtocol,
    readable: Readable,
) -> dict[str, Any]:
    """The dangerous goods on board with their positions, and the segregation between them.

    A container appears only if the reader reads a declaration with goods in
    it (``readable`` of the declaration's owner), with only the goods and
    declarations the reader reads; the checks are those between the
    containers shown, judged on the goods shown. Pairs whose goods need no
    segregation are left out.
    """
    goods = _Goods(view, vessel, voyage, dgl, readable)
    where = on_board(view, vessel, voyage)
    order = sorted(where, key=lambda c: (where[c].bay, where[c].row, where[c].tier, c))
    containers, shown = [], []
    for container in order:
        members, items = goods.of(container)
        if not members:
            continue
        at = where[container]
        shown.append(container)
        containers.append(
            {
                "container": container,
                "position": at.text,
                "bay": at.bay,
                "row": at.row,
                "tier": at.tier,
                "on_deck": at.on_deck,
                "hold": at.holds[0],
                "where": at.where(),
                "declarations": [{"owner": o, "id": i} for o, i in members],
                "goods": [
                    {
                        "un_number": u.item.un_number,
                        "imo_class": u.item.imo_class,
                        "description": describe(u.item),
                    }
                    for u in items
                ],
            }
        )
    checks = []
    for n, a in enumerate(shown):
        for b in shown[n + 1 :]:
            need = goods.between(a, b)
            if need.level is Segregation.NONE:
                continue
            verdict = judge(need.level, where[a], where[b])
            checks.append(
                {
                    "containers": [a, b],
                    "requirement": need.level.value,
                    "term": TERMS[need.level],
                    "because": need.why,
                    "paragraph": need.paragraph,
                    "held": verdict.held,
                    "why": verdict.why,
                }
            )
    return {"vessel": vessel, "voyage": voyage, "containers": containers, "checks": checks}
