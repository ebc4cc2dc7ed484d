"""The local network starts its node processes from the tree its own code came from."""

from __future__ import annotations

from pathlib import Path

from node.devnet import localnet


def test_nodes_start_in_the_directory_that_holds_the_node_package() -> None:
    # ``python -m node.cli`` runs there: the processes import the same code as the caller,
    # not whatever another install of the package holds.
    here = Path(localnet.__file__).resolve()
    assert (localnet.REPO / "node" / "devnet" / "localnet.py").resolve() == here
