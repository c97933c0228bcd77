"""Peewee models and the rules of the data."""

from peewee import fn

from .applications import Application, ApplicationDomain
from .base import NotFound
from .db import bind, database
from .idempotency import IdempotencyRecord
from .rooms import Room, RoomAccess, RoomCreation
from .settings import ServerSetting
from .throttle import TokenFailureWindow
from .users import User

ALL_MODELS = (
    User, Application, ApplicationDomain, Room, RoomAccess, RoomCreation, ServerSetting,
    IdempotencyRecord, TokenFailureWindow,
)


def create_tables() -> None:
    """Create missing tables, indexes and columns; existing data is kept."""
    with database.connection_context():
        database.create_tables(ALL_MODELS, safe=True)
        add_missing_columns()


def add_missing_columns() -> None:
    """Columns added to a table after it was first created (no migration tool needed yet)."""
    present = {column.name for column in database.get_columns(User._meta.table_name)}
    if "room_count" not in present:
        # Plain ADD COLUMN: Peewee's SQLite migrator would rebuild the table, and
        # dropping the old one cascades to every room access.
        with database.atomic():
            database.execute_sql(
                f'ALTER TABLE "{User._meta.table_name}" ADD COLUMN room_count INTEGER NOT NULL DEFAULT 0')
            recount_rooms()


def recount_rooms() -> None:
    """Set every user's room_count from their accesses (after any change made outside the API)."""
    accesses = RoomAccess.select(fn.COUNT(RoomAccess.id)).where(RoomAccess.user == User.id)
    User.update(room_count=accesses).execute()


__all__ = [
    "ALL_MODELS", "Application", "ApplicationDomain", "IdempotencyRecord", "NotFound", "Room", "RoomAccess",
    "RoomCreation", "ServerSetting", "TokenFailureWindow", "User", "bind", "create_tables", "database",
    "recount_rooms",
]
