"""Column types of Meet's tables, on PostgreSQL as Meet's migrations make them and on SQLite.

Meet's columns are `timestamp with time zone`, `jsonb` and `varchar(50)[]`; SQLite has none of
these, so each field below names an abstract type that each dialect spells
(`Dialect.column_types`, models/storage/dialect.py) and converts values as the bound database's
dialect says.
"""

from __future__ import annotations

import datetime
import json

import peewee

from ..storage.db import dialect

UTC = datetime.timezone.utc


def now() -> datetime.datetime:
    """The current time, timezone-aware in UTC (Django with USE_TZ)."""
    return datetime.datetime.now(UTC)


def storable_text(text: str) -> bool:
    """Text every database stores as it is: PostgreSQL refuses NUL in text, and no driver
    encodes a lone surrogate (JSON's `"\\ud800"`) to UTF-8."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class TimestampField(peewee.Field):
    """`timestamp with time zone`; aware UTC datetimes in Python, text in UTC on SQLite."""

    field_type = "TIMESTAMPTZ"

    def db_value(self, value):
        if not isinstance(value, datetime.datetime):
            return value
        aware = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return dialect().timestamp_value(aware)

    def python_value(self, value):
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        if isinstance(value, datetime.datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value


class _StoredByDialect(peewee.Field):
    """A value whose stored form the dialect decides; None and SQL expressions pass as they are."""

    def db_value(self, value):
        if value is None or isinstance(value, peewee.Node):
            return value
        return self.stored(dialect(), value)


class JSONField(_StoredByDialect):
    """`jsonb` on PostgreSQL (psycopg's Jsonb adapter), JSON text on SQLite."""

    field_type = "JSONB"

    def stored(self, spoken, value):
        return spoken.json_value(value)

    def python_value(self, value):
        return json.loads(value) if isinstance(value, str) else value


class ScopesField(_StoredByDialect):
    """Meet's `varchar(50)[]` of scopes; a JSON list on SQLite. A list in Python."""

    field_type = "SCOPES"

    def stored(self, spoken, value):
        return spoken.scopes_value(value)

    def python_value(self, value):
        if isinstance(value, str):
            return json.loads(value)
        return list(value) if value is not None else None


class UnboundedCharField(peewee.Field):
    """`character varying` without a length (Meet's `pin_code`)."""

    field_type = "UNBOUNDED_VARCHAR"

