"""Configuration from the environment (meet_external/config.py): defaults, parsing, secrets from
files, Meet's DB_* settings, the PostgreSQL driver, and one-line refusals."""

from __future__ import annotations

import ipaddress
import re
import sys
import warnings

import jwt
import pytest

from meet_external.config import (
    DEFAULT_DATABASE_URL,
    HMAC_KEY_BYTES,
    POSTGRES_DRIVER,
    Config,
    ConfigError,
    RateLimit,
    require_hmac_key_length,
)

# Long enough for HS512 (64 bytes), the longest key the settings may need.
KEY = "k" * 64


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
        config.default_access_level,
        config.allow_public_access,
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
        "trusted",
        False,
    )


def test_blank_values_mean_the_default():
    blank = {name: "  " for name in (
        "DATABASE_URL", "APPLICATION_JWT_SECRET_KEY", "APPLICATION_JWT_ALG", "APPLICATION_JWT_ISSUER",
        "APPLICATION_JWT_AUDIENCE", "APPLICATION_JWT_EXPIRATION_SECONDS", "APPLICATION_BASE_URL",
        "APPLICATION_ALLOW_USER_CREATION", "APPLICATION_CLIENT_ID_LENGTH",
        "APPLICATION_CLIENT_SECRET_LENGTH", "ROOM_TELEPHONY_ENABLED", "ROOM_TELEPHONY_PIN_LENGTH",
        "ROOM_TELEPHONY_PHONE_NUMBER", "ROOM_TELEPHONY_DEFAULT_COUNTRY", "TOKEN_RATE_LIMIT",
        "TRUSTED_PROXIES", "MAX_BODY_BYTES", "EXTERNAL_API_DEFAULT_ACCESS_LEVEL",
        "EXTERNAL_API_ALLOW_PUBLIC_ACCESS",
    )}
    assert Config.from_env(blank) == Config()


