"""Fixtures node tests share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A chain file of 500 declarations in 5 blocks from ``scripts/make_chain.py``.

    Valid and invalid declarations, amendments, decisions, a governance
    transaction; its network directory is ``net`` beside it.
    """
    work = tmp_path_factory.mktemp("small-chain")
    path = work / "chain.dgl"
    subprocess.run(
        [
            sys.executable,
            "scripts/make_chain.py",
            "--network",
            str(work / "net"),
            "--init",
            "--declarations",
            "500",
            "--block-declarations",
            "100",
            "--governance-every",
            "2",
            "--nodes",
            "customs",
            "--export",
            str(path),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=300,
    )
    return path
