"""ADDONS_* and OIDC_* settings: Meet's names and defaults, each kind off unless configured, a half
configuration refused in one line (docs/operators.md#tokens)."""

from __future__ import annotations

import pytest
from joserfc import jwk

from meet_external.auth.settings import JWT_BACKEND, ResourceServerSettings
from meet_external.config import Config, ConfigError

KEY = "k" * 40
PROVIDER = {"OIDC_OP_URL": "https://idp.example", "OIDC_RS_CLIENT_SECRET": "s3cret",
            "OIDC_OP_INTROSPECTION_ENDPOINT": "https://idp.example/introspect"}


def test_every_kind_but_application_tokens_is_off_by_default():
    config = Config.from_env({})
    assert (config.addons, config.resource_server, config.scopes_prefix, config.user_not_found_status) == (
        None, None, None, 400)


def test_meets_defaults_for_the_resource_server():
    settings = Config.from_env(PROVIDER).resource_server
    assert settings == ResourceServerSettings(op_url="https://idp.example",
                                              introspection_endpoint="https://idp.example/introspect",
                                              client_secret="s3cret")
    assert (settings.client_id, settings.audience_claim, settings.scopes, settings.create_user,
            settings.jwt_answers, settings.timeout, settings.cache_seconds) == (
        "meet", "client_id", ("lasuite_meet",), True, False, 5.0, 60)


def test_secrets_come_from_files(tmp_path):
    (tmp_path / "rs").write_text("from-file\n")
    (tmp_path / "addons").write_text(KEY + "\n")
    config = Config.from_env({**PROVIDER, "OIDC_RS_CLIENT_SECRET": "",
                              "OIDC_RS_CLIENT_SECRET_FILE": str(tmp_path / "rs"), "ADDONS_ENABLED": "true",
                              "ADDONS_TOKEN_SECRET_KEY_FILE": str(tmp_path / "addons")})
    assert (config.resource_server.client_secret, config.addons.secret_key) == ("from-file", KEY)


def test_jwt_answers_need_the_jwks_and_a_private_key():
    key = jwk.RSAKey.generate_key(2048).as_pem(private=True).decode()
    settings = Config.from_env({**PROVIDER, "OIDC_RS_BACKEND_CLASS": JWT_BACKEND,
                                "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/jwks",
                                "OIDC_RS_PRIVATE_KEY_STR": key}).resource_server
    assert (settings.jwt_answers, settings.encryption_algorithm, settings.encryption_encoding,
            settings.signing_algorithm) == (True, "RSA-OAEP", "A256GCM", "ES256")


@pytest.mark.parametrize("env, message", [
    ({"ADDONS_ENABLED": "true"}, "ADDONS_ENABLED is true but ADDONS_TOKEN_SECRET_KEY is not set"),
    ({"ADDONS_ENABLED": "true", "ADDONS_TOKEN_SECRET_KEY": "short"},
     "ADDONS_TOKEN_SECRET_KEY is 5 bytes long"),
    ({"ADDONS_ENABLED": "true", "ADDONS_TOKEN_SECRET_KEY": KEY, "ADDONS_TOKEN_ALG": "RS256"},
     "ADDONS_TOKEN_ALG must be one of"),
    ({"OIDC_OP_INTROSPECTION_ENDPOINT": "https://idp.example/i"}, "OIDC_RS_CLIENT_SECRET is not"),
    ({"OIDC_RS_CLIENT_SECRET": "s"}, "OIDC_OP_INTROSPECTION_ENDPOINT is not"),
    ({**PROVIDER, "OIDC_OP_URL": ""}, "OIDC_OP_URL is not"),
    ({**PROVIDER, "OIDC_OP_INTROSPECTION_ENDPOINT": "idp/introspect"}, "must be an http:// or https:// URL"),
    ({**PROVIDER, "OIDC_RS_BACKEND_CLASS": "my.Backend"}, "OIDC_RS_BACKEND_CLASS must be one of"),
    ({**PROVIDER, "OIDC_RS_BACKEND_CLASS": JWT_BACKEND}, "OIDC_OP_JWKS_ENDPOINT is not set"),
    ({**PROVIDER, "OIDC_RS_BACKEND_CLASS": JWT_BACKEND, "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/jwks"},
     "OIDC_RS_PRIVATE_KEY_STR is not set"),
    ({**PROVIDER, "OIDC_RS_BACKEND_CLASS": JWT_BACKEND, "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/jwks",
      "OIDC_RS_PRIVATE_KEY_STR": "not a key"}, "OIDC_RS_PRIVATE_KEY_STR or"),
    ({**PROVIDER, "OIDC_RS_INTROSPECTION_TIMEOUT": "0"}, "OIDC_RS_INTROSPECTION_TIMEOUT must be more than 0"),
    ({**PROVIDER, "OIDC_RS_CACHE_SECONDS": "-1"}, "OIDC_RS_CACHE_SECONDS must be at least 0"),
    ({"EXTERNAL_API_USER_NOT_FOUND_STATUS": "401"},
     "EXTERNAL_API_USER_NOT_FOUND_STATUS must be one of 400, 404"),
])
def test_half_configurations_stop_start_up_in_one_line(env, message):
    with pytest.raises(ConfigError) as refused:
        Config.from_env(env)
    assert message in str(refused.value) and "\n" not in str(refused.value)
