"""Rooms, who may see them, and how they are made."""

from __future__ import annotations

import dataclasses
import secrets
import string
import uuid
from typing import Callable, List, NamedTuple

import peewee

from .base import BaseModel, NotFound, utcnow
from .db import write_transaction
from .prepared import Prepared
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
        return RoomView(self.id, self.slug, self.access_level, self.pin_code).as_body(policy)

    @classmethod
    def visible_to(cls, user_id, room_id: str) -> RoomView:
        """The room if the user has any access to it; NotFound otherwise, whatever the reason."""
        try:
            room_uuid = uuid.UUID(room_id)
        except (ValueError, AttributeError, TypeError):
            raise NotFound(room_id) from None
        rows = _VISIBLE_ROOM.rows(Room.id.db_value(room_uuid), RoomAccess.user.db_value(user_id))
        if not rows:
            raise NotFound(room_id)
        return RoomView.from_row(rows[0])

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
                    RoomCreation.create(room=room, user=user_id, client_id=client_id)
                    if also is not None:
                        also(room)
                    RoomAccess.grant(room, user_id, "owner")
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
        """Give a user a role in a room, and count it in the user's room_count.

        Call it inside the transaction that makes the room. On PostgreSQL the
        counter's row lock is held until commit, so it is taken last.
        """
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


class RoomView(NamedTuple):
    """A room as read for display: what its public body needs, nothing more."""

    id: uuid.UUID
    slug: str
    access_level: str
    pin_code: str | None

    @classmethod
    def from_row(cls, row: tuple) -> RoomView:
        room_id, slug, access_level, pin_code = row
        return cls(room_id if isinstance(room_id, uuid.UUID) else uuid.UUID(room_id),
                   slug, access_level, pin_code)

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


_ROOM_COLUMNS = (Room.id, Room.slug, Room.access_level, Room.pin_code)
_ANY_UUID = uuid.UUID(int=0)

_VISIBLE_ROOM = Prepared(lambda: (
    Room.select(*_ROOM_COLUMNS).join(RoomAccess)
    .where((Room.id == _ANY_UUID) & (RoomAccess.user == _ANY_UUID))
))


def _page_query(from_oldest: bool) -> Prepared:
    """One page of a user's rooms: ids from the covering index, then only those rooms."""

    def build():
        order = (RoomAccess.room_created_at, RoomAccess.room)
        page_ids = (
            RoomAccess.select(RoomAccess.room, RoomAccess.room_created_at)
            .where(RoomAccess.user == _ANY_UUID)
            .order_by(*(order if from_oldest else [column.desc() for column in order]))
            .limit(1).offset(1)
        )
        return (
            Room.select(*_ROOM_COLUMNS)
            .join(page_ids, on=(Room.id == page_ids.c.room_id))
            .order_by(page_ids.c.room_created_at.desc(), Room.id.desc())
        )

    return Prepared(build)


_NEWEST_FIRST, _OLDEST_FIRST = _page_query(False), _page_query(True)


def rooms_page(user_id, room_count: int, page: int, page_size: int) -> List[RoomView]:
    """One page of the user's `room_count` rooms, newest first (creation time, then id).

    A page in the second half is read from the oldest end, so OFFSET never
    walks more than half the user's rooms.
    """
    offset = (page - 1) * page_size
    if offset >= room_count:
        return []
    limit = min(page_size, room_count - offset)
    user = RoomAccess.user.db_value(user_id)
    if offset > room_count // 2:
        rows = _OLDEST_FIRST.rows(user, limit, room_count - offset - limit)
    else:
        rows = _NEWEST_FIRST.rows(user, limit, offset)
    return [RoomView.from_row(row) for row in rows]
