"""The HMAC-signed JWTs this server verifies (application and add-on tokens), and the 401s.

A token that is not one kind's JWT (not a JWT, another key, another algorithm) is
`NotThisKind`, and the next kind is tried, as Meet tries its authentication classes in
turn; one whose signature holds is that kind's to refuse (docs/contract-decisions.md).
"""

from __future__ import annotations

import time
from typing import Dict, Sequence

import jwt

from ..errors import ApiError

INVALID_TOKEN = "Invalid token."
VERIFIED_CACHE_SIZE = 4096


def unauthorized(message: str, error: str | None = "invalid_token") -> ApiError:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return ApiError(401, message, headers={"WWW-Authenticate": challenge})


class NotThisKind(Exception):
    """The bearer is not a token of this kind: try the next one."""


class HmacJwt:
    """Verifies JWTs signed with one of `keys`, with `algorithm`, `issuer` and `audience`.

    A client sends the same token for its whole lifetime, so the claims of tokens
    already verified are kept (per process, bounded) and only their time window is
    checked again: the signature is a pure function of the token and the configured
    keys, which do not change while the process runs.
    """

    def __init__(self, keys: Sequence[str], algorithm: str, issuer: str | None, audience: str | None):
        self.keys = tuple(keys)
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self._verified: Dict[str, dict] = {}

    def verify(self, token: str) -> dict:
        """The claims of a valid token; NotThisKind, or ApiError 401 with the contract's message."""
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
        for key in self.keys:
            try:
                claims = self._decode(token, key)
                break
            except jwt.InvalidSignatureError:
                continue
            except (jwt.InvalidAlgorithmError, jwt.DecodeError):
                # Not a JWT, or one with another algorithm (`none` included): not ours.
                raise NotThisKind() from None
            except jwt.ExpiredSignatureError:
                raise unauthorized(self._expired_or_invalid(token, key)) from None
            except jwt.InvalidTokenError:
                raise unauthorized(INVALID_TOKEN) from None
        else:
            raise NotThisKind()
        if _malformed_times(claims):
            raise unauthorized(INVALID_TOKEN)
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
