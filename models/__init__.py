"""Peewee models and the rules of the data."""

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
    """Create missing tables and indexes; existing ones are left as they are."""
    with database.connection_context():
        database.create_tables(ALL_MODELS, safe=True)


__all__ = [
    "ALL_MODELS", "Application", "ApplicationDomain", "IdempotencyRecord", "NotFound", "Room", "RoomAccess",
    "RoomCreation", "ServerSetting", "TokenFailureWindow", "User", "bind", "create_tables", "database",
]
