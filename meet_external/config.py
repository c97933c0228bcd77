"""Configuration: read once from the environment into one typed object (CONTRACT §6)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import urllib.parse
from typing import Mapping, Tuple

JWT_ALGORITHMS = ("HS256", "HS384", "HS512")
DEFAULT_DATABASE_URL = "sqlite:///meet_external.sqlite3"
# The widest client_id Meet's column holds (meet_application.client_id): a longer
# setting would make every insert fail on PostgreSQL (SQLite does not check).
MAX_CLIENT_ID_LENGTH = 100
# meet_room.pin_code has no length; a PIN is typed on a phone keypad.
MAX_PIN_LENGTH = 32

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour)\s*$")
_PERIOD_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


class ConfigError(ValueError):
    """A setting has a value the server cannot run with; the message is one line."""


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
    telephony_pin_length: int = 10
    telephony_phone_number: str | None = None
    telephony_default_country: str = "US"
    token_rate_limit: RateLimit = RateLimit(10, 60)
    trusted_proxies: Tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    max_body_bytes: int = 1048576

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
        reader = _Reader(environ)
        config = cls(
            database_url=reader.text("DATABASE_URL") or DEFAULT_DATABASE_URL,
            jwt_secret_key=reader.text("APPLICATION_JWT_SECRET_KEY"),
            jwt_previous_secret_keys=reader.csv("APPLICATION_JWT_PREVIOUS_SECRET_KEYS"),
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
            telephony_pin_length=reader.integer(
                "ROOM_TELEPHONY_PIN_LENGTH", 10, minimum=4, maximum=MAX_PIN_LENGTH
            ),
            telephony_phone_number=reader.text("ROOM_TELEPHONY_PHONE_NUMBER"),
            telephony_default_country=reader.text("ROOM_TELEPHONY_DEFAULT_COUNTRY") or "US",
            token_rate_limit=reader.rate("TOKEN_RATE_LIMIT", RateLimit(10, 60)),
            trusted_proxies=reader.networks("TRUSTED_PROXIES"),
            max_body_bytes=reader.integer("MAX_BODY_BYTES", 1048576, minimum=1),
        )
        _check_database_url(config.database_url)
        return config


def _check_database_url(url: str) -> None:
    scheme = url.split(":", 1)[0]
    if scheme not in ("sqlite", "postgres", "postgresql") or "://" not in url:
        raise ConfigError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, got {scheme!r}"
        )
    try:
        _ = urllib.parse.urlsplit(url).port  # a bad port or host would fail at the first query
    except ValueError:
        # The URL itself is not shown: it may hold a password.
        raise ConfigError("DATABASE_URL is not a valid URL (check its host and port)") from None


class _Reader:
    """Parses one environment; every failure names the variable in one line."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {value}")
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
        return tuple(part.strip() for part in (self.text(name) or "").split(",") if part.strip())

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
