"""Token introspection (RFC 7662) at the identity provider, as La Suite's resource server asks.

The request: a form POST of `client_id`, `client_secret` and `token` to
OIDC_OP_INTROSPECTION_ENDPOINT. The answer: a JSON object, or (RFC 9701, chosen by
OIDC_RS_BACKEND_CLASS) a JWS signed by the provider with a key of its JWKS, inside a
JWE encrypted to this server's key, whose `token_introspection` claim is the object.
Any failure to get or read an answer is `ProviderUnavailable`: the token may be
valid, so the client must not be told it is not (docs/operators.md#provider-outages).
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
from joserfc import jwe, jwk, jwt
from joserfc.errors import JoseError
from joserfc.registry import HeaderParameter

from ..config import ConfigError
from .settings import ResourceServerSettings

logger = logging.getLogger("meet_external.auth")


class ProviderUnavailable(Exception):
    """The provider could not be reached, failed, was too slow, or gave an unreadable answer."""


def check_jose_settings(settings: ResourceServerSettings) -> None:
    """Stop start-up, in one line, on a private key or algorithm joserfc cannot use."""
    try:
        private_key(settings)
        jwe.JWERegistry(algorithms=[settings.encryption_algorithm, settings.encryption_encoding])
        jwt.JWSRegistry(algorithms=[settings.signing_algorithm])
    except (ValueError, JoseError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"OIDC_RS_PRIVATE_KEY_STR or OIDC_RS_ENCRYPTION_*/OIDC_RS_SIGNING_ALGO cannot"
                          f" be used: {reason}") from None


def private_key(settings: ResourceServerSettings):
    return jwk.import_key(settings.private_key, key_type=settings.key_type,
                          parameters={"alg": settings.encryption_algorithm, "use": "enc"})


class Introspector:
    """One per process; its HTTP client lives on the event loop that uses it."""

    def __init__(self, settings: ResourceServerSettings):
        self.settings = settings
        self._accept = ("application/token-introspection+jwt" if settings.jwt_answers
                        else "application/json")
        self._private_key = private_key(settings) if settings.jwt_answers else None
        # node-oidc-provider (ProConnect) repeats `iss` and `aud` in the JWE header.
        self._jwe_registry = jwe.JWERegistry(
            header_registry={"iss": HeaderParameter("Issuer", "str"),
                             "aud": HeaderParameter("Audience", "str")},
            algorithms=[settings.encryption_algorithm, settings.encryption_encoding])
        self._answer_claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": settings.op_url},
            aud={"essential": True, "value": settings.client_id},
            token_introspection={"essential": True})
        self._keys = None
        self._client: httpx.AsyncClient | None = None
        self._client_loop = None

    async def introspect(self, token: str) -> dict:
        """The provider's answer about `token`, as an object (its `active` not yet checked)."""
        try:
            return await asyncio.wait_for(self._introspect(token), self.settings.timeout)
        except asyncio.TimeoutError:
            raise ProviderUnavailable(f"no answer within {self.settings.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def _introspect(self, token: str) -> dict:
        response = await self._http().post(
            self.settings.introspection_endpoint,
            data={"client_id": self.settings.client_id, "client_secret": self.settings.client_secret,
                  "token": token},
            headers={"Accept": self._accept})
        if response.status_code != 200:
            raise ProviderUnavailable(f"introspection answered HTTP {response.status_code}")
        if self.settings.jwt_answers:
            answer = await self._read_jwt_answer(response.text)
        else:
            answer = _json_object(response.text)
        if not isinstance(answer, dict):
            raise ProviderUnavailable("the introspection answer is not an object")
        return answer

    async def _read_jwt_answer(self, text: str) -> dict:
        try:
            signed = jwe.decrypt_compact(text.strip(), self._private_key,
                                         registry=self._jwe_registry).plaintext
        except (ValueError, JoseError) as exc:
            raise ProviderUnavailable(f"the answer cannot be decrypted ({type(exc).__name__})") from None
        try:
            claims = self._verified_claims(signed, await self._signing_keys())
        except (ValueError, JoseError):
            # The provider may have rotated its keys since they were read: read them once more.
            try:
                claims = self._verified_claims(signed, await self._signing_keys(refresh=True))
            except (ValueError, JoseError) as exc:
                raise ProviderUnavailable(
                    f"the answer's signature does not verify ({type(exc).__name__})") from None
        try:
            self._answer_claims.validate(claims)
        except JoseError as exc:
            raise ProviderUnavailable(
                f"the answer's claims are wrong ({exc.error}: {exc.description})") from None
        return claims["token_introspection"]

    def _verified_claims(self, signed: bytes, keys) -> dict:
        return jwt.decode(signed, keys, algorithms=[self.settings.signing_algorithm]).claims

    async def _signing_keys(self, refresh: bool = False):
        if self._keys is None or refresh:
            response = await self._http().get(self.settings.jwks_endpoint,
                                              headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise ProviderUnavailable(f"the JWKS endpoint answered HTTP {response.status_code}")
            try:
                self._keys = jwk.KeySet.import_key_set(_json_object(response.text))
            except (ValueError, TypeError, KeyError, JoseError) as exc:
                raise ProviderUnavailable(f"the JWKS cannot be read ({type(exc).__name__})") from None
        return self._keys

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout, follow_redirects=False)
            self._client_loop = loop
        return self._client


def _json_object(text: str):
    try:
        return json.loads(text)
    except ValueError:
        raise ProviderUnavailable("the answer is not JSON") from None
