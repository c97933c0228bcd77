"""Request ids, as a pure ASGI middleware (docs/operators.md, Logs, errors and traces).

Each request gets an id: the incoming `X-Request-Id` when it is a sane token (1 to 128
characters of letters, digits and `-_.:+/=`), else a new UUID. It is sent back in the
response's `X-Request-Id` header, every answer included (errors, 404s, the last-resort 500
that this middleware itself sends), and it is carried by a context variable, so that every
log line, audit event, error report and trace of the request names it: the handlers' threads
see it too (meet_external/server/threads.py runs each handler in a copy of the request's context).

The middleware is the outermost the app adds (only Connexion's last-resort error middleware is
outside it, and it never sees an exception: this one answers them), so the access line it
writes after the answer has the answer's final status and the whole time the request took.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from typing import Callable

from ..http.base import HttpMiddleware
from ..http.routes import RouteTable
from . import logs

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")

logger = logging.getLogger("meet_external.errors")
_current: contextvars.ContextVar[Request | None] = contextvars.ContextVar(
    "meet_external_request", default=None)


class Request:
    """The request being served: its id, and the operation it reaches (named when first asked)."""

    __slots__ = ("id", "method", "client", "_path", "_routes", "_named")

    def __init__(self, request_id: str, method: str, path: str, routes: RouteTable,
                 client: tuple | None = None):
        self.id = request_id
        self.method = method
        self.client = client  # the peer, until a trusted proxy's header names the client
        self._path = path  # the raw path: never logged, only matched against the templates
        self._routes = routes
        self._named: tuple | None = None

    def _name(self) -> tuple:
        if self._named is None:
            operation = self._routes.name(self.method, self._path)
            self._named = (operation, self._routes.template(operation))
        return self._named

    @property
    def operation(self) -> str:
        """The operationId, a route's name (`healthz`, `metrics`...), `docs` or `other`."""
        return self._name()[0]

    @property
    def path(self) -> str | None:
        """The operation's path template (`/external-api/v1.0/rooms/{id}`); None for `docs` and
        `other`, whose raw paths are not logged (they may carry anything a client typed)."""
        return self._name()[1]


def current() -> Request | None:
    return _current.get()


def current_id() -> str | None:
    request = _current.get()
    return request.id if request is not None else None


def resolved_client(client: tuple) -> None:
    """The client address read from a trusted proxy's headers (meet_external/http/proxies.py, which
    hands the app a copy of the request's scope)."""
    request = _current.get()
    if request is not None:
        request.client = client


def incoming_id(headers) -> str:
    """The client's (or proxy's) `X-Request-Id` if there is exactly one and it is sane, else a new id."""
    found = [value for name, value in headers if name == HEADER]
    if len(found) == 1:
        value = found[0].decode("latin-1")
        if _SANE.fullmatch(value):
            return value
    return str(uuid.uuid4())


class RequestIds(HttpMiddleware):
    """ASGI middleware: the request's id in its context and in its answer; one access line."""

    def __init__(self, app, routes: RouteTable, access_log: bool = False,
                 request_span: Callable | None = None):
        super().__init__(app)
        self.routes = routes
        self.access_log = access_log
        self.request_span = request_span  # tracing's, when traces are on (meet_external/ops/tracing.py)

    async def handle(self, scope, receive, send):
        request = Request(incoming_id(scope["headers"]), scope["method"], scope["path"], self.routes,
                          scope.get("client"))
        token = _current.set(request)
        header = (HEADER, request.id.encode("latin-1"))
        answer = {"status": 500, "started": False, "arrived": time.perf_counter()}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["started"] = True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            if self.request_span is None:
                await self._answer(request, scope, receive, send_with_id, answer)
            else:
                with self.request_span(request, scope, answer):
                    await self._answer(request, scope, receive, send_with_id, answer)
        finally:
            _current.reset(token)

    async def _answer(self, request: Request, scope, receive, send, answer) -> None:
        """The app's answer, then the access line (inside the request's span, when traced)."""
        try:
            await self.app(scope, receive, send)
        except Exception:
            # Past the app's own error handling (which maps every exception it sees): logged
            # with the request's id, and answered here rather than by Starlette's plain 500.
            logger.error("unhandled error outside the error handler", exc_info=True)
            if answer["started"]:
                raise
            await _internal_error(send)
        finally:
            if self.access_log:
                logs.access(request, answer["status"], time.perf_counter() - answer["arrived"])


async def _internal_error(send) -> None:
    from ..errors import GENERIC_MESSAGES  # noqa: PLC0415 - the error path imports the models

    body = json.dumps({"detail": GENERIC_MESSAGES[500]}).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
