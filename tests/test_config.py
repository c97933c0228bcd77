"""Configuration from the environment (CONTRACT §6): defaults, parsing, and one-line refusals."""

from __future__ import annotations

import ipaddress

import pytest

from meet_external.config import Config, ConfigError, RateLimit


def test_defaults_of_the_contract():
    config = Config.from_env({})
    assert config == Config()
    assert (
        config.database_url,
        config.jwt_secret_key,
        config.jwt_previous_secret_keys,
        config.jwt_algorithm,
        config.jwt_issuer,
        config.jwt_audience,
        config.jwt_expiration_seconds,
        config.base_url,
        config.allow_user_creation,
        config.client_id_length,
        config.client_secret_length,
        config.telephony_enabled,
        config.telephony_pin_length,
        config.telephony_phone_number,
        config.telephony_default_country,
        config.token_rate_limit,
        config.trusted_proxies,
        config.max_body_bytes,
    ) == (
        "sqlite:///meet_external.sqlite3",
        None,
        (),
        "HS256",
        "lasuite-meet",
        None,
        3600,
        None,
        False,
        40,
        128,
        False,
        10,
        None,
        "US",
        RateLimit(attempts=10, window_seconds=60),
        (),
        1048576,
    )


def test_blank_values_mean_the_default():
    blank = {name: "  " for name in (
        "DATABASE_URL", "APPLICATION_JWT_SECRET_KEY", "APPLICATION_JWT_ALG", "APPLICATION_JWT_ISSUER",
        "APPLICATION_JWT_AUDIENCE", "APPLICATION_JWT_EXPIRATION_SECONDS", "APPLICATION_BASE_URL",
        "APPLICATION_ALLOW_USER_CREATION", "APPLICATION_CLIENT_ID_LENGTH",
        "APPLICATION_CLIENT_SECRET_LENGTH", "ROOM_TELEPHONY_ENABLED", "ROOM_TELEPHONY_PIN_LENGTH",
        "ROOM_TELEPHONY_PHONE_NUMBER", "ROOM_TELEPHONY_DEFAULT_COUNTRY", "TOKEN_RATE_LIMIT",
        "TRUSTED_PROXIES", "MAX_BODY_BYTES",
    )}
    assert Config.from_env(blank) == Config()


def test_every_setting_is_read():
    config = Config.from_env({
        "DATABASE_URL": "postgresql://meet:pw@db.internal:5433/meet",
        "APPLICATION_JWT_SECRET_KEY": " current-key ",
        "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": "old-1, ,old-2,",
        "APPLICATION_JWT_ALG": "HS512",
        "APPLICATION_JWT_ISSUER": "meet.example.org",
        "APPLICATION_JWT_AUDIENCE": "partners",
        "APPLICATION_JWT_EXPIRATION_SECONDS": "600",
        "APPLICATION_BASE_URL": "https://meet.example.org/",
        "APPLICATION_ALLOW_USER_CREATION": "True",
        "APPLICATION_CLIENT_ID_LENGTH": "16",
        "APPLICATION_CLIENT_SECRET_LENGTH": "32",
        "ROOM_TELEPHONY_ENABLED": "yes",
        "ROOM_TELEPHONY_PIN_LENGTH": "4",
        "ROOM_TELEPHONY_PHONE_NUMBER": "+33 1 23 45 67 89",
        "ROOM_TELEPHONY_DEFAULT_COUNTRY": "FR",
        "TOKEN_RATE_LIMIT": "5/second",
        "TRUSTED_PROXIES": "10.0.0.1",
        "MAX_BODY_BYTES": "2048",
    })
    assert config == Config(
        database_url="postgresql://meet:pw@db.internal:5433/meet",
        jwt_secret_key="current-key",
        jwt_previous_secret_keys=("old-1", "old-2"),
        jwt_algorithm="HS512",
        jwt_issuer="meet.example.org",
        jwt_audience="partners",
        jwt_expiration_seconds=600,
        base_url="https://meet.example.org",
        allow_user_creation=True,
        client_id_length=16,
        client_secret_length=32,
        telephony_enabled=True,
        telephony_pin_length=4,
        telephony_phone_number="+33 1 23 45 67 89",
        telephony_default_country="FR",
        token_rate_limit=RateLimit(5, 1),
        trusted_proxies=(ipaddress.ip_network("10.0.0.1/32"),),
        max_body_bytes=2048,
    )


