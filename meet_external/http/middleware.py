"""ASGI middleware around Connexion: Host, bodies, media types, proxies, the file (docs/api-users.md)."""

from __future__ import annotations

import ipaddress
import json
import re

import anyio
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect, Request
from werkzeug.http import parse_options_header

from ..errors import ApiError
from .base import HttpMiddleware

JSON = "application/json"
# Methods that change nothing (RFC 9110 §9.2.1): their bodies, if any, are left to the app.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# A rejected body is read and thrown away up to this much, so the client sees
# the 413 instead of a connection reset; past it, the connection is dropped.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 5
_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes "٣" and "²"
# uri-host (RFC 3986 §3.2.2) as links can carry it: an IP literal, or a name of unreserved
# characters; then an optional port.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._~-]+))(?::(?P<port>[0-9]{1,5}))?")


async def read_body(scope, receive) -> bytes:
    """The whole request body; `ClientDisconnect` if the client went away before sending it."""
    return await Request(scope, receive).body()


def with_length(scope, body: bytes) -> dict:
    """The scope of a request whose whole body was read: framed by a `Content-Length` of it.

    Flask reads its body from the WSGI environ, and werkzeug reads nothing from a
    request without a `Content-Length` (a chunked one), so every reader after
    this one sees the body as if it had come with its length, whatever its framing.
    """
    headers = [(name, value) for name, value in scope["headers"]
               if name not in (b"content-length", b"transfer-encoding")]
    return dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])


def parse_json(text: str):
    """RFC 8259 JSON: Python's reader also takes `NaN`, `Infinity` and `-Infinity` (ValueError)."""
    return json.loads(text, parse_constant=_not_json)


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def replay(body: bytes, receive):
    """A `receive` that hands the app a body already read, then the connection's own events."""
    sent = False

    async def replay_receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


def media_type(headers: Headers) -> str | None:
    """The request's media type, lower-cased without parameters (RFC 9110 §8.3.1); None when absent."""
    value = headers.get("content-type")
    if value is None:
        return None
    return parse_options_header(value)[0].strip().lower()


def valid_host(value: str) -> bool:
    """A Host (or X-Forwarded-Host) value that absolute links can be built from (RFC 9110 §7.2)."""
    match = _HOST.fullmatch(value)
    if match is None:
        return False
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return False
    return match["port"] is None or 0 < int(match["port"]) <= 65535


class HostHeader(HttpMiddleware):
    """400 for a request whose `Host` is missing (HTTP/1.1), repeated or invalid (RFC 9112 §3.2).

    The host is in every `Location` and pagination link; an HTTP/1.0 request
    without one gets links to the server's own address, as RFC 9112 §3.3 says.
    """

    async def handle(self, scope, receive, send):
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if (hosts or scope.get("http_version") != "1.0") and (
                len(hosts) != 1 or not valid_host(hosts[0].decode("latin-1"))):
            raise ApiError(400, "The Host header is missing, repeated or invalid.",
                           headers={"Connection": "close"})
        await self.app(scope, receive, send)


class BodyLimit(HttpMiddleware):
    """Refuses request bodies over `limit` bytes with 413, whether announced or streamed."""

    def __init__(self, app, limit: int):
        super().__init__(app)
        self.limit = limit

    async def handle(self, scope, receive, send):
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            length = length.strip(" \t")  # optional whitespace around a field value (RFC 9110 §5.5)
            if not _DIGITS.fullmatch(length) or int(length) > self.limit:
                # uvicorn sends `100 Continue` at the app's first receive(): a client that
                # waits for it has sent nothing yet, so there is nothing to drain.
                if "100-continue" not in headers.get("expect", "").lower():
                    await self._drain(scope, receive)
                raise ApiError(413, f"Request body too large (limit {self.limit} bytes).",
                               headers={"Connection": "close"})
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                if message.get("more_body"):
                    await self._drain(scope, receive)
                raise ApiError(413, f"Request body too large (limit {self.limit} bytes).",
                               headers={"Connection": "close"})
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    async def _drain(scope, receive) -> None:
        drained = 0
        with anyio.move_on_after(DRAIN_SECONDS):
            try:
                async for chunk in Request(scope, receive).stream():
                    drained += len(chunk)
                    if drained >= DRAIN_LIMIT_BYTES:
                        return
            except ClientDisconnect:
                return


class WholeBody(HttpMiddleware):
    """A request that may change something runs only once its whole body has arrived.

    This is the one reader of such a body: what comes after it (validation,
    the OAuth adapter, Flask) gets it with a `Content-Length`, so a chunked
    body means what the same body with its length means (`with_length`).

    With httptools, uvicorn starts the app as soon as the head is parsed; when
    the body then breaks the protocol (`Transfer-Encoding: chunked, gzip`), it
    answers 400 itself and closes the connection, and the app only sees a
    disconnect. Reading the body first means such a request, or one whose
    client went away mid-body, runs nothing and stores nothing. A transfer
    coding other than `chunked`, which httptools passes on undecoded
    (`gzip, chunked`), is 501 (RFC 9112 §6.1); a content coding other than
    `identity` is 415 (RFC 9110 §15.5.16), the body being read first so the
    client sees the answer rather than a reset.
    """

    async def handle(self, scope, receive, send):
        codings = [coding.strip().lower() for name, value in scope["headers"] if name == b"transfer-encoding"
                   for coding in value.decode("latin-1").split(",")]
        if codings and codings != ["chunked"]:
            raise ApiError(501, "Transfer-Encoding not implemented: only chunked is.",
                           headers={"Connection": "close"})
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive)
        except ClientDisconnect:
            return
        encodings = [coding.strip().lower() for name, value in scope["headers"] if name == b"content-encoding"
                     for coding in value.decode("latin-1").split(",")]
        if any(coding not in ("identity", "") for coding in encodings):
            raise ApiError(415, "Content-Encoding not supported: send the body as it is (identity).",
                           headers={"Accept-Encoding": "identity"})
        await self.app(with_length(scope, body), replay(body, receive), send)


class JsonMediaType:
    """A JSON body reaches Connexion and Flask as `application/json`, however the client spelled it.

    Media types are case-insensitive and may carry parameters (RFC 9110
    §8.3.1), but Connexion picks its body validator, and Flask decides to parse
    JSON, by comparing strings: `Application/JSON`, or no Content-Type, reached
    the handlers as raw bytes (a 500). A body sent without a Content-Type is
    taken as JSON, the one media type of the file's operations; `charset` is
    dropped, JSON being UTF-8 (RFC 8259 §8.1). See docs/contract-decisions.md.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            if media_type(headers) in (None, JSON) and headers.get("content-type") != JSON:
                scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != b"content-type"])
                MutableHeaders(scope=scope)["content-type"] = JSON
        await self.app(scope, receive, send)


class VerbatimFile:
    """Answers GET on one path with fixed bytes: the API file exactly as its users got it."""

    def __init__(self, app, path: str, content: bytes, media_type: str):
        self.app = app
        self.path = path
        self.content = content
        self.headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(content)).encode()),
        ]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        body = self.content if scope["method"] == "GET" else b""
        await send({"type": "http.response.body", "body": body})
