"""Users: the people applications act for."""

from __future__ import annotations

import re

import peewee

from .base import BaseModel
from .db import database
from .prepared import Prepared

# Close to the usual validators' rule: a dot-atom local part and a domain of
# labels with a letter TLD. Not RFC 5322 in full: quoted local parts are refused.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
MAX_EMAIL_LENGTH = 254


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


class User(BaseModel):
    email = peewee.CharField(max_length=MAX_EMAIL_LENGTH)
    is_active = peewee.BooleanField(default=True)
    # How many rooms the user has an access to, kept by RoomAccess.grant: a
    # list's `count` is read here instead of counting up to 100,000 rows.
    room_count = peewee.IntegerField(default=0)

    class Meta:
        table_name = "meet_users"

    @classmethod
    def by_email(cls, email: str) -> User | None:
        """The user whose email matches, ignoring case."""
        return _BY_EMAIL.first(cls, email)

    @classmethod
    def create_user(cls, email: str, active: bool = True) -> User:
        email = validated_email(email)
        try:
            with database.atomic():
                return cls.create(email=email, is_active=active)
        except peewee.IntegrityError:
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


# Uniqueness ignores case, and it is the database that enforces it.
User.add_index(User.index(peewee.fn.LOWER(User.email), unique=True, name="meet_users_email_ci"))


_BY_EMAIL = Prepared(lambda: User.select().where(peewee.fn.LOWER(User.email) == peewee.fn.LOWER("")))
