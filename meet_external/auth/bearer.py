"""Who is calling /rooms: the bearer token, tried as each configured kind in Meet's order.

Application token, then add-on token, then resource-server token (docs/operators.md#tokens):
a bearer that is not one kind's JWT is tried as the next kind. Security functions run on
the event loop: the JWT kinds are CPU checks; introspection is awaited, with the database
work it needs on threads. Whether the user (and, for application tokens, the application)
may still act is read by the handler's first statement (models/access/delegation.py).
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

from connexion.security import BearerSecurityHandler

from ..config import Config
from ..errors import ApiError
from .addons import AddonVerifier
from .application import TokenSigner
from .introspection import ProviderUnavailable
from .jwts import INVALID_TOKEN, NotThisKind, unauthorized
from .resource_server import ResourceServer
from .scopes import granted_scopes, require_scope

logger = logging.getLogger("meet_external.auth")
PROVIDER_RETRY_AFTER = "5"


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


class Callers:
    """The token kinds this server is configured for, built once per process."""

    def __init__(self, config: Config, signer: TokenSigner):
        self.signer = signer
        self.addons = AddonVerifier(config.addons) if config.addons else None
        self.resource_server = ResourceServer(config.resource_server) if config.resource_server else None
        # The JWTs, tried in turn: each verifier says NotThisKind of another's token.
        self.jwt_kinds = (signer,) + ((self.addons,) if self.addons is not None else ())
        self.scopes_prefix = config.scopes_prefix

    async def token_info(self, authorization: str | None, scopes: Sequence[str]) -> dict:
        """Connexion's token_info for a request: the Delegation, its kind, after the scope check."""
        token = bearer_token(authorization)
        delegation, scope_claim = await self._identify(token)
        granted = granted_scopes(scope_claim, self.scopes_prefix)
        for scope in scopes:
            require_scope(granted, scope)
        return {"sub": str(delegation.user_id), "delegation": delegation, "kind": delegation.kind}

    async def _identify(self, token: str):
        for kind in self.jwt_kinds:
            try:
                claims = kind.verify(token)
            except NotThisKind:
                continue
            return kind.delegation(claims), claims.get("scope")
        if self.resource_server is not None:
            try:
                kept = await self.resource_server.answer_for(token)
            except ProviderUnavailable as exc:
                logger.warning("token introspection failed: %s", exc)
                raise ApiError(503, "The identity provider cannot check this token now; try again later.",
                               headers={"Retry-After": PROVIDER_RETRY_AFTER}) from None
            return self.resource_server.delegation(kept), kept.scope
        raise unauthorized(INVALID_TOKEN)


def bearer_handler_class(callers: Callers) -> type:
    """A Connexion security handler bound to this process's token kinds.

    Connexion 3.3 ignores an http bearer scheme's scopes, so they are checked here.
    """

    class MeetBearerHandler(BearerSecurityHandler):
        def get_fn(self, security_scheme: dict, required_scopes: Sequence[str]) -> Callable:
            scopes = tuple(required_scopes or ())

            async def authenticate(request) -> dict:
                return await callers.token_info(request.headers.get("Authorization"), scopes)

            return authenticate

    return MeetBearerHandler
