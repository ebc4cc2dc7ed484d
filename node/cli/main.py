"""The ``dgledger`` command line: the command tree and its entry point.

Errors are one line on standard error that says what is wrong and what to
do, with a non-zero exit status; never a traceback for a user error.
Each group of verbs lives in its own module and adds itself to the tree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from node.cli import audit, declarations, governance, operator, verify
from node.cli.common import CliError


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="dgledger", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    operator.register(sub)
    audit.register(sub)
    declarations.register(sub)
    governance.register(sub)
    verify.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgledger`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as e:
        print(f"dgledger: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        return 130
