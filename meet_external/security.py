"""Bearer authentication for /rooms: header, JWT, scope, then the database (docs/api-users.md)."""

from __future__ import annotations

import uuid
from typing import Callable, Sequence

from connexion.security import BearerSecurityHandler

from models.delegation import Delegation, UnknownUser

from .errors import ApiError
from .tokens import TokenSigner, unauthorized


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


def delegation_of(claims: dict) -> Delegation:
    """Who the token speaks for; a `user_id` that is not a UUID names no user."""
    try:
        user_id = uuid.UUID(str(claims["user_id"]))
    except ValueError:
        raise unauthorized(UnknownUser.message) from None
    return Delegation(user_id=user_id, client_id=str(claims["client_id"]))


def bearer_handler_class(signer: TokenSigner) -> type:
    """A Connexion security handler bound to this app's signer.

    Connexion 3.3 ignores an http bearer scheme's scopes, so they are checked
    here. Security functions run on the event loop, so only the CPU checks
    (header, JWT, scope) happen here; whether the user and the application may
    still act is read by the handler's first statement, in its thread
    (models/delegation.py).
    """

    class MeetBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme: dict, required_scopes: Sequence[str]) -> Callable:
            scopes = tuple(required_scopes or ())

            def authenticate(request) -> dict:
                claims = signer.verify(bearer_token(request.headers.get("Authorization")))
                for scope in scopes:
                    require_scope(claims, scope)
                return {"sub": str(claims["user_id"]), "claims": claims,
                        "delegation": delegation_of(claims)}

            return authenticate

    return MeetBearerHandler
