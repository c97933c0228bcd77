"""Applications: the outside clients that act for users, in Meet's `meet_application` tables."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import Iterable, List, Tuple

import peewee

from ..access.credentials import make_secret_hash
from ..storage.db import database, dialect, write_transaction
from ..storage.prepared import Prepared
from .base import MeetTable
from .fields import ScopesField, TimestampField, now, storable_text

# The scopes of the file's operations; the two "coming soon" ones of Meet's
# ApplicationScope, and rooms:grant-access (Meet's pull request #1682), are granted
# only when asked for (docs/operators.md).
DEFAULT_SCOPES = ("rooms:list", "rooms:retrieve", "rooms:create")
KNOWN_SCOPES = DEFAULT_SCOPES + ("rooms:update", "rooms:delete", "rooms:grant-access")
MAX_CLIENT_ID_LENGTH = 100  # meet_application.client_id
_ALPHABET = string.ascii_letters + string.digits
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


class UnknownScope(ValueError):
    """A scope Meet's applications cannot hold."""


class LastScope(ValueError):
    """A change that would leave an application no scope, and so no use for a token."""


class InvalidDomain(ValueError):
    """Not a DNS domain name."""


class UnknownApplication(LookupError):
    """No application has that client_id."""


def validated_scopes(scopes: Iterable[str], default: Tuple[str, ...] = DEFAULT_SCOPES) -> Tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes)) or default
    unknown = [scope for scope in chosen if scope not in KNOWN_SCOPES]
    if unknown:
        raise UnknownScope(f"unknown scope {unknown[0]!r} (known: {', '.join(KNOWN_SCOPES)})")
    return chosen


def validated_domain(domain: str) -> str:
    """Lower-cased and stripped, as Meet's ApplicationDomain.save() stores it.

    One final dot (the DNS root: `example.com.`) is dropped only when it ends the value;
    `example.com..` or `example.com. ` are refused, not cleaned (docs/contract-decisions.md).
    """
    name = domain.strip().lower()
    if domain.endswith("."):
        name = name[:-1]
    if not _DOMAIN.fullmatch(name):  # fullmatch: `$` alone would let a final newline through
        raise InvalidDomain(domain)
    return name


class Application(MeetTable):
    """`meet_application`; `is_active` is the column `active` before core 0018."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = TimestampField(default=now)
    updated_at = TimestampField(default=now)
    name = peewee.CharField(max_length=255)
    is_active = peewee.BooleanField(default=True)
    client_id = peewee.CharField(max_length=MAX_CLIENT_ID_LENGTH, unique=True)
    # A Django password hash of the secret (models/access/credentials.py); never the secret.
    client_secret = peewee.CharField(max_length=255)
    scopes = ScopesField(default=list)

    class Meta:
        table_name = "meet_application"

    @property
    def scope_string(self) -> str:
        """The token's `scope` claim: the application's scopes, space-separated, as Meet joins them."""
        return " ".join(self.scopes or [])

    @property
    def domain_list(self) -> List[str]:
        return [domain for (domain,) in _DOMAINS.rows(ApplicationDomain.application.db_value(self.id))]

    @classmethod
    def register(cls, name: str, scopes: Iterable[str] = (), domains: Iterable[str] = (),
                 client_id_length: int = 40, client_secret_length: int = 128) -> Tuple[Application, str]:
        """Create an application as Meet's admin would; returns it with its secret, never stored."""
        chosen = validated_scopes(scopes)
        clean_domains = sorted({validated_domain(d) for d in domains})
        secret = random_string(client_secret_length)
        with database.atomic():
            app = cls.create(name=name, client_id=random_string(client_id_length),
                             client_secret=make_secret_hash(secret), scopes=list(chosen))
            for domain in clean_domains:
                ApplicationDomain.create(application=app, domain=domain)
        return app, secret

    @classmethod
    def find(cls, client_id: str) -> Application | None:
        if not could_be_client_id(client_id):
            return None
        return cls.get_or_none(cls.client_id == client_id)

    @classmethod
    def by_client_id(cls, client_id: str) -> Application:
        app = cls.find(client_id)
        if app is None:
            raise UnknownApplication(client_id)
        return app

    def rotate_secret(self, length: int = 128) -> str:
        """A new secret; the old one, and its cached verification, stop working."""
        secret = random_string(length)
        self._set(client_secret=make_secret_hash(secret))
        return secret

    def set_active(self, active: bool) -> None:
        self._set(is_active=active)

    def set_scopes(self, scopes: Iterable[str]) -> None:
        self._set(scopes=list(validated_scopes(scopes, default=())))

    def grant_scope(self, scope: str) -> List[str]:
        """After those held, so the token's `scope` claim keeps their order; returns the scopes held."""
        validated_scopes([scope], default=())
        return self._change_scopes(lambda held: held if scope in held else held + [scope])

    def revoke_scope(self, scope: str) -> List[str]:
        """Never the last one: a token without a scope could call nothing. Returns the scopes held."""
        validated_scopes([scope], default=())

        def without(held: List[str]) -> List[str]:
            remaining = [s for s in held if s != scope]
            if held and not remaining:
                raise LastScope("an application needs at least one scope")
            return remaining

        return self._change_scopes(without)

    def _change_scopes(self, change) -> List[str]:
        """Change the stored list as it is now, its row locked: two operators granting at once
        each keep the other's scope, and the scopes only Meet knows stay as they are."""
        with write_transaction():
            query = Application.select(Application.scopes).where(Application.id == self.id)
            row = dialect().for_update(query).get_or_none()
            if row is None:
                raise UnknownApplication(self.client_id)
            held = list(row.scopes or [])
            changed = change(held)
            if changed != held:
                self._set(scopes=changed)
        self.scopes = changed
        return changed

    def _set(self, **columns) -> None:
        """Change only these columns: Meet's admin may be editing the others."""
        Application.update(**columns).where(Application.id == self.id).execute()
        for name, value in columns.items():
            setattr(self, name, value)

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
            "scopes": list(self.scopes or []),
            "domains": self.domain_list,
            "active": self.is_active,
        }


class ApplicationDomain(MeetTable):
    """`meet_application_domain`: an email domain the application may act for."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = TimestampField(default=now)
    updated_at = TimestampField(default=now)
    domain = peewee.CharField(max_length=253)
    application = peewee.ForeignKeyField(Application, backref="domains",
                                         deferrable="INITIALLY DEFERRED")

    class Meta:
        table_name = "meet_application_domain"
        indexes = ((("application", "domain"), True),)


def could_be_client_id(text: str) -> bool:
    """False for text no client_id holds and a driver would refuse (NUL, lone surrogates)."""
    return storable_text(text)


def random_string(length: int) -> str:
    """Letters and digits from `secrets`: client ids and client secrets alike (Meet's generator)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


_DOMAINS = Prepared(lambda: (
    ApplicationDomain.select(ApplicationDomain.domain)
    .where(ApplicationDomain.application == uuid.UUID(int=0))
    .order_by(ApplicationDomain.domain)
))
