"""The ``dgledger`` command line: the command tree and its entry point.

Errors are one line on standard error that says what is wrong and what to
do, with a non-zero exit status; never a traceback for a user error.
Each group of verbs lives in its own module and adds itself to the tree.

Output cut short by a reader that went away (``dgledger show ID | head -1``)
ends quietly with status 141, as a command killed by SIGPIPE does in a shell:
a pipeline under ``set -o pipefail`` sees what it sees from any other command,
and a script does not take a cut output for a complete one (status 0) or for
a user error (1). SIGPIPE itself stays ignored, as Python sets it: restored
to its default it would also kill the command on a write to a closed socket.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from node.cli import audit, declarations, governance, operator, stowage, verify
from node.cli.common import EXIT_BROKEN_PIPE, CliError, say


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="dgledger", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    operator.register(sub)
    audit.register(sub)
    declarations.register(sub)
    governance.register(sub)
    stowage.register(sub)
    verify.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dgledger`` command."""
    try:
        try:
            return _dispatch(argv)
        finally:
            # Flushed here, where a reader that went away can still be caught,
            # rather than by the interpreter at exit.
            sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE


def _dispatch(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except CliError as e:
        say(f"dgledger: {e}", err=True)
        return e.status
    except KeyboardInterrupt:
        return 130


def _stdout_to_devnull() -> None:
    """Point standard output at /dev/null, so the flush at exit writes what is left there."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file: captured, or replaced
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
