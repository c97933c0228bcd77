"""The settings of the add-on and resource-server token kinds, with Meet's names and defaults.

Each kind is off unless configured; a half configuration stops start-up in one line
(docs/operators.md#tokens).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Tuple

from ..config import JWT_ALGORITHMS, ConfigError, require_hmac_key_length

# Meet's own default (meet/settings.py) and La Suite's two backends, by the dotted paths a
# Meet deployment's settings name them: which form of introspection answer they read.
JSON_BACKENDS = (
    "core.external_api.authentication.ResourceServerBackend",
    "lasuite.oidc_resource_server.backend.ResourceServerBackend",
)
JWT_BACKEND = "lasuite.oidc_resource_server.backend.JWTResourceServerBackend"


@dataclasses.dataclass(frozen=True)
class AddonSettings:
    """ADDONS_*: how Meet signs the tokens of its add-on session flow (only verified here)."""

    secret_key: str
    algorithm: str = "HS256"
    issuer: str | None = "lasuite-meet"
    audience: str | None = "addons"
    # Read for a copied environment to be valid; they shape minting, which is Meet's alone.
    ttl: int = 7200
    token_type: str = "Bearer"
    scope: str = "rooms:create"


@dataclasses.dataclass(frozen=True)
class ResourceServerSettings:
    """OIDC_OP_* and OIDC_RS_*: token introspection at the deployment's identity provider."""

    op_url: str
    introspection_endpoint: str
    client_secret: str
    client_id: str = "meet"
    jwks_endpoint: str | None = None
    audience_claim: str = "client_id"
    scopes: Tuple[str, ...] = ("lasuite_meet",)
    create_user: bool = True
    jwt_answers: bool = False
    private_key: str | None = None
    key_type: str = "RSA"
    encryption_algorithm: str = "RSA-OAEP"
    encryption_encoding: str = "A256GCM"
    signing_algorithm: str = "ES256"
    timeout: float = 5.0
    cache_seconds: int = 60


def addon_settings(reader) -> AddonSettings | None:
    """ADDONS_ENABLED=true needs ADDONS_TOKEN_SECRET_KEY; off otherwise (Meet's default)."""
    if not reader.boolean("ADDONS_ENABLED", False):
        return None
    key = reader.secret("ADDONS_TOKEN_SECRET_KEY")
    if not key:
        raise ConfigError("ADDONS_ENABLED is true but ADDONS_TOKEN_SECRET_KEY is not set: set the"
                          " key Meet signs add-on tokens with, or ADDONS_ENABLED=false")
    algorithm = reader.choice("ADDONS_TOKEN_ALG", JWT_ALGORITHMS, "HS256")
    require_hmac_key_length("ADDONS_TOKEN_SECRET_KEY", key, algorithm)
    return AddonSettings(
        secret_key=key,
        algorithm=algorithm,
        issuer=reader.text("ADDONS_TOKEN_ISSUER") or "lasuite-meet",
        audience=reader.text("ADDONS_TOKEN_AUDIENCE") or "addons",
        ttl=reader.integer("ADDONS_TOKEN_TTL", 7200, minimum=1),
        token_type=reader.text("ADDONS_TOKEN_TYPE") or "Bearer",
        scope=reader.text("ADDONS_TOKEN_SCOPE") or "rooms:create",
    )


def resource_server_settings(reader) -> ResourceServerSettings | None:
    """On when an introspection endpoint or a client secret is set; then both are needed."""
    backend = reader.text("OIDC_RS_BACKEND_CLASS") or JSON_BACKENDS[0]
    if backend not in (*JSON_BACKENDS, JWT_BACKEND):
        raise ConfigError(f"OIDC_RS_BACKEND_CLASS must be one of {', '.join((*JSON_BACKENDS, JWT_BACKEND))},"
                          f" got {backend!r}")
    endpoint = reader.text("OIDC_OP_INTROSPECTION_ENDPOINT")
    secret = reader.secret("OIDC_RS_CLIENT_SECRET")
    if not endpoint and not secret:
        return None
    if not endpoint:
        raise ConfigError("OIDC_RS_CLIENT_SECRET is set but OIDC_OP_INTROSPECTION_ENDPOINT is not:"
                          " set both to accept the identity provider's tokens, or neither")
    if not secret:
        raise ConfigError("OIDC_OP_INTROSPECTION_ENDPOINT is set but OIDC_RS_CLIENT_SECRET is not:"
                          " set both to accept the identity provider's tokens, or neither")
    op_url = reader.text("OIDC_OP_URL")
    if not op_url:
        raise ConfigError("OIDC_OP_INTROSPECTION_ENDPOINT is set but OIDC_OP_URL is not: set it to"
                          " the identity provider's issuer (the `iss` of its answers)")
    _require_http_url("OIDC_OP_INTROSPECTION_ENDPOINT", endpoint)
    jwt_answers = backend == JWT_BACKEND
    jwks = reader.text("OIDC_OP_JWKS_ENDPOINT")
    private_key = reader.secret("OIDC_RS_PRIVATE_KEY_STR")
    if jwt_answers:
        if not jwks:
            raise ConfigError(f"OIDC_RS_BACKEND_CLASS is {JWT_BACKEND} but OIDC_OP_JWKS_ENDPOINT is"
                              " not set: the provider's signing keys are read there")
        _require_http_url("OIDC_OP_JWKS_ENDPOINT", jwks)
        if not private_key:
            raise ConfigError(f"OIDC_RS_BACKEND_CLASS is {JWT_BACKEND} but OIDC_RS_PRIVATE_KEY_STR is"
                              " not set: the provider's answers are encrypted to that key")
    settings = ResourceServerSettings(
        op_url=op_url,
        introspection_endpoint=endpoint,
        client_secret=secret,
        client_id=reader.text("OIDC_RS_CLIENT_ID") or "meet",
        jwks_endpoint=jwks,
        audience_claim=reader.text("OIDC_RS_AUDIENCE_CLAIM") or "client_id",
        scopes=reader.csv("OIDC_RS_SCOPES") or ("lasuite_meet",),
        create_user=reader.boolean("OIDC_CREATE_USER", True),
        jwt_answers=jwt_answers,
        private_key=private_key if jwt_answers else None,
        key_type=reader.choice("OIDC_RS_ENCRYPTION_KEY_TYPE", ("RSA", "EC", "OKP"), "RSA"),
        encryption_algorithm=reader.text("OIDC_RS_ENCRYPTION_ALGO") or "RSA-OAEP",
        encryption_encoding=reader.text("OIDC_RS_ENCRYPTION_ENCODING") or "A256GCM",
        signing_algorithm=reader.text("OIDC_RS_SIGNING_ALGO") or "ES256",
        timeout=reader.seconds("OIDC_RS_INTROSPECTION_TIMEOUT", 5.0, maximum=300),
        cache_seconds=reader.integer("OIDC_RS_CACHE_SECONDS", 60, minimum=0),
    )
    if jwt_answers:
        from .introspection import check_jose_settings

        check_jose_settings(settings)
    return settings


def _require_http_url(name: str, value: str) -> None:
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
