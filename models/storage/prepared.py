"""SQL built once per process from a Peewee query, then run with new parameters.

Building a Peewee query costs several times the CPU the database takes to run the hot
statements (`python bench/micro.py` measures both): those (the principal check, a page of
rooms, one room, the token lookups) are rendered once and reused. On PostgreSQL,
psycopg then prepares a statement it has run five times (its `prepare_threshold`),
so the server parses and plans it once per connection.
"""

from __future__ import annotations

from typing import Callable, List, Type

import peewee

from .db import database


class Prepared:
    """A statement rendered from `build()` on first use, per bound database.

    `build` must place its parameters in the order `rows()` receives them,
    already in the database's form (`Field.db_value`).
    """

    def __init__(self, build: Callable[[], peewee.Query]):
        self._build = build
        self._rendered = (None, "")

    def sql(self) -> str:
        owner, sql = self._rendered
        if owner is not database.obj:
            sql, _ = self._build().bind(database.obj).sql()
            self._rendered = (database.obj, sql)
        return sql

    def rows(self, *params) -> List[tuple]:
        return database.execute_sql(self.sql(), params).fetchall()

    def first(self, model: Type[peewee.Model], *params) -> peewee.Model | None:
        """The first row as a model instance, its columns converted by the model's fields."""
        return next(iter(model.raw(self.sql(), *params)), None)


class RowInsert:
    """`INSERT INTO <table> (<columns>) VALUES (...)` for a fixed list of a model's fields.

    Written from the model's metadata rather than rendered by Peewee per row: the
    statement text never changes, only its values (converted by each field's
    `db_value`), and several of them make one room (models/rooms/creation.py).
    """

    def __init__(self, model: Type[peewee.Model], field_names: tuple):
        self.model = model
        self.field_names = field_names

    def sql(self, rows: int = 1) -> str:
        fields = [self.model._meta.fields[name] for name in self.field_names]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        marks = "(" + ", ".join([database.obj.param] * len(fields)) + ")"
        return f'INSERT INTO "{self.model._meta.table_name}" ({columns}) VALUES {", ".join([marks] * rows)}'

    def params(self, row: dict) -> list:
        fields = self.model._meta.fields
        return [fields[name].db_value(row[name]) for name in self.field_names]
