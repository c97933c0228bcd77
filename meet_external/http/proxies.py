"""Forwarded headers, honoured only from TRUSTED_PROXIES (docs/operators.md)."""

from __future__ import annotations

import ipaddress
from typing import Iterable

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ..ops import request_ids
from .middleware import valid_host

# The longest textual IP address (IPv4-mapped IPv6); nothing longer is ever a client address.
MAX_ADDRESS_LENGTH = 45
# Where the TCP peer's address waits while uvicorn's middleware runs.
PEER = "meet_external.peer"


def right_most(headers, name: bytes) -> str | None:
    """The last value of a comma-separated header, over all its lines: the nearest proxy's."""
    values = [item.strip() for header, value in headers if header == name
              for item in value.decode("latin-1").split(",")]
    values = [value for value in values if value]
    return values[-1] if values else None


def ip_literal(host: str) -> str | None:
    """`host` as a normalised IP address, or None if it is not one (names, `unknown`, zones)."""
    if len(host) > MAX_ADDRESS_LENGTH:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if getattr(address, "scope_id", None):
        return None
    return str(address)


class TrustedProxies:
    """uvicorn's ProxyHeadersMiddleware, plus what it lacks.

    uvicorn trusts the configured networks, reads `X-Forwarded-For` over all
    its lines from the right, skipping trusted hops, takes off ports, and reads
    `X-Forwarded-Proto` when it is one value. Added here, for a trusted peer
    only: `X-Forwarded-Proto` listed by several proxies and `X-Forwarded-Host`
    are read from the right end (the value the nearest proxy set: a client
    writes at the left), a forwarded host must be a valid host, and the client
    address is always an IP literal: a forwarded value that is not one
    (`unknown`, a name, a 200 kB string) leaves the peer's own address.
    """

    def __init__(self, app, proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]):
        self.app = app
        self.networks = tuple(proxies)
        self.uvicorn = None
        if self.networks:
            self.uvicorn = ProxyHeadersMiddleware(self._after_uvicorn,
                                                  trusted_hosts=[str(network) for network in self.networks])

    def trusts(self, host: str) -> bool:
        """Whether the peer is one of TRUSTED_PROXIES' networks (an address, or nothing)."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope, receive, send):
        peer = scope.get("client") if scope["type"] == "http" else None
        if self.uvicorn is None or not peer or not self.trusts(peer[0]):
            await self.app(scope, receive, send)
            return
        headers = [(name, value) for name, value in scope["headers"] if name != b"x-forwarded-proto"]
        proto = right_most(scope["headers"], b"x-forwarded-proto")
        if proto is not None:
            headers.append((b"x-forwarded-proto", proto.lower().encode("latin-1")))
        await self.uvicorn(dict(scope, headers=headers, **{PEER: peer}), receive, send)

    async def _after_uvicorn(self, scope, receive, send):
        peer = scope.pop(PEER)
        host, port = scope["client"]
        client = ip_literal(host)
        scope["client"] = (client, port if 0 <= port <= 65535 else 0) if client else peer
        request_ids.resolved_client(scope["client"])  # for the access line, outside this copy
        host = right_most(scope["headers"], b"x-forwarded-host")
        if host is not None and valid_host(host):
            scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"host"]
            scope["headers"].append((b"host", host.encode("latin-1")))
        await self.app(scope, receive, send)
