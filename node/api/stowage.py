"""``GET /v1/stowage``: the dangerous goods on board one vessel on one voyage, and their checks.

A signed read (:mod:`node.auth`). The answer is
:func:`contracts.aboard.plan` at one snapshot: each container a ``loaded``
decision placed on board, with its ISO 9711-1 position (bay, row, tier, on
deck or in which hold), the declarations with goods in it and those goods;
then, for each two containers whose goods need segregation, the requirement
(IMDG 7.2.4 numbers 1 to 4, with the goods and the rule that set it) and
whether their positions keep it (IMDG 7.4.3.3, closed units).

Who reads what is :mod:`contracts.access`: the port authority, customs and
auditors see every container; anyone else only the containers in which a
declaration it reads puts goods, with only those goods and declarations,
and only the checks between those containers, judged on those goods. A
vessel and voyage with nothing the reader may see answers an empty plan,
as one with nothing on board does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from contracts import aboard
from contracts.access import may_read_declaration
from contracts.engine import dgl_in_force
from node.api.errors import ApiError
from node.api.models import ERRORS, Strict
from node.api.readers import NodeRunners, reader_at
from node.chain import ChainSnapshot
from node.service import NodeService

router = APIRouter()


class StowedDeclarationModel(Strict):
    """A declaration with goods in a container on board."""

    owner: str
    id: str


class StowedGoodsModel(Strict):
    """An item in a container on board: its IMDG 5.4.1.4 description."""

    un_number: str
    imo_class: str
    description: str


class StowedContainerModel(Strict):
    """A container on board, where it stands and what is in it."""

    container: str
    position: str
    """ISO 9711-1 ``BBRRTT``."""
    bay: int
    row: int
    tier: int
    on_deck: bool
    hold: int
    """The hold it is in, or above on deck (holds taken as four 20-foot bays from bay 01)."""
    where: str
    declarations: list[StowedDeclarationModel]
    goods: list[StowedGoodsModel]


class StowageCheckModel(Strict):
    """The segregation two containers' goods need, and whether their positions keep it."""

    containers: list[str]
    requirement: int
    """IMDG 7.2.4: 1 away from, 2 separated from, 3 separated by a complete compartment or hold
    from, 4 separated longitudinally by an intervening complete compartment or hold from."""
    term: str
    because: str
    paragraph: str
    held: bool
    why: str


class StowagePlanModel(Strict):
    """The dangerous goods on board one vessel on one voyage, at one height."""

    vessel: str
    voyage: str
    height: int
    containers: list[StowedContainerModel]
    checks: list[StowageCheckModel]


@router.get(
    "/v1/stowage",
    tags=["declarations"],
    response_model=StowagePlanModel,
    responses={**ERRORS, 503: {"description": "the Dangerous Goods List in force is not loaded"}},
)
async def stowage_plan(
    request: Request,
    vessel: Annotated[str, Query(pattern=r"^[0-9]{7}$")],
    voyage: Annotated[str, Query(min_length=1, max_length=50, pattern=r"^[^/]+$")],
) -> dict[str, Any]:
    """The dangerous goods on board ``vessel`` on ``voyage`` with positions, and the checks."""
    caller = await request.app.state.authenticate(request)
    node: NodeService = request.app.state.node
    runners = NodeRunners.of(node)

    def plan(chain: ChainSnapshot) -> dict[str, Any]:
        view = chain.view()
        reader = reader_at(view, caller.key_id, runners)
        digest = dgl_in_force(view)
        dgl = node.lists.get(digest)
        if dgl is None:
            raise ApiError(
                503,
                "dgl.unavailable",
                f"the Dangerous Goods List {digest.hex()} in force is not loaded on this node",
            )
        value = aboard.plan(
            view, vessel, voyage, dgl, lambda owner: may_read_declaration(reader, owner, view)
        )
        return {**value, "height": chain.height}

    return await node.read(plan)
