"""A bound on the time a client may take to send a request head (`serve`'s HTTP protocol)."""

from __future__ import annotations

import asyncio
import json

from ..internals import HttpToolsProtocol

# A request head is a few hundred bytes, one packet; ten seconds is not a slow network but a
# held connection (nginx: client_header_timeout 60 s, HAProxy's usual timeout http-request 10 s).
HEADER_TIMEOUT_SECONDS = 10
_BODY = json.dumps({"detail": "Request header timeout."}).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + _BODY
)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request head.

    uvicorn bounds only the wait between requests (`timeout_keep_alive`, armed
    when a response ends, cancelled by the first byte of the next request). A
    new connection that sends nothing, or half a head, is never timed out:
    measured with uvicorn 0.54 and httptools 0.9, both were still open after
    5 minutes (slowloris holds a connection per socket that way). h11 has a
    size limit for an incomplete head, not a time limit.

    Here a timer starts when the connection opens and again at the first byte
    of each request, and stops when the head is complete (httptools'
    `on_headers_complete`). When it fires, a connection with part of a head
    gets `408 {"detail": "Request header timeout."}` and is closed; an idle
    one is closed. Bodies are not bounded here (see docs/operators.md).
    """

    header_timeout = HEADER_TIMEOUT_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started = True
        if self._head_timer is None:  # the next request of a kept-alive connection
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._head_started = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()