@pytest.mark.parametrize("value", ["sqlite:///meet.sqlite3", "sqlite:////var/lib/meet/db.sqlite3",
                                   "postgresql://postgres@127.0.0.1:5432/meet", "postgres://h/db"])
def test_database_urls_accepted(value):
    assert Config.from_env({"DATABASE_URL": value}).database_url == value


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("False", False), ("no", False), ("OFF", False),
])
def test_booleans(value, expected):
    config = Config.from_env({"APPLICATION_ALLOW_USER_CREATION": value, "ROOM_TELEPHONY_ENABLED": value})
    assert (config.allow_user_creation, config.telephony_enabled) == (expected, expected)


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_the_three_hmac_algorithms(algorithm):
    assert Config.from_env({"APPLICATION_JWT_ALG": algorithm}).jwt_algorithm == algorithm


@pytest.mark.parametrize(("value", "expected"), [
    ("1/second", RateLimit(1, 1)),
    ("10/minute", RateLimit(10, 60)),
    ("100/hour", RateLimit(100, 3600)),
    (" 7 / minute ", RateLimit(7, 60)),
])
def test_token_rate_limit(value, expected):
    assert Config.from_env({"TOKEN_RATE_LIMIT": value}).token_rate_limit == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("10.0.0.1", ["10.0.0.1/32"]),
    ("10.0.0.1, 192.168.0.0/16,::1", ["10.0.0.1/32", "192.168.0.0/16", "::1/128"]),
    ("172.16.5.4/12", ["172.16.0.0/12"]),  # host bits are dropped, the network is kept
    ("2001:db8::/32 ,, 127.0.0.1,", ["2001:db8::/32", "127.0.0.1/32"]),
])
def test_trusted_proxies(value, expected):
    proxies = Config.from_env({"TRUSTED_PROXIES": value}).trusted_proxies
    assert proxies == tuple(ipaddress.ip_network(network) for network in expected)


