"""Errors of the local networks: one root, stable codes.

::

    NetworkError(message)         devnet.failed: the network did not do what its caller
    │                             waited for or asked; says what and where
    └── NetworkTimeout            devnet.timeout: a wait reached its deadline (also a
                                  ``TimeoutError``)
"""

from __future__ import annotations


class NetworkError(Exception):
    """The network did not do what its caller waited for or asked; says what and where."""

    code = "devnet.failed"


class NetworkTimeout(NetworkError, TimeoutError):
    """A wait reached its deadline."""

    code = "devnet.timeout"
