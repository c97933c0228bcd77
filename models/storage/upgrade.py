"""`init-db` on a database of meet-external 0.1: its rows moved into Meet's tables, in place.

0.1 kept its own tables (`meet_users`, `meet_applications`, `meet_rooms`,
`meet_room_accesses`, ...). Every row is copied into La Suite Meet's layout
and the project's side tables, in one transaction, then the old tables are
dropped: a failure leaves the database as it was. Secrets stay hashed as 0.1
hashed them (SHA-256, under the `meet_external_sha256` format name): they keep
working, and `applications rotate-secret` replaces them with Django's format.
"""

from __future__ import annotations

from typing import Iterator

from ..access.credentials import LEGACY_SHA256
from ..access.throttle import TokenFailureWindow
from ..rooms.idempotency import IdempotencyRecord
from ..tables.applications import Application, ApplicationDomain
from ..tables.rooms import Resource, ResourceAccess, Room, RoomCreation
from ..tables.settings import ServerSetting
from ..tables.users import User, unusable_password
from .db import database, write_transaction

BATCH = 500
LEGACY_TABLES = (
    "meet_idempotency_records", "meet_room_creations", "meet_room_accesses", "meet_rooms",
    "meet_application_domains", "meet_applications", "meet_server_settings",
    "meet_token_failure_windows", "meet_users",
)


def upgrade_legacy(create_tables) -> dict:
    """Move every 0.1 row into Meet's layout; returns the rows copied, by 0.1 table."""
    copied = {}
    with write_transaction():
        create_tables()
        for table, model, convert in _COPIES:
            copied[table] = _copy(table, model, convert)
        for table in LEGACY_TABLES:
            database.execute_sql(f'DROP TABLE "{table}"')
    return copied


def _rows(table: str) -> Iterator[dict]:
    cursor = database.execute_sql(f'SELECT * FROM "{table}"')
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def _copy(table: str, model, convert) -> int:
    """Copy one 0.1 table; returns how many of its rows were read."""
    batch, count = [], 0
    for row in _rows(table):
        batch.extend(convert(row))
        count += 1
        if len(batch) >= BATCH:
            _insert(model, batch)
            batch = []
    if batch:
        _insert(model, batch)
    return count


def _insert(model, rows: list) -> None:
    """Insert a batch, many rows a statement; a row may name another model (`__model__`)."""
    by_model: dict = {}
    for entry in rows:
        by_model.setdefault(entry.pop("__model__", model), []).append(entry)
    for entry_model, entries in by_model.items():  # in first-seen order: parents first
        entry_model.insert_many(entries).execute()


def _user(row: dict) -> list:
    return [{"password": unusable_password(), "is_superuser": False, "id": row["id"],
             "created_at": row["created_at"], "updated_at": row["created_at"], "sub": None,
             "email": row["email"], "admin_email": None, "language": "en-us", "timezone": "UTC",
             "is_device": False, "is_staff": False, "is_active": bool(row["is_active"]),
             "full_name": None, "short_name": None, "default_room_access_level": None,
             "default_room_configuration": {}}]


def _application(row: dict) -> list:
    return [{"id": row["id"], "created_at": row["created_at"], "updated_at": row["created_at"],
             "name": row["name"], "is_active": bool(row["is_active"]), "client_id": row["client_id"],
             "client_secret": f"{LEGACY_SHA256}${row['client_secret_hash']}",
             "scopes": row["scopes"].split()}]


def _domain(row: dict) -> list:
    return [{"id": row["id"], "created_at": row["created_at"], "updated_at": row["created_at"],
             "domain": row["domain"], "application": row["application_id"]}]


def _room(row: dict) -> list:
    return [
        {"__model__": Resource, "id": row["id"], "created_at": row["created_at"],
         "updated_at": row["created_at"]},
        {"__model__": Room, "name": row["slug"], "resource": row["id"], "slug": row["slug"],
         "configuration": {}, "access_level": row["access_level"], "pin_code": row["pin_code"]},
    ]


def _access(row: dict) -> list:
    return [{"id": row["id"], "created_at": row["created_at"], "updated_at": row["created_at"],
             "role": row["role"], "resource": row["room_id"], "user": row["user_id"]}]


def _creation(row: dict) -> list:
    return [{"room_id": row["room_id"], "user_id": row["user_id"], "client_id": row["client_id"],
             "created_at": row["created_at"]}]


def _idempotency(row: dict) -> list:
    return [{"id": row["id"], "client_id": row["client_id"], "user_id": row["user_id"],
             "key": row["key"], "fingerprint": row["fingerprint"], "room_id": row["room_id"],
             "started_at": row["started_at"], "created_at": row["created_at"]}]


def _setting(row: dict) -> list:
    return [{"name": row["name"], "value": row["value"], "updated_at": row["created_at"]}]


def _failure_window(row: dict) -> list:
    return [{"client_address": row["client_address"], "client_key": row["client_key"],
             "window_start": row["window_start"], "failures": row["failures"]}]


# In dependency order: users and applications before what points at them.
_COPIES = (
    ("meet_users", User, _user),
    ("meet_applications", Application, _application),
    ("meet_application_domains", ApplicationDomain, _domain),
    ("meet_rooms", Resource, _room),
    ("meet_room_accesses", ResourceAccess, _access),
    ("meet_room_creations", RoomCreation, _creation),
    ("meet_idempotency_records", IdempotencyRecord, _idempotency),
    ("meet_server_settings", ServerSetting, _setting),
    ("meet_token_failure_windows", TokenFailureWindow, _failure_window),
)
