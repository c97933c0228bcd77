"""How a room is made: a free slug and PIN, and Meet's three rows written together."""

from __future__ import annotations

import dataclasses
import secrets
import string
import uuid
from typing import Iterable, List

import peewee

from ..refusals import Refusal
from ..storage.db import database, dialect, write_transaction
from ..storage.prepared import RowInsert
from ..tables.fields import now
from ..tables.rooms import OWNER, Resource, ResourceAccess, Room, RoomCreation
from .policy import RoomPolicy
from .views import RoomView

SLUG_GROUPS = (3, 4, 3)
# Collisions are rare (26^10 slugs); a few retries absorb them, and running
# out means the PIN space is nearly full, which the caller reports as 503.
CREATE_ATTEMPTS = 8


class RoomAllocationFailed(Refusal):
    """No free slug or PIN was found; nothing was stored.

    Every insert was refused as a duplicate: a full PIN space, or a constraint of the
    database's that is not about slugs.
    """

    status = 503
    message = "Could not allocate a unique room slug or PIN; try again."
    headers = {"Retry-After": "1"}
    logged_as = "no room stored: every slug or PIN tried was refused as a duplicate"


def new_slug() -> str:
    """Three groups of lowercase letters, `xxx-xxxx-xxx` (Meet's generate_room_slug)."""
    return "-".join(
        "".join(secrets.choice(string.ascii_lowercase) for _ in range(size))
        for size in SLUG_GROUPS
    )


def new_pin(length: int) -> str:
    """Meet's PIN: a uniform random number of `length` digits, zero-padded."""
    return str(secrets.randbelow(10 ** length)).zfill(length)

_ROOM_ROWS = (
    RowInsert(Resource, ("id", "created_at", "updated_at")),
    RowInsert(Room, ("name", "resource", "slug", "configuration", "access_level", "pin_code")),
    RowInsert(ResourceAccess, ("id", "created_at", "updated_at", "role", "resource", "user")),
    RowInsert(RoomCreation, ("room_id", "user_id", "client_id", "created_at")),
)


@dataclasses.dataclass(frozen=True)
class NewRoom:
    """What a create asks for: the owner, the application, and the room's settings."""

    owner_id: uuid.UUID
    client_id: str
    access_level: str
    configuration: dict

    def rows(self, policy: RoomPolicy) -> List[dict]:
        """The four rows of one room, as Meet's models would fill them, in insert order."""
        room_id, stamp, slug = uuid.uuid4(), now(), new_slug()
        pin = new_pin(policy.pin_length) if policy.allocates_pins else None
        return [
            {"id": room_id, "created_at": stamp, "updated_at": stamp},
            {"name": slug, "resource": room_id, "slug": slug, "configuration": self.configuration,
             "access_level": self.access_level, "pin_code": pin},
            {"id": uuid.uuid4(), "created_at": stamp, "updated_at": stamp, "role": OWNER,
             "resource": room_id, "user": self.owner_id},
            {"room_id": room_id, "user_id": self.owner_id, "client_id": self.client_id,
             "created_at": stamp},
        ]


def create_room(new: NewRoom, policy: RoomPolicy, also: Iterable = ()) -> RoomView:
    """Store a room, its owner's access and its audit record, all or nothing.

    `also` holds more (sql, params) statements for the same transaction (the
    idempotency record is finished there, so a stored room and its replay record
    never disagree). On PostgreSQL it is all one statement (data-modifying CTEs),
    so one round trip; a slug or PIN collision fails it whole and is retried.
    """
    also = list(also)
    for _ in range(CREATE_ATTEMPTS):
        rows = new.rows(policy)
        statements = [(insert.sql(), insert.params(row))
                      for insert, row in zip(_ROOM_ROWS, rows, strict=True)]
        try:
            _run_together(statements + [statement(rows[0]["id"]) for statement in also])
        except peewee.IntegrityError:
            continue
        room = rows[1]
        return RoomView(room["resource"], room["slug"], room["access_level"], room["pin_code"],
                        room["configuration"])
    raise RoomAllocationFailed()


def _run_together(statements: list) -> None:
    if not dialect().data_modifying_ctes:
        with write_transaction():
            for sql, params in statements:
                database.execute_sql(sql, params)
        return
    ctes = ", ".join(f"s{n} AS ({sql})" for n, (sql, _) in enumerate(statements))
    params = [value for _, values in statements for value in values]
    database.execute_sql(f"WITH {ctes} SELECT 1", params)
