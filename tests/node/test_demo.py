"""The quick start's main job, ``dgledger demo``, end to end in its own process.

Four validator processes on loopback, one killed with ``kill -9`` and
restarted, traffic of valid and invalid declarations, decisions, then an
audit of every node's store: the command must exit 0 and say that each of
its checks held.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.node.test_cli import dgledger

pytestmark = pytest.mark.slow

CHECKS = (
    "every node's chain audits SOUND",
    "invalid declarations refused with their reasons",
    "no valid declaration refused",
    "declarations across all nine classes committed",
    "all nodes hold the same tip",
    "acknowledged transactions present on every node",
    "a declaration in another member's name refused",
    "a declaration due within the lead time refused",
    "no decision on a call outside the corridor",
    "receipts verify from genesis alone; sealed fields open for their readers only",
)


def test_demo_ends_with_every_check_held(tmp_path: Path) -> None:
    run = dgledger("demo", "--keep", tmp_path / "demo")
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr
    assert "FAILED" not in run.stdout
    for check in CHECKS:
        assert f"[ok] {check}" in run.stdout, check
