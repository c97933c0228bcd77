"""Server-wide values that every process must share, kept in the database."""

import peewee

from .base import BaseModel
from .db import database


class ServerSetting(BaseModel):
    name = peewee.CharField(max_length=64, unique=True)
    value = peewee.TextField()

    class Meta:
        table_name = "meet_server_settings"

    @classmethod
    def get_or_set(cls, name: str, make_value) -> str:
        """The stored value, or `make_value()` stored first; the first writer wins."""
        with database.atomic():
            cls.insert(name=name, value=make_value()).on_conflict_ignore().execute()
        return cls.get(cls.name == name).value
