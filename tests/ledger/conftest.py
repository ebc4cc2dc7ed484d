"""Fixtures shared by the ledger's tests."""

from __future__ import annotations

import pytest

from ledger import smt


@pytest.fixture(params=[0, 1, 3, smt.CLUSTER_DEPTH])
def cluster_depth(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """The depth from which state nodes go under ``P``: small ones make small trees
    cross it, so leaves move between ``N`` and ``P`` as their neighbours come and go."""
    monkeypatch.setattr(smt, "CLUSTER_DEPTH", request.param)
    return int(request.param)
