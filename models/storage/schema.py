"""Which database this is, and the tables and indexes the project needs in it.

Three kinds of database are served:
- its own (SQLite by default, or an empty PostgreSQL database): Meet's tables in the
  newest supported layout (core 0022) plus the side tables, all made here;
- a La Suite Meet database (PostgreSQL with `django_migrations` rows of app `core` and a
  `meet_room` table) from core 0015 to core 0022: attached. Meet's migrations own its
  tables; this project adds only its `meet_external_*` side tables and indexes, and
  reads the layout's differences (column names, columns that exist) from the catalog;
- a database of meet-external 0.1 (its own earlier layout): migrated by `init-db`
  (models/storage/upgrade.py), refused by `serve` until then.
"""

from __future__ import annotations

import dataclasses
import re

import peewee

from ..access.credentials import VerifiedSecret
from ..access.introspections import IntrospectionAnswer
from ..access.throttle import TokenFailureWindow
from ..refusals import RETRY_SOON, Refusal
from ..rooms.idempotency import IdempotencyRecord
from ..tables.applications import Application, ApplicationDomain
from ..tables.rooms import Resource, ResourceAccess, Room, RoomCreation
from ..tables.settings import ServerSetting
from ..tables.users import User
from .db import database, dialect

MEET_TABLES = (User, Resource, Room, ResourceAccess, Application, ApplicationDomain)
SIDE_TABLES = (ServerSetting, RoomCreation, IdempotencyRecord, TokenFailureWindow, VerifiedSecret,
               IntrospectionAnswer)
FIRST_MIGRATION, LAST_MIGRATION = 15, 22
SUPPORTED_RANGE = f"core {FIRST_MIGRATION:04d} to core {LAST_MIGRATION:04d}"
LEGACY_TABLES = ("meet_users", "meet_applications", "meet_rooms", "meet_room_accesses")
# The project's own indexes on Meet's tables: (name, table, column expressions).
INDEXES = (
    ("meet_external_user_email_lower", "meet_user", "lower(email)"),
    ("meet_external_resource_created", "meet_resource", "created_at, id"),
    # A room's creation time by its id, from the index alone (models/rooms/pages.py).
    ("meet_external_resource_id_created", "meet_resource", "id, created_at"),
)


class SchemaError(Exception):
    """The database cannot be served as it is; the message is one line for the operator."""


class LayoutChanged(Refusal):
    """The database's layout is no longer the one this process started with (Meet migrated)."""

    status = 503
    message = ("The database's layout changed since this server started (La Suite Meet was "
               "migrated): restart meet-external.")
    headers = RETRY_SOON
    logged_as = "database layout changed since start-up"


@dataclasses.dataclass(frozen=True)
class Layout:
    kind: str  # "own", "empty", "attached" or "legacy"
    migration: str | None = None  # attached: the newest `core` migration applied
    application_active_column: str = "is_active"
    user_room_defaults: bool = True  # meet_user.default_room_* (core 0022)

    @property
    def owns_meet_tables(self) -> bool:
        return self.kind in ("own", "empty")

    def describe(self) -> str:
        if self.kind == "attached":
            return f"La Suite Meet database at migration core {self.migration}"
        return {"own": "meet-external's own database", "empty": "empty database",
                "legacy": "meet-external 0.1 database"}[self.kind]


OWN = Layout("own")


def inspect() -> Layout:
    """Read what kind of database this is; refuse, in one line, what cannot be served."""
    tables = set(database.get_tables())
    if "django_migrations" in tables and "meet_room" in tables:
        return _attached_layout()
    if ServerSetting._meta.table_name in tables:  # made only by this project
        return OWN
    if all(name in tables for name in LEGACY_TABLES):
        return Layout("legacy")
    if tables & {model._meta.table_name for model in MEET_TABLES}:
        raise SchemaError("the database has meet_* tables but no django_migrations rows and no "
                          "meet-external settings: not a La Suite Meet database this server knows")
    return Layout("empty")


def _attached_layout() -> Layout:
    names = [name for (name,) in database.execute_sql(
        "SELECT name FROM django_migrations WHERE app = 'core'").fetchall()]
    numbered = sorted((int(match.group(1)), name) for name in names
                      if (match := re.match(r"^(\d{4})_", name)))
    if not numbered:
        raise SchemaError("the database has a django_migrations table but no migration of app "
                          f"core: not a La Suite Meet database (supported: {SUPPORTED_RANGE})")
    number, name = numbered[-1]
    if not FIRST_MIGRATION <= number <= LAST_MIGRATION:
        raise SchemaError(f"this La Suite Meet database is at migration core {name}; "
                          f"meet-external supports {SUPPORTED_RANGE}")
    application = {column.name for column in database.get_columns("meet_application")}
    user = {column.name for column in database.get_columns("meet_user")}
    return Layout(
        "attached", migration=name,
        application_active_column="is_active" if "is_active" in application else "active",
        user_room_defaults="default_room_configuration" in user,
    )


_ORIGINAL_FIELDS = {
    name: User._meta.fields[name] for name in ("default_room_access_level", "default_room_configuration")
}


def adapt_models(layout: Layout) -> None:
    """Map the models onto this layout's columns (per process, before any statement is built)."""
    active = Application._meta.fields["is_active"]
    if active.column_name != layout.application_active_column:
        Application._meta.add_field("is_active", peewee.BooleanField(
            default=True, column_name=layout.application_active_column))
    for name, field in _ORIGINAL_FIELDS.items():
        if layout.user_room_defaults and name not in User._meta.fields:
            User._meta.add_field(name, field)
        elif not layout.user_room_defaults and name in User._meta.fields:
            User._meta.remove_field(name)


def open_schema() -> Layout:
    """Detect the layout and adapt the models to it: every process does this at start-up."""
    with database.connection_context():
        layout = inspect()
    adapt_models(OWN if layout.owns_meet_tables else layout)
    return layout


def require_same_layout(started_with: Layout) -> None:
    """For the probes: a Meet migration since start-up changes the columns the statements name."""
    current = inspect()
    if current != started_with and not (started_with.owns_meet_tables and current.kind == "own"):
        raise LayoutChanged(f"{started_with.describe()} at start-up, {current.describe()} now")


def require_servable(layout: Layout) -> None:
    if layout.kind == "legacy":
        raise SchemaError("this database is in meet-external 0.1's layout: run "
                          "`meet-external init-db` to migrate it to La Suite Meet's tables")


def ensure_schema(layout: Layout) -> Layout:
    """Create what is missing: Meet's tables only in a database of our own, never in Meet's."""
    with database.connection_context():
        if layout.kind == "legacy":
            from .upgrade import upgrade_legacy

            upgrade_legacy(lambda: database.create_tables(MEET_TABLES + SIDE_TABLES, safe=True))
        elif layout.owns_meet_tables:
            database.create_tables(MEET_TABLES, safe=True)
        database.create_tables(SIDE_TABLES, safe=True)
        for name, table, columns in INDEXES:
            _create_index(name, table, columns)
    return OWN if layout.kind in ("empty", "legacy") else layout


def _create_index(name: str, table: str, columns: str) -> None:
    if not dialect().builds_indexes_concurrently:
        database.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({columns})')
        return
    # On a live Meet database the index is built without blocking Meet's writes; a
    # build that was interrupted leaves an invalid index, rebuilt here.
    invalid = database.execute_sql(
        "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = %s AND NOT i.indisvalid", (name,)).fetchone()
    if invalid:
        database.execute_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')
    database.execute_sql(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{name}" ON "{table}" ({columns})')
