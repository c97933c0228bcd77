"""Bearer authentication for /rooms: header, JWT, scope, then the database (CONTRACT §4)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Callable, Sequence

from connexion.security import BearerSecurityHandler

from models.delegation import delegation_state

from .errors import ApiError
from .tokens import TokenSigner, unauthorized


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: an application acting for a user."""

    user_id: uuid.UUID
    client_id: str
    room_count: int


def bearer_token(authorization: str | None) -> str:
    """The token from an `Authorization: Bearer <token>` header, or the contract's 401."""
    if not authorization:
        raise unauthorized("Authentication credentials were not provided.", error=None)
    words = authorization.split()
    if not words or words[0].lower() != "bearer":
        raise unauthorized("Authentication credentials were not provided.", error=None)
    if len(words) != 2 or not words[1].isascii():
        raise unauthorized("Invalid token header.", error="invalid_request")
    return words[1]


def require_scope(claims: dict, scope: str) -> None:
    granted = str(claims.get("scope") or "").split()
    if scope not in granted:
        raise ApiError(
            403,
            f"Insufficient permissions. Required scope: '{scope}'",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'
            },
        )


def load_principal(claims: dict) -> Principal:
    """Check, in the database, that the user and the application may still act (blocking)."""
    try:
        user_id = uuid.UUID(str(claims["user_id"]))
    except ValueError:
        raise unauthorized("User not found.") from None
    client_id = str(claims["client_id"])
    state = delegation_state(user_id, client_id)
    if not state.user_exists:
        raise unauthorized("User not found.")
    if not state.user_active:
        raise unauthorized("User account is disabled.")
    if not state.application_active:
        raise unauthorized("Application is inactive")
    return Principal(user_id=user_id, client_id=client_id, room_count=state.room_count)


def bearer_handler_class(signer: TokenSigner) -> type:
    """A Connexion security handler bound to this app's signer.

    Connexion 3.3 ignores an http bearer scheme's scopes, so they are checked
    here. Security functions run on the event loop, so only the CPU checks
    (header, JWT, scope) happen here; `load_principal` runs in the handler's
    thread, on the handler's database connection (see app.with_database).
    """

    class MeetBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme: dict, required_scopes: Sequence[str]) -> Callable:
            scopes = tuple(required_scopes or ())

            def authenticate(request) -> dict:
                claims = signer.verify(bearer_token(request.headers.get("Authorization")))
                for scope in scopes:
                    require_scope(claims, scope)
                return {"sub": str(claims["user_id"]), "claims": claims}

            return authenticate

    return MeetBearerHandler
