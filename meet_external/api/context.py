"""What a handler may ask about the running app and the current request."""

from __future__ import annotations

import dataclasses
from typing import Callable

import flask
from werkzeug.http import unquote_etag

from ..auth.application import TokenSigner
from ..config import Config
from ..models.access.clients import ClientAuthenticator
from ..models.rooms.policy import RoomPolicy
from .extension import PREFIX as EXTENSION_PREFIX

EXTENSION = "meet_external"


@dataclasses.dataclass(frozen=True)
class Services:
    """Built once per process by the app factory from the configuration."""

    config: Config
    signer: TokenSigner
    room_policy: RoomPolicy
    authenticator: ClientAuthenticator
    base_path: str


def services() -> Services:
    return flask.current_app.extensions[EXTENSION]


def request_url() -> str:
    """This request's absolute URL without its query string, as the client wrote its path (the
    extension's operations are routed under a prefix of their own: meet_external/http/paths.py)."""
    url = flask.request.base_url
    base_path = services().base_path
    return url.replace(f"{base_path}{EXTENSION_PREFIX}/", f"{base_path}/", 1)


def room_url(room_id) -> str:
    return f"{flask.request.host_url.rstrip('/')}{services().base_path}/rooms/{room_id}"


def client_address() -> str:
    return flask.request.remote_addr


def header(name: str) -> str | None:
    return flask.request.headers.get(name)


def no_content() -> flask.Response:
    """A 204 with no body and no Content-Type (Connexion would add the operation's JSON type,
    Flask its text/html)."""
    response = flask.Response(status=204)
    del response.headers["Content-Type"]
    return response


def if_match() -> Callable[[str], bool] | None:
    """`If-Match` as a test of an ETag, by strong comparison (`*`: any); None without the header."""
    if "If-Match" not in flask.request.headers:
        return None
    tags = flask.request.if_match
    return lambda etag: tags.contains(unquote_etag(etag)[0])


def if_none_match() -> Callable[[str], bool] | None:
    """`If-None-Match` as a test of an ETag, by weak comparison (RFC 9110 §13.1.2)."""
    if "If-None-Match" not in flask.request.headers:
        return None
    tags = flask.request.if_none_match
    return lambda etag: tags.contains_weak(unquote_etag(etag)[0])


def not_modified(etag: str) -> flask.Response:
    """A 304 with the ETag, no body and no Content-Type."""
    response = flask.Response(status=304, headers={"ETag": etag})
    del response.headers["Content-Type"]
    return response
