"""Rooms, who may see them, and how they are made."""

from __future__ import annotations

import dataclasses
import secrets
import string
import uuid
from typing import Callable, List, Tuple

import peewee

from .base import BaseModel, NotFound, utcnow
from .db import database, write_transaction
from .users import User

ROLES = ("owner", "administrator", "member")
SLUG_GROUPS = (3, 4, 3)
# Collisions are rare (26^10 slugs); a few retries absorb them, and running
# out means the PIN space is nearly full, which the caller reports as 503.
CREATE_ATTEMPTS = 8


class RoomAllocationFailed(Exception):
    """No free slug or PIN was found; nothing was stored."""


@dataclasses.dataclass(frozen=True)
class RoomPolicy:
    """The settings that shape a room and its public body."""

    base_url: str | None = None
    telephony_enabled: bool = False
    pin_length: int = 10
    phone_number: str | None = None
    default_country: str = "US"

    @classmethod
    def from_config(cls, config) -> RoomPolicy:
        return cls(
            base_url=config.base_url,
            telephony_enabled=config.telephony_enabled,
            pin_length=config.telephony_pin_length,
            phone_number=config.telephony_phone_number,
            default_country=config.telephony_default_country,
        )


def new_slug() -> str:
    """Three groups of lowercase letters, `xxx-xxxx-xxx`."""
    return "-".join(
        "".join(secrets.choice(string.ascii_lowercase) for _ in range(size))
        for size in SLUG_GROUPS
    )


def new_pin(length: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(length))


class Room(BaseModel):
    slug = peewee.CharField(max_length=32, unique=True)
    access_level = peewee.CharField(max_length=16, default="trusted")
    pin_code = peewee.CharField(max_length=32, unique=True, null=True)

    class Meta:
        table_name = "meet_rooms"

    def as_body(self, policy: RoomPolicy) -> dict:
        body = {"id": str(self.id), "slug": self.slug, "access_level": self.access_level}
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

    @classmethod
    def visible_to(cls, user_id, room_id: str) -> Room:
        """The room if the user has any access to it; NotFound otherwise, whatever the reason."""
        try:
            room_uuid = uuid.UUID(room_id)
        except (ValueError, AttributeError, TypeError):
            raise NotFound(room_id) from None
        room = (
            cls.select()
            .join(RoomAccess)
            .where((cls.id == room_uuid) & (RoomAccess.user == user_id))
            .first()
        )
        if room is None:
            raise NotFound(room_id)
        return room

    @classmethod
    def create_for(cls, user_id, client_id: str, policy: RoomPolicy,
                   also: Callable[[Room], None] | None = None) -> Room:
        """A trusted room owned by the user, with its audit record, all or nothing.

        `also` runs inside the same transaction (the idempotency record is
        finished there, so a stored room and its replay record never disagree).
        """
        for _ in range(CREATE_ATTEMPTS):
            try:
                with write_transaction():
                    room = cls.create(
                        slug=new_slug(),
                        pin_code=new_pin(policy.pin_length) if policy.telephony_enabled else None,
                    )
                    RoomAccess.grant(room, user_id, "owner")
                    RoomCreation.create(room=room, user=user_id, client_id=client_id)
                    if also is not None:
                        also(room)
                return room
            except peewee.IntegrityError:
                continue
        raise RoomAllocationFailed()


class RoomAccess(BaseModel):
    room = peewee.ForeignKeyField(Room, backref="accesses", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="room_accesses", on_delete="CASCADE")
    role = peewee.CharField(max_length=16, choices=[(r, r) for r in ROLES])
    # The room's creation time, copied so a user's page is read from one index.
    room_created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "meet_room_accesses"
        indexes = (
            (("user", "room"), True),
            (("user", "room_created_at", "room"), False),
        )

    @classmethod
    def grant(cls, room: Room, user_id, role: str) -> RoomAccess:
        """Give a user a role in a room, and count it in the user's room_count (same transaction)."""
        with database.atomic():
            access = cls.create(room=room, user=user_id, role=role, room_created_at=room.created_at)
            User.update(room_count=User.room_count + 1).where(User.id == user_id).execute()
        return access


class RoomCreation(BaseModel):
    """The audit record of a room made through the API: which application, for whom."""

    room = peewee.ForeignKeyField(Room, unique=True, on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE")
    client_id = peewee.CharField(max_length=255)

    class Meta:
        table_name = "meet_room_creations"


def rooms_page(user_id, page: int, page_size: int) -> Tuple[int, List[Room]]:
    """The user's room count and one page of rooms, newest first (creation time, then id).

    The page's ids come from the covering index (user, room_created_at, room)
    alone, and only those rooms are read. A page in the second half is read
    from the oldest end, so OFFSET never walks more than half the user's rooms.
    """
    count = User.select(User.room_count).where(User.id == user_id).scalar() or 0
    offset = (page - 1) * page_size
    if offset >= count:
        return count, []
    limit = min(page_size, count - offset)
    from_oldest = offset > count // 2
    order = (RoomAccess.room_created_at, RoomAccess.room)
    page_ids = (
        RoomAccess.select(RoomAccess.room, RoomAccess.room_created_at)
        .where(RoomAccess.user == user_id)
        .order_by(*(order if from_oldest else [column.desc() for column in order]))
        .offset(count - offset - limit if from_oldest else offset)
        .limit(limit)
    )
    rooms = list(
        Room.select(Room.id, Room.slug, Room.access_level, Room.pin_code)
        .join(page_ids, on=(Room.id == page_ids.c.room_id))
        .order_by(page_ids.c.room_created_at.desc(), Room.id.desc())
    )
    return count, rooms
