"""Configuration: read once from the environment into one typed object.

The settings and their defaults are listed in docs/operators.md (Configuration); secrets may
come from files (`<NAME>_FILE`), and Meet's own `DB_*` settings make the PostgreSQL URL when
`DATABASE_URL` is unset (docs/operators.md, Secrets in files and Meet's database settings).
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import ipaddress
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Callable, Mapping, Tuple

from .models.tables.rooms import ACCESS_LEVELS
from .ops.settings import OpsSettings, ops_settings

if TYPE_CHECKING:  # the module imports this one
    from .auth.settings import AddonSettings, ResourceServerSettings

JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
# The shortest key each HMAC algorithm is safe with: its digest size (RFC 7518 §3.2), the
# length under which PyJWT warns (InsecureKeyLengthWarning) at every token it signs.
HMAC_KEY_BYTES = {"HS256": hashlib.sha256().digest_size, "HS384": hashlib.sha384().digest_size,
                  "HS512": hashlib.sha512().digest_size}
DEFAULT_DATABASE_URL = "sqlite:///meet_external.sqlite3"
# The module the data layer (models/storage/db.py) connects to PostgreSQL with, and what installs it.
POSTGRES_DRIVER = "psycopg"
POSTGRES_INSTALL = "pip install 'meet-external[postgres]'"
# Meet's own defaults for its DB_* settings (its Django settings), so that the environment of
# a Meet deployment reaches the same database here: an unset one means what it means to Meet.
MEET_DB_DEFAULTS = {"DB_HOST": "localhost", "DB_PORT": 5432, "DB_NAME": "meet", "DB_USER": "dinum",
                    "DB_PASSWORD": "pass"}
MEET_DB_SETTINGS = ("DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD", "DB_PASSWORD_FILE")
# The widest client_id Meet's column holds (meet_application.client_id): a longer
# setting would make every insert fail on PostgreSQL (SQLite does not check).
MAX_CLIENT_ID_LENGTH = 100
# meet_room.pin_code has no length; a PIN is typed on a phone keypad.
MAX_PIN_LENGTH = 32

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")
_PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


class ConfigError(ValueError):
    """A setting has a value the server cannot run with; the message is one line."""


def require_hmac_key_length(name: str, key: str, algorithm: str) -> None:
    """Refuse a key (from the setting `name`) shorter than `algorithm` needs, in one line."""
    needed = HMAC_KEY_BYTES[algorithm]
    length = len(key.encode("utf-8"))  # PyJWT signs with the key's UTF-8 bytes
    if length < needed:
        raise ConfigError(
            f"{name} is {length} bytes long, {algorithm} needs at least {needed}: make one with"
            f" python3 -c 'import secrets; print(secrets.token_urlsafe({needed}))'")


@dataclasses.dataclass(frozen=True)
class RateLimit:
    attempts: int
    window_seconds: int


@dataclasses.dataclass(frozen=True)
class Config:
    database_url: str = DEFAULT_DATABASE_URL
    jwt_secret_key: str | None = None
    jwt_previous_secret_keys: Tuple[str, ...] = ()
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "lasuite-meet"
    jwt_audience: str | None = None
    jwt_expiration_seconds: int = 3600
    base_url: str | None = None
    allow_user_creation: bool = False
    client_id_length: int = 40
    client_secret_length: int = 128
    telephony_enabled: bool = False
    roomkit_enabled: bool = False
    telephony_pin_length: int = 10
    telephony_phone_number: str | None = None
    telephony_default_country: str = "US"
    default_access_level: str = "trusted"
    allow_public_access: bool = False
    token_rate_limit: RateLimit = RateLimit(10, 60)
    trusted_proxies: Tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_body_bytes: int = 1048576
    metrics_enabled: bool = False
    # prometheus-client's own variable: the directory its multiprocess mode shares between
    # workers. `serve` makes and cleans one itself (meet_external/server/serving.py).
    metrics_dir: str | None = None
    workers: int = 1
    # Threads a worker runs API handlers on (meet_external/server/threads.py). Each one more is
    # one more to hand the GIL to around every statement's round trip: 2 served more requests
    # than 4 in 10 of 12 pairs (list, retrieve and create, both databases, two rounds of
    # `python bench/threads.py --db both --values 2 4`); with 1, one slow statement would hold
    # every request of the worker (docs/performance.md, "Threads").
    request_threads: int = 2
    # The other kinds of bearer token Meet accepts (meet_external/auth/settings.py): off when None.
    addons: AddonSettings | None = None
    resource_server: ResourceServerSettings | None = None
    scopes_prefix: str | None = None
    user_not_found_status: int = 400
    # Logs, error reports and traces (meet_external/ops/settings.py).
    ops: OpsSettings = OpsSettings()
    # Where database_url came from, for the hints of start-up errors (not a setting).
    database_source: str = dataclasses.field(default="the default", compare=False)

    def with_secret_key(self, key: str) -> Config:
        return dataclasses.replace(self, jwt_secret_key=key)

    def require_secret_key(self) -> None:
        if not self.jwt_secret_key:
            raise ConfigError(
                "APPLICATION_JWT_SECRET_KEY is not set: the server cannot sign tokens"
                " (set it, or try `meet-external serve --demo`)"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Config:
        from .auth.settings import addon_settings, resource_server_settings  # it imports this module

        reader = _Reader(environ)
        database_url, database_source = _database_url(reader)
        config = cls(
            database_url=database_url,
            database_source=database_source,
            jwt_secret_key=reader.secret("APPLICATION_JWT_SECRET_KEY"),
            jwt_previous_secret_keys=_csv(reader.secret("APPLICATION_JWT_PREVIOUS_SECRET_KEYS")),
            jwt_algorithm=reader.choice("APPLICATION_JWT_ALG", JWT_ALGORITHMS, "HS256"),
            jwt_issuer=reader.text("APPLICATION_JWT_ISSUER") or "lasuite-meet",
            jwt_audience=reader.text("APPLICATION_JWT_AUDIENCE"),
            jwt_expiration_seconds=reader.integer(
                "APPLICATION_JWT_EXPIRATION_SECONDS", 3600, minimum=1
            ),
            base_url=(reader.text("APPLICATION_BASE_URL") or "").rstrip("/") or None,
            allow_user_creation=reader.boolean("APPLICATION_ALLOW_USER_CREATION", False),
            client_id_length=reader.integer(
                "APPLICATION_CLIENT_ID_LENGTH", 40, minimum=16, maximum=MAX_CLIENT_ID_LENGTH
            ),
            client_secret_length=reader.integer(
                "APPLICATION_CLIENT_SECRET_LENGTH", 128, minimum=32
            ),
            telephony_enabled=reader.boolean("ROOM_TELEPHONY_ENABLED", False),
            roomkit_enabled=reader.boolean("ROOMKIT_ENABLED", False),
            telephony_pin_length=reader.integer(
                "ROOM_TELEPHONY_PIN_LENGTH", 10, minimum=4, maximum=MAX_PIN_LENGTH
            ),
            telephony_phone_number=reader.text("ROOM_TELEPHONY_PHONE_NUMBER"),
            telephony_default_country=reader.text("ROOM_TELEPHONY_DEFAULT_COUNTRY") or "US",
            default_access_level=reader.choice(
                "EXTERNAL_API_DEFAULT_ACCESS_LEVEL", ACCESS_LEVELS, "trusted"),
            allow_public_access=reader.boolean("EXTERNAL_API_ALLOW_PUBLIC_ACCESS", False),
            token_rate_limit=reader.rate("TOKEN_RATE_LIMIT", RateLimit(10, 60)),
            trusted_proxies=reader.networks("TRUSTED_PROXIES"),
            max_body_bytes=reader.integer("MAX_BODY_BYTES", 1048576, minimum=1),
            metrics_enabled=reader.boolean("METRICS_ENABLED", False),
            metrics_dir=reader.text("PROMETHEUS_MULTIPROC_DIR"),
            workers=reader.integer("WEB_CONCURRENCY", 1, minimum=1),
            request_threads=reader.integer("REQUEST_THREADS", 2, minimum=1, maximum=64),
            addons=addon_settings(reader),
            resource_server=resource_server_settings(reader),
            scopes_prefix=reader.text("OIDC_RS_SCOPES_PREFIX"),
            user_not_found_status=int(reader.choice("EXTERNAL_API_USER_NOT_FOUND_STATUS",
                                                    ("400", "404"), "400")),
            ops=ops_settings(reader),
        )
        if config.jwt_secret_key:
            require_hmac_key_length("APPLICATION_JWT_SECRET_KEY", config.jwt_secret_key,
                                    config.jwt_algorithm)
        for number, key in enumerate(config.jwt_previous_secret_keys, start=1):
            require_hmac_key_length(f"APPLICATION_JWT_PREVIOUS_SECRET_KEYS (key {number})", key,
                                    config.jwt_algorithm)
        if config.default_access_level == "public" and not config.allow_public_access:
            raise ConfigError("EXTERNAL_API_DEFAULT_ACCESS_LEVEL is public, but public rooms are"
                              " disabled: set EXTERNAL_API_ALLOW_PUBLIC_ACCESS=true, or another level")
        _check_database_url(config.database_url, database_source)
        if config.database_url.startswith("postgres"):
            _check_postgres_driver()
        return config


def _database_url(reader: _Reader) -> Tuple[str, str]:
    """The database URL and the settings it came from: DATABASE_URL, else Meet's DB_*, else SQLite."""
    url = reader.secret("DATABASE_URL")
    if url:
        return url, "DATABASE_URL_FILE" if reader.text("DATABASE_URL_FILE") else "DATABASE_URL"
    if not any(reader.text(name) for name in MEET_DB_SETTINGS):
        return DEFAULT_DATABASE_URL, "the default"
    engine = reader.text("DB_ENGINE")
    if engine is not None and "postgresql" not in engine:
        raise ConfigError(f"DB_ENGINE must be a PostgreSQL backend (only PostgreSQL is read from"
                          f" DB_* settings; use DATABASE_URL for SQLite), got {engine!r}")
    host = reader.text("DB_HOST") or MEET_DB_DEFAULTS["DB_HOST"]
    if re.search(r"[/@\s?#]", host):
        raise ConfigError(f"DB_HOST must be a host name or an IP address (for a Unix socket, use"
                          f" DATABASE_URL), got {host!r}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = reader.integer("DB_PORT", MEET_DB_DEFAULTS["DB_PORT"], minimum=1, maximum=65535)
    user, name = (reader.text(key) or MEET_DB_DEFAULTS[key] for key in ("DB_USER", "DB_NAME"))
    password = reader.secret("DB_PASSWORD") or MEET_DB_DEFAULTS["DB_PASSWORD"]
    user, password, name = (urllib.parse.quote(part, safe="") for part in (user, password, name))
    return f"postgresql://{user}:{password}@{host}:{port}/{name}", "DB_*"


def _check_database_url(url: str, source: str) -> None:
    scheme = url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgres", "postgresql") or "://" not in url:
        # Only the scheme is shown: the URL may hold a password.
        raise ConfigError(f"{source} must start with sqlite:/// or postgresql://, got {scheme!r}")
    try:
        _ = urllib.parse.urlsplit(url).port  # a bad port or host would fail at the first query
    except ValueError:
        raise ConfigError(f"{source} is not a valid URL (check its host and port)") from None


def _check_postgres_driver() -> None:
    """Stop at start-up, in one line, when the driver is missing or cannot load (no libpq)."""
    try:
        importlib.import_module(POSTGRES_DRIVER)
    except ImportError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"a postgresql:// database needs the PostgreSQL driver {POSTGRES_DRIVER!r},"
                          f" which cannot be imported ({reason}): {POSTGRES_INSTALL}") from None


