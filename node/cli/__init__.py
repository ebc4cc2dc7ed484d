"""The ``dgledger`` command line: one module per group of verbs, :mod:`node.cli.main` on top."""
