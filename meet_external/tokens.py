"""What an access token holds, how it is signed, and how it is checked (docs/api-users.md)."""

from __future__ import annotations

import time
from typing import Dict, Tuple

import jwt

from .config import Config
from .errors import ApiError

INVALID_TOKEN = "Invalid token."
VERIFIED_CACHE_SIZE = 4096


def unauthorized(message: str, error: str | None = "invalid_token") -> ApiError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


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
        self.verification_keys: Tuple[str, ...] = (
            config.jwt_secret_key,
            *config.jwt_previous_secret_keys,
        )
        self._verified: Dict[str, dict] = {}

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
        """The claims of a valid delegated token; ApiError 401 with the contract's message otherwise.

        A client sends the same token for its whole lifetime, so the claims of
        tokens already verified are kept (per process, bounded) and only their
        time window is checked again: the signature is a pure function of the
        token and the configured keys, which do not change while the process runs.
        """
        claims = self._verified.get(token)
        if claims is not None and claims.get("nbf", 0) <= time.time() < claims["exp"]:
            return claims
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _decode(self, token: str, key: str, check_expiry: bool = True) -> dict:
        return jwt.decode(token, key, algorithms=[self.algorithm], issuer=self.issuer,
                          audience=self.audience,
                          options={"require": ["exp"], "verify_exp": check_expiry})

    def _verify(self, token: str) -> dict:
        for key in self.verification_keys:
            try:
                claims = self._decode(token, key)
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise unauthorized(self._expired_or_invalid(token, key)) from None
            except jwt.InvalidTokenError:
                raise unauthorized(INVALID_TOKEN) from None
        else:
            raise unauthorized(INVALID_TOKEN)
        if _malformed_times(claims):
            raise unauthorized(INVALID_TOKEN)
        if not claims.get("user_id") or not claims.get("client_id"):
            raise unauthorized("Invalid token claims.")
        if claims.get("delegated") is not True:
            raise unauthorized("Invalid token type.")
        return claims

    def _expired_or_invalid(self, token: str, key: str) -> str:
        """The message for a correctly signed token past its `exp`.

        PyJWT checks `exp` before `iss` and `aud`; the issuer and audience rows
        come first (docs/contract-decisions.md), so they are checked again
        without the expiry. PyJWT also reads "123" or true as a time, and
        RFC 7519 says a NumericDate is a number.
        """
        try:
            claims = self._decode(token, key, check_expiry=False)
        except jwt.InvalidTokenError:
            return INVALID_TOKEN
        return INVALID_TOKEN if _malformed_times(claims) else "Token expired."


def _malformed_times(claims: dict) -> bool:
    return any(
        name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float)))
        for name in ("exp", "nbf", "iat")
    )
