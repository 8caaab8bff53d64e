"""uvicorn's HTTP/1.1 protocol (h11) with read deadlines and a JSON 400.

    config = ServeConfig(app, header_timeout=10, body_timeout=30, host=..., port=...)
    uvicorn.Server(config).run(sockets=[sock])

uvicorn times out only an idle keep-alive connection, and only after a response: a client
that sends its headers or its body one byte every few seconds holds a connection (and, with
many of them, the server) forever. `GuardedH11Protocol` gives a request's headers
`header_timeout` seconds (from the connection, or from the end of the response before on a
kept-alive one) and its body `body_timeout` seconds more, then closes the connection. While the
app works on a request nothing is timed. A request h11 cannot parse (`Content-Length: -1`, a
bad request line) gets the API's JSON error shape instead of uvicorn's text/plain 400.
"""

from __future__ import annotations

import json
import logging

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("textcycle.serve")
BAD_REQUEST = json.dumps(
    {"error": "invalid HTTP request (a malformed request line or header, e.g. a bad Content-Length)"}
).encode()


class ServeConfig(uvicorn.Config):
    """uvicorn's Config with the read deadlines of `GuardedH11Protocol` (it reaches each worker
    process with them)."""

    def __init__(self, app, *, header_timeout: float = 10.0, body_timeout: float = 30.0, **kwargs):
        self.header_timeout, self.body_timeout = header_timeout, body_timeout
        super().__init__(app, http=GuardedH11Protocol, **kwargs)


class GuardedH11Protocol(H11Protocol):
    def connection_made(self, transport) -> None:
        self._awaiting, self._deadline = None, None
        super().connection_made(transport)
        self._watch()

    def connection_lost(self, exc) -> None:
        self._set_deadline(None)
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def _watch(self) -> None:
        """Time what the connection waits for from the client: a request's headers (h11's
        IDLE), its body (SEND_BODY), or nothing (the app has the whole request, or it is over)."""
        if self.transport.is_closing():
            return self._set_deadline(None)
        self._set_deadline({h11.IDLE: "headers", h11.SEND_BODY: "body"}.get(self.conn.their_state))

    def _set_deadline(self, awaiting: str | None) -> None:
        if awaiting == self._awaiting:
            return  # already timed from when the wait began
        if self._deadline is not None:
            self._deadline.cancel()
        self._awaiting, self._deadline = awaiting, None
        if awaiting is not None:
            seconds = self.config.header_timeout if awaiting == "headers" else self.config.body_timeout
            self._deadline = self.loop.call_later(seconds, self._too_slow, awaiting, seconds)

    def _too_slow(self, awaiting: str, seconds: float) -> None:
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or handed to a WebSocket protocol
        # a connection that sent nothing is an idle one (a browser's spare connection): no line
        if awaiting == "body" or self.conn.trailing_data[0]:
            who = "%s:%d" % self.client if self.client else "-"
            log.warning("closed the connection of %s: the request %s took over %g s to arrive", who, awaiting, seconds)
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BAD_REQUEST)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=BAD_REQUEST),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()