def test_every_setting_is_read():
    config = Config.from_env({
        "DATABASE_URL": "postgresql://meet:pw@db.internal:5433/meet",
        "APPLICATION_JWT_SECRET_KEY": f" current-{KEY} ",
        "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": f"old-1{KEY}, ,old-2{KEY},",
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
        "EXTERNAL_API_DEFAULT_ACCESS_LEVEL": "restricted",
        "EXTERNAL_API_ALLOW_PUBLIC_ACCESS": "true",
    })
    assert config == Config(
        database_url="postgresql://meet:pw@db.internal:5433/meet",
        jwt_secret_key=f"current-{KEY}",
        jwt_previous_secret_keys=(f"old-1{KEY}", f"old-2{KEY}"),
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
        default_access_level="restricted",
        allow_public_access=True,
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
    ("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "private", "EXTERNAL_API_DEFAULT_ACCESS_LEVEL must be one of"
                                                     " public, trusted, restricted, got 'private'"),
    ("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "Trusted", "EXTERNAL_API_DEFAULT_ACCESS_LEVEL must be one of"
                                                     " public, trusted, restricted, got 'Trusted'"),
    ("EXTERNAL_API_DEFAULT_ACCESS_LEVEL", "public",
     "EXTERNAL_API_DEFAULT_ACCESS_LEVEL is public, but public rooms are disabled: set"
     " EXTERNAL_API_ALLOW_PUBLIC_ACCESS=true, or another level"),
    ("EXTERNAL_API_ALLOW_PUBLIC_ACCESS", "sometimes",
     "EXTERNAL_API_ALLOW_PUBLIC_ACCESS must be true or false, got 'sometimes'"),
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


def test_public_rooms_by_default_once_allowed():
    config = Config.from_env({"EXTERNAL_API_DEFAULT_ACCESS_LEVEL": "public",
                              "EXTERNAL_API_ALLOW_PUBLIC_ACCESS": "true"})
    assert (config.default_access_level, config.allow_public_access) == ("public", True)


@pytest.mark.parametrize(("algorithm", "needed"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_a_signing_key_shorter_than_its_algorithm_needs_stops_start_up(algorithm, needed):
    short, enough = "é" * (needed // 2 - 1) + "k", "é" * (needed // 2)  # counted in UTF-8 bytes
    for name, value in (("APPLICATION_JWT_SECRET_KEY", short),
                        ("APPLICATION_JWT_PREVIOUS_SECRET_KEYS", f"{enough},{short}")):
        with pytest.raises(ConfigError) as refused:
            Config.from_env({name: value, "APPLICATION_JWT_ALG": algorithm})
        shown = name if name == "APPLICATION_JWT_SECRET_KEY" else f"{name} (key 2)"
        assert str(refused.value) == (
            f"{shown} is {needed - 1} bytes long, {algorithm} needs at least {needed}: make one with"
            f" python3 -c 'import secrets; print(secrets.token_urlsafe({needed}))'")
    config = Config.from_env({"APPLICATION_JWT_SECRET_KEY": enough, "APPLICATION_JWT_ALG": algorithm,
                              "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": enough})
    assert (config.jwt_secret_key, config.jwt_previous_secret_keys) == (enough, (enough,))


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_the_shortest_key_accepted_is_the_shortest_pyjwt_signs_without_a_warning(algorithm):
    needed = HMAC_KEY_BYTES[algorithm]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jwt.encode({"sub": "x"}, "k" * needed, algorithm=algorithm)
    with pytest.warns(jwt.InsecureKeyLengthWarning):
        jwt.encode({"sub": "x"}, "k" * (needed - 1), algorithm=algorithm)
    require_hmac_key_length("ANY_KEY", "k" * needed, algorithm)
    with pytest.raises(ConfigError, match="^ANY_KEY is"):
        require_hmac_key_length("ANY_KEY", "k" * (needed - 1), algorithm)


def test_the_signing_key_is_required_to_serve():
    with pytest.raises(ConfigError) as refused:
        Config.from_env({}).require_secret_key()
    assert str(refused.value) == (
        "APPLICATION_JWT_SECRET_KEY is not set: the server cannot sign tokens"
        " (set it, or try `meet-external serve --demo`)"
    )
    Config.from_env({"APPLICATION_JWT_SECRET_KEY": KEY}).require_secret_key()  # no error
    assert Config().with_secret_key("demo").jwt_secret_key == "demo"


def test_operations_settings():
    config = Config.from_env({"METRICS_ENABLED": "true", "PROMETHEUS_MULTIPROC_DIR": "/run/metrics",
                              "WEB_CONCURRENCY": "4", "REQUEST_THREADS": "8"})
    assert (config.metrics_enabled, config.metrics_dir, config.workers, config.request_threads) == (
        True, "/run/metrics", 4, 8)
    default = Config.from_env({})
    assert (default.metrics_enabled, default.metrics_dir, default.workers, default.request_threads) == (
        False, None, 1, 2)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("METRICS_ENABLED", "sure", "METRICS_ENABLED must be true or false, got 'sure'"),
    ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be at least 1, got 0"),
    ("WEB_CONCURRENCY", "two", "WEB_CONCURRENCY must be an integer, got 'two'"),
    ("REQUEST_THREADS", "0", "REQUEST_THREADS must be at least 1, got 0"),
    ("REQUEST_THREADS", "65", "REQUEST_THREADS must be at most 64, got 65"),
])
def test_bad_operations_settings(name, value, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        Config.from_env({name: value})


# --- secrets from files --------------------------------------------------------------------

SECRETS = ["APPLICATION_JWT_SECRET_KEY", "APPLICATION_JWT_PREVIOUS_SECRET_KEYS", "DATABASE_URL",
           "DB_PASSWORD"]


def read_secret(name: str, environ: dict):
    config = Config.from_env(environ)
    return {
        "APPLICATION_JWT_SECRET_KEY": config.jwt_secret_key,
        "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": config.jwt_previous_secret_keys,
        "DATABASE_URL": config.database_url,
        "DB_PASSWORD": config.database_url,
    }[name]


SECRET_CASES = {  # name -> (file content, value read)
    "APPLICATION_JWT_SECRET_KEY": (f" {KEY} with spaces \n", f" {KEY} with spaces "),
    "APPLICATION_JWT_PREVIOUS_SECRET_KEYS": (f"old-1{KEY}, old-2{KEY}\n", (f"old-1{KEY}", f"old-2{KEY}")),
    "DATABASE_URL": ("postgresql://meet:pw@db:5432/meet\n", "postgresql://meet:pw@db:5432/meet"),
    "DB_PASSWORD": ("p@ss:/word\n", "postgresql://dinum:p%40ss%3A%2Fword@localhost:5432/meet"),
}


@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_is_read_from_the_file_its_FILE_variable_names(name, tmp_path):
    content, expected = SECRET_CASES[name]
    path = tmp_path / "secret"
    path.write_text(content)
    assert read_secret(name, {f"{name}_FILE": str(path)}) == expected
    config = Config.from_env({f"{name}_FILE": str(path)})
    if name in ("DATABASE_URL", "DB_PASSWORD"):
        assert config.database_source == ("DATABASE_URL_FILE" if name == "DATABASE_URL" else "DB_*")


@pytest.mark.parametrize(("content", "key"), [
    (f"{KEY}\n", KEY), (f"{KEY}\r\n", KEY), (KEY, KEY), (f"{KEY}\n\n", f"{KEY}\n"),
    (f" {KEY}\t\n", f" {KEY}\t"),
])
def test_only_one_trailing_newline_is_stripped(tmp_path, content, key):
    path = tmp_path / "key"
    path.write_bytes(content.encode())
    assert Config.from_env({"APPLICATION_JWT_SECRET_KEY_FILE": str(path)}).jwt_secret_key == key


def test_an_empty_secret_file_means_unset(tmp_path):
    path = tmp_path / "empty"
    path.write_text("\n")
    assert Config.from_env({"APPLICATION_JWT_SECRET_KEY_FILE": str(path)}).jwt_secret_key is None


@pytest.mark.parametrize("name", SECRETS)
def test_a_secret_set_both_ways_is_refused(name, tmp_path):
    path = tmp_path / "secret"
    path.write_text("from-file")
    with pytest.raises(ConfigError) as refused:
        Config.from_env({name: "from-env", f"{name}_FILE": str(path)})
    assert str(refused.value) == f"{name} and {name}_FILE are both set: set only one of them"


@pytest.mark.parametrize("name", SECRETS)
def test_an_unreadable_secret_file_is_refused_in_one_line(name, tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(ConfigError) as refused:
        Config.from_env({f"{name}_FILE": str(missing)})
    assert str(refused.value) == (
        f"{name}_FILE names a file that cannot be read: {str(missing)!r} (No such file or directory)")
    with pytest.raises(ConfigError) as refused:
        Config.from_env({f"{name}_FILE": str(tmp_path)})
    assert str(refused.value) == (
        f"{name}_FILE names a file that cannot be read: {str(tmp_path)!r} (Is a directory)")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError) as refused:
        Config.from_env({f"{name}_FILE": str(binary)})
    assert str(refused.value) == f"{name}_FILE names a file that is not UTF-8 text: {str(binary)!r}"


def test_a_secret_file_is_read_once_at_start_up(tmp_path):
    path = tmp_path / "key"
    path.write_text(f"first-{KEY}\n")
    config = Config.from_env({"APPLICATION_JWT_SECRET_KEY_FILE": str(path)})
    path.write_text(f"second-{KEY}\n")
    assert config.jwt_secret_key == f"first-{KEY}"


# --- Meet's DB_* settings ---------------------------------------------------------------------


@pytest.mark.parametrize(("environ", "url"), [
    ({"DB_HOST": "db.internal", "DB_PORT": "5433", "DB_NAME": "meet_prod", "DB_USER": "meet",
      "DB_PASSWORD": "s3cret"}, "postgresql://meet:s3cret@db.internal:5433/meet_prod"),
    # Unset ones take Meet's own defaults, as Meet would with the same environment.
    ({"DB_HOST": "db.internal"}, "postgresql://dinum:pass@db.internal:5432/meet"),
    ({"DB_NAME": "other"}, "postgresql://dinum:pass@localhost:5432/other"),
    ({"DB_PASSWORD": "pw", "DB_ENGINE": "django.db.backends.postgresql"},
     "postgresql://dinum:pw@localhost:5432/meet"),
    ({"DB_USER": "we ird@user", "DB_PASSWORD": "p@ss/w:rd?#", "DB_NAME": "db/name"},
     "postgresql://we%20ird%40user:p%40ss%2Fw%3Ard%3F%23@localhost:5432/db%2Fname"),
    ({"DB_HOST": "::1"}, "postgresql://dinum:pass@[::1]:5432/meet"),
    ({"DB_HOST": "10.1.2.3", "DB_PORT": " 6432 "}, "postgresql://dinum:pass@10.1.2.3:6432/meet"),
])
def test_meet_database_settings_make_the_postgresql_url(environ, url):
    config = Config.from_env(environ)
    assert (config.database_url, config.database_source) == (url, "DB_*")


def test_the_url_made_from_db_settings_reaches_what_it_names():
    import urllib.parse

    url = Config.from_env({"DB_USER": "we ird@user", "DB_PASSWORD": "p@ss/w:rd?#",
                           "DB_NAME": "db/name", "DB_HOST": "db"}).database_url
    parts = urllib.parse.urlsplit(url)
    # Exactly as models/storage/db.py takes it apart.
    assert (urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password),
            parts.hostname, parts.port, urllib.parse.unquote(parts.path.lstrip("/"))) == (
        "we ird@user", "p@ss/w:rd?#", "db", 5432, "db/name")


def test_database_url_wins_over_db_settings():
    config = Config.from_env({"DATABASE_URL": "sqlite:///x.sqlite3", "DB_HOST": "db"})
    assert (config.database_url, config.database_source) == ("sqlite:///x.sqlite3", "DATABASE_URL")


def test_without_any_database_setting_sqlite_is_the_default():
    config = Config.from_env({"DB_ENGINE": "django.db.backends.postgresql"})
    assert (config.database_url, config.database_source) == (DEFAULT_DATABASE_URL, "the default")


@pytest.mark.parametrize(("environ", "message"), [
    ({"DB_PORT": "postgres"}, "DB_PORT must be an integer, got 'postgres'"),
    ({"DB_PORT": "70000"}, "DB_PORT must be at most 65535, got 70000"),
    ({"DB_HOST": "/var/run/postgresql"},
     "DB_HOST must be a host name or an IP address (for a Unix socket, use DATABASE_URL),"
     " got '/var/run/postgresql'"),
    ({"DB_HOST": "db", "DB_ENGINE": "django.db.backends.sqlite3"},
     "DB_ENGINE must be a PostgreSQL backend (only PostgreSQL is read from DB_* settings; use"
     " DATABASE_URL for SQLite), got 'django.db.backends.sqlite3'"),
])
def test_bad_db_settings_are_refused_in_one_line(environ, message):
    with pytest.raises(ConfigError) as refused:
        Config.from_env(environ)
    assert str(refused.value) == message


def test_a_refused_db_url_names_its_source_not_its_password(tmp_path):
    path = tmp_path / "url"
    path.write_text("mysql://root:hunter2@db/meet\n")
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"DATABASE_URL_FILE": str(path)})
    assert str(refused.value) == "DATABASE_URL_FILE must start with sqlite:/// or postgresql://, got 'mysql'"


# --- the PostgreSQL driver ----------------------------------------------------------------------


def test_a_postgresql_url_needs_the_driver(monkeypatch):
    # An entry of None in sys.modules is how Python itself marks a module as not importable.
    monkeypatch.setitem(sys.modules, POSTGRES_DRIVER, None)
    with pytest.raises(ConfigError) as refused:
        Config.from_env({"DB_HOST": "db"})
    assert str(refused.value) == (
        "a postgresql:// database needs the PostgreSQL driver 'psycopg', which cannot be imported"
        " (import of psycopg halted; None in sys.modules): pip install 'meet-external[postgres]'")
    assert Config.from_env({}).database_url == DEFAULT_DATABASE_URL  # SQLite does not need it
