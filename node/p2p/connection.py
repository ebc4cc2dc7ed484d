"""One peer connection: TLS 1.3 over a TCP stream, carrying length-prefixed frames.

TLS runs over memory BIOs (``ssl.SSLContext.wrap_bio``) rather than the event
loop's own TLS: the node runs on uvloop, whose server side neither reports
a refused handshake to the application (so it could not be counted) nor
upgrades an accepted socket reliably. Over memory BIOs the handshake, its
failure and its alert are this module's, on any event loop, and the cost is
the same as the standard loop's TLS (which is written the same way).

Reading a frame: 4 bytes of length, refused at once when over
:data:`~node.p2p.frames.MAX_FRAME` (the connection is then closed: what
follows cannot be framed), then the body. Writing: whole frames, several at
a time; :meth:`TlsStream.drain` waits while the socket is behind, so a slow
peer holds its own sender back and no one else.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from typing import Final

from ledger.crypto import PublicKey
from node.p2p.errors import PeerMessageError, PeerRefused, PeerUnavailable
from node.p2p.frames import HEADER, MAX_FRAME, length
from node.p2p.tls import peer_key

RECEIVE: Final = 64 * 1024
HANDSHAKE_TIMEOUT_S: Final = 5.0
KEEPALIVE: Final = {"TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3}
"""A peer that vanished (its host, not its process) is noticed within half a minute."""


class TlsStream:
    """A TLS connection over an asyncio stream pair, driven through memory BIOs."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext,
        *,
        server_side: bool,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=server_side)
        self._plain = bytearray()
        self._buffer = bytearray(RECEIVE)
        self._view = memoryview(self._buffer)
        self.closed = False
        _keep_alive(writer)

    async def handshake(self) -> PublicKey:
        """Complete the handshake; the node key of the peer's certificate.

        Raises :class:`PeerRefused`: ``unknown_certificate`` when the peer's
        certificate is not one this side trusts, ``tls_failed`` for anything
        else (no certificate, not TLS 1.3, not TLS at all, too slow).
        """
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                while True:
                    try:
                        self._tls.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        self._flush()
                        await self._receive()
        except ssl.SSLCertVerificationError as e:
            self._flush()  # the alert tells the peer why
            raise PeerRefused("unknown_certificate", e.verify_message or str(e)) from e
        except ssl.SSLError as e:
            self._flush()
            raise PeerRefused("tls_failed", e.reason or str(e)) from e
        except (TimeoutError, PeerUnavailable, OSError) as e:
            raise PeerRefused("tls_failed", f"handshake: {type(e).__name__}") from e
        self._flush()
        return peer_key(self._tls.getpeercert(binary_form=True))

    @property
    def version(self) -> str | None:
        """The TLS version negotiated (``TLSv1.3``), None before the handshake."""
        return self._tls.version()

    async def read_frame(self) -> bytes:
        """The body of the next frame (raises PeerUnavailable once the connection ends)."""
        await self._fill(HEADER)
        size = length(bytes(self._plain[:HEADER]))
        if size > MAX_FRAME:
            raise PeerMessageError("frame_too_large", f"a frame of {size} bytes")
        await self._fill(HEADER + size)
        body = bytes(self._plain[HEADER : HEADER + size])
        del self._plain[: HEADER + size]
        return body

    def write(self, data: bytes) -> None:
        """Encrypt and send ``data`` (whole frames), without waiting."""
        if self.closed:
            raise PeerUnavailable("the connection is closed")
        view = memoryview(data)
        while view:
            written = self._tls.write(view)
            view = view[written:]
        self._flush()

    async def drain(self) -> None:
        """Wait until the socket has taken what was written (it may be slow)."""
        try:
            await self._writer.drain()
        except OSError as e:
            raise PeerUnavailable(f"connection lost: {type(e).__name__}") from e

    def close(self) -> None:
        """Close the connection (idempotent); the peer sees it end."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ssl.SSLError, OSError):
            self._tls.unwrap()
        with contextlib.suppress(OSError):
            self._flush()
        self._writer.close()

    async def _fill(self, size: int) -> None:
        while len(self._plain) < size:
            try:
                count = int(self._tls.read(RECEIVE, self._buffer))  # with a buffer: a count
            except ssl.SSLWantReadError:
                self._flush()  # what reading produced (a key update's answer)
                await self._receive()
                continue
            except ssl.SSLError as e:
                # An alert (the peer refused this side's certificate) or a close_notify.
                raise PeerUnavailable(f"TLS: {e.reason or type(e).__name__}") from e
            if not count:
                raise PeerUnavailable("the peer closed the connection")
            self._plain += self._view[:count]

    async def _receive(self) -> None:
        if self.closed:
            raise PeerUnavailable("the connection is closed")
        try:
            data = await self._reader.read(RECEIVE)
        except OSError as e:
            raise PeerUnavailable(f"connection lost: {type(e).__name__}") from e
        if not data:
            raise PeerUnavailable("the peer closed the connection")
        self._incoming.write(data)

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data and not self._writer.is_closing():
            self._writer.write(data)


def _keep_alive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in KEEPALIVE.items():
            option = getattr(socket, name, None)
            if option is not None:  # Linux names; elsewhere the system's defaults
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
