"""The hub's HTTP/1.1 connections: uvicorn's h11 protocol with limits a hostile client meets.

uvicorn bounds neither the time a client may take to send its headers nor how long a request
body may sit idle, and with httptools it bounds no header size at all: 20 trickling clients
held the hub's connections for minutes, four unfinished 32 MiB headers grew it by 190 MiB.
Here, per connection:

- the request line and headers may take `header_timeout` seconds (408, then closed) and
  `max_header_bytes` bytes in total (431, then closed: h11 buffers at most that much);
- a request body may be idle for `body_idle_timeout` seconds, then the connection is closed
  (the endpoint sees a disconnect and drops what it staged);
- beyond `max_connections` open connections a new one is answered 503 with Retry-After and
  closed at once, so its file descriptor is freed before the process runs out of them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    body_idle_timeout: float
    max_connections: int
    keep_alive_timeout: float


def _raw_response(status: int, reason: str, message: str, extra: dict[str, str] | None = None) -> bytes:
    body = ('{"error": "' + message.replace('"', "'") + '"}').encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Connection": "close",
        "X-Error-Code": reason.replace(" ", ""),
        "X-Error-Message": message,
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


class GuardedH11Protocol(H11Protocol):
    """`H11Protocol` plus the limits above; `protocol_class(limits)` makes the class uvicorn builds."""

    limits: ConnectionLimits

    @classmethod
    def with_limits(cls, limits: ConnectionLimits) -> type[GuardedH11Protocol]:
        return type("HubH11Protocol", (cls,), {"limits": limits})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the request head being received
        self._tail = b""  # its last 3 bytes, to find a CRLFCRLF split across reads

    # -- the connection cap -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            transport.write(
                _raw_response(
                    503,
                    "Service Unavailable",
                    f"The hub is serving its maximum of {self.limits.max_connections} connections; "
                    "retry in a moment.",
                    {"Retry-After": "1"},
                )
            )
            transport.close()
            return
        self._arm(self.limits.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- headers and bodies -----------------------------------------------------------------

    def _waiting_for_headers(self) -> bool:
        # IDLE: no request started on this connection since the last one ended (or ever). Once
        # answered, a request whose body is still arriving stays in SEND_BODY: its bytes are body.
        return self.conn.their_state is h11.IDLE

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._waiting_for_headers() and not self._count_header_bytes(data):
            return
        super().data_received(data)
        if self.transport.is_closing() or self._waiting_for_headers():
            return  # headers still coming: the header deadline stands, however the bytes trickle
        if self.conn.their_state is h11.SEND_BODY:
            self._arm(self.limits.body_idle_timeout, self._body_idle)
        else:
            self._disarm()

    def _count_header_bytes(self, data: bytes) -> bool:
        """Add `data` to the request head being received; False (and 431) once it is too large.

        Counted here, not only by h11: h11 bounds the *unfinished* head, so a 16 MiB head that
        arrives in one read would pass it.
        """
        buf = self._tail + data
        end = buf.find(b"\r\n\r\n")
        size = self._head_bytes + (end + 4 - len(self._tail) if end >= 0 else len(data))
        if size > self.limits.max_header_bytes:
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"The request line and headers are larger than {self.limits.max_header_bytes} bytes.",
            )
            return False
        if end >= 0:
            self._head_bytes, self._tail = 0, b""
        else:
            self._head_bytes, self._tail = size, buf[-3:]
        return True

    def send_400_response(self, msg: str) -> None:
        # h11 raises "Receive buffer too long" (its hint: 431) once unfinished headers exceed its
        # max_incomplete_event_size, which run.py sets to `max_header_bytes`; uvicorn says 400.
        if (
            self.conn.their_state is h11.ERROR
            and len(self.conn.trailing_data[0]) > self.limits.max_header_bytes
        ):
            self._refuse(
                431,
                "Request Header Fields Too Large",
                f"The request line and headers are larger than {self.limits.max_header_bytes} bytes.",
            )
            return
        super().send_400_response(msg)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The next request's headers: idle keep-alive first, then the header deadline.
            self._arm(self.limits.keep_alive_timeout + self.limits.header_timeout, self._headers_too_slow)

    # -- timers -----------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Any) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_too_slow(self) -> None:
        self._timer = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self._refuse(
                408,
                "Request Timeout",
                f"The request headers did not arrive within {self.limits.header_timeout:g} seconds.",
            )

    def _body_idle(self) -> None:
        self._timer = None
        if self.flow.read_paused:  # the endpoint is behind (a slow disk), not the client
            self._arm(self.limits.body_idle_timeout, self._body_idle)
            return
        if not self.transport.is_closing() and self.conn.their_state is h11.SEND_BODY:
            self.logger.info("closing a connection whose request body was idle")
            self.transport.close()

    def _refuse(self, status: int, reason: str, message: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_raw_response(status, reason, message))
            self.transport.close()
