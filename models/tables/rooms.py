"""Rooms, in Meet's tables: the rows a room is, and the roles that give access to it.

A Meet room is three rows: `meet_resource` (id, timestamps), `meet_room` (its
`resource_id` is the resource's id) and one `meet_resource_access` per user with a
role. A user's rooms are those where the user holds an access of any role
(models/rooms/visibility.py).
"""

from __future__ import annotations

import uuid

import peewee

from .base import MeetTable, SideTable
from .fields import JSONField, TimestampField, UnboundedCharField, now
from .users import User

OWNER, ADMINISTRATOR, MEMBER = "owner", "administrator", "member"
ROLES = (OWNER, ADMINISTRATOR, MEMBER)
MANAGERS = (OWNER, ADMINISTRATOR)  # who may change a room, and are shown its attendees
ACCESS_LEVELS = ("public", "trusted", "restricted")


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


# What a room's body is read from, in RoomView's order.
ROOM_COLUMNS = (Room.resource, Room.slug, Room.access_level, Room.pin_code, Room.configuration)
