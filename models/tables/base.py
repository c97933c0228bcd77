"""The two kinds of table: Meet's own, and the project's side tables (`meet_external_*`)."""

import peewee

from ..refusals import Refusal
from ..storage.db import database
from .fields import now


class MeetTable(peewee.Model):
    """A table of Meet's, written as Meet's Django models write it.

    Django fills every default in Python (the database has none) and stamps
    `updated_at` on every save; `update()` here stamps it too.
    """

    class Meta:
        database = database
        legacy_table_names = False

    @classmethod
    def update(cls, __data=None, **update):
        if "updated_at" in cls._meta.fields:
            update.setdefault("updated_at", now())
        return super().update(__data, **update)

    def save(self, *args, **kwargs):
        if "updated_at" in self._meta.fields:
            # A new row is created and updated at the same instant.
            self.updated_at = self.created_at if kwargs.get("force_insert") else now()
        return super().save(*args, **kwargs)


class SideTable(peewee.Model):
    """The project's own state, beside Meet's tables; never referenced by Meet's code."""

    class Meta:
        database = database
        legacy_table_names = False


class NotFound(Refusal):
    """The object does not exist, or the caller may not know that it does."""

    status = 404
    message = "Not found."
