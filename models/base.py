"""The base model and the shared column conventions."""

import datetime
import uuid

import peewee

from .db import database


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class BaseModel(peewee.Model):
    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        database = database
        legacy_table_names = False


class NotFound(Exception):
    """The object does not exist, or the caller may not know that it does."""
