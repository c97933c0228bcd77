"""Server-wide values that every process must share, kept in the database."""

import peewee

from ..storage.db import write_transaction
from .base import SideTable
from .fields import TimestampField, now


class ServerSetting(SideTable):
    name = peewee.CharField(max_length=64, primary_key=True)
    value = peewee.TextField()
    updated_at = TimestampField(default=now)

    class Meta:
        table_name = "meet_external_settings"

    @classmethod
    def get_or_set(cls, name: str, make_value) -> str:
        """The stored value, or `make_value()` stored first; the first writer wins."""
        with write_transaction():
            cls.insert(name=name, value=make_value()).on_conflict_ignore().execute()
        return cls.get(cls.name == name).value

    @classmethod
    def put(cls, name: str, value: str) -> None:
        (cls.insert(name=name, value=value, updated_at=now())
         .on_conflict(conflict_target=[cls.name], update={cls.value: value, cls.updated_at: now()})
         .execute())

    @classmethod
    def value_of(cls, name: str) -> str | None:
        row = cls.get_or_none(cls.name == name)
        return row.value if row else None
