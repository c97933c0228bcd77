"""Application tokens: minted by the token endpoint, for an application acting for a user."""

from __future__ import annotations

import time
import uuid

import jwt

from ..config import Config
from ..models.access.delegation import APPLICATION, Delegation, UnknownUser
from .jwts import HmacJwt, unauthorized


class TokenSigner:
    """Mints and verifies the delegated-access JWTs, with the reference's exact claims."""

    def __init__(self, config: Config):
        config.require_secret_key()
        self.algorithm = config.jwt_algorithm
        self.issuer = config.jwt_issuer
        self.audience = config.jwt_audience
        self.lifetime = config.jwt_expiration_seconds
        self.signing_key = config.jwt_secret_key
        # Previous keys still verify until their tokens expire; nothing new is signed with them.
        self._jwt = HmacJwt((config.jwt_secret_key, *config.jwt_previous_secret_keys),
                            self.algorithm, self.issuer, self.audience)

    def mint(self, client_id: str, user_id: str, scopes: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer}
        if self.audience:
            claims["aud"] = self.audience
        claims.update(
            iat=now,
            exp=now + self.lifetime,
            client_id=client_id,
            scope=scopes,
            user_id=user_id,
            delegated=True,
        )
        return jwt.encode(claims, self.signing_key, algorithm=self.algorithm)

    def verify(self, token: str) -> dict:
        """The claims of a valid delegated token; NotThisKind, or a 401 with the contract's message."""
        claims = self._jwt.verify(token)
        if not claims.get("user_id") or not claims.get("client_id"):
            raise unauthorized("Invalid token claims.")
        if claims.get("delegated") is not True:
            raise unauthorized("Invalid token type.")
        return claims

    def delegation(self, claims: dict) -> Delegation:
        return Delegation(user_id=user_uuid(claims["user_id"]), client_id=str(claims["client_id"]),
                          kind=APPLICATION)


def user_uuid(value) -> uuid.UUID:
    """A token's `user_id`; one that is not a UUID names no user."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise unauthorized(UnknownUser.message) from None
