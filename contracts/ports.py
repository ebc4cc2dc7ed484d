"""The corridor in the state: the ports a network serves, who decides on calls there, the lead time.

State keys::

    ports     {<UN/LOCODE>: {name, authority}}    the ports the network serves;
                                                  absent when it lists none
    params    {..., lead_time_hours}              absent: 0

A port authority decides only on calls at its ports (:func:`check_decider`):

* it accepts, refuses and records the loading of a declaration whose port
  of loading is one of its ports; where the port of loading is not one the
  network serves, the goods enter the network at the port of discharge, and
  that port's authority decides instead (an inbound call);
* it records the discharge at the port of discharge.

A declaration whose ports of loading and discharge are both outside the
network has no port authority on it: every port authority's decision on it
is refused (``port.not_served``); it may still be submitted, amended,
cancelled and decided by customs. A network whose genesis lists no port
(written before the corridor) holds no port authority to a port, until
governance adds one; the last port is never removed (:mod:`contracts.governance`),
so a network that lists ports keeps the rule. An organisation removed from
membership keeps its ports until governance gives them another authority:
meanwhile nobody decides on calls there.

The lead time is how many hours before the estimated departure a
declaration must be submitted or amended (``contracts.checks.check_departure_at``
against the block's time); decisions are not held to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from contracts.errors import TransactionRejected, Violation
from contracts.lifecycle import Action

if TYPE_CHECKING:
    from contracts.membership import Port
    from contracts.state import StateView

KEY: Final = "ports"
DECISION_PATH: Final = "$.body.decision"


def ports_served(view: StateView) -> dict[str, dict[str, str]] | None:
    """The ports the network serves, by UN/LOCODE: ``{name, authority}``; None if it lists none."""
    value = view.get(KEY)
    return None if value is None else dict(value)


def record_ports(view: StateView, ports: Iterable[Port]) -> None:
    """Write the ports genesis lists (none: nothing is written)."""
    value = {p.locode: {"name": p.name, "authority": p.authority} for p in ports}
    if value:
        view.put(KEY, value)


def lead_time_hours(view: StateView) -> int:
    """How many hours before departure a declaration must be submitted or amended."""
    return int(view.get("params").get("lead_time_hours", 0))


def label(ports: Mapping[str, Mapping[str, str]] | None, locode: str) -> str:
    """A port as messages name it: ``FRLEH (Le Havre)`` where the network serves it."""
    port = None if ports is None else ports.get(locode)
    return locode if port is None else f"{locode} ({port['name']})"


_VERBS: Final = {
    Action.ACCEPT: "accept",
    Action.REFUSE_PORT: "refuse",
    Action.LOAD: "record the loading of",
    Action.DISCHARGE: "record the discharge of",
}


def _reject(code: str, message: str) -> TransactionRejected:
    return TransactionRejected([Violation(code, DECISION_PATH, message)])


def check_decider(
    view: StateView, org: str, action: Action, transport: Callable[[], Mapping[str, Any]]
) -> None:
    """Refuse a port authority's decision on a call at a port that is not one of ``org``'s.

    ``transport`` gives the current document's ``transport``; it is read only
    when the network lists ports.
    """
    ports = ports_served(view)
    if ports is None:
        return
    voyage = transport()
    loading, discharge = str(voyage["portOfLoading"]), str(voyage["portOfDischarge"])
    verb = _VERBS.get(action, action.value)
    if loading not in ports and discharge not in ports:
        raise _reject(
            "port.not_served",
            f"neither the port of loading {loading} nor the port of discharge {discharge} is a"
            " port this network serves: no port authority on it decides on this declaration",
        )
    if action is Action.DISCHARGE:
        port, where = discharge, f"the port of discharge {label(ports, discharge)}"
    elif loading in ports:
        port, where = loading, f"the port of loading {label(ports, loading)}"
    else:
        port = discharge
        where = (
            f"loaded at {loading}, outside the network, the goods enter it at the port of"
            f" discharge {label(ports, discharge)}, which"
        )
    if port not in ports:
        raise _reject(
            "port.not_served",
            f"{where} is not a port this network serves: no port authority on it may {verb}"
            " this declaration",
        )
    authority = ports[port]["authority"]
    if authority != org:
        raise _reject(
            "port.not_authority",
            f"{where} is a port of {authority}, not of {org}: only {authority} may {verb}"
            " this declaration",
        )
