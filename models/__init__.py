"""Peewee models of La Suite Meet's tables, the project's side tables, and the rules of the data."""

from .access.throttle import TokenFailureWindow
from .rooms.idempotency import IdempotencyRecord
from .storage.db import bind, database
from .storage.schema import MEET_TABLES, SIDE_TABLES, Layout, SchemaError, ensure_schema, open_schema
from .tables.applications import Application, ApplicationDomain
from .tables.base import NotFound
from .tables.rooms import Resource, ResourceAccess, Room, RoomCreation
from .tables.settings import ServerSetting
from .tables.users import User

ALL_MODELS = MEET_TABLES + SIDE_TABLES


def open_database(url: str) -> Layout:
    """Bind the models to `url` and to its layout (no table is created)."""
    bind(url)
    return open_schema()


def create_tables() -> Layout:
    """Create what the database is missing for this server (see models/storage/schema.py)."""
    return ensure_schema(open_schema())


__all__ = [
    "ALL_MODELS", "Application", "ApplicationDomain", "IdempotencyRecord", "Layout", "NotFound",
    "Resource", "ResourceAccess", "Room", "RoomCreation", "SchemaError", "ServerSetting",
    "TokenFailureWindow", "User", "bind", "create_tables", "database", "open_database",
]
