"""ASGI middleware around Connexion: body limit, trusted proxies, the verbatim file (CONTRACT §2, §6)."""

from __future__ import annotations

import ipaddress
from typing import Tuple

import anyio
from starlette.datastructures import Headers, MutableHeaders

from .errors import ApiError

# A rejected body is read and thrown away up to this much, so the client sees
# the 413 instead of a connection reset; past it, the connection is dropped.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_SECONDS = 5


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, whether announced or streamed."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._drain(receive)
            raise ApiError(413, f"Request body too large (limit {self.limit} bytes).",
                           headers={"Connection": "close"})
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                if message.get("more_body"):
                    await self._drain(receive)
                raise ApiError(413, f"Request body too large (limit {self.limit} bytes).",
                               headers={"Connection": "close"})
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    async def _drain(receive) -> None:
        drained = 0
        with anyio.move_on_after(DRAIN_SECONDS):
            while drained < DRAIN_LIMIT_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                drained += len(message.get("body", b""))
                if not message.get("more_body"):
                    return


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_trusted(host: str | None, proxies: Tuple[Network, ...]) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_from_forwarded_for(header: str, proxies: Tuple[Network, ...]) -> str | None:
    """The right-most address in X-Forwarded-For that is not one of our proxies."""
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, proxies):
            return hop
    return hops[0] if hops else None


class TrustedProxies:
    """Honours X-Forwarded-For/-Proto/-Host only when the peer is a configured proxy."""

    def __init__(self, app, proxies: Tuple[Network, ...]):
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.proxies:
            peer = (scope.get("client") or (None, None))[0]
            if _is_trusted(peer, self.proxies):
                scope = self._forwarded(scope)
        await self.app(scope, receive, send)

    def _forwarded(self, scope):
        headers = Headers(scope=scope)
        scope = dict(scope)
        forwarded_for = headers.get("x-forwarded-for")
        if forwarded_for:
            client = client_from_forwarded_for(forwarded_for, self.proxies)
            if client:
                scope["client"] = (client, 0)
        proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto
        host = (headers.get("x-forwarded-host") or "").split(",")[0].strip()
        if host:
            scope["headers"] = list(scope["headers"])
            MutableHeaders(scope=scope)["host"] = host
        return scope


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
