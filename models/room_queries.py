"""The API's reads of rooms, each one statement: the principal check, then the data.

List: the user's standing, the count of the user's rooms and one page of them.
Retrieve: the user's standing and the room, if the user has an access to it.
One round trip each, whatever the database.
"""

from __future__ import annotations

import uuid
from typing import List, NamedTuple

import peewee

from .base import NotFound
from .delegation import Delegation, principal_columns, require_standing
from .prepared import Prepared
from .rooms import ROOM_COLUMNS, Resource, ResourceAccess, Room, RoomView
from .users import User

_ANY = uuid.UUID(int=0)
# Past this an OFFSET means nothing (no user has 2**62 rooms); SQL integers stop at 2**63.
MAX_OFFSET = 2 ** 62


class RoomPage(NamedTuple):
    count: int
    rooms: List[RoomView]


def _list_statement() -> peewee.Select:
    count = (ResourceAccess.select(peewee.fn.COUNT(peewee.SQL("*")))
             .where(ResourceAccess.user == User.id))
    page = (ResourceAccess.select(*ROOM_COLUMNS, Resource.created_at)
            .join(Resource, on=(ResourceAccess.resource == Resource.id))
            .join(Room, on=(Room.resource == Resource.id))
            .where(ResourceAccess.user == _ANY)
            .order_by(Resource.created_at.desc(), Resource.id.desc())
            .limit(1).offset(1)
            .alias("page"))
    columns = [page.c.resource_id, page.c.slug, page.c.access_level, page.c.pin_code,
               page.c.configuration]
    return (User.select(*principal_columns(), count, *columns)
            .join(page, peewee.JOIN.LEFT_OUTER, on=peewee.SQL("1 = 1"))
            .where(User.id == _ANY)
            .order_by(page.c.created_at.desc(), page.c.resource_id.desc()))


def _retrieve_statement() -> peewee.Select:
    room = (Room.select(*ROOM_COLUMNS)
            .join(ResourceAccess, on=(ResourceAccess.resource == Room.resource))
            .where((Room.resource == _ANY) & (ResourceAccess.user == _ANY))
            .alias("room"))
    columns = [room.c.resource_id, room.c.slug, room.c.access_level, room.c.pin_code,
               room.c.configuration]
    return (User.select(*principal_columns(), *columns)
            .join(room, peewee.JOIN.LEFT_OUTER, on=peewee.SQL("1 = 1"))
            .where(User.id == _ANY))


_LIST = Prepared(_list_statement)
_RETRIEVE = Prepared(_retrieve_statement)


def rooms_page(delegation: Delegation, page: int, page_size: int) -> RoomPage:
    """One page of the user's rooms, newest first (room creation time, then id)."""
    offset = min((page - 1) * page_size, MAX_OFFSET)
    user = User.id.db_value(delegation.user_id)
    rows = _LIST.rows(delegation.client_lookup, user, page_size, offset, user)
    require_standing(rows[0] if rows else None)
    count = rows[0][2]
    return RoomPage(count, [RoomView.from_row(row[3:]) for row in rows if row[3] is not None])


def visible_room(delegation: Delegation, room_id: str) -> RoomView:
    """The room if the user has any access to it; NotFound otherwise, whatever the reason."""
    try:
        room_uuid = uuid.UUID(room_id)
    except (ValueError, AttributeError, TypeError):
        room_uuid = None
    user = User.id.db_value(delegation.user_id)
    rows = _RETRIEVE.rows(delegation.client_lookup, Room.resource.db_value(room_uuid or _ANY),
                          user, user)
    require_standing(rows[0] if rows else None)
    if room_uuid is None or rows[0][2] is None:
        raise NotFound(room_id)
    return RoomView.from_row(rows[0][2:])