PATTERN = "must look like 10/minute (N/second, N/minute, N/hour)"
BAD_VALUES = [
    ("APPLICATION_JWT_ALG", "none", "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512, got 'none'"),
    ("APPLICATION_JWT_ALG", "hs256", "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512, got 'hs256'"),
    ("APPLICATION_JWT_ALG", "RS256", "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512, got 'RS256'"),
    ("APPLICATION_JWT_EXPIRATION_SECONDS", "abc",
     "APPLICATION_JWT_EXPIRATION_SECONDS must be an integer, got 'abc'"),
    ("APPLICATION_JWT_EXPIRATION_SECONDS", "1.5",
     "APPLICATION_JWT_EXPIRATION_SECONDS must be an integer, got '1.5'"),
    ("APPLICATION_JWT_EXPIRATION_SECONDS", "0",
     "APPLICATION_JWT_EXPIRATION_SECONDS must be at least 1, got 0"),
    ("APPLICATION_CLIENT_ID_LENGTH", "15", "APPLICATION_CLIENT_ID_LENGTH must be at least 16, got 15"),
    ("APPLICATION_CLIENT_ID_LENGTH", "101", "APPLICATION_CLIENT_ID_LENGTH must be at most 100, got 101"),
    ("APPLICATION_CLIENT_SECRET_LENGTH", "31",
     "APPLICATION_CLIENT_SECRET_LENGTH must be at least 32, got 31"),
    ("APPLICATION_CLIENT_SECRET_LENGTH", "many",
     "APPLICATION_CLIENT_SECRET_LENGTH must be an integer, got 'many'"),
    ("ROOM_TELEPHONY_PIN_LENGTH", "3", "ROOM_TELEPHONY_PIN_LENGTH must be at least 4, got 3"),
    ("ROOM_TELEPHONY_PIN_LENGTH", "-10", "ROOM_TELEPHONY_PIN_LENGTH must be at least 4, got -10"),
    ("ROOM_TELEPHONY_PIN_LENGTH", "33", "ROOM_TELEPHONY_PIN_LENGTH must be at most 32, got 33"),
    ("ROOM_TELEPHONY_PIN_LENGTH", "ten", "ROOM_TELEPHONY_PIN_LENGTH must be an integer, got 'ten'"),
    ("MAX_BODY_BYTES", "0", "MAX_BODY_BYTES must be at least 1, got 0"),
    ("MAX_BODY_BYTES", "1MB", "MAX_BODY_BYTES must be an integer, got '1MB'"),
    ("APPLICATION_ALLOW_USER_CREATION", "maybe",
     "APPLICATION_ALLOW_USER_CREATION must be true or false, got 'maybe'"),
    ("ROOM_TELEPHONY_ENABLED", "2", "ROOM_TELEPHONY_ENABLED must be true or false, got '2'"),
    ("TOKEN_RATE_LIMIT", "10/day", f"TOKEN_RATE_LIMIT {PATTERN}, got '10/day'"),
    ("TOKEN_RATE_LIMIT", "10/min", f"TOKEN_RATE_LIMIT {PATTERN}, got '10/min'"),
    ("TOKEN_RATE_LIMIT", "0/minute", f"TOKEN_RATE_LIMIT {PATTERN}, got '0/minute'"),
    ("TOKEN_RATE_LIMIT", "-1/second", f"TOKEN_RATE_LIMIT {PATTERN}, got '-1/second'"),
    ("TOKEN_RATE_LIMIT", "10", f"TOKEN_RATE_LIMIT {PATTERN}, got '10'"),
    ("TOKEN_RATE_LIMIT", "ten/minute", f"TOKEN_RATE_LIMIT {PATTERN}, got 'ten/minute'"),
    ("TRUSTED_PROXIES", "10.0.0.1, proxy.internal",
     "TRUSTED_PROXIES must list IP addresses or networks, got 'proxy.internal'"),
    ("TRUSTED_PROXIES", "10.0.0.300", "TRUSTED_PROXIES must list IP addresses or networks, got '10.0.0.300'"),
    ("DATABASE_URL", "mysql://root@localhost/meet",
     "DATABASE_URL must start with sqlite:/// or postgresql://, got 'mysql'"),
    ("DATABASE_URL", "meet.sqlite3",
     "DATABASE_URL must start with sqlite:/// or postgresql://, got 'meet.sqlite3'"),
    ("DATABASE_URL", "postgresql://meet:pw@db:port/meet",
     "DATABASE_URL is not a valid URL (check its host and port)"),
    ("DATABASE_URL", "postgresql://meet:pw@[db/meet",
     "DATABASE_URL is not a valid URL (check its host and port)"),
    # A newline in the value cannot break the message into two lines.
    ("APPLICATION_JWT_ALG", "HS256\nHS512", "APPLICATION_JWT_ALG must be one of HS256, HS384, HS512,"
                                           " got 'HS256\\nHS512'"),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES,
                         ids=[f"{name}={value!r}" for name, value, _ in BAD_VALUES])
def test_a_bad_value_is_refused_in_one_line_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError) as refused:
        Config.from_env({name: value})
    assert str(refused.value) == message
    assert "\n" not in str(refused.value) and name in str(refused.value)


def test_a_refused_database_url_never_shows_its_password():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"DATABASE_URL": "postgresql://meet:s3cr3t-pw@db:port/meet"})
    assert "s3cr3t-pw" not in str(refused.value)


def test_the_signing_key_is_required_to_serve():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({}).require_secret_key()
    assert str(refused.value) == (
        "APPLICATION_JWT_SECRET_KEY is not set: the server cannot sign tokens"
        " (set it, or try `meet-external serve --demo`)"
    )
    Config.from_env({"APPLICATION_JWT_SECRET_KEY": "k"}).require_secret_key()  # no error
    assert Config().with_secret_key("demo").jwt_secret_key == "demo"
