"""Applications: the outside clients that act for users, and their credentials."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import uuid
from typing import Iterable, List, Tuple

import peewee

from .base import BaseModel
from .db import database
from .prepared import Prepared

IMPLEMENTED_SCOPES = ("rooms:list", "rooms:retrieve", "rooms:create")
_ALPHABET = string.ascii_letters + string.digits
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class UnknownScope(ValueError):
    """A scope this server does not implement."""


class InvalidDomain(ValueError):
    """Not a DNS domain name."""


class UnknownApplication(LookupError):
    """No application has that client_id."""


def hash_secret(secret: str) -> str:
    """One-way hash of a client secret.

    Secrets are 128 random characters from `secrets`, not passwords: no
    dictionary or brute force can reach them, so a slow KDF would only buy
    latency (the reference spends ~500 ms in PBKDF2 per token). SHA-256 keeps
    a leaked table useless and lets the endpoint answer in microseconds.
    """
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


# Compared against when the client_id is unknown, so both failures cost the same.
_DECOY_HASH = hash_secret(secrets.token_urlsafe(32))


def validated_scopes(scopes: Iterable[str]) -> Tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes)) or IMPLEMENTED_SCOPES
    unknown = [scope for scope in chosen if scope not in IMPLEMENTED_SCOPES]
    if unknown:
        raise UnknownScope(
            f"unknown scope {unknown[0]!r} (known: {', '.join(IMPLEMENTED_SCOPES)})"
        )
    return chosen


def validated_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    if not _DOMAIN.match(domain):
        raise InvalidDomain(domain)
    return domain


class Application(BaseModel):
    name = peewee.CharField(max_length=255)
    client_id = peewee.CharField(max_length=255, unique=True)
    client_secret_hash = peewee.CharField(max_length=64)
    scopes = peewee.CharField(max_length=255)  # space-separated, as the token carries them
    is_active = peewee.BooleanField(default=True)

    class Meta:
        table_name = "meet_applications"

    @property
    def scope_list(self) -> List[str]:
        return self.scopes.split()

    @property
    def domain_list(self) -> List[str]:
        return [domain for (domain,) in _DOMAINS.rows(ApplicationDomain.application.db_value(self.id))]

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.client_secret_hash, hash_secret(secret))

    def authorizes_email_domain(self, domain: str) -> bool:
        """True when the application has no domain list, or the domain is on it."""
        allowed = self.domain_list
        return not allowed or domain.lower() in allowed

    @classmethod
    def register(
        cls,
        name: str,
        scopes: Iterable[str] = (),
        domains: Iterable[str] = (),
        client_id_length: int = 40,
        client_secret_length: int = 128,
    ) -> Tuple[Application, str]:
        """Create an application; returns it with its secret, which is never stored."""
        chosen = validated_scopes(scopes)
        clean_domains = sorted({validated_domain(d) for d in domains})
        secret = random_string(client_secret_length)
        with database.atomic():
            app = cls.create(
                name=name,
                client_id=random_string(client_id_length),
                client_secret_hash=hash_secret(secret),
                scopes=" ".join(chosen),
            )
            for domain in clean_domains:
                ApplicationDomain.create(application=app, domain=domain)
        return app, secret

    @classmethod
    def find(cls, client_id: str) -> Application | None:
        """The application with this client_id, if any.

        No client_id holds a NUL character or a lone surrogate (valid JSON
        escapes both), and the database drivers refuse them in a query, so such
        a value is answered here rather than by the database.
        """
        if not could_be_client_id(client_id):
            return None
        return _BY_CLIENT_ID.first(cls, client_id)

    @classmethod
    def by_client_id(cls, client_id: str) -> Application:
        app = cls.find(client_id)
        if app is None:
            raise UnknownApplication(client_id)
        return app

    @classmethod
    def authenticate(cls, client_id: str, secret: str) -> Application | None:
        """The application if the secret is its own, else None, in constant time either way."""
        app = cls.find(client_id)
        expected = app.client_secret_hash if app is not None else _DECOY_HASH
        if hmac.compare_digest(expected, hash_secret(secret)) and app is not None:
            return app
        return None

    def rotate_secret(self, length: int = 128) -> str:
        secret = random_string(length)
        self.client_secret_hash = hash_secret(secret)
        self.save()
        return secret

    def set_active(self, active: bool) -> None:
        self.is_active = active
        self.save()

    def add_domain(self, domain: str) -> None:
        row = {"application": self, "domain": validated_domain(domain)}
        ApplicationDomain.insert(row).on_conflict_ignore().execute()

    def remove_domain(self, domain: str) -> None:
        ApplicationDomain.delete().where(
            (ApplicationDomain.application == self)
            & (ApplicationDomain.domain == validated_domain(domain))
        ).execute()

    def as_public_dict(self) -> dict:
        """Everything an operator may see; never the secret or its hash."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "scopes": self.scope_list,
            "domains": self.domain_list,
            "active": self.is_active,
        }


class ApplicationDomain(BaseModel):
    application = peewee.ForeignKeyField(Application, backref="domains", on_delete="CASCADE")
    domain = peewee.CharField(max_length=253)

    class Meta:
        table_name = "meet_application_domains"
        indexes = ((("application", "domain"), True),)


_BY_CLIENT_ID = Prepared(lambda: Application.select().where(Application.client_id == ""))
_DOMAINS = Prepared(lambda: (
    ApplicationDomain.select(ApplicationDomain.domain)
    .where(ApplicationDomain.application == uuid.UUID(int=0))
    .order_by(ApplicationDomain.domain)
))


def could_be_client_id(text: str) -> bool:
    """False for text no client_id holds and a driver would refuse (NUL, lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def random_string(length: int) -> str:
    """Letters and digits from `secrets`: client ids and client secrets alike."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
