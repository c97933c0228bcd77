"""What a handler may ask about the running app and the current request."""

from __future__ import annotations

import dataclasses

import flask

from models.clients import ClientAuthenticator
from models.rooms import RoomPolicy

from .auth.application import TokenSigner
from .config import Config

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
    """This request's absolute URL without its query string."""
    return flask.request.base_url


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
