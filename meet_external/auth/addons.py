"""Add-on tokens: minted by La Suite Meet's add-on session flow (its Outlook add-in), verified here.

Meet signs them with ADDONS_TOKEN_SECRET_KEY (`JwtTokenService.generate_jwt`): `iat`, `exp`,
`user_id`, `iss`, `aud` and `scope`, and no application (docs/operators.md#add-on-tokens).
"""

from __future__ import annotations

from ..models.access.delegation import ADDON, Delegation
from .application import user_uuid
from .jwts import HmacJwt, unauthorized
from .settings import AddonSettings

# What rooms made with an add-on token record as their client (docs/contract-decisions.md).
ADDON_CLIENT_ID = "addons"


class AddonVerifier:
    def __init__(self, settings: AddonSettings):
        self._jwt = HmacJwt((settings.secret_key,), settings.algorithm, settings.issuer,
                            settings.audience)

    def verify(self, token: str) -> dict:
        """The claims of a valid add-on token; NotThisKind, or a 401 with the contract's message."""
        claims = self._jwt.verify(token)
        if not claims.get("user_id"):
            raise unauthorized("Invalid token claims.")
        return claims

    @staticmethod
    def delegation(claims: dict) -> Delegation:
        return Delegation(user_id=user_uuid(claims["user_id"]), client_id=ADDON_CLIENT_ID, kind=ADDON)
