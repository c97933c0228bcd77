"""Users: the people applications act for, in Meet's `meet_user` table."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import Dict, Iterable, Tuple

import peewee

from ..storage.db import dialect, lock_name, write_transaction
from ..storage.prepared import Prepared
from .base import MeetTable
from .fields import JSONField, TimestampField, now

# Close to the usual validators' rule: a dot-atom local part and a domain of
# labels with a letter TLD, or an IDNA one (`xn--...`). Not RFC 5322 in full: quoted
# local parts are refused.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})$"
)
MAX_EMAIL_LENGTH = 254
# Django's `set_unusable_password()`: "!" and 40 random letters and digits.
_UNUSABLE_ALPHABET = string.ascii_letters + string.digits


class InvalidEmail(ValueError):
    """Not an email address this service accepts."""


class DuplicateEmail(ValueError):
    """A user with that email (compared case-insensitively) exists."""


def validated_email(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_EMAIL_LENGTH or not _EMAIL.match(value):
        raise InvalidEmail(value)
    return value


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower()


def unusable_password() -> str:
    return "!" + "".join(secrets.choice(_UNUSABLE_ALPHABET) for _ in range(40))


class User(MeetTable):
    """`meet_user`, columns in Meet's order; the last two exist from core 0022 on."""

    password = peewee.CharField(max_length=128, default=unusable_password)
    last_login = TimestampField(null=True)
    is_superuser = peewee.BooleanField(default=False)
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = TimestampField(default=now)
    updated_at = TimestampField(default=now)
    # Set by Meet at the person's first OIDC login; null for users provisioned by email.
    sub = peewee.CharField(max_length=255, unique=True, null=True)
    email = peewee.CharField(max_length=MAX_EMAIL_LENGTH, null=True)
    admin_email = peewee.CharField(max_length=254, unique=True, null=True)
    language = peewee.CharField(max_length=10, default="en-us")
    timezone = peewee.CharField(max_length=63, default="UTC")
    is_device = peewee.BooleanField(default=False)
    is_staff = peewee.BooleanField(default=False)
    is_active = peewee.BooleanField(default=True)
    full_name = peewee.CharField(max_length=100, null=True)
    short_name = peewee.CharField(max_length=100, null=True)
    default_room_access_level = peewee.CharField(max_length=50, null=True)
    default_room_configuration = JSONField(default=dict)

    class Meta:
        table_name = "meet_user"

    @classmethod
    def by_email(cls, email: str) -> User | None:
        """The user whose email matches, ignoring case.

        Meet allows one email on several users (one per OIDC `sub`, and before
        core 0019 any number): the one the person logs in with (a `sub`) wins,
        then the oldest.
        """
        return _BY_EMAIL.first(cls, email)

    @classmethod
    def ids_by_emails(cls, emails: Iterable[str]) -> Dict[str, Tuple[uuid.UUID, str]]:
        """by_email for many emails in one statement: lower-cased email -> (id, email as stored)."""
        lowered = sorted({email.lower() for email in emails})
        found: Dict[str, Tuple[uuid.UUID, str]] = {}
        if lowered:
            for user_id, email in _BY_EMAILS.rows(dialect().list_param(User.email, lowered)):
                found.setdefault(email.lower(), (User.id.python_value(user_id), email))
        return found

    @classmethod
    def create_user(cls, email: str, active: bool = True) -> User:
        """A user as Meet provisions one: no `sub` (linked at first OIDC login), unusable password."""
        email = validated_email(email)
        with write_transaction():
            lock_name(f"meet_user:{email.lower()}")
            if cls.by_email(email) is not None:
                raise DuplicateEmail(email)
            try:
                with cls._meta.database.atomic():
                    return cls.create(email=email, is_active=active)
            except peewee.IntegrityError:  # Meet's own unique index, raced by Meet's code
                raise DuplicateEmail(email) from None

    @classmethod
    def get_or_create_provisional(cls, email: str) -> User:
        """The user with this email, created active if missing (APPLICATION_ALLOW_USER_CREATION)."""
        user = cls.by_email(email)
        if user is not None:
            return user
        try:
            return cls.create_user(email)
        except DuplicateEmail:  # another request created it first
            return cls.by_email(email)

    def set_active(self, active: bool) -> None:
        User.update(is_active=active).where(User.id == self.id).execute()
        self.is_active = active


# Meet's unique index (core 0019 on), made with the table in a database of our own.
User.add_index(User.index(peewee.fn.LOWER(User.email), unique=True, where=User.sub.is_null(),
                          name="unique_email_when_sub_is_null"))

# Of several users with one email, the one the person logs in with (a `sub`), then the oldest.
_PREFERRED_FIRST = (User.sub.is_null(), User.created_at, User.id)
# The project's own index (models/storage/schema.py) serves these lookups on every Meet version.
_BY_EMAIL = Prepared(lambda: (
    User.select()
    .where(peewee.fn.LOWER(User.email) == peewee.fn.LOWER(""))
    .order_by(*_PREFERRED_FIRST)
))
_BY_EMAILS = Prepared(lambda: (
    User.select(User.id, User.email).where(dialect().one_of(peewee.fn.LOWER(User.email)))
    .order_by(*_PREFERRED_FIRST)
))
