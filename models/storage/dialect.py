"""What differs between SQLite and PostgreSQL, in one place.

One `Dialect` per kind of database, chosen when the database is bound (`models.db.bind`) and
read through `models.db.dialect()`. The model modules ask it for what they need by name (a
parameter mark, a locking read, a JSON array aggregate, a value as a column stores it) rather
than asking which database this is.
"""

from __future__ import annotations

import datetime
import json

import peewee

_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


class Dialect:
    """The operations and facts that differ between the two databases; PostgreSQL's here."""

    name = "postgresql"
    # The abstract column types of models/tables/fields.py, as Meet's migrations make them.
    column_types = {
        "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE",
        "JSONB": "JSONB",
        "SCOPES": "VARCHAR(50)[]",
        "UNBOUNDED_VARCHAR": "VARCHAR",
    }
    # Two-argument maximum and minimum.
    greatest, least = "GREATEST", "LEAST"
    # A CTE computed once, never inlined into its readers (a plan fence).
    materialized = "MATERIALIZED"
    # The connection is a socket to a server, which may close it while it is idle.
    server_closes_connections = True
    # One statement may insert into several tables (data-modifying CTEs): a room is one round trip.
    data_modifying_ctes = True
    # How an error names a missing table or column, besides its SQLSTATE (models/storage/db.py).
    missing_object_messages: tuple = ()
    # Indexes are built without blocking writers, which leaves an invalid index if interrupted.
    builds_indexes_concurrently = True
    # Meet's foreign keys are deferred to COMMIT; this checks them at each statement instead.
    immediate_constraints: str | None = "SET CONSTRAINTS ALL IMMEDIATE"
    # A lock on a name, held until the transaction ends (its one parameter: the name).
    name_lock: str | None = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

    def param(self, name: str) -> str:
        """The mark of a named parameter in hand-written SQL (bound from a dict)."""
        return f"%({name})s"

    def for_update(self, query: peewee.Select) -> peewee.Select:
        """`query`, its rows locked until the transaction ends."""
        return query.for_update()

    def json_array_agg(self, value: peewee.Node) -> peewee.Node:
        """An aggregate of `value` into one JSON array."""
        return peewee.fn.json_agg(value)

    def use_index(self, name: str) -> str:
        """A hint naming the index a table is read through, after its alias ("": none)."""
        return ""

    def row_by_key_join(self, table: str, alias: str, column: str, key: str) -> str:
        """A LEFT JOIN of `table` AS `alias` on `alias.column = key`, one probe of the key per row.

        LATERAL ... OFFSET 0: as a plain join, a plan made without statistics hashed the
        whole table (models/rooms/pages.py).
        """
        return (f"LEFT JOIN LATERAL (SELECT * FROM {table} {alias}0"
                f" WHERE {alias}0.{column} = {key} OFFSET 0) {alias} ON true")

    def one_of(self, column: peewee.Node) -> peewee.Expression:
        """`column` is in a list bound as one parameter (`list_param`), so that a statement's
        text, and its prepared plan, do not depend on the list's length."""
        return column == peewee.fn.ANY(peewee.Value([], unpack=False))

    def list_param(self, field: peewee.Field, values) -> object:
        """The parameter of `one_of`: UUIDs stay UUIDs, so that psycopg sends a `uuid[]`."""
        return list(values)

    def timestamp_value(self, aware: datetime.datetime) -> object:
        """An aware UTC datetime as a `TIMESTAMPTZ` column takes it."""
        return aware

    def json_value(self, value) -> object:
        """A JSON value as a `JSONB` column takes it (psycopg's Jsonb adapter)."""
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def scopes_value(self, scopes: list) -> object:
        """A list of scopes as a `SCOPES` column takes it (an array)."""
        return list(scopes)


class SqliteDialect(Dialect):
    """SQLite's differences: JSON text for Meet's types, no row locks (its writers take turns,
    models/storage/db.py), nested-loop joins only."""

    name = "sqlite"
    column_types = {
        "TIMESTAMPTZ": "DATETIME",
        "JSONB": "TEXT",
        "SCOPES": "TEXT",
        "UNBOUNDED_VARCHAR": "VARCHAR",
    }
    greatest, least = "MAX", "MIN"
    materialized = ""
    server_closes_connections = False  # the database is a file this process opens
    data_modifying_ctes = False
    missing_object_messages = ("no such table", "no such column")  # SQLite says it in words
    builds_indexes_concurrently = False
    immediate_constraints = None  # checked at COMMIT, inside the write transaction
    name_lock = None  # its writers already run one at a time (models/storage/db.py, write_transaction)

    def param(self, name: str) -> str:
        return f":{name}"

    def for_update(self, query: peewee.Select) -> peewee.Select:
        return query  # no FOR UPDATE: the writers take turns on the whole file

    def json_array_agg(self, value: peewee.Node) -> peewee.Node:
        return peewee.fn.json_group_array(value)

    def use_index(self, name: str) -> str:
        # Without statistics SQLite may prefer another index (models/rooms/pages.py).
        return f"INDEXED BY {name}"

    def row_by_key_join(self, table: str, alias: str, column: str, key: str) -> str:
        # SQLite joins by nested loops only, through the key's index.
        return f"LEFT JOIN {table} {alias} ON {alias}.{column} = {key}"

    def one_of(self, column: peewee.Node) -> peewee.Expression:
        return column.in_(peewee.SQL("(SELECT value FROM json_each(?))", ["[]"]))

    def list_param(self, field: peewee.Field, values) -> object:
        """A JSON array of the values as `field` stores them."""
        return json.dumps([field.db_value(value) for value in values])

    def timestamp_value(self, aware: datetime.datetime) -> object:
        """Text in UTC, which sorts as the times do."""
        return aware.strftime(_SQLITE_TIME)

    def json_value(self, value) -> object:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def scopes_value(self, scopes: list) -> object:
        return json.dumps(list(scopes))


POSTGRESQL, SQLITE = Dialect(), SqliteDialect()
