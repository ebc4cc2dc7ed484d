"""The started node's collector: start-up frozen, collections rarer, cycles still found."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from node import memory


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("restored")
def test_settle_freezes_start_up_and_makes_collections_rarer() -> None:
    survivor = [_Cycle()]
    memory.settle()
    assert gc.get_threshold() == memory.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert not any(o is survivor for o in gc.get_objects())  # frozen: out of sight

    # A cycle made after start-up is still collected.
    cycle = _Cycle()
    gone = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert gone() is None
