"""How a client trusts a node's API: the authority given, or the system's trust store.

A node serves its client API over TLS (:mod:`node.api_tls`). A client
checks the node's certificate chain and that the certificate names the host
of the URL it asked for (its DNS name or IP address), against:

* the authority certificate(s) in a PEM file it is given (``ca``), such as
  the ``tls/ca.pem`` that ``dgledger network init`` writes for a test
  network; only those are trusted then;
* otherwise, the system's trust store (a node whose certificate comes from a
  public or company authority the system already trusts).

A node that cannot be trusted fails the handshake: :func:`tls_failure`
names it ``client.untrusted`` (its certificate does not verify, or names
another host) or ``client.tls`` (no TLS handshake at all: a plain HTTP
node, or one that speaks no version this client does).
"""

from __future__ import annotations

import os
import ssl

from node.client.errors import ClientError


def trust(ca: str | os.PathLike[str] | None) -> ssl.SSLContext:
    """A TLS client context trusting ``ca`` (a PEM file), or the system's store without it."""
    if ca is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=os.fspath(ca))
    except FileNotFoundError as e:
        raise ClientError("client.bad_ca", f"the CA file {os.fspath(ca)} does not exist") from e
    except ssl.SSLError as e:
        raise ClientError(
            "client.bad_ca", f"{os.fspath(ca)} holds no CA certificate in PEM ({e.reason})"
        ) from e
    except OSError as e:
        raise ClientError("client.bad_ca", f"cannot read {os.fspath(ca)}: {e.strerror}") from e


def tls_failure(error: BaseException, url: str) -> ClientError | None:
    """The client error for a failed TLS handshake somewhere in ``error``'s causes, if any."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return ClientError(
                "client.untrusted",
                f"{url} presented a certificate this client does not trust: {seen.verify_message}",
            )
        if isinstance(seen, ssl.SSLError):
            return ClientError(
                "client.tls", f"no TLS session with {url}: {seen.reason or seen.strerror}"
            )
        seen = seen.__cause__ or seen.__context__
    return None
