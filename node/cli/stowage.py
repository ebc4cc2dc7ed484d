"""``dgledger stowage``: the dangerous goods on board a vessel on a voyage, and their checks.

``dgledger stowage --vessel IMO --voyage V --key KEY --node URL [--json]``
prints what ``GET /v1/stowage`` answers: each container the port authority
placed on board with its ISO 9711-1 position (bay, row, tier), whether it
stands on deck or under deck (and in which hold), and its goods, one IMDG
5.4.1.4 description a line; then, for each two containers whose goods need
segregation, the requirement (IMDG 7.2.4), the goods that set it, and
whether their positions keep it by the table of segregation on board
container ships (IMDG 7.4.3.3). The port authority, customs and auditors
see every container; anyone else only those with goods of its own
declarations. Exit status 1 if a check does not hold.

The port authority places containers with ``dgledger decide ID --owner ORG
--decision loaded --stowage CONTAINER=BBRRTT`` (:mod:`node.cli.declarations`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Final

from node.cli.common import CliError, add_node_args, connect, failure, say, terminal_safe
from node.client.errors import ClientError

HOLDS: Final = (
    "holds are counted as the chain measures them: four 20-foot bays each from bay 01"
    " (hold 1: bays 01-07, hold 2: bays 09-15, ...)"
)


def render_plan(plan: dict[str, Any]) -> list[str]:
    """The human view of a stowage plan, one line each, safe for a terminal."""
    containers, checks = plan["containers"], plan["checks"]
    head = f"vessel IMO {plan['vessel']}, voyage {plan['voyage']}, at block {plan['height']}:"
    if not containers:
        return [terminal_safe(f"{head} no dangerous goods on board that this key may read")]
    count = len(containers)
    lines = [f"{head} {count} container{'s' if count > 1 else ''} with dangerous goods on board"]
    for c in containers:
        lines.append(
            f"  {c['container']}  {c['position']}  bay {c['bay']:02d} row {c['row']:02d}"
            f" tier {c['tier']:02d}  {c['where']}"
        )
        for goods in c["goods"]:
            lines.append(f"      {goods['description']}")
        declared = ", ".join(f"{d['id']} of {d['owner']}" for d in c["declarations"])
        lines.append(f"      declared in {declared}")
    if count == 1:
        lines.append("segregation: one container shown, nothing to check between containers")
    elif not checks:
        lines.append("segregation: no two of these containers' goods need any (IMDG 7.2.4)")
    else:
        lines.append("segregation between containers (IMDG 7.4.3.3, closed units):")
        for check in checks:
            a, b = check["containers"]
            verdict = "holds" if check["held"] else "DOES NOT HOLD"
            lines.append(f'  {a} / {b}: "{check["term"]}" {verdict}')
            lines.append(f"      because {check['because']}")
            lines.append(f"      {check['why']}")
        lines.append("  (pairs not listed need no segregation)")
    if any(not c["on_deck"] for c in containers):
        lines.append(f"note: {HOLDS}")
    return [terminal_safe(line) for line in lines]


def cmd_stowage(args: argparse.Namespace) -> int:
    """Print the stowage plan of a vessel on a voyage; exit 1 if a check does not hold."""
    with connect(args) as client:
        try:
            plan = client.stowage(args.vessel, args.voyage)
        except ClientError as e:
            raise failure(e) from e
    if args.json:
        print(json.dumps(plan, indent=2, sort_keys=True))
    else:
        try:
            lines = render_plan(plan)
        except (KeyError, TypeError, ValueError) as e:
            raise CliError(
                f"the node sent a stowage plan that cannot be shown ({e!r}): try --json"
            ) from e
        for line in lines:
            say(line)
    broken = [c for c in plan.get("checks", []) if isinstance(c, dict) and not c.get("held")]
    if broken:
        many = len(broken) > 1
        raise CliError(
            f"{len(broken)} segregation check{'s' if many else ''} on board"
            f" {'do' if many else 'does'} not hold: restow the containers named"
        )
    return 0


def register(sub: Any) -> None:
    """Add the verb to the ``dgledger`` command tree."""
    p = sub.add_parser(
        "stowage",
        help="the dangerous goods on board a vessel, their positions and segregation",
        description="The dangerous goods on board a vessel on a voyage: each container's"
        " position (bay, row, tier; on deck or under deck), its goods, and the IMDG 7.4.3.3"
        " segregation checks between them.",
    )
    p.add_argument("--vessel", required=True, metavar="IMO", help="the vessel's IMO number")
    p.add_argument("--voyage", required=True, metavar="VOYAGE", help="the voyage number")
    add_node_args(p)
    p.add_argument("--json", action="store_true", help="the whole answer as JSON")
    p.set_defaults(func=cmd_stowage)
