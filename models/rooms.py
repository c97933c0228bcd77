"""Rooms, in Meet's tables: how they are made, and who may see them.

A Meet room is three rows: `meet_resource` (id, timestamps), `meet_room` (its
`resource_id` is the resource's id) and one `meet_resource_access` per user with a
role. A user's rooms are those where the user holds an access of any role
(models/room_visibility.py).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import string
import uuid
from typing import Iterable, List, NamedTuple

import peewee

from .base import MeetTable, SideTable
from .db import database, dialect, write_transaction
from .fields import JSONField, TimestampField, UnboundedCharField, now
from .prepared import RowInsert
from .refusals import Refusal
from .users import User

OWNER, ADMINISTRATOR, MEMBER = "owner", "administrator", "member"
ROLES = (OWNER, ADMINISTRATOR, MEMBER)
MANAGERS = (OWNER, ADMINISTRATOR)  # who may change a room, and are shown its attendees
ACCESS_LEVELS = ("public", "trusted", "restricted")
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


class PublicRoomsDisabled(Refusal):
    """A public room was asked for, and EXTERNAL_API_ALLOW_PUBLIC_ACCESS is off."""

    message = "Public rooms are disabled for the external API."


@dataclasses.dataclass(frozen=True)
class RoomPolicy:
    """The settings that shape a new room and a room's public body."""

    base_url: str | None = None
    telephony_enabled: bool = False
    roomkit_enabled: bool = False  # Meet's room devices also join by PIN
    pin_length: int = 10
    phone_number: str | None = None
    default_country: str = "US"
    default_access_level: str = "trusted"
    allow_public_access: bool = False

    def access_level(self, requested: str | None) -> str:
        """The access level of a room created or updated with `requested` (None: unchanged/default)."""
        level = requested or self.default_access_level
        if requested == "public" and not self.allow_public_access:
            raise PublicRoomsDisabled()
        return level

    @property
    def allocates_pins(self) -> bool:
        """Meet gives a new room a PIN when telephony or Roomkit is on (Room.save())."""
        return self.telephony_enabled or self.roomkit_enabled

    @classmethod
    def from_config(cls, config) -> RoomPolicy:
        return cls(
            base_url=config.base_url,
            telephony_enabled=config.telephony_enabled,
            roomkit_enabled=config.roomkit_enabled,
            pin_length=config.telephony_pin_length,
            phone_number=config.telephony_phone_number,
            default_country=config.telephony_default_country,
            default_access_level=config.default_access_level,
            allow_public_access=config.allow_public_access,
        )


def new_slug() -> str:
    """Three groups of lowercase letters, `xxx-xxxx-xxx` (Meet's generate_room_slug)."""
    return "-".join(
        "".join(secrets.choice(string.ascii_lowercase) for _ in range(size))
        for size in SLUG_GROUPS
    )


def new_pin(length: int) -> str:
    """Meet's PIN: a uniform random number of `length` digits, zero-padded."""
    return str(secrets.randbelow(10 ** length)).zfill(length)


class Resource(MeetTable):
    """`meet_resource`: what accesses point at; a room's id is its resource's id."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = TimestampField(default=now)
    updated_at = TimestampField(default=now)

    class Meta:
        table_name = "meet_resource"


class Room(MeetTable):
    """`meet_room`: `name` is the slug, as Meet's external API names rooms."""

    name = peewee.CharField(max_length=500)
    resource = peewee.ForeignKeyField(Resource, primary_key=True, deferrable="INITIALLY DEFERRED")
    slug = peewee.CharField(max_length=100, unique=True, null=True)
    configuration = JSONField(default=dict)
    access_level = peewee.CharField(max_length=50)
    pin_code = UnboundedCharField(unique=True, null=True)

    class Meta:
        table_name = "meet_room"


class ResourceAccess(MeetTable):
    """`meet_resource_access`: a user's role in a room (owner, administrator or member)."""

    id = peewee.UUIDField(primary_key=True, default=uuid.uuid4)
    created_at = TimestampField(default=now)
    updated_at = TimestampField(default=now)
    role = peewee.CharField(max_length=20)
    resource = peewee.ForeignKeyField(Resource, backref="accesses", deferrable="INITIALLY DEFERRED")
    user = peewee.ForeignKeyField(User, backref="accesses", deferrable="INITIALLY DEFERRED")

    class Meta:
        table_name = "meet_resource_access"

    @classmethod
    def grant(cls, room_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
        """Give a user a role in a room, as Meet's ResourceAccess.objects.create() would."""
        stamp = now()
        cls.insert(id=uuid.uuid4(), created_at=stamp, updated_at=stamp, role=role,
                   resource=room_id, user=user_id).execute()


ResourceAccess.add_index(ResourceAccess.index(
    ResourceAccess.user, ResourceAccess.resource, unique=True, name="resource_access_unique_user_resource"))


class RoomCreation(SideTable):
    """The audit record of a room made through the API: which application, for whom.

    No foreign key: Meet deletes rooms in Python, and a reference from here would
    make its deletes fail.
    """

    room_id = peewee.UUIDField(primary_key=True)
    user_id = peewee.UUIDField()
    client_id = peewee.CharField(max_length=100)
    created_at = TimestampField(default=now)

    class Meta:
        table_name = "meet_external_room_creations"


class RoomView(NamedTuple):
    """A room as read for display: what its public body needs, nothing more."""

    id: uuid.UUID
    slug: str
    access_level: str
    pin_code: str | None
    configuration: dict

    @classmethod
    def from_row(cls, row) -> RoomView:
        room_id, slug, access_level, pin_code, configuration = row
        return cls(
            room_id if isinstance(room_id, uuid.UUID) else uuid.UUID(room_id),
            slug, access_level, pin_code, Room.configuration.python_value(configuration) or {},
        )

    def as_body(self, policy: RoomPolicy) -> dict:
        body = {"id": str(self.id), "slug": self.slug, "access_level": self.access_level,
                "configuration": self.configuration}
        if policy.base_url:
            body["url"] = f"{policy.base_url}/{self.slug}"
        if policy.telephony_enabled:
            telephony = {"enabled": True}
            if self.pin_code:
                telephony["pin_code"] = self.pin_code
            if policy.phone_number:
                telephony["phone_number"] = policy.phone_number
            telephony["default_country"] = policy.default_country
            body["telephony"] = telephony
        return body


def sorted_attendees(emails: Iterable[str]) -> List[str]:
    """Attendees as answers list them: case-insensitively sorted, as stored."""
    return sorted(emails, key=lambda email: (email.lower(), email))


class RoomVersion(NamedTuple):
    """A room with its attendees (its members' emails, sorted): all that its answers show."""

    room: RoomView
    attendees: List[str]

    def as_body(self, policy: RoomPolicy, with_attendees: bool = True) -> dict:
        body = self.room.as_body(policy)
        if with_attendees:
            body["attendees"] = list(self.attendees)
        return body

    def etag(self, policy: RoomPolicy) -> str:
        """The room's strong ETag, the same in every answer that carries the room.

        A digest of the body its owner and administrators are shown (attendees included), so
        it changes whenever anything any answer shows changes (docs/contract-decisions.md,
        Conditional requests).
        """
        canonical = json.dumps(self.as_body(policy), sort_keys=True, separators=(",", ":"),
                               ensure_ascii=True).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()[:18]).decode()
        return f'"{digest}"'


# What a room's body is read from, in RoomView's order.
ROOM_COLUMNS = (Room.resource, Room.slug, Room.access_level, Room.pin_code, Room.configuration)

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
