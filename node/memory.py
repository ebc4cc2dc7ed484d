"""The node's garbage collector: tuned once the node has started.

CPython frees almost everything by reference counting; its cyclic collector
only finds cycles, yet its full collections walk every tracked object. A
running node holds many: the Dangerous Goods List and genesis, decoded
transactions waiting in the mempool, validated documents kept by the
document memo, decoded state-tree nodes. Under load a node spent about a
fifth of its CPU in the collector, mostly in full collections (four
validators at 600 declarations/s offered, 2026-12-07, ``docs/benchmarks.md``).

:func:`settle` is called once, after start-up: it collects, moves every
object that exists then (modules, the list, genesis) out of the collector's
sight for good (``gc.freeze``), and makes collections rarer: the youngest
generation after :data:`THRESHOLDS` ``[0]`` allocations instead of 700, and
a full collection after :data:`THRESHOLDS` ``[2]`` collections of the middle
one. Cycles are still collected, less often.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (20_000, 20, 100)
"""``gc.set_threshold`` of a started node."""


def settle() -> None:
    """Collect once, freeze what start-up made, and make collections rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