def _csv(value: str | None) -> Tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


class _Reader:
    """Parses one environment; every failure names the variable in one line."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def secret(self, name: str) -> str | None:
        """`name`, or the content of the file `<name>_FILE` names, less one trailing newline."""
        value = self.text(name)
        path = self.text(f"{name}_FILE")
        if path is None:
            return value
        if value is not None:
            raise ConfigError(f"{name} and {name}_FILE are both set: set only one of them")
        try:
            with open(path, encoding="utf-8", newline="") as secret_file:
                content = secret_file.read()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE names a file that cannot be read: {path!r}"
                              f" ({exc.strerror or type(exc).__name__})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{name}_FILE names a file that is not UTF-8 text: {path!r}") from None
        for newline in ("\r\n", "\n"):
            if content.endswith(newline):
                content = content[: -len(newline)]
                break
        return content or None

    def _parsed(self, name: str, parse: Callable[[str], object], what: str):
        """The setting parsed, or None when unset; a value `parse` refuses stops start-up."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError:
            raise ConfigError(f"{name} must be {what}, got {raw!r}") from None

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        value = self._parsed(name, int, "an integer")
        if value is None:
            return default
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {value}")
        return value

    def seconds(self, name: str, default: float, maximum: float) -> float:
        """A duration in seconds, more than 0 and at most `maximum`."""
        value = self._parsed(name, float, "a number of seconds")
        if value is None:
            return default
        if not 0 < value <= maximum:
            raise ConfigError(f"{name} must be more than 0 and at most {maximum:g} seconds, "
                              f"got {self.text(name)!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def choice(self, name: str, choices: Tuple[str, ...], default: str) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        if raw not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
        return raw

    def csv(self, name: str) -> Tuple[str, ...]:
        return _csv(self.text(name))

    def rate(self, name: str, default: RateLimit) -> RateLimit:
        raw = self.text(name)
        if raw is None:
            return default
        match = _RATE.match(raw)
        if not match or int(match.group(1)) < 1:
            raise ConfigError(f"{name} must look like 10/minute (N/second, N/minute, N/hour), got {raw!r}")
        return RateLimit(int(match.group(1)), _PERIOD_SECONDS[match.group(2)])

    def networks(self, name: str):
        networks = []
        for part in self.csv(name):
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ConfigError(f"{name} must list IP addresses or networks, got {part!r}") from None
        return tuple(networks)
